"""No consensus: finalize, the second attempt and each fallback policy."""

import ape
import pytest
from eth_utils import keccak

from tests.contracts.test_voting import chain_link

VOTING_ID = keccak(text="matching:2026-11-23T11:00Z/PT1H")
A, B, C = (keccak(text=f"root {x}") for x in "ABC")
NONE, VOTING, CONSENSUS, PLURALITY, FAILOVER_RESOLVED, FAILED, AWAITING = 0, 1, 4, 5, 6, 7, 8


def split_votes(net, results):
    for worker, result in zip(net.workers, results):
        net.voting.vote(VOTING_ID, result, sender=worker)


def fail_attempt(net, chain, results=None):
    """Votes `results` (default: none), then moves past the deadline and finalizes."""
    split_votes(net, results or [])
    if results is None:
        net.voting.vote(VOTING_ID, A, sender=net.workers[0])
    chain.pending_timestamp = net.voting.roundState(VOTING_ID).deadline + 1
    return net.voting.finalize(VOTING_ID, sender=net.workers[-1])


def test_finalize__unknown_round_reverts(create_voting):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingWrongStatus, votingId=VOTING_ID, status=NONE):
        net.voting.finalize(VOTING_ID, sender=net.workers[0])


def test_finalize__nothing_due_reverts(create_voting):
    net = create_voting("2/3")
    net.voting.vote(VOTING_ID, A, sender=net.workers[0])
    with ape.reverts(net.voting.VotingNothingToFinalize, votingId=VOTING_ID):
        net.voting.finalize(VOTING_ID, sender=net.workers[1])


def test_finalize__after_consensus_reverts(create_voting):
    net = create_voting("2/3")
    split_votes(net, [A, A])
    with ape.reverts(net.voting.VotingWrongStatus, votingId=VOTING_ID, status=CONSENSUS):
        net.voting.finalize(VOTING_ID, sender=net.workers[0])


def test_finalize__deadline_passed_reopens_as_attempt_two(create_voting, chain, outsider):
    net = create_voting("2/3")
    voting = net.voting
    voting.vote(VOTING_ID, A, sender=net.workers[0])
    chain.pending_timestamp = voting.roundState(VOTING_ID).deadline + 1
    receipt = voting.finalize(VOTING_ID, sender=outsider)
    deadline = receipt.timestamp + 3600
    assert receipt.events == [
        voting.RoundReopened(votingId=VOTING_ID, deadline=deadline),
        voting.RoundOpened(
            votingId=VOTING_ID, attempt=2, seq=0, threshold=2, eligible=3, deadline=deadline
        ),
    ]
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.attempt, state.voted, state.leaderVotes) == (VOTING, 2, 0, 0)
    voting.vote(VOTING_ID, B, sender=net.workers[0])  # fresh tallies: may vote again
    receipt = voting.vote(VOTING_ID, B, sender=net.workers[1])
    assert receipt.events[-1].attempt == 2
    assert voting.resultOf(VOTING_ID) == B
    assert voting.chainEntry(0).attempt == 2


def test_finalize__no_result_can_reach_threshold_before_deadline(create_voting):
    net = create_voting("3/4")
    split_votes(net, [A, B])
    with ape.reverts(net.voting.VotingNothingToFinalize, votingId=VOTING_ID):
        net.voting.finalize(VOTING_ID, sender=net.workers[0])  # A could still get 3
    net.voting.vote(VOTING_ID, C, sender=net.workers[2])
    receipt = net.voting.finalize(VOTING_ID, sender=net.workers[0])  # best 1 + 1 left < 3
    assert receipt.events[0].event_name == "RoundReopened"


def test_fallback__alert_only_marks_failed(create_voting, chain):
    net = create_voting("2/3")
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, B])
    head = chain_link(net.voting.genesis(), 0, VOTING_ID, b"\x00" * 32, 2, 1, FAILED)
    assert receipt.events == [
        net.voting.RoundFailed(votingId=VOTING_ID, fallbackPolicy=0, chainIndex=0, head=head)
    ]
    assert net.voting.roundState(VOTING_ID).status == FAILED
    assert net.voting.resultOf(VOTING_ID) == b"\x00" * 32
    entry = net.voting.chainEntry(0)
    assert (entry.votingId, entry.result, entry.kind) == (VOTING_ID, b"\x00" * 32, FAILED)
    settled = net.voting.settledRound(0)  # what rewards read: a failed round agrees with nobody
    assert (settled.kind, settled.voted, settled.agreed, settled.lateUntil) == (FAILED, 3, 0, 0)
    assert net.voting.chainHead() == (head, 1)
    with ape.reverts(net.voting.VotingWrongStatus, votingId=VOTING_ID, status=FAILED):
        net.voting.vote(VOTING_ID, A, sender=net.workers[2])


