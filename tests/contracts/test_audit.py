"""Auditing a recorded round: a record and its Merkle proof, checked by `verifyRecord` on chain."""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak

from tests.conftest import descriptor_id, event_descriptor
from worker.merkle import StandardMerkleTree

# 24/7 matching records: consumer id, generator id, hour start (unix time), matched Wh.
TYPES = ["string", "string", "uint64", "uint256"]
HOUR = 1_763_888_400
RECORDS = [
    ("consumer-berlin-01", "solar-brandenburg-7", HOUR, 1_250_000),
    ("consumer-berlin-01", "wind-uckermark-2", HOUR, 830_500),
    ("consumer-hamburg-04", "wind-nordsee-11", HOUR, 4_002_000),
    ("consumer-munich-09", "hydro-isar-3", HOUR, 610_250),
    ("consumer-munich-09", "solar-bavaria-5", HOUR, 0),
]
DESCRIPTOR = event_descriptor(f"matching:{HOUR}/PT1H")
VOTING_ID = descriptor_id(DESCRIPTOR)


def flip(node: str) -> str:
    """`node` with its last bit flipped."""
    raw = bytearray.fromhex(node.removeprefix("0x"))
    raw[-1] ^= 1
    return "0x" + raw.hex()


@pytest.fixture
def tree():
    return StandardMerkleTree.of(RECORDS, TYPES)


@pytest.fixture
def recorded(create_voting, tree):
    """A 2/3 network whose round VOTING_ID recorded the tree's root."""
    net = create_voting(threshold="2/3")
    for worker in net.workers[:2]:
        net.voting.openAndVote(DESCRIPTOR, tree.root, sender=worker)
    assert net.voting.resultOf(VOTING_ID) == bytes.fromhex(tree.root[2:])
    return net.voting


def test_verify_record__every_record_of_the_recorded_round(recorded, tree):
    for index, record in enumerate(RECORDS):
        encoded = encode(TYPES, record)
        assert tree.encode(index) == encoded
        assert recorded.verifyRecord(VOTING_ID, tree.get_proof(index), encoded)


def test_verify_record__tampered_record_is_false(recorded, tree):
    consumer, generator, hour, wh = RECORDS[1]
    proof = tree.get_proof(1)
    for tampered in [
        (consumer, generator, hour, wh + 1),
        (consumer, "wind-uckermark-3", hour, wh),
        (consumer, generator, hour + 3600, wh),
    ]:
        assert not recorded.verifyRecord(VOTING_ID, proof, encode(TYPES, tampered))
    # The same fields in another encoding are another leaf.
    packed = (
        consumer.encode() + generator.encode() + hour.to_bytes(8, "big") + wh.to_bytes(32, "big")
    )
    assert not recorded.verifyRecord(VOTING_ID, proof, packed)


def test_verify_record__tampered_proof_is_false(recorded, tree):
    encoded = tree.encode(2)
    proof = tree.get_proof(2)
    assert recorded.verifyRecord(VOTING_ID, proof, encoded)
    assert not recorded.verifyRecord(VOTING_ID, [flip(proof[0]), *proof[1:]], encoded)
    assert not recorded.verifyRecord(VOTING_ID, proof[:-1], encoded)
    assert not recorded.verifyRecord(VOTING_ID, [*proof, proof[0]], encoded)
    assert not recorded.verifyRecord(VOTING_ID, tree.get_proof(3), encoded)
    assert not recorded.verifyRecord(VOTING_ID, [], encoded)


def test_verify_record__round_without_recorded_result_reverts_with_its_status(create_voting, tree):
    """A false answer always means a wrong record or proof: a wrong round is a named error."""
    net = create_voting(threshold="2/3")
    voting, proof, encoded = net.voting, tree.get_proof(0), tree.encode(0)
    with ape.reverts(voting.VotingNotRecorded, votingId=VOTING_ID, status=0):  # never opened
        voting.verifyRecord(VOTING_ID, proof, encoded)
    voting.openAndVote(DESCRIPTOR, tree.root, sender=net.workers[0])
    with ape.reverts(voting.VotingNotRecorded, votingId=VOTING_ID, status=1):  # leading only
        voting.verifyRecord(VOTING_ID, proof, encoded)
    with ape.reverts(voting.VotingNotRecorded, votingId=VOTING_ID, status=1):
        voting.verifyRecords(VOTING_ID, [proof], [encoded])
    voting.openAndVote(DESCRIPTOR, tree.root, sender=net.workers[1])
    assert voting.verifyRecord(VOTING_ID, proof, encoded)
    other = keccak(text="another round")
    with ape.reverts(voting.VotingNotRecorded, votingId=other, status=0):
        voting.verifyRecord(other, proof, encoded)


