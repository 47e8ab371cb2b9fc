"""No consensus: finalize, the second attempt, each fallback policy, the failover timeout and the
round clock standing still while paused."""

import ape
import pytest
from eth_utils import keccak

from tests.conftest import FAILOVER_TIMEOUT, descriptor_id, event_descriptor, make_config
from tests.contracts.test_voting import chain_link

DESCRIPTOR = event_descriptor("matching:2026-11-23T11:00Z/PT1H")
VOTING_ID = descriptor_id(DESCRIPTOR)
A, B, C = (keccak(text=f"root {x}") for x in "ABC")
ZERO = b"\x00" * 32
NONE, VOTING, CONSENSUS, PLURALITY, FAILOVER_RESOLVED, FAILED, AWAITING = 0, 1, 4, 5, 6, 7, 8
ALERT, PLURALITY_POLICY, FAILOVER_POLICY = 0, 1, 2


def split_votes(net, results):
    for worker, result in zip(net.workers, results):
        net.voting.openAndVote(DESCRIPTOR, result, sender=worker)


def fail_attempt(net, chain, results=None):
    """Votes `results` (default: the quorum, split between A and B so that no result reaches the
    threshold), then moves past the deadline and finalizes."""
    if results is None:
        results = [(A, B)[i % 2] for i in range(net.threshold)]
    split_votes(net, results)
    chain.pending_timestamp = net.voting.roundState(VOTING_ID).deadline + 1
    return net.voting.finalize(VOTING_ID, sender=net.workers[-1])


def test_finalize__unknown_round_reverts(create_voting):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingWrongStatus, votingId=VOTING_ID, status=NONE):
        net.voting.finalize(VOTING_ID, sender=net.workers[0])


def test_finalize__nothing_due_reverts(create_voting, chain):
    net = create_voting("2/3")
    net.voting.openAndVote(DESCRIPTOR, A, sender=net.workers[0])
    net.voting.vote(VOTING_ID, B, sender=net.workers[1])
    deadline = net.voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = deadline
    with ape.reverts(net.voting.VotingNothingToFinalize, votingId=VOTING_ID):
        net.voting.finalize(VOTING_ID, sender=net.workers[1])  # at the deadline: not yet


def test_finalize__below_quorum_reverts_however_late(create_voting, chain):
    net = create_voting("2/3")
    net.voting.openAndVote(DESCRIPTOR, A, sender=net.workers[0])  # one worker: no clock
    chain.pending_timestamp += 30 * 24 * 3600
    with ape.reverts(net.voting.VotingNothingToFinalize, votingId=VOTING_ID):
        net.voting.finalize(VOTING_ID, sender=net.workers[1])
    state = net.voting.roundState(VOTING_ID)
    assert (state.status, state.attempt, state.deadline) == (VOTING, 1, 0)


def test_finalize__after_consensus_reverts(create_voting):
    net = create_voting("2/3")
    split_votes(net, [A, A])
    with ape.reverts(net.voting.VotingWrongStatus, votingId=VOTING_ID, status=CONSENSUS):
        net.voting.finalize(VOTING_ID, sender=net.workers[0])


def test_finalize__deadline_passed_reopens_as_attempt_two(create_voting, chain, outsider):
    net = create_voting("2/3")
    voting = net.voting
    split_votes(net, [A, B])
    chain.pending_timestamp = voting.roundState(VOTING_ID).deadline + 1
    receipt = voting.finalize(VOTING_ID, sender=outsider)
    deadline = receipt.timestamp + 3600
    assert receipt.events == [
        voting.RoundReopened(votingId=VOTING_ID, deadline=deadline),
        voting.RoundOpened(
            votingId=VOTING_ID, attempt=2, seq=3, threshold=2, eligible=3, deadline=deadline
        ),
    ]
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.attempt, state.voted, state.leaderVotes) == (VOTING, 2, 0, 0)
    assert state.deadline == deadline  # attempt 2 has a clock at once
    receipt = voting.vote(VOTING_ID, B, sender=net.workers[0])  # fresh tallies: may vote again
    assert [e.event_name for e in receipt.events] == ["VoteCast"]  # no RoundStarted
    receipt = voting.vote(VOTING_ID, B, sender=net.workers[1])
    assert receipt.events[-1].attempt == 2
    assert voting.resultOf(VOTING_ID) == B
    assert voting.chainEntry(0).attempt == 2


def test_finalize__attempt_two_fails_without_any_vote(create_voting, chain):
    net = create_voting("2/3")
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [])
    assert receipt.events[0].event_name == "RoundFailed"


