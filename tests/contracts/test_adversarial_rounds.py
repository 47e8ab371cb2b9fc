"""Attacks on rounds: pre-opened rounds, colluding minorities and the plurality fallback."""

import ape
import pytest
from eth_utils import keccak

from scripts._voting import pool_admin
from tests.conftest import HOUR, descriptor_id, event_descriptor, make_config, window_descriptor
from tests.contracts.adversarial_helpers import (
    BAD,
    CONSENSUS,
    FAILED,
    OTHER,
    PLURALITY,
    TRUE,
    VOTING,
    goto,
    play,
)

# -------------------------------------------------------------------------------------------------
# Pre-opened rounds
# -------------------------------------------------------------------------------------------------


def test_open__window_round_before_its_end_reverts(create_voting, chain):
    net = create_voting("3/5")
    end = chain.pending_timestamp + HOUR
    descriptor = window_descriptor(end - HOUR, end)
    with ape.reverts(
        net.voting.VotingWindowNotEnded, votingId=descriptor_id(descriptor), windowEnd=end
    ):
        net.voting.openAndVote(descriptor, BAD, sender=net.workers[0])
    # The exact second the window ends, the round opens.
    chain.pending_timestamp = end
    net.voting.openAndVote(descriptor, TRUE, sender=net.workers[0])
    assert net.voting.roundState(descriptor_id(descriptor)).status == VOTING


def test_vote__round_never_opened_reverts(create_voting):
    net = create_voting("2/3")
    voting_id = descriptor_id(event_descriptor("nobody opened this"))
    with ape.reverts(net.voting.VotingUnknownRound, votingId=voting_id):
        net.voting.vote(voting_id, BAD, sender=net.workers[0])
    with ape.reverts(net.voting.VotingUnknownRound, votingId=voting_id):
        net.voting.commit(voting_id, BAD, sender=net.workers[0])


@pytest.mark.parametrize(
    "descriptor",
    [
        (b"\x00" * 32, 0, 0, keccak(text="k"), keccak(text="enc")),  # no schedule
        (keccak(text="s"), 0, 0, keccak(text="k"), b"\x00" * 32),  # no encoding
        (keccak(text="s"), 10, 10, b"\x00" * 32, keccak(text="enc")),  # empty window
        (keccak(text="s"), 0, 10, keccak(text="k"), keccak(text="enc")),  # window and event
        (keccak(text="s"), 5, 0, keccak(text="k"), keccak(text="enc")),  # start on an event
    ],
)
def test_open__malformed_descriptor_reverts(create_voting, descriptor):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingInvalidDescriptor, votingId=descriptor_id(descriptor)):
        net.voting.openAndVote(descriptor, TRUE, sender=net.workers[0])


@pytest.mark.parametrize("fallback", ["alert", "plurality", "failover"])
def test_early_opener__cannot_expire_a_window_round(
    create_voting, chain, failover_account, fallback
):
    """A worker opens a window round the second it ends, votes an invented result and calls
    finalize at every deadline it could have made; the honest workers come hours later and
    still decide the round in attempt 1."""
    extra = {"plurality_min_votes": 2} if fallback == "plurality" else {}
    if fallback == "failover":
        extra = {"failover": failover_account.address}
    net = create_voting("3/5", fallback=fallback, **extra)
    voting, (attacker, *honest) = net.voting, net.workers
    end = chain.pending_timestamp
    descriptor = window_descriptor(end - HOUR, end)
    voting_id = descriptor_id(descriptor)
    voting.openAndVote(descriptor, BAD, sender=attacker)
    for hours in (1, 2, 3, 30 * 24):
        goto(chain, end + hours * HOUR + 1)
        with ape.reverts(voting.VotingNothingToFinalize, votingId=voting_id):
            voting.finalize(voting_id, sender=attacker)
    assert voting.roundState(voting_id).deadline == 0
    for worker in honest[:3]:
        voting.openAndVote(descriptor, TRUE, sender=worker)
    state = voting.roundState(voting_id)
    assert (state.status, state.attempt, voting.resultOf(voting_id)) == (CONSENSUS, 1, TRUE)


