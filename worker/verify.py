"""The auditor's check: is this record part of the recorded result of its round, on chain?

Input is a proof document, the JSON form of `worker.state.Proof` (what a worker hands out for one
record): the round (`voting_id`, `attempt`), the record with its ABI types, its encoding, leaf
hash and Merkle proof, and the root it claims. `verify_record` checks it against the voting
contract with five independent checks, each reported even when another one fails:

1. encoding: the record ABI-encodes to `encoded`, whose double keccak is `leaf_hash`;
2. proof: the proof leads from `leaf_hash` to `root` (sorted pairs, as OpenZeppelin);
3. result: the contract recorded `root` as the round's result (`resultOf`);
4. on-chain proof: the contract's own `verifyRecord(voting_id, proof, encoded)` agrees;
5. result chain: walking `chainEntry(0..)` from `genesis()` finds the round's entry with `root`
   and recomputes the current `chainHead()`, so the result is linked into the whole history.

Nothing here trusts the worker that made the document: every value is recomputed or read from
the chain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from eth_abi import decode, encode

from worker.chain import decode_error
from worker.encoding import encode_record, to_json
from worker.errors import WorkerError
from worker.keccak import keccak
from worker.merkle import StandardMerkleTree
from worker.state.records import Proof

FIELDS = ("voting_id", "attempt", "index", "record", "leaf_encoding", "encoded", "leaf_hash",
          "proof", "root")  # fmt: skip
STATUS = ("None", "Voting", "Committing", "Revealing", "Consensus", "Plurality",
          "FailoverResolved", "Failed", "AwaitingFailover")  # fmt: skip
RECORDED = frozenset({"Consensus", "Plurality", "FailoverResolved"})
MAX_ENTRIES = 10_000
_LINK_TYPES = ["bytes32", "uint32", "bytes32", "bytes32", "uint8", "uint8", "uint8"]
# NOTE: entries are read with raw eth_call in JSON-RPC batches: through the contract binding a
# walk of 10,000 entries takes minutes on a remote node, one round trip per entry.
_ENTRY_SELECTOR = keccak(b"chainEntry(uint256)")[:4]
_ENTRY_TYPES = ["bytes32", "bytes32", "uint8", "uint8", "uint8"]  # a static struct: flat words
BATCH_SIZE = 100
_HASH_TEXT = re.compile(r"0x[0-9a-fA-F]{64}")
_ZERO = bytes(32)


# -------------------------------------------------------------------------------------------------
# Errors
# -------------------------------------------------------------------------------------------------


class VerifyError(WorkerError):
    """Base of the errors of `worker.verify`."""


class ProofDocumentError(VerifyError):
    """A proof document cannot be read, is not JSON, or lacks fields."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"proof document {source}: {reason}")


# -------------------------------------------------------------------------------------------------
# Proof documents
# -------------------------------------------------------------------------------------------------


def proof_document(proof: Proof) -> dict[str, Any]:
    """A `Proof` (from `StateStore.proof_for`) as a JSON-ready dict.

    Record values take their JSON forms: integers as decimal strings, bytes as 0x-hex.
    """
    return {
        "voting_id": proof.voting_id,
        "attempt": proof.attempt,
        "index": proof.index,
        "record": [to_json(value) for value in proof.record],
        "leaf_encoding": list(proof.leaf_encoding),
        "encoded": proof.encoded,
        "leaf_hash": proof.leaf_hash,
        "proof": list(proof.proof),
        "root": proof.root,
    }


