"""Sealed mode: commit, the commit quorum, reveal, commit-order speed, unrevealed commits."""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak

from tests.conftest import descriptor_id, event_descriptor

DESCRIPTOR = event_descriptor("matching:2026-11-23T12:00Z/PT1H")
VOTING_ID = descriptor_id(DESCRIPTOR)
A, B = keccak(text="root A"), keccak(text="root B")
ZERO = b"\x00" * 32
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


def commit_all(net, chain, results, attempt=1, workers=None):
    receipts = []
    for worker, result in zip(workers or net.workers, results):
        value = commitment(net.voting, chain, worker, result, attempt)
        receipts.append(net.voting.openAndCommit(DESCRIPTOR, value, sender=worker))
    return receipts


def test_commitment__matches_contract_view(sealed, chain):
    worker = sealed.workers[0]
    expected = commitment(sealed.voting, chain, worker, A)
    view = sealed.voting.commitmentOf(A, salt_of(worker), worker, VOTING_ID, 1)
    assert view == expected


def test_commit__opens_round_and_emits(sealed, chain):
    voting, worker = sealed.voting, sealed.workers[0]
    receipt = voting.openAndCommit(DESCRIPTOR, commitment(voting, chain, worker, A), sender=worker)
    schedule, start, end, key, encoding = DESCRIPTOR
    assert receipt.events == [
        voting.RoundDescribed(
            votingId=VOTING_ID, schedule=schedule, windowStart=start, windowEnd=end, eventKey=key,
            encoding=encoding,
        ),
        voting.RoundOpened(votingId=VOTING_ID, attempt=1, seq=4, threshold=3, eligible=4,
                           deadline=0),
        voting.VoteCommitted(votingId=VOTING_ID, worker=worker, attempt=1),
    ]  # fmt: skip
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.committed, state.early, state.deadline) == (COMMITTING, 1, 1, 0)


def test_commit__unknown_round_reverts(sealed):
    with ape.reverts(sealed.voting.VotingUnknownRound, votingId=VOTING_ID):
        sealed.voting.commit(VOTING_ID, A, sender=sealed.workers[0])


def test_commit__quorum_starts_the_commit_clock(sealed, chain):
    voting, w = sealed.voting, sealed.workers
    commit_all(sealed, chain, [A, B])
    assert voting.roundState(VOTING_ID).deadline == 0
    value = commitment(voting, chain, w[2], A)
    receipt = voting.commit(VOTING_ID, value, sender=w[2])
    deadline = receipt.timestamp + 3600
    assert receipt.events == [
        voting.VoteCommitted(votingId=VOTING_ID, worker=w[2], attempt=1),
        voting.RoundStarted(votingId=VOTING_ID, attempt=1, deadline=deadline),
    ]
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.deadline, state.committed) == (COMMITTING, deadline, 0b111)


def test_commit__quorum_of_every_eligible_worker_opens_reveals(create_voting, chain):
    net = create_voting("2/2", sealed=True)
    voting = net.voting
    commit_all(net, chain, [A])
    (receipt,) = commit_all(net, chain, [A], workers=net.workers[1:])
    deadline = receipt.timestamp + 3600  # the reveal window
    assert receipt.events == [
        voting.VoteCommitted(votingId=VOTING_ID, worker=net.workers[1], attempt=1),
        voting.RoundStarted(votingId=VOTING_ID, attempt=1, deadline=deadline),
    ]
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.deadline) == (REVEALING, deadline)


def test_commit__twice_reverts(sealed, chain):
    worker = sealed.workers[0]
    commit_all(sealed, chain, [A])
    with ape.reverts(sealed.voting.VotingAlreadyVoted, votingId=VOTING_ID, worker=worker):
        sealed.voting.commit(VOTING_ID, commitment(sealed.voting, chain, worker, B), sender=worker)


def test_commit__zero_commitment_reverts(sealed):
    with ape.reverts(sealed.voting.VotingZeroResult):
        sealed.voting.openAndCommit(DESCRIPTOR, ZERO, sender=sealed.workers[0])