def test_quorum__starts_the_clock_with_the_threshold_th_voter(create_voting, chain):
    net = create_voting("3/5")
    voting, w = net.voting, net.workers
    voting_id = play(voting, w, "settlement 1", [BAD, OTHER])
    assert voting.roundState(voting_id).deadline == 0
    receipt = voting.vote(voting_id, TRUE, sender=w[2])
    deadline = receipt.timestamp + HOUR
    started = voting.RoundStarted(votingId=voting_id, attempt=1, deadline=deadline)
    assert receipt.events[-1] == started
    assert voting.roundState(voting_id).deadline == deadline


# -------------------------------------------------------------------------------------------------
# Colluding minorities and the plurality fallback
# -------------------------------------------------------------------------------------------------


def test_plurality_min_votes_below_floor_reverts(project, owner):
    with ape.reverts(project.WorkerVoting.VotingInvalidConfig, field="pluralityMinVotes"):
        owner.deploy(
            project.WorkerVoting,
            owner,
            make_config(fallback="plurality", plurality_min_votes=1),
            24 * HOUR,
            2 * HOUR,
            pool_admin(owner),
        )


@pytest.mark.parametrize(("threshold", "minority"), [("3/5", 1), ("3/5", 2), ("4/7", 3)])
def test_minority__alone_never_starts_a_round(create_voting, chain, threshold, minority):
    net = create_voting(threshold, fallback="plurality", plurality_min_votes=2)
    voting = net.voting
    descriptor = event_descriptor("throw-away")
    voting_id = descriptor_id(descriptor)
    voting.openAndVote(descriptor, BAD, sender=net.workers[0])
    for worker in net.workers[1:minority]:
        voting.vote(voting_id, BAD, sender=worker)
    goto(chain, chain.pending_timestamp + 40 * 24 * HOUR)
    with ape.reverts(voting.VotingNothingToFinalize, votingId=voting_id):
        voting.finalize(voting_id, sender=net.workers[0])
    assert voting.chainHead()[1] == 0
    assert voting.resultOf(voting_id) == b"\x00" * 32


@pytest.mark.parametrize(("threshold", "minority"), [("3/5", 2), ("4/7", 2), ("4/7", 3)])
def test_minority__attempt_two_alone_gets_no_plurality(create_voting, chain, threshold, minority):
    """Attempt 1 ran with honest voters (the quorum); in attempt 2 only the colluders vote."""
    net = create_voting(threshold, fallback="plurality", plurality_min_votes=2)
    voting, m = net.voting, net.threshold
    colluders, honest = net.workers[:minority], net.workers[minority:]
    descriptor = event_descriptor("split hour")
    voting_id = descriptor_id(descriptor)
    voting.openAndVote(descriptor, BAD, sender=colluders[0])
    for worker in colluders[1:]:
        voting.vote(voting_id, BAD, sender=worker)
    for i, worker in enumerate(honest[: m - minority]):
        voting.vote(voting_id, keccak(text=f"honest {i}"), sender=worker)
    goto(chain, voting.roundState(voting_id).deadline + 1)
    voting.finalize(voting_id, sender=colluders[0])
    for worker in colluders:
        voting.vote(voting_id, BAD, sender=worker)
    goto(chain, voting.roundState(voting_id).deadline + 1)
    receipt = voting.finalize(voting_id, sender=colluders[0])
    assert voting.roundState(voting_id).status == FAILED
    assert voting.resultOf(voting_id) == b"\x00" * 32
    assert receipt.events[-1].event_name == "RoundFailed"


