"""Attacks on a pause and on the failover fallback: late votes, deadlines, timeouts, lost keys."""

import ape
import pytest

from tests.conftest import FAILOVER_TIMEOUT, HOUR, ZERO_ADDRESS, event_descriptor, make_config
from tests.contracts.adversarial_helpers import (
    AWAITING,
    FAILED,
    FAILOVER_RESOLVED,
    OTHER,
    TRUE,
    goto,
    play,
)

# -------------------------------------------------------------------------------------------------
# Pause
# -------------------------------------------------------------------------------------------------


def test_pause__late_votes_still_count(create_voting, chain, owner):
    """A pause stops rounds, not the late votes of a decided round (they end in block time)."""
    net = create_voting("3/5")
    voting, w = net.voting, net.workers
    # Quorum and consensus at once.
    voting_id = play(voting, w, "late while paused", [TRUE, TRUE, TRUE])
    late_until = voting.roundState(voting_id).deadline
    voting.pause(sender=owner)
    chain.pending_timestamp = late_until
    receipt = voting.vote(voting_id, TRUE, sender=w[3])
    assert receipt.events == [
        voting.VoteCast(votingId=voting_id, worker=w[3], attempt=1, result=TRUE, late=True)
    ]
    chain.pending_timestamp = late_until + 1
    with ape.reverts(voting.VotingDeadlinePassed, votingId=voting_id, deadline=late_until):
        voting.vote(voting_id, TRUE, sender=w[4])
    with ape.reverts(voting.VotingPaused):
        voting.openAndVote(event_descriptor("new while paused"), TRUE, sender=w[4])


def test_pause__longer_than_the_window_fails_nothing(create_voting, chain, owner):
    net = create_voting("3/5")
    voting, w = net.voting, net.workers
    voting_id = play(voting, w, "paused hour", [TRUE, TRUE, OTHER])  # quorum: the clock runs
    deadline = voting.roundState(voting_id).deadline
    paused_at = voting.pause(sender=owner).timestamp
    goto(chain, deadline + 5 * HOUR)
    with ape.reverts(voting.VotingNothingToFinalize, votingId=voting_id):
        voting.finalize(voting_id, sender=w[0])
    resumed_at = voting.unpause(sender=owner).timestamp
    shifted = deadline + (resumed_at - paused_at)
    assert voting.roundState(voting_id).deadline == shifted
    assert voting.poolState().pausedFor == resumed_at - paused_at
    # The last second of the window still takes a vote; one second later finalize fails it.
    chain.pending_timestamp = shifted
    receipt = voting.vote(voting_id, TRUE, sender=w[3])
    assert receipt.events[-1].event_name == "ResultRecorded"
    assert voting.resultOf(voting_id) == TRUE


def test_pause__deadline_second_is_exact(create_voting, chain, owner):
    net = create_voting("2/3")
    voting, w = net.voting, net.workers
    voting_id = play(voting, w, "exact", [TRUE, OTHER])
    deadline = voting.roundState(voting_id).deadline
    paused_at = voting.pause(sender=owner).timestamp
    chain.pending_timestamp = paused_at + 100
    resumed_at = voting.unpause(sender=owner).timestamp
    shifted = deadline + (resumed_at - paused_at)
    chain.pending_timestamp = shifted
    with ape.reverts(voting.VotingNothingToFinalize, votingId=voting_id):
        voting.finalize(voting_id, sender=w[0])
    chain.pending_timestamp = shifted + 1
    receipt = voting.finalize(voting_id, sender=w[0])
    reopened = voting.RoundReopened(votingId=voting_id, deadline=shifted + 1 + HOUR)
    assert receipt.events[0] == reopened


# -------------------------------------------------------------------------------------------------
# Failover
# -------------------------------------------------------------------------------------------------


