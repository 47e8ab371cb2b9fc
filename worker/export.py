"""A round's whole records tree and multiproofs, in the forms @openzeppelin/merkle-tree reads.

`tree_document` is the library's `StandardMerkleTree` dump (`"format": "standard-v1"`: the leaf
encoding, every node, every record with its tree index) with two more keys the library ignores,
`votingId` and `attempt`, so that a reader knows which round the tree claims to be the result of.
`StandardMerkleTree.load(doc)` in JavaScript (or `worker.merkle.StandardMerkleTree.load`) checks
every hash of it; the root must then equal the round's recorded result (`resultOf(votingId)`).

`multiproof_document` proves several records of one round at once, as the library's
`getMultiProof` does: `leaves` (the records, in the order the proof consumes them), `proof` and
`proofFlags`, which `StandardMerkleTree.verifyMultiProof(root, leafEncoding, doc)` checks off chain
(OpenZeppelin `MerkleProof.multiProofVerify` in a caller's contract, against `resultOf`). The
document also carries, in the same order, each leaf's ABI encoding (`encoded`) and its own proof
(`proofs`): `WorkerVoting.verifyRecords(votingId, proofs, encoded)` checks them all in one call.
The multiproof algorithm is OpenZeppelin's: take the deepest pending node; its sibling is either
the next pending node (flag true) or a proof element (flag false); its parent becomes pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from worker.encoding import encode_record
from worker.errors import WorkerError
from worker.keccak import keccak
from worker.merkle import StandardMerkleTree

MULTIPROOF_FORMAT = "multiproof-v1"


class ExportError(WorkerError):
    """A multiproof cannot be made or read: bad indices or a malformed document."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"multiproof: {reason}")


def tree_document(tree: StandardMerkleTree, voting_id: str, attempt: int) -> dict[str, Any]:
    """The `standard-v1` dump of `tree`, with the round it belongs to."""
    doc = tree.dump()
    doc["votingId"] = voting_id
    doc["attempt"] = attempt
    return doc


def _multiproof_nodes(nodes: list[bytes], positions: list[int]) -> tuple[list[int], list, list]:
    """(leaf positions in proof order, proof nodes, flags) for leaves at tree `positions`."""
    stack = sorted(positions, reverse=True)
    order, proof, flags = list(stack), [], []
    while stack and stack[0] > 0:
        j = stack.pop(0)
        sibling = j - 1 if j % 2 == 0 else j + 1
        if stack and stack[0] == sibling:
            flags.append(True)
            stack.pop(0)
        else:
            flags.append(False)
            proof.append(nodes[sibling])
        stack.append((j - 1) // 2)
    return order, proof, flags


def multiproof_document(
    tree: StandardMerkleTree, voting_id: str, attempt: int, indices: Sequence[int]
) -> dict[str, Any]:
    """A multiproof of the records at `indices` (input order, as `worker proof` numbers them).

    Raises:
        ExportError: no index, a repeated index, or one out of range.
    """
    if not indices:
        raise ExportError("give at least one record index")
    if len(set(indices)) != len(indices):
        raise ExportError(f"repeated record index in {list(indices)}")
    dump = tree.dump()
    count = len(dump["values"])
    bad = [i for i in indices if not 0 <= i < count]
    if bad:
        raise ExportError(f"record index {bad[0]} out of range (the round has {count} records)")
    nodes = [bytes.fromhex(n[2:]) for n in dump["tree"]]
    position_of = {dump["values"][i]["treeIndex"]: i for i in indices}
    order, proof, flags = _multiproof_nodes(nodes, list(position_of))
    chosen = [position_of[p] for p in order]
    return {
        "format": MULTIPROOF_FORMAT,
        "votingId": voting_id,
        "attempt": attempt,
        "root": tree.root,
        "leafEncoding": tree.leaf_encoding,
        "indices": chosen,
        "leaves": [dump["values"][i]["value"] for i in chosen],
        "encoded": ["0x" + tree.encode(i).hex() for i in chosen],
        "proofs": [tree.get_proof(i) for i in chosen],
        "proof": ["0x" + node.hex() for node in proof],
        "proofFlags": flags,
    }


def process_multiproof(doc: dict[str, Any]) -> str:
    """The root a multiproof document leads to, recomputed from its records (0x-hex).

    Raises:
        ExportError: the document is malformed or its shape is inconsistent.
        LeafEncodingError: a record does not match the leaf encoding.
    """
    for key in ("leafEncoding", "leaves", "proof", "proofFlags"):
        if not isinstance(doc.get(key), list):
            raise ExportError(f"expected a list '{key}'")
    leaves = [keccak(keccak(encode_record(doc["leafEncoding"], v))) for v in doc["leaves"]]
    proof = [bytes.fromhex(str(p).removeprefix("0x")) for p in doc["proof"]]
    flags = doc["proofFlags"]
    if len(leaves) + len(proof) != len(flags) + 1 or len(proof) < flags.count(False):
        raise ExportError("leaves, proof and proofFlags do not fit together")
    stack = list(leaves)
    for flag in flags:
        a = stack.pop(0)
        b = stack.pop(0) if flag else proof.pop(0)
        stack.append(keccak(a + b if a <= b else b + a))
    if len(stack) + len(proof) != 1:
        raise ExportError("leaves, proof and proofFlags do not fit together")
    root = stack.pop() if stack else proof.pop(0)
    return "0x" + root.hex()