def test_plurality__with_attempt_two_quorum_records_leader(create_voting, chain):
    """The same split with `threshold` distinct voters in attempt 2 is a real plurality."""
    net = create_voting("3/5", fallback="plurality", plurality_min_votes=2)
    voting, w = net.voting, net.workers
    voting_id = play(voting, w, "split hour", [TRUE, OTHER, BAD])
    goto(chain, voting.roundState(voting_id).deadline + 1)
    voting.finalize(voting_id, sender=w[0])
    for worker, result in zip(w[:3], [TRUE, TRUE, OTHER]):
        voting.vote(voting_id, result, sender=worker)
    goto(chain, voting.roundState(voting_id).deadline + 1)
    voting.finalize(voting_id, sender=w[0])
    assert (voting.roundState(voting_id).status, voting.resultOf(voting_id)) == (PLURALITY, TRUE)


H = [keccak(text=f"honest {i}") for i in range(4)]


@pytest.mark.parametrize(
    ("threshold", "colluders", "honest_votes", "last_vote"),
    [("5/6", 3, [TRUE, TRUE], TRUE), ("4/7", 2, [H[0], H[1], H[2], H[3]], H[0])],
)
def test_plurality__minority_cannot_cut_attempt_two_short(
    create_voting, chain, threshold, colluders, honest_votes, last_vote
):
    """Colluders vote so that no result can reach the threshold any more; attempt 2 still runs
    until its deadline or the last vote, since the votes to come can tie or overtake: here the
    last honest vote ties the colluders' result and nothing is recorded."""
    net = create_voting(threshold, fallback="plurality", plurality_min_votes=2)
    voting = net.voting
    col, honest = net.workers[:colluders], net.workers[colluders:]
    descriptor = event_descriptor("cut short")
    voting_id = descriptor_id(descriptor)
    voting.openAndVote(descriptor, BAD, sender=col[0])
    for worker in col[1:]:
        voting.vote(voting_id, BAD, sender=worker)
    for worker, result in zip(honest, honest_votes):
        voting.vote(voting_id, result, sender=worker)  # attempt 1: quorum, no consensus
    goto(chain, voting.roundState(voting_id).deadline + 1)
    voting.finalize(voting_id, sender=col[0])
    deadline = voting.roundState(voting_id).deadline
    for worker, result in zip(honest, honest_votes):
        voting.vote(voting_id, result, sender=worker)
    for worker in col:
        voting.vote(voting_id, BAD, sender=worker)
    assert voting.roundState(voting_id).eligibleCount - len(honest_votes) - colluders == 1
    with ape.reverts(voting.VotingNothingToFinalize, votingId=voting_id):
        voting.finalize(voting_id, sender=col[0])
    chain.pending_timestamp = deadline
    voting.vote(voting_id, last_vote, sender=honest[len(honest_votes)])
    voting.finalize(voting_id, sender=col[0])  # every vote is in: decided before the deadline
    assert voting.roundState(voting_id).status == FAILED
    assert voting.resultOf(voting_id) == b"\x00" * 32


def test_open__generation_does_not_move_with_rounds(create_voting, owner, outsider):
    """Opening rounds never exhausts a counter: seq is the membership generation."""
    net = create_voting("2/3")
    voting = net.voting
    generation = voting.poolState().generation
    for i in range(5):
        voting.openAndVote(event_descriptor(f"spam {i}"), BAD, sender=net.workers[0])
    assert voting.poolState().generation == generation
    spam = descriptor_id(event_descriptor("spam 4"))
    assert voting.roundState(spam).seq == generation
    voting.addWorker(outsider, sender=owner)
    assert voting.workerInfo(outsider).joinedSeq == generation + 1
    with ape.reverts(voting.VotingNotEligible, votingId=spam, worker=outsider):
        voting.vote(spam, BAD, sender=outsider)
    voting.removeWorker(net.workers[2], sender=owner)
    assert voting.workerInfo(net.workers[2]).leftSeq == generation + 2
    fresh = event_descriptor("after removal")
    voting.openAndVote(fresh, TRUE, sender=outsider)
    assert voting.roundState(descriptor_id(fresh)).seq == generation + 2