def test_commit__on_open_round_reverts(create_voting):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingWrongMode, votingId=VOTING_ID, sealedMode=False):
        net.voting.openAndCommit(DESCRIPTOR, A, sender=net.workers[0])
    net.voting.openAndVote(DESCRIPTOR, A, sender=net.workers[0])
    with ape.reverts(net.voting.VotingWrongMode, votingId=VOTING_ID, sealedMode=False):
        net.voting.commit(VOTING_ID, A, sender=net.workers[1])


def test_commit__on_settled_round_reverts(sealed, chain):
    commit_all(sealed, chain, [A, A, A, A])
    for worker in sealed.workers[:3]:
        sealed.voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)
    with ape.reverts(sealed.voting.VotingWrongStatus, votingId=VOTING_ID, status=CONSENSUS):
        sealed.voting.commit(VOTING_ID, A, sender=sealed.workers[3])


def test_reveal__before_quorum_reverts(sealed, chain):
    commit_all(sealed, chain, [A, A])
    chain.pending_timestamp += 7 * 24 * 3600
    with ape.reverts(sealed.voting.VotingRevealNotOpen, votingId=VOTING_ID, opensAt=0):
        sealed.voting.reveal(VOTING_ID, A, salt_of(sealed.workers[0]), sender=sealed.workers[0])


def test_reveal__before_commit_phase_ends_reverts(sealed, chain):
    commit_all(sealed, chain, [A, A, A])
    state = sealed.voting.roundState(VOTING_ID)
    chain.pending_timestamp = state.deadline
    with ape.reverts(
        sealed.voting.VotingRevealNotOpen, votingId=VOTING_ID, opensAt=state.deadline + 1
    ):
        sealed.voting.reveal(VOTING_ID, A, salt_of(sealed.workers[0]), sender=sealed.workers[0])


def test_reveal__zero_result_reverts(sealed, chain):
    commit_all(sealed, chain, [A, A, A])
    with ape.reverts(sealed.voting.VotingZeroResult):
        sealed.voting.reveal(VOTING_ID, ZERO, salt_of(sealed.workers[0]),
                             sender=sealed.workers[0])  # fmt: skip


def test_reveal__all_committed_opens_reveal_and_consensus(sealed, chain):
    voting, w = sealed.voting, sealed.workers
    receipts = commit_all(sealed, chain, [A, A, A, B])
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.committed, state.early) == (REVEALING, 0b1111, 0b0011)
    assert state.deadline == receipts[-1].timestamp + 3600
    for worker in w[:2]:
        receipt = voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)
        assert receipt.events == [
            voting.VoteCast(votingId=VOTING_ID, worker=worker, attempt=1, result=A, late=False)
        ]
    receipt = voting.reveal(VOTING_ID, A, salt_of(w[2]), sender=w[2])
    assert receipt.events[-1].event_name == "ResultRecorded"
    assert voting.resultOf(VOTING_ID) == A
    receipt = voting.reveal(VOTING_ID, B, salt_of(w[3]), sender=w[3])  # late, dissenting
    assert receipt.events == [
        voting.VoteCast(votingId=VOTING_ID, worker=w[3], attempt=1, result=B, late=True)
    ]
    assert voting.roundState(VOTING_ID).dissent == 0b1000
    assert voting.workerInfo(w[3]).late == 1


def test_reveal__late_after_deadline_reverts(sealed, chain):
    commit_all(sealed, chain, [A, A, A, A])
    for worker in sealed.workers[:3]:
        sealed.voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)
    late_until = sealed.voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = late_until + 1
    w = sealed.workers[3]
    with ape.reverts(sealed.voting.VotingDeadlinePassed, votingId=VOTING_ID, deadline=late_until):
        sealed.voting.reveal(VOTING_ID, A, salt_of(w), sender=w)


def test_reveal__after_commit_deadline(sealed, chain):
    commit_all(sealed, chain, [A, A, A])
    deadline = sealed.voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = deadline + 1
    for worker in sealed.workers[:3]:
        sealed.voting.reveal(VOTING_ID, A, salt_of(worker), sender=worker)
    state = sealed.voting.roundState(VOTING_ID)
    assert (state.status, state.deadline) == (CONSENSUS, deadline + 3600)


