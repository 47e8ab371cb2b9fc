"""Sealed mode: commit, reveal, commit-order speed, unrevealed commits."""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak

VOTING_ID = keccak(text="matching:2026-11-23T12:00Z/PT1H")
A, B = keccak(text="root A"), keccak(text="root B")
COMMITTING, REVEALING, CONSENSUS = 2, 3, 4


def salt_of(worker) -> bytes:
    return keccak(text=f"salt of {worker.address}")


def commitment(voting, chain, worker, result, attempt=1) -> bytes:
    """keccak256(abi.encode(result, salt, worker, votingId, attempt, chainid, contract))."""
    types = ["bytes32", "bytes32", "address", "bytes32", "uint8", "uint256", "address"]
    values = [result, salt_of(worker), worker.address, VOTING_ID, attempt]
    return keccak(encode(types, [*values, chain.chain_id, voting.address]))


@pytest.fixture
def sealed(create_voting):
    return create_voting("3/4", sealed=True, speed_rank=2)


def commit_all(net, chain, results):
    for worker, result in zip(net.workers, results):
        net.voting.commit(VOTING_ID, commitment(net.voting, chain, worker, result), sender=worker)


def test_commitment__matches_contract_view(sealed, chain):
    worker = sealed.workers[0]
    expected = commitment(sealed.voting, chain, worker, A)
    view = sealed.voting.commitmentOf(A, salt_of(worker), worker, VOTING_ID, 1)
    assert view == expected


def test_commit__opens_round_and_emits(sealed, chain):
    worker = sealed.workers[0]
    receipt = sealed.voting.commit(
        VOTING_ID, commitment(sealed.voting, chain, worker, A), sender=worker
    )
    assert receipt.events[-1] == sealed.voting.VoteCommitted(
        votingId=VOTING_ID, worker=worker, attempt=1
    )
    state = sealed.voting.roundState(VOTING_ID)
    assert (state.status, state.committed, state.early) == (COMMITTING, 1, 1)


def test_commit__twice_reverts(sealed, chain):
    worker = sealed.workers[0]
    sealed.voting.commit(VOTING_ID, commitment(sealed.voting, chain, worker, A), sender=worker)
    with ape.reverts(sealed.voting.VotingAlreadyVoted, votingId=VOTING_ID, worker=worker):
        sealed.voting.commit(VOTING_ID, commitment(sealed.voting, chain, worker, B), sender=worker)


def test_commit__on_open_round_reverts(create_voting):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingWrongMode, votingId=VOTING_ID, sealedMode=False):
        net.voting.commit(VOTING_ID, A, sender=net.workers[0])


def test_reveal__before_commit_phase_ends_reverts(sealed, chain):
    commit_all(sealed, chain, [A, A])
    state = sealed.voting.roundState(VOTING_ID)
    with ape.reverts(
        sealed.voting.VotingRevealNotOpen, votingId=VOTING_ID, opensAt=state.deadline + 1
    ):
        sealed.voting.reveal(VOTING_ID, A, salt_of(sealed.workers[0]), sender=sealed.workers[0])


def test_reveal__zero_result_reverts(sealed, chain):
    commit_all(sealed, chain, [A, A])
    with ape.reverts(sealed.voting.VotingZeroResult):
        sealed.voting.reveal(VOTING_ID, b"\x00" * 32, salt_of(sealed.workers[0]),
                             sender=sealed.workers[0])  # fmt: skip


def test_reveal__all_committed_opens_reveal_and_consensus(sealed, chain):
    voting, w = sealed.voting, sealed.workers
    commit_all(sealed, chain, [A, A, A, B])
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.committed, state.early) == (REVEALING, 0b1111, 0b0011)
    for worker in w[:2]:
        receipt = voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)
        assert receipt.events == [
            voting.VoteCast(votingId=VOTING_ID, worker=worker, attempt=1, result=A, late=False)
        ]
    receipt = voting.reveal(VOTING_ID, A, salt_of(w[2]), sender=w[2])
    assert receipt.events[-1].event_name == "ResultRecorded"
    assert voting.resultOf(VOTING_ID) == A
    receipt = voting.reveal(VOTING_ID, B, salt_of(w[3]), sender=w[3])  # late, dissenting
    assert receipt.events[-1].late == 1
    assert voting.roundState(VOTING_ID).dissent == 0b1000


def test_reveal__after_commit_deadline(sealed, chain):
    commit_all(sealed, chain, [A, A, A])
    deadline = sealed.voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = deadline + 1
    for worker in sealed.workers[:3]:
        sealed.voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)
    state = sealed.voting.roundState(VOTING_ID)
    assert (state.status, state.deadline) == (CONSENSUS, deadline + 3600)