def load_proof(path: str | Path) -> dict[str, Any]:
    """Reads a proof document written as JSON (for example from `proof_document`).

    Raises:
        ProofDocumentError: the file is missing or unreadable, not JSON, or lacks fields.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf8")
    except FileNotFoundError:
        raise ProofDocumentError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProofDocumentError(str(path), f"cannot read it ({exc})") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProofDocumentError(str(path), f"not JSON ({exc})") from exc
    check_document(doc, str(path))
    return doc


def check_document(doc: Any, source: str = "(dict)") -> None:
    """Checks that `doc` is a dict with every field of a proof document and the right shapes.

    Values that have the right shape but are wrong (a changed record, a bad hash) are left to
    `verify_record`, which reports them as failed checks.

    Raises:
        ProofDocumentError: not an object, missing fields, or fields of the wrong kind.
    """
    if not isinstance(doc, dict):
        raise ProofDocumentError(source, f"expected a JSON object, got {type(doc).__name__}")
    missing = [name for name in FIELDS if name not in doc]
    if missing:
        raise ProofDocumentError(source, "missing field(s): " + ", ".join(missing))
    problems = []
    for name in ("voting_id", "leaf_hash", "root"):
        if not isinstance(doc[name], str) or not _HASH_TEXT.fullmatch(doc[name]):
            problems.append(f"{name} must be 0x-hex of 32 bytes")
    for name in ("attempt", "index"):
        if isinstance(doc[name], bool) or not isinstance(doc[name], int) or doc[name] < 0:
            problems.append(f"{name} must be a non-negative integer")
    if not isinstance(doc["record"], list):
        problems.append("record must be a list of values")
    if not isinstance(doc["leaf_encoding"], list) or not all(
        isinstance(t, str) for t in doc["leaf_encoding"]
    ):
        problems.append("leaf_encoding must be a list of ABI types")
    if not isinstance(doc["encoded"], str) or not doc["encoded"].startswith("0x"):
        problems.append("encoded must be 0x-hex")
    if not isinstance(doc["proof"], list) or not all(
        isinstance(p, str) and _HASH_TEXT.fullmatch(p) for p in doc["proof"]
    ):
        problems.append("proof must be a list of 0x-hex 32-byte hashes")
    if problems:
        raise ProofDocumentError(source, "; ".join(problems))


# -------------------------------------------------------------------------------------------------
# Checks
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One check of a verification: its name, whether it passed, and what was found."""

    name: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    """The checks of one proof document; `ok` only if every check passed."""

    voting_id: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed (and there was at least one)."""
        return bool(self.checks) and all(check.ok for check in self.checks)

    def failed(self) -> list[str]:
        """Names of the failed checks."""
        return [check.name for check in self.checks if not check.ok]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "voting_id": self.voting_id,
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def verify_record(voting: Any, doc: dict[str, Any], max_entries: int = MAX_ENTRIES) -> VerifyReport:
    """Checks a proof document against the voting contract (see the module docstring).

    Args:
        voting: The `WorkerVoting` binding (an Ape contract instance).
        doc: The proof document (`proof_document`, `load_proof`).
        max_entries: The most chain entries the chain check reads (one call each); a longer
            chain fails that check, saying which bound would do.

    Raises:
        ProofDocumentError: the document lacks fields or has fields of the wrong kind.
    """
    check_document(doc)
    voting_id, root = _hash(doc["voting_id"]), _hash(doc["root"])
    checks = [
        _check_encoding(doc),
        _check_proof(doc),
        _guarded("result", lambda: _check_result(voting, voting_id, root)),
        _guarded("on-chain proof", lambda: _check_on_chain(voting, voting_id, doc)),
        _guarded("result chain", lambda: _check_chain(voting, voting_id, root, max_entries)),
    ]
    return VerifyReport(doc["voting_id"], checks)


def _check_encoding(doc: dict[str, Any]) -> Check:
    name = "encoding"
    try:
        encoded = encode_record(doc["leaf_encoding"], doc["record"])
    except WorkerError as exc:
        return Check(name, False, f"the record does not match its leaf encoding: {exc}")
    leaf = "0x" + keccak(keccak(encoded)).hex()
    if "0x" + encoded.hex() != doc["encoded"].lower():
        return Check(name, False, f"the record encodes to other bytes than `encoded` (leaf {leaf})")
    if leaf != doc["leaf_hash"].lower():
        return Check(name, False, f"the record's leaf hash is {leaf}, not {doc['leaf_hash']}")
    types = ",".join(doc["leaf_encoding"])
    return Check(name, True, f"record {doc['index']} ({types}) has leaf hash {leaf}")


def _check_proof(doc: dict[str, Any]) -> Check:
    steps = len(doc["proof"])
    if StandardMerkleTree.verify(doc["root"], doc["leaf_hash"], doc["proof"]):
        return Check("proof", True, f"{steps} proof step(s) lead from the leaf to {doc['root']}")
    return Check("proof", False, f"the {steps} proof step(s) do not lead to {doc['root']}")


def _check_result(voting: Any, voting_id: bytes, root: bytes) -> Check:
    recorded = bytes(voting.resultOf(voting_id))
    if recorded == root:
        return Check("result", True, f"the contract recorded {_hex(root)} for the round")
    if recorded == _ZERO:
        state = voting.roundState(voting_id)
        status = STATUS[int(state.status)]
        return Check("result", False, f"the round has no recorded result (status {status}, "
                                      f"attempt {int(state.attempt)})")  # fmt: skip
    return Check("result", False, f"the contract recorded {_hex(recorded)}, not {_hex(root)}")


def _check_on_chain(voting: Any, voting_id: bytes, doc: dict[str, Any]) -> Check:
    encoded = bytes.fromhex(doc["encoded"][2:])
    try:
        verified = voting.verifyRecord(voting_id, doc["proof"], encoded)
    except Exception as exc:  # NOTE: the contract's named error for a round without a result
        if (code := _not_recorded(exc)) is None:
            raise
        status = STATUS[code]
        detail = f"the round has no recorded result (VotingNotRecorded, status {status})"
        return Check("on-chain proof", False, f"verifyRecord refuses: {detail}")
    if verified:
        return Check("on-chain proof", True, "verifyRecord(votingId, proof, encoded) is true")
    return Check("on-chain proof", False, "verifyRecord(votingId, proof, encoded) is false")


def _not_recorded(exc: Exception) -> int | None:
    """The round status of a VotingNotRecorded revert, decoded by Ape (the error's own class) or
    left as raw data ("custom error 0x4d093aa7: ..." from a node whose view reverts Ape does not
    decode); None for any other failure."""
    if type(exc).__name__ == "VotingNotRecorded":
        return int(exc.inputs["status"])
    if match := _RAW_ERROR.search(str(exc)):
        decoded = decode_error(match.group(1) + match.group(2))
        if decoded is not None and decoded[0] == "VotingNotRecorded":
            return int(decoded[1]["status"])
    return None


_RAW_ERROR = re.compile(r"custom error (0x[0-9a-fA-F]{8}):\s*(?:0x)?([0-9a-fA-F]*)")


def _check_chain(voting: Any, voting_id: bytes, root: bytes, max_entries: int) -> Check:
    name = "result chain"
    head, length = voting.chainHead()
    head, length = bytes(head), int(length)
    if length > max_entries:
        return Check(name, False, f"the chain has {length} entries, more than max_entries "
                                  f"{max_entries} allows to walk; raise max_entries to at "
                                  f"least {length}")  # fmt: skip
    walked, found = bytes(voting.genesis()), None
    for index, entry in enumerate(_entries(voting, length)):
        if entry.voting_id == voting_id:
            found = (index, walked, entry)
        walked = keccak(encode(_LINK_TYPES, [walked, index, *entry]))
    if walked != head:
        return Check(name, False, f"the {length} entries recompute head {_hex(walked)}, but the "
                                  f"contract reports {_hex(head)}")  # fmt: skip
    if found is None:
        return Check(name, False, f"the round is not among the {length} chain entries (head "
                                  f"{_hex(head)} verified)")  # fmt: skip
    index, link, entry = found
    kind = STATUS[entry.kind]
    where = (f"entry {index} of {length}: {kind}, attempt {entry.attempt}, {entry.votes} votes, "
             f"linked to {_hex(link)}")  # fmt: skip
    if kind not in RECORDED:
        return Check(name, False, f"{where}; a {kind} round has no result")
    if entry.result != root:
        return Check(name, False, f"{where}; its result is {_hex(entry.result)}")
    return Check(name, True, f"{where}; head {_hex(head)} recomputed from genesis")


class _Entry(NamedTuple):
    """`IWorkerVoting.ChainEntry`, in the order the chain head hashes its fields."""

    voting_id: bytes
    result: bytes
    attempt: int
    votes: int
    kind: int


def _entries(voting: Any, length: int) -> Iterator[_Entry]:
    """Chain entries 0 .. length - 1, read `BATCH_SIZE` per JSON-RPC batch where the provider
    batches (one call each where it does not)."""
    web3, batches = voting.provider.web3, True
    for start in range(0, length, BATCH_SIZE):
        calls = [
            {"to": voting.address, "data": _ENTRY_SELECTOR + encode(["uint256"], [i])}
            for i in range(start, min(start + BATCH_SIZE, length))
        ]
        raw = None
        if batches:
            try:
                with web3.batch_requests() as batch:
                    for call in calls:
                        batch.add(web3.eth.call(call))
                    raw = batch.execute()
            except Exception:  # NOTE: e.g. Ape's test provider, or an RPC that refuses batches
                batches = False
        if raw is None:
            raw = [web3.eth.call(call) for call in calls]
        for data in raw:
            yield _Entry(*decode(_ENTRY_TYPES, bytes(data)))


def _guarded(name: str, check: Any) -> Check:
    """Runs a chain check; a call that fails becomes a failed check naming the error."""
    try:
        return check()
    except Exception as exc:  # NOTE: one failing call must not hide the other checks
        return Check(name, False, f"the contract call failed: {type(exc).__name__}: {exc}")


# -------------------------------------------------------------------------------------------------
# Text
# -------------------------------------------------------------------------------------------------


def format_report(report: VerifyReport, ascii_only: bool = False) -> str:
    """One line per check with ✓ / ✗ ("ok" / "FAIL" if `ascii_only`) and a verdict line."""
    marks = ("ok  ", "FAIL") if ascii_only else ("✓", "✗")
    lines = [f"Round {report.voting_id}"]
    for check in report.checks:
        lines.append(f"  {marks[0] if check.ok else marks[1]} {check.name}: {check.detail}")
    if report.ok:
        lines.append("VERIFIED: the record is part of the round's recorded result, linked in the "
                     "contract's result chain")  # fmt: skip
    else:
        failed = report.failed()
        lines.append(f"NOT VERIFIED: {len(failed)} of {len(report.checks)} checks failed "
                     f"({', '.join(failed)})")  # fmt: skip
    return "\n".join(lines)


def _hash(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()