def test_verify_record__failed_round_reverts(create_voting, tree, chain):
    net = create_voting(threshold="2/3")
    voting, proof, encoded = net.voting, tree.get_proof(0), tree.encode(0)
    for _attempt in (1, 2):
        voting.openAndVote(DESCRIPTOR, tree.root, sender=net.workers[0])
        voting.vote(VOTING_ID, keccak(text="another root"), sender=net.workers[1])
        chain.pending_timestamp = voting.roundState(VOTING_ID).deadline + 1
        voting.finalize(VOTING_ID, sender=net.workers[2])
    assert voting.roundState(VOTING_ID).status == 7  # Failed: the leading root is no result
    with ape.reverts(voting.VotingNotRecorded, votingId=VOTING_ID, status=7):
        voting.verifyRecord(VOTING_ID, proof, encoded)
    with ape.reverts(voting.VotingNotRecorded, votingId=VOTING_ID, status=7):
        voting.verifyRecords(VOTING_ID, [proof], [encoded])


def test_verify_records__every_record_in_one_call(recorded, tree):
    proofs = [tree.get_proof(i) for i in range(len(RECORDS))]
    records = [tree.encode(i) for i in range(len(RECORDS))]
    assert recorded.verifyRecords(VOTING_ID, proofs, records)
    assert recorded.verifyRecords(VOTING_ID, proofs[2:3], records[2:3])
    assert recorded.verifyRecords(VOTING_ID, proofs[::-1], records[::-1])  # any order


@pytest.mark.parametrize("position", [0, 2, 4])  # the first, a middle and the last record
def test_verify_records__one_bad_record_or_proof_makes_it_false(recorded, tree, position):
    proofs = [tree.get_proof(i) for i in range(len(RECORDS))]
    records = [tree.encode(i) for i in range(len(RECORDS))]
    consumer, generator, hour, wh = RECORDS[position]
    tampered = list(records)
    tampered[position] = encode(TYPES, (consumer, generator, hour, wh + 1))
    assert not recorded.verifyRecords(VOTING_ID, proofs, tampered)
    swapped = list(proofs)
    swapped[position] = proofs[(position + 1) % len(proofs)]
    assert not recorded.verifyRecords(VOTING_ID, swapped, records)


def test_verify_records__no_records_or_unequal_lengths_are_false(recorded, tree):
    proofs = [tree.get_proof(i) for i in range(3)]
    records = [tree.encode(i) for i in range(3)]
    assert not recorded.verifyRecords(VOTING_ID, [], [])
    assert not recorded.verifyRecords(VOTING_ID, proofs, records[:2])
    assert not recorded.verifyRecords(VOTING_ID, proofs[:2], records)


def test_verify_record__record_of_the_outvoted_tree_is_false(create_voting, tree):
    net = create_voting(threshold="2/3")
    corrected = ("consumer-munich-09", "solar-bavaria-5", HOUR, 1)
    other = StandardMerkleTree.of([*RECORDS[:4], corrected], TYPES)
    net.voting.openAndVote(DESCRIPTOR, tree.root, sender=net.workers[0])
    for worker in net.workers[1:]:
        net.voting.openAndVote(DESCRIPTOR, other.root, sender=worker)
    assert net.voting.resultOf(VOTING_ID) == bytes.fromhex(other.root[2:])
    assert not net.voting.verifyRecord(VOTING_ID, tree.get_proof(4), tree.encode(4))
    assert net.voting.verifyRecord(VOTING_ID, other.get_proof(4), other.encode(4))
    assert net.voting.verifyRecord(VOTING_ID, other.get_proof(0), tree.encode(0))  # shared record