def _to_failover(net, chain) -> bytes:
    voting, w = net.voting, net.workers
    voting_id = play(voting, w, "failover hour", [TRUE, OTHER])
    for _attempt in (1, 2):
        goto(chain, voting.roundState(voting_id).deadline + 1)
        voting.finalize(voting_id, sender=w[0])
    assert voting.roundState(voting_id).status == AWAITING
    return voting_id


def test_failover__timeout_chains_the_round_as_failed(create_voting, chain, failover_account):
    net = create_voting("2/3", fallback="failover", failover=failover_account.address)
    voting = net.voting
    voting_id = _to_failover(net, chain)
    timeout_at = voting.roundState(voting_id).deadline
    chain.pending_timestamp = timeout_at
    with ape.reverts(voting.VotingNothingToFinalize, votingId=voting_id):
        voting.finalize(voting_id, sender=net.workers[2])
    chain.pending_timestamp = timeout_at + 1
    receipt = voting.finalize(voting_id, sender=net.workers[2])
    head, length = voting.chainHead()
    assert receipt.events == [
        voting.RoundFailed(votingId=voting_id, fallbackPolicy=2, chainIndex=0, head=head)
    ]
    assert (voting.roundState(voting_id).status, length) == (FAILED, 1)
    with ape.reverts(voting.VotingWrongStatus, votingId=voting_id, status=FAILED):
        voting.resolveByFailover(voting_id, TRUE, sender=failover_account)


def test_failover__request_names_its_timeout(create_voting, chain, failover_account):
    net = create_voting("2/3", fallback="failover", failover=failover_account.address)
    voting, w = net.voting, net.workers
    voting_id = play(voting, w, "failover hour", [TRUE, OTHER])
    goto(chain, voting.roundState(voting_id).deadline + 1)
    voting.finalize(voting_id, sender=w[0])
    goto(chain, voting.roundState(voting_id).deadline + 1)
    receipt = voting.finalize(voting_id, sender=w[0])
    assert receipt.events == [
        voting.FailoverRequested(
            votingId=voting_id,
            failover=failover_account,
            timeoutAt=receipt.timestamp + FAILOVER_TIMEOUT,
        )
    ]


def test_failover__lost_key_replaced_by_new_config(
    create_voting, chain, owner, failover_account, outsider
):
    net = create_voting("2/3", fallback="failover", failover=failover_account.address)
    voting = net.voting
    voting_id = _to_failover(net, chain)
    voting.setConfig(
        make_config(threshold=2, fallback="failover", failover=outsider.address), sender=owner
    )
    with ape.reverts(voting.VotingNotFailover, account=net.workers[0]):
        voting.resolveByFailover(voting_id, TRUE, sender=net.workers[0])
    voting.resolveByFailover(voting_id, TRUE, sender=outsider)
    assert (voting.roundState(voting_id).status, voting.resultOf(voting_id)) == (
        FAILOVER_RESOLVED,
        TRUE,
    )


def test_failover__resolve_after_timeout_reverts(create_voting, chain, failover_account):
    net = create_voting("2/3", fallback="failover", failover=failover_account.address)
    voting = net.voting
    voting_id = _to_failover(net, chain)
    timeout_at = voting.roundState(voting_id).deadline
    chain.pending_timestamp = timeout_at + 1
    with ape.reverts(voting.VotingDeadlinePassed, votingId=voting_id, deadline=timeout_at):
        voting.resolveByFailover(voting_id, TRUE, sender=failover_account)


@pytest.mark.parametrize(
    ("fallback", "failover_timeout"), [("failover", 0), ("failover", 31 * 24 * HOUR), ("alert", 60)]
)
def test_config__failover_timeout_out_of_range_reverts(
    create_voting, owner, failover_account, fallback, failover_timeout
):
    net = create_voting("2/3")
    failover = failover_account.address if fallback == "failover" else ZERO_ADDRESS
    config = make_config(fallback=fallback, failover=failover, failover_timeout=failover_timeout)
    with ape.reverts(net.voting.VotingInvalidConfig, field="failoverTimeout"):
        net.voting.setConfig(config, sender=owner)