def test_finalize__no_result_can_reach_threshold_before_deadline(create_voting):
    net = create_voting("3/4")
    split_votes(net, [A, B])
    with ape.reverts(net.voting.VotingNothingToFinalize, votingId=VOTING_ID):
        net.voting.finalize(VOTING_ID, sender=net.workers[0])  # below the quorum
    net.voting.vote(VOTING_ID, C, sender=net.workers[2])  # the quorum: best 1 + 1 left < 3
    receipt = net.voting.finalize(VOTING_ID, sender=net.workers[0])
    assert receipt.events[0].event_name == "RoundReopened"


def test_fallback__alert_only_marks_failed(create_voting, chain):
    net = create_voting("2/3")
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, B])
    head = chain_link(net.voting.genesis(), 0, VOTING_ID, ZERO, 2, 1, FAILED)
    assert receipt.events == [
        net.voting.RoundFailed(votingId=VOTING_ID, fallbackPolicy=ALERT, chainIndex=0, head=head)
    ]
    state = net.voting.roundState(VOTING_ID)
    assert (state.status, state.deadline) == (FAILED, 0)  # settled: no deadline applies
    assert net.voting.resultOf(VOTING_ID) == ZERO
    entry = net.voting.chainEntry(0)
    assert (entry.votingId, entry.result, entry.kind) == (VOTING_ID, ZERO, FAILED)
    settled = net.voting.settledRound(0)  # what rewards read: a failed round agrees with nobody
    assert (settled.kind, settled.voted, settled.agreed, settled.lateUntil) == (FAILED, 3, 0, 0)
    assert net.voting.chainHead() == (head, 1)
    with ape.reverts(net.voting.VotingWrongStatus, votingId=VOTING_ID, status=FAILED):
        net.voting.vote(VOTING_ID, A, sender=net.workers[2])


def test_fallback__plurality_accepted_with_minimum_and_quorum(create_voting, chain):
    net = create_voting("4/5", fallback="plurality", plurality_min_votes=2)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, A, B, C])
    head = chain_link(net.voting.genesis(), 0, VOTING_ID, A, 2, 2, PLURALITY)
    assert receipt.events == [
        net.voting.ResultRecorded(
            votingId=VOTING_ID, result=A, kind=PLURALITY, attempt=2, votes=2, chainIndex=0,
            head=head,
        )
    ]  # fmt: skip
    assert net.voting.resultOf(VOTING_ID) == A
    assert net.voting.roundState(VOTING_ID).deadline == 0
    assert net.voting.chainEntry(0).kind == PLURALITY
    settled = net.voting.settledRound(0)  # no late votes after a plurality: lateUntil 0
    assert (settled.kind, settled.voted, settled.agreed, settled.lateUntil) == (
        PLURALITY, 0b1111, 0b0011, 0,
    )  # fmt: skip


def test_fallback__plurality_below_quorum_of_voters_fails(create_voting, chain):
    """Three voters of a 4/5 round: the leader has its minimum, but attempt 2 had no quorum."""
    net = create_voting("4/5", fallback="plurality", plurality_min_votes=2)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, A, B])
    head = chain_link(net.voting.genesis(), 0, VOTING_ID, ZERO, 2, 2, FAILED)
    assert receipt.events == [
        net.voting.RoundFailed(
            votingId=VOTING_ID, fallbackPolicy=PLURALITY_POLICY, chainIndex=0, head=head
        )
    ]
    assert net.voting.resultOf(VOTING_ID) == ZERO


def test_fallback__plurality_tie_fails(create_voting, chain):
    net = create_voting("4/5", fallback="plurality", plurality_min_votes=2)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, A, B, B])
    assert receipt.events[0].event_name == "RoundFailed"
    assert receipt.events[0].fallbackPolicy == PLURALITY_POLICY
    assert net.voting.resultOf(VOTING_ID) == ZERO


def test_fallback__plurality_below_minimum_fails(create_voting, chain):
    net = create_voting("4/5", fallback="plurality", plurality_min_votes=3)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, A, B, C])
    assert receipt.events[0].event_name == "RoundFailed"
    assert net.voting.roundState(VOTING_ID).status == FAILED


def test_fallback__plurality_tie_with_a_smaller_third_result_fails(create_voting, chain):
    net = create_voting("5/5", fallback="plurality", plurality_min_votes=2)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, A, B, B, C])
    assert receipt.events[0].event_name == "RoundFailed"
    assert net.voting.resultOf(VOTING_ID) == ZERO


