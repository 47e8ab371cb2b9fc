"""The auditor's check: a record of a consensus round verifies; each tampering fails its checks."""

import json

import pytest
from eth_abi import encode
from eth_utils import keccak

from tests.conftest import descriptor_id, event_descriptor
from worker import verify
from worker.chain import contract_at
from worker.merkle import StandardMerkleTree
from worker.state import StateStore
from worker.verify import (
    ProofDocumentError,
    format_report,
    load_proof,
    proof_document,
    verify_record,
)

pytestmark = pytest.mark.smoke

LEAF_ENCODING = ["string", "uint64", "uint256", "bytes32"]
LINK_TYPES = ["bytes32", "uint32", "bytes32", "bytes32", "uint8", "uint8", "uint8"]
CHECKS = ["encoding", "proof", "result", "on-chain proof", "result chain"]
RECORDS = [
    ["meter-a", 1_700_000_000, 1234, keccak(text="a")],
    ["meter-b", 1_700_000_000, 0, keccak(text="b")],
    ["meter-c", 1_700_003_600, 987_654_321, keccak(text="c")],
    ["meter-d", 1_700_003_600, 42, keccak(text="d")],
    ["meter-e", 1_700_007_200, 7, keccak(text="e")],
]


_DESCRIPTORS: dict[bytes, tuple] = {}


def rid(name: str) -> bytes:
    """The votingId of the event round `name` (its descriptor is kept for `vote`)."""
    descriptor = event_descriptor(name)
    _DESCRIPTORS[descriptor_id(descriptor)] = descriptor
    return descriptor_id(descriptor)


def document(tmp_path, voting_id: bytes, records=RECORDS, index: int = 2) -> dict:
    """The proof document a worker serves: tree stored, proof taken from the state store."""
    tree = StandardMerkleTree.of(records, LEAF_ENCODING)
    with StateStore(tmp_path / voting_id.hex()[:8]) as store:
        store.put_round(voting_id, 1, tree)
        return proof_document(store.proof_for(voting_id, index))


def vote(net, voting_id: bytes, results: list) -> None:
    for worker, result in zip(net.workers, results):
        if result is not None:
            net.voting.openAndVote(_DESCRIPTORS[voting_id], result, sender=worker)


@pytest.fixture
def audited(create_voting, tmp_path):
    """A 2-of-3 network; round "hour-2" (chain entry 1) agreed on the records' root."""
    net = create_voting("2/3")
    doc = document(tmp_path, rid("hour-2"))
    vote(net, rid("hour-1"), [keccak(text="other"), keccak(text="other")])
    vote(net, rid("hour-2"), [doc["root"], None, doc["root"]])
    vote(net, rid("hour-3"), [keccak(text="later"), keccak(text="later")])
    return net, doc


def failed_checks(report) -> set[str]:
    return {check.name for check in report.checks if not check.ok}


def test_verify__consensus_record_passes(audited):
    net, doc = audited
    report = verify_record(net.voting, doc)
    assert [check.name for check in report.checks] == CHECKS
    assert report.ok, format_report(report)
    chain = report.checks[-1].detail
    first = net.voting.chainEntry(0)  # the link of entry 1 is the head after entry 0
    values = [net.voting.genesis(), 0, first.votingId, first.result, first.attempt, first.votes]
    link = keccak(encode(LINK_TYPES, [*values, first.kind]))
    assert "entry 1 of 3: Consensus, attempt 1, 2 votes" in chain
    assert f"linked to 0x{link.hex()}" in chain
    assert f"head 0x{bytes(net.voting.chainHead()[0]).hex()}" in chain


def test_verify__document_round_trips_through_json(audited, tmp_path):
    net, doc = audited
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(doc))
    loaded = load_proof(path)
    assert loaded == doc
    binding = contract_at(net.voting.address, "WorkerVoting")  # the shipped ABI, as the CLI
    assert verify_record(binding, loaded).ok


def _set_record_value(doc):
    doc["record"][2] = str(int(doc["record"][2]) + 1)


def _set_proof_step(doc):
    doc["proof"][0] = "0x" + keccak(text="not a sibling").hex()


def _set_root(doc):
    doc["root"] = "0x" + keccak(text="forged root").hex()


def _set_encoded(doc):
    doc["encoded"] = doc["encoded"][:-2] + "ff"