def test_commit__after_commit_deadline_reverts(sealed, chain):
    commit_all(sealed, chain, [A])
    deadline = sealed.voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = deadline + 1
    late = sealed.workers[1]
    with ape.reverts(sealed.voting.VotingDeadlinePassed, votingId=VOTING_ID, deadline=deadline):
        sealed.voting.commit(VOTING_ID, commitment(sealed.voting, chain, late, A), sender=late)


def test_reveal__wrong_result_or_salt_reverts(sealed, chain):
    commit_all(sealed, chain, [A, A, A, A])
    worker = sealed.workers[0]
    with ape.reverts(sealed.voting.VotingCommitmentMismatch, votingId=VOTING_ID, worker=worker):
        sealed.voting.reveal(VOTING_ID, B, salt_of(worker), sender=worker)
    with ape.reverts(sealed.voting.VotingCommitmentMismatch, votingId=VOTING_ID, worker=worker):
        sealed.voting.reveal(VOTING_ID, A, salt_of(sealed.workers[1]), sender=worker)


def test_reveal__without_commit_reverts(sealed, chain, outsider):
    commit_all(sealed, chain, [A, A, A])
    chain.pending_timestamp = sealed.voting.roundState(VOTING_ID).deadline + 1
    idle = sealed.workers[3]
    with ape.reverts(sealed.voting.VotingNotCommitted, votingId=VOTING_ID, worker=idle):
        sealed.voting.reveal(VOTING_ID, A, salt_of(idle), sender=idle)
    with ape.reverts(sealed.voting.VotingNotCommitted, votingId=VOTING_ID, worker=outsider):
        sealed.voting.reveal(VOTING_ID, A, salt_of(outsider), sender=outsider)


def test_reveal__outside_the_reveal_phase_or_paused_reverts(sealed, chain, owner):
    worker = sealed.workers[0]
    with ape.reverts(sealed.voting.VotingWrongStatus, votingId=VOTING_ID, status=0):
        sealed.voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)
    commit_all(sealed, chain, [A, A, A])
    closes = sealed.voting.roundState(VOTING_ID).deadline + 3600  # commit deadline + reveal time
    chain.pending_timestamp = closes + 1
    with ape.reverts(sealed.voting.VotingDeadlinePassed, votingId=VOTING_ID, deadline=closes):
        sealed.voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)
    sealed.voting.pause(sender=owner)
    with ape.reverts(sealed.voting.VotingPaused):
        sealed.voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)


def test_reveal__twice_reverts(sealed, chain):
    commit_all(sealed, chain, [A, A, A, A])
    worker = sealed.workers[0]
    sealed.voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)
    with ape.reverts(sealed.voting.VotingAlreadyVoted, votingId=VOTING_ID, worker=worker):
        sealed.voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)


def test_copier__commits_last_so_earns_no_speed(sealed, chain):
    """A lazy worker can only copy after reveals start, when commits are closed."""
    voting, w = sealed.voting, sealed.workers
    commit_all(sealed, chain, [A, A, A])
    chain.pending_timestamp = voting.roundState(VOTING_ID).deadline + 1
    voting.reveal(VOTING_ID, A, salt_of(w[0]), sender=w[0])
    copier = w[3]
    with ape.reverts(voting.VotingWrongStatus, votingId=VOTING_ID, status=REVEALING):
        voting.commit(VOTING_ID, commitment(voting, chain, copier, A), sender=copier)
    assert voting.roundState(VOTING_ID).early == 0b0011


def test_unrevealed_commit__fails_attempt_and_reruns(sealed, chain):
    voting, w = sealed.voting, sealed.workers
    commit_all(sealed, chain, [A, A, A, A])
    voting.reveal(VOTING_ID, A, salt_of(w[0]), sender=w[0])
    chain.pending_timestamp = voting.roundState(VOTING_ID).deadline + 1
    voting.finalize(VOTING_ID, sender=w[0])
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.attempt, state.committed) == (COMMITTING, 2, 0)
    worker = w[1]
    voting.commit(VOTING_ID, commitment(voting, chain, worker, A, attempt=2), sender=worker)


def test_finalize__too_few_commits_after_commit_deadline(sealed, chain):
    voting = sealed.voting
    commit_all(sealed, chain, [A, A])
    with ape.reverts(voting.VotingNothingToFinalize, votingId=VOTING_ID):
        voting.finalize(VOTING_ID, sender=sealed.workers[0])
    chain.pending_timestamp = voting.roundState(VOTING_ID).deadline + 1
    voting.finalize(VOTING_ID, sender=sealed.workers[0])  # 2 commits cannot reach 3
    assert voting.roundState(VOTING_ID).attempt == 2