@pytest.fixture
def failover_net(create_voting, failover_account, chain):
    net = create_voting("3/4", fallback="failover", failover=failover_account.address)
    fail_attempt(net, chain)
    receipt = fail_attempt(net, chain, [A, B, B])
    timeout_at = receipt.timestamp + FAILOVER_TIMEOUT
    assert receipt.events == [
        net.voting.FailoverRequested(
            votingId=VOTING_ID, failover=failover_account, timeoutAt=timeout_at
        )
    ]
    state = net.voting.roundState(VOTING_ID)
    assert (state.status, state.deadline) == (AWAITING, timeout_at)
    assert net.voting.chainHead()[1] == 0  # not chained while it waits
    return net


def test_failover__records_result_of_its_choice(failover_net, failover_account):
    voting = failover_net.voting
    receipt = voting.resolveByFailover(VOTING_ID, A, sender=failover_account)
    recorded = receipt.events[0]
    assert (recorded.result, recorded.kind, recorded.votes) == (A, FAILOVER_RESOLVED, 1)
    assert voting.resultOf(VOTING_ID) == A
    state = voting.roundState(VOTING_ID)
    assert (state.dissent, state.deadline) == (0b110, 0)  # voters of B dissent from A
    with ape.reverts(voting.VotingWrongStatus, votingId=VOTING_ID, status=FAILOVER_RESOLVED):
        voting.resolveByFailover(VOTING_ID, B, sender=failover_account)


def test_failover__choosing_the_leading_result_keeps_its_voters(failover_net, failover_account):
    voting = failover_net.voting
    receipt = voting.resolveByFailover(VOTING_ID, B, sender=failover_account)
    recorded = receipt.events[0]
    assert (recorded.result, recorded.kind, recorded.votes) == (B, FAILOVER_RESOLVED, 2)
    assert voting.roundState(VOTING_ID).dissent == 0b001  # the voter of A dissents from B


def test_failover__result_nobody_voted(failover_net, failover_account):
    voting = failover_net.voting
    receipt = voting.resolveByFailover(VOTING_ID, C, sender=failover_account)
    assert (receipt.events[0].result, receipt.events[0].votes) == (C, 0)
    settled = voting.settledRound(0)
    assert (settled.kind, settled.voted, settled.agreed) == (FAILOVER_RESOLVED, 0b111, 0)


def test_failover__by_other_account_reverts(failover_net, outsider, failover_account):
    with ape.reverts(failover_net.voting.VotingNotFailover, account=outsider):
        failover_net.voting.resolveByFailover(VOTING_ID, A, sender=outsider)
    with ape.reverts(failover_net.voting.VotingZeroResult):
        failover_net.voting.resolveByFailover(VOTING_ID, ZERO, sender=failover_account)


def test_failover__only_for_rounds_handed_over(create_voting, failover_account):
    net = create_voting("2/3", fallback="failover", failover=failover_account.address)
    net.voting.openAndVote(DESCRIPTOR, A, sender=net.workers[0])
    with ape.reverts(net.voting.VotingWrongStatus, votingId=VOTING_ID, status=VOTING):
        net.voting.resolveByFailover(VOTING_ID, A, sender=failover_account)


def test_failover__after_timeout_reverts_and_anyone_fails_it(failover_net, chain, failover_account,
                                                            outsider):  # fmt: skip
    voting = failover_net.voting
    timeout_at = voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = timeout_at
    with ape.reverts(voting.VotingNothingToFinalize, votingId=VOTING_ID):
        voting.finalize(VOTING_ID, sender=outsider)  # at the timeout: still the failover's
    chain.pending_timestamp = timeout_at + 1
    with ape.reverts(voting.VotingDeadlinePassed, votingId=VOTING_ID, deadline=timeout_at):
        voting.resolveByFailover(VOTING_ID, A, sender=failover_account)
    receipt = voting.finalize(VOTING_ID, sender=outsider)
    head = chain_link(voting.genesis(), 0, VOTING_ID, ZERO, 2, 2, FAILED)
    assert receipt.events == [
        voting.RoundFailed(
            votingId=VOTING_ID, fallbackPolicy=FAILOVER_POLICY, chainIndex=0, head=head
        )
    ]
    assert voting.roundState(VOTING_ID).status == FAILED
    with ape.reverts(voting.VotingWrongStatus, votingId=VOTING_ID, status=FAILED):
        voting.finalize(VOTING_ID, sender=outsider)