def test_fallback__plurality_accepted_with_minimum(create_voting, chain):
    net = create_voting("4/5", fallback="plurality", plurality_min_votes=2)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, A, B])
    recorded = receipt.events[0]
    assert recorded.event_name == "ResultRecorded"
    assert (recorded.result, recorded.kind, recorded.attempt, recorded.votes) == (
        A,
        PLURALITY,
        2,
        2,
    )
    assert net.voting.resultOf(VOTING_ID) == A
    assert net.voting.chainEntry(0).kind == PLURALITY
    settled = net.voting.settledRound(0)  # no late votes after a plurality: lateUntil 0
    assert (settled.kind, settled.voted, settled.agreed, settled.lateUntil) == (
        PLURALITY, 0b111, 0b011, 0,
    )  # fmt: skip


def test_fallback__plurality_tie_fails(create_voting, chain):
    net = create_voting("4/5", fallback="plurality", plurality_min_votes=1)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, A, B, B])
    assert receipt.events[0].event_name == "RoundFailed"
    assert receipt.events[0].fallbackPolicy == 1
    assert net.voting.resultOf(VOTING_ID) == b"\x00" * 32


def test_fallback__plurality_below_minimum_fails(create_voting, chain):
    net = create_voting("4/5", fallback="plurality", plurality_min_votes=3)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, A, B])
    assert receipt.events[0].event_name == "RoundFailed"
    assert net.voting.roundState(VOTING_ID).status == FAILED


@pytest.fixture
def failover_net(create_voting, failover_account, chain):
    net = create_voting("3/4", fallback="failover", failover=failover_account.address)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, B, B])
    assert receipt.events == [
        net.voting.FailoverRequested(votingId=VOTING_ID, failover=failover_account)
    ]
    assert net.voting.roundState(VOTING_ID).status == AWAITING
    return net


def test_failover__records_result_of_its_choice(failover_net, failover_account):
    voting = failover_net.voting
    receipt = voting.resolveByFailover(VOTING_ID, A, sender=failover_account)
    recorded = receipt.events[0]
    assert (recorded.result, recorded.kind, recorded.votes) == (A, FAILOVER_RESOLVED, 1)
    assert voting.resultOf(VOTING_ID) == A
    assert voting.roundState(VOTING_ID).dissent == 0b110  # voters of B dissent from A
    with ape.reverts(voting.VotingWrongStatus, votingId=VOTING_ID, status=FAILOVER_RESOLVED):
        voting.resolveByFailover(VOTING_ID, B, sender=failover_account)


def test_failover__choosing_the_leading_result_keeps_its_voters(failover_net, failover_account):
    voting = failover_net.voting
    receipt = voting.resolveByFailover(VOTING_ID, B, sender=failover_account)
    recorded = receipt.events[0]
    assert (recorded.result, recorded.kind, recorded.votes) == (B, FAILOVER_RESOLVED, 2)
    assert voting.roundState(VOTING_ID).dissent == 0b001  # the voter of A dissents from B


def test_failover__by_other_account_reverts(failover_net, outsider, failover_account):
    with ape.reverts(failover_net.voting.VotingNotFailover, account=outsider):
        failover_net.voting.resolveByFailover(VOTING_ID, A, sender=outsider)
    with ape.reverts(failover_net.voting.VotingZeroResult):
        failover_net.voting.resolveByFailover(VOTING_ID, b"\x00" * 32, sender=failover_account)


def test_failover__only_for_rounds_handed_over(create_voting, failover_account):
    net = create_voting("2/3", fallback="failover", failover=failover_account.address)
    net.voting.vote(VOTING_ID, A, sender=net.workers[0])
    with ape.reverts(net.voting.VotingWrongStatus, votingId=VOTING_ID, status=VOTING):
        net.voting.resolveByFailover(VOTING_ID, A, sender=failover_account)


def test_finalize__works_while_paused(create_voting, chain, owner):
    net = create_voting("2/3")
    net.voting.vote(VOTING_ID, A, sender=net.workers[0])
    net.voting.pause(sender=owner)
    chain.pending_timestamp = net.voting.roundState(VOTING_ID).deadline + 1
    net.voting.finalize(VOTING_ID, sender=net.workers[1])
    assert net.voting.roundState(VOTING_ID).attempt == 2


def test_fallback__plurality_tie_with_a_smaller_third_result_fails(create_voting, chain):
    net = create_voting("5/5", fallback="plurality", plurality_min_votes=1)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, A, B, B, C])
    assert receipt.events[0].event_name == "RoundFailed"
    assert net.voting.resultOf(VOTING_ID) == b"\x00" * 32