def _set_leaf_hash(doc):
    doc["leaf_hash"] = "0x" + keccak(text="other leaf").hex()


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_set_record_value, {"encoding"}),
        (_set_proof_step, {"proof", "on-chain proof"}),
        (_set_root, {"proof", "result", "result chain"}),
        (_set_encoded, {"encoding", "on-chain proof"}),
        (_set_leaf_hash, {"encoding", "proof"}),
    ],
    ids=["record", "proof", "root", "encoded", "leaf-hash"],
)
def test_verify__tampered_document_fails_its_checks(audited, tamper, expected):
    net, doc = audited
    tamper(doc)
    report = verify_record(net.voting, doc)
    assert not report.ok
    assert failed_checks(report) == expected
    assert len(report.checks) == len(CHECKS)


def test_verify__forged_root_names_recorded_one(audited):
    net, doc = audited
    real = doc["root"]
    _set_root(doc)
    report = verify_record(net.voting, doc)
    result = next(c for c in report.checks if c.name == "result")
    assert f"recorded {real}, not {doc['root']}" in result.detail


def test_verify__failed_round_fails_chain_checks(create_voting, tmp_path, chain):
    net = create_voting("2/3")
    voting_id = rid("split")
    doc = document(tmp_path, voting_id)
    other = keccak(text="other")
    for _attempt in (1, 2):
        vote(net, voting_id, [doc["root"], other, None])
        chain.pending_timestamp = net.voting.roundState(voting_id).deadline + 1
        net.voting.finalize(voting_id, sender=net.workers[0])
    report = verify_record(net.voting, doc)
    assert failed_checks(report) == {"result", "on-chain proof", "result chain"}
    details = {check.name: check.detail for check in report.checks}
    assert "no recorded result (status Failed, attempt 2)" in details["result"]
    assert "no recorded result (VotingNotRecorded, status Failed)" in details["on-chain proof"]
    assert "entry 0 of 1: Failed, attempt 2" in details["result chain"]


def test_verify__round_without_result_fails_chain_checks(create_voting, tmp_path):
    net = create_voting("2/3")
    voting_id = rid("open")
    doc = document(tmp_path, voting_id)
    vote(net, rid("before"), [doc["root"], doc["root"]])  # a chain entry of another round
    vote(net, voting_id, [doc["root"]])  # one vote of two needed: still voting
    report = verify_record(net.voting, doc)
    assert failed_checks(report) == {"result", "on-chain proof", "result chain"}
    details = {check.name: check.detail for check in report.checks}
    assert "status Voting, attempt 1" in details["result"]
    assert "no recorded result (VotingNotRecorded, status Voting)" in details["on-chain proof"]
    assert "not among the 1 chain entries" in details["result chain"]


def test_verify__chain_longer_than_max_entries_fails(audited):
    net, doc = audited
    report = verify_record(net.voting, doc, max_entries=2)
    assert failed_checks(report) == {"result chain"}
    assert "raise max_entries to at least 3" in report.checks[-1].detail
    assert verify_record(net.voting, doc, max_entries=3).ok


def test_format_report__marks_each_check_and_verdict(audited):
    net, doc = audited
    passed = format_report(verify_record(net.voting, doc))
    assert passed.count("✓") == 5 and "✗" not in passed
    assert passed.splitlines()[-1].startswith("VERIFIED")
    _set_proof_step(doc)
    failed = format_report(verify_record(net.voting, doc), ascii_only=True)
    assert "FAIL proof:" in failed and "FAIL on-chain proof:" in failed
    assert failed.splitlines()[-1] == "NOT VERIFIED: 2 of 5 checks failed (proof, on-chain proof)"


def test_load_proof__missing_file(tmp_path):
    with pytest.raises(ProofDocumentError, match="no such file"):
        load_proof(tmp_path / "absent.json")


def test_load_proof__not_json(tmp_path):
    path = tmp_path / "proof.json"
    path.write_text("{not json")
    with pytest.raises(ProofDocumentError, match="not JSON"):
        load_proof(path)


def test_load_proof__missing_and_malformed_fields(tmp_path, audited):
    _net, doc = audited
    path = tmp_path / "proof.json"
    path.write_text(json.dumps({k: v for k, v in doc.items() if k not in ("root", "proof")}))
    with pytest.raises(ProofDocumentError, match=r"missing field\(s\): proof, root"):
        load_proof(path)
    path.write_text(json.dumps({**doc, "attempt": "one", "leaf_hash": "0x12"}))
    with pytest.raises(ProofDocumentError) as raised:
        load_proof(path)
    assert "leaf_hash must be 0x-hex of 32 bytes" in str(raised.value)
    assert "attempt must be a non-negative integer" in str(raised.value)


def test_verify__chain_read_in_several_batches(audited, monkeypatch):
    net, doc = audited
    whole = verify_record(net.voting, doc).checks[-1]
    monkeypatch.setattr(verify, "BATCH_SIZE", 2)  # entries 0-1, then 2
    chunked = verify_record(net.voting, doc).checks[-1]
    assert chunked == whole
    assert chunked.ok