def test_failover__resolved_at_the_timeout(failover_net, chain, failover_account):
    voting = failover_net.voting
    chain.pending_timestamp = voting.roundState(VOTING_ID).deadline
    voting.resolveByFailover(VOTING_ID, B, sender=failover_account)
    assert voting.roundState(VOTING_ID).status == FAILOVER_RESOLVED


def test_failover__of_the_current_config_may_resolve(failover_net, owner, accounts,
                                                     failover_account, outsider):  # fmt: skip
    voting = failover_net.voting
    successor = accounts[12]
    voting.setConfig(make_config(threshold=3, fallback="failover", failover=successor.address),
                     sender=owner)  # fmt: skip
    receipt = voting.resolveByFailover(VOTING_ID, A, sender=successor)
    assert receipt.events[0].kind == FAILOVER_RESOLVED
    assert voting.resultOf(VOTING_ID) == A


def test_failover__of_the_round_config_keeps_its_right(failover_net, owner, failover_account):
    voting = failover_net.voting
    voting.setConfig(make_config(threshold=3), sender=owner)  # no failover any more
    voting.resolveByFailover(VOTING_ID, B, sender=failover_account)
    assert voting.resultOf(VOTING_ID) == B


def test_failover__pause_moves_the_timeout_on(failover_net, chain, owner, failover_account):
    voting = failover_net.voting
    timeout_at = voting.roundState(VOTING_ID).deadline
    paused_at = voting.pause(sender=owner).timestamp
    chain.pending_timestamp = timeout_at + 1000
    unpaused_at = voting.unpause(sender=owner).timestamp
    moved = timeout_at + unpaused_at - paused_at
    assert voting.roundState(VOTING_ID).deadline == moved
    chain.pending_timestamp = moved
    voting.resolveByFailover(VOTING_ID, A, sender=failover_account)
    assert voting.resultOf(VOTING_ID) == A


def test_pause__freezes_the_round_clock(create_voting, chain, owner):
    net = create_voting("2/3")
    voting = net.voting
    split_votes(net, [A, B])
    deadline = voting.roundState(VOTING_ID).deadline
    paused_at = voting.pause(sender=owner).timestamp
    chain.pending_timestamp = deadline + 500
    chain.mine()
    paused_for = chain.blocks.head.timestamp - paused_at
    assert voting.poolState()[4:] == (True, paused_for)
    assert voting.roundState(VOTING_ID).deadline == deadline + paused_for  # moves while paused
    with ape.reverts(voting.VotingNothingToFinalize, votingId=VOTING_ID):
        voting.finalize(VOTING_ID, sender=net.workers[0])  # the clock stood still
    unpaused_at = voting.unpause(sender=owner).timestamp
    moved = deadline + unpaused_at - paused_at
    assert voting.poolState()[4:] == (False, unpaused_at - paused_at)
    assert voting.roundState(VOTING_ID).deadline == moved
    chain.pending_timestamp = moved
    voting.vote(VOTING_ID, A, sender=net.workers[2])  # at the moved deadline: still taken
    assert voting.resultOf(VOTING_ID) == A
    assert voting.roundState(VOTING_ID).deadline == moved  # late votes end at the moved deadline


def test_pause__deadline_moved_by_every_pause(create_voting, chain, owner):
    net = create_voting("3/4")
    voting = net.voting
    split_votes(net, [A, B, C])
    deadline = voting.roundState(VOTING_ID).deadline
    total = 0
    for _ in range(2):
        paused_at = voting.pause(sender=owner).timestamp
        chain.pending_timestamp += 100
        total += voting.unpause(sender=owner).timestamp - paused_at
    assert voting.poolState()[5] == total
    chain.pending_timestamp = deadline + total + 1
    with ape.reverts(voting.VotingDeadlinePassed, votingId=VOTING_ID, deadline=deadline + total):
        voting.vote(VOTING_ID, A, sender=net.workers[3])
    voting.finalize(VOTING_ID, sender=net.workers[0])
    assert voting.roundState(VOTING_ID).attempt == 2


def test_finalize__while_paused_when_threshold_unreachable(create_voting, owner):
    net = create_voting("3/4")
    split_votes(net, [A, B, C])  # the quorum; best 1 + 1 left < 3
    net.voting.pause(sender=owner)
    receipt = net.voting.finalize(VOTING_ID, sender=net.workers[1])
    assert receipt.events[0].event_name == "RoundReopened"
    assert net.voting.roundState(VOTING_ID).attempt == 2