def test_commit__after_commit_deadline_reverts(sealed, chain):
    commit_all(sealed, chain, [A, A, A])
    deadline = sealed.voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = deadline + 1
    late = sealed.workers[3]
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
    with ape.reverts(sealed.voting.VotingNotWorker, account=outsider):
        sealed.voting.reveal(VOTING_ID, A, salt_of(outsider), sender=outsider)


def test_reveal__by_removed_worker_reverts(sealed, chain, owner):
    commit_all(sealed, chain, [A, A, A])
    gone = sealed.workers[0]
    sealed.voting.removeWorker(gone, sender=owner)
    chain.pending_timestamp = sealed.voting.roundState(VOTING_ID).deadline + 1
    with ape.reverts(sealed.voting.VotingNotWorker, account=gone):
        sealed.voting.reveal(VOTING_ID, A, salt_of(gone), sender=gone)


def test_reveal__by_worker_joined_after_opening_reverts(sealed, chain, owner, workers):
    """The newcomer takes the pool index of a removed worker that had committed."""
    commit_all(sealed, chain, [A, A, A])
    sealed.voting.removeWorker(sealed.workers[0], sender=owner)
    newcomer = workers[6]
    sealed.voting.addWorker(newcomer, sender=owner)
    assert sealed.voting.workerInfo(newcomer).index == 0
    chain.pending_timestamp = sealed.voting.roundState(VOTING_ID).deadline + 1
    with ape.reverts(sealed.voting.VotingNotEligible, votingId=VOTING_ID, worker=newcomer):
        sealed.voting.reveal(VOTING_ID, A, salt_of(newcomer), sender=newcomer)


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
    with ape.reverts(sealed.voting.VotingPaused):
        sealed.voting.commit(VOTING_ID, A, sender=sealed.workers[3])


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
    assert state.early == 0  # attempt 2 ranks no speed: attempt 1's reveals are public
    commit_all(sealed, chain, [A, A], attempt=2, workers=[w[3], w[2]])
    state = voting.roundState(VOTING_ID)
    assert (state.committed, state.early) == (0b1100, 0)  # attempt-2 commits are never early


def test_finalize__below_commit_quorum_reverts_however_late(sealed, chain):
    voting = sealed.voting
    commit_all(sealed, chain, [A, A])
    chain.pending_timestamp += 7 * 24 * 3600
    with ape.reverts(voting.VotingNothingToFinalize, votingId=VOTING_ID):
        voting.finalize(VOTING_ID, sender=sealed.workers[0])
    assert voting.roundState(VOTING_ID).attempt == 1


def test_finalize__too_few_commits_after_commit_deadline_of_attempt_two(sealed, chain):
    voting, w = sealed.voting, sealed.workers
    commit_all(sealed, chain, [A, A, A])
    chain.pending_timestamp = voting.roundState(VOTING_ID).deadline + 3600 + 1  # nobody revealed
    voting.finalize(VOTING_ID, sender=w[0])
    commit_all(sealed, chain, [A, A], attempt=2)
    deadline = voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = deadline
    with ape.reverts(voting.VotingNothingToFinalize, votingId=VOTING_ID):
        voting.finalize(VOTING_ID, sender=w[0])  # commits still open: 2 + 2 may reach 3
    chain.pending_timestamp = deadline + 1
    receipt = voting.finalize(VOTING_ID, sender=w[0])  # 2 commits cannot reach 3
    assert receipt.events[0].event_name == "RoundFailed"
    assert voting.roundState(VOTING_ID).status == 7


def test_finalize__reveal_window_passed(sealed, chain):
    voting, w = sealed.voting, sealed.workers
    commit_all(sealed, chain, [A, A, A])
    deadline = voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = deadline + 1
    voting.reveal(VOTING_ID, A, salt_of(w[0]), sender=w[0])
    voting.reveal(VOTING_ID, A, salt_of(w[1]), sender=w[1])
    chain.pending_timestamp = deadline + 3600
    with ape.reverts(voting.VotingNothingToFinalize, votingId=VOTING_ID):
        voting.finalize(VOTING_ID, sender=w[0])  # the last reveal may still come
    chain.pending_timestamp = deadline + 3601
    voting.finalize(VOTING_ID, sender=w[0])
    assert voting.roundState(VOTING_ID).attempt == 2