def test_finalize__while_paused_after_a_deadline_passed_before_the_pause(create_voting, chain,
                                                                        owner):  # fmt: skip
    net = create_voting("2/3")
    split_votes(net, [A, B])
    chain.pending_timestamp = net.voting.roundState(VOTING_ID).deadline + 1
    net.voting.pause(sender=owner)
    net.voting.finalize(VOTING_ID, sender=net.workers[1])
    assert net.voting.roundState(VOTING_ID).attempt == 2


def test_consensus__late_votes_end_in_block_time_after_a_pause(create_voting, chain, owner):
    net = create_voting("2/3")
    voting = net.voting
    paused_at = voting.pause(sender=owner).timestamp
    chain.pending_timestamp += 1000
    paused_for = voting.unpause(sender=owner).timestamp - paused_at
    split_votes(net, [A])
    receipt = voting.vote(VOTING_ID, A, sender=net.workers[1])
    late_until = receipt.timestamp + 3600
    assert voting.roundState(VOTING_ID).deadline == late_until
    assert voting.settledRound(0).lateUntil == late_until
    assert voting.poolState()[5] == paused_for
    chain.pending_timestamp = late_until + 1
    with ape.reverts(voting.VotingDeadlinePassed, votingId=VOTING_ID, deadline=late_until):
        voting.vote(VOTING_ID, A, sender=net.workers[2])


def test_config__failover_fields_stored(create_voting, failover_account):
    net = create_voting("2/3", fallback="failover", failover=failover_account.address)
    config = net.voting.configAt(0)
    assert (config.fallbackPolicy, config.failover, config.failoverTimeout) == (
        FAILOVER_POLICY, failover_account.address, FAILOVER_TIMEOUT,
    )  # fmt: skip


def test_pause__late_votes_still_taken(create_voting, owner):
    """A pause stops rounds, not late votes: they change no result and end in block time."""
    net = create_voting("2/3")
    voting, w = net.voting, net.workers
    split_votes(net, [A, A])
    voting.pause(sender=owner)
    receipt = voting.vote(VOTING_ID, B, sender=w[2])
    assert receipt.events == [
        voting.VoteCast(votingId=VOTING_ID, worker=w[2], attempt=1, result=B, late=True)
    ]
    assert voting.workerInfo(w[2]).late == 1
    with ape.reverts(voting.VotingPaused):
        voting.openAndVote(event_descriptor("another round"), A, sender=w[0])


def test_pause__late_reveal_still_taken(create_voting, chain, owner):
    net = create_voting("2/3", sealed=True)
    voting, w = net.voting, net.workers
    salts = [keccak(text=f"salt {i}") for i in range(3)]
    for worker, salt in zip(w, salts):
        value = voting.commitmentOf(A, salt, worker, VOTING_ID, 1)
        voting.openAndCommit(DESCRIPTOR, value, sender=worker)  # all three: reveals open
    for worker, salt in zip(w[:2], salts):
        voting.reveal(VOTING_ID, A, salt, sender=worker)
    voting.pause(sender=owner)
    receipt = voting.reveal(VOTING_ID, A, salts[2], sender=w[2])
    assert receipt.events == [
        voting.VoteCast(votingId=VOTING_ID, worker=w[2], attempt=1, result=A, late=True)
    ]


def test_fallback__plurality_attempt_waits_for_its_window(create_voting, chain):
    """Votes still to come could tie or overtake the leader: no early end below the threshold."""
    net = create_voting("4/5", fallback="plurality", plurality_min_votes=2)
    fail_attempt(net, chain)
    split_votes(net, [A, A, B])  # 2 + 2 left cannot reach 4, but could tie or overtake
    with ape.reverts(net.voting.VotingNothingToFinalize, votingId=VOTING_ID):
        net.voting.finalize(VOTING_ID, sender=net.workers[0])
    net.voting.vote(VOTING_ID, C, sender=net.workers[3])
    net.voting.vote(VOTING_ID, B, sender=net.workers[4])  # everybody voted: 2 A, 2 B, 1 C
    receipt = net.voting.finalize(VOTING_ID, sender=net.workers[0])
    assert receipt.events[0].event_name == "RoundFailed"  # a tie


def test_fallback__plurality_attempt_ends_once_everybody_voted(create_voting):
    net = create_voting("3/3", fallback="plurality", plurality_min_votes=2)
    split_votes(net, [A, B, C])  # the quorum; 1 + 0 left < 3
    net.voting.finalize(VOTING_ID, sender=net.workers[0])
    split_votes(net, [A, A, B])
    receipt = net.voting.finalize(VOTING_ID, sender=net.workers[0])
    assert receipt.events[0].event_name == "ResultRecorded"
    assert (receipt.events[0].kind, receipt.events[0].votes) == (PLURALITY, 2)
