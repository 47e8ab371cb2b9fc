"""When a round may be finalized: the worker's rule (`worker.round_status.finalizable`) in Python,
and the same rule against the contract's `finalize` (quorum, pause, failover timeout)."""

from types import SimpleNamespace

import ape
import pytest
from eth_utils import keccak

from tests.conftest import FAILOVER_TIMEOUT, make_config
from tests.worker.chainutil import connection_for
from worker.descriptor import RoundNaming
from worker.rounds import STATUS, RoundDriver

DEADLINE, REVEAL = 10_000, 600
NAMING = RoundNaming.of("finalize-test", {}, ["uint256"])
DESC = NAMING.event("settle hour")
VID = DESC.voting_id
A, B, C = (keccak(text=x) for x in "ABC")


def offline_driver() -> RoundDriver:
    plurality = make_config(threshold=2, fallback="plurality", plurality_min_votes=2)
    configs = {1: make_config(threshold=2, sealed=True, reveal_duration=REVEAL), 2: plurality}
    conn = SimpleNamespace(voting=SimpleNamespace(configAt=configs.__getitem__))
    return RoundDriver(conn, None, None, None, None)


def state(voted=0, committed=0, leader=0, threshold=2, eligible=3, deadline=DEADLINE, attempt=1,
          version=1):  # fmt: skip
    return SimpleNamespace(deadline=deadline, voted=voted, committed=committed,
                           leaderVotes=leader, threshold=threshold, eligibleCount=eligible,
                           configVersion=version, attempt=attempt)  # fmt: skip


PLURALITY_2 = {"attempt": 2, "version": 2, "threshold": 3, "eligible": 4}


@pytest.mark.parametrize(
    ("status", "st", "now", "expected"),
    [
        ("Voting", state(voted=0b001, leader=1), DEADLINE, False),  # votes may still come
        ("Voting", state(voted=0b001, leader=1), DEADLINE + 1, True),  # deadline passed
        ("Voting", state(voted=0b011, leader=1, threshold=3), 0, True),  # split: out of reach
        ("Voting", state(voted=0b011, leader=2, threshold=3), 0, False),  # the third may agree
        ("Voting", state(voted=0b101, leader=1, threshold=2, eligible=2), 0, True),
        # Attempt 1 before its quorum: no clock, never finalizable, even out of reach.
        ("Voting", state(voted=0b001, leader=1, deadline=0), 10**9, False),
        ("Voting", state(voted=0b001, leader=1, eligible=1, deadline=0), 10**9, False),
        ("Committing", state(committed=0b001, deadline=0), 10**9, False),
        ("Committing", state(committed=0b001), DEADLINE, False),  # commit phase open
        ("Committing", state(committed=0b001), DEADLINE + 1, True),  # one commit: 1 < 2
        ("Committing", state(committed=0b011), DEADLINE + 1, False),  # reveal phase runs
        ("Committing", state(committed=0b011), DEADLINE + REVEAL, False),
        ("Committing", state(committed=0b011), DEADLINE + REVEAL + 1, True),  # reveals over
        ("Revealing", state(committed=0b111, voted=0b001, leader=1), DEADLINE, False),
        ("Revealing", state(committed=0b111, voted=0b011, leader=1, threshold=3), 0, True),
        ("Revealing", state(committed=0b011, voted=0b001, leader=1, threshold=3), 0, True),
        ("Revealing", state(committed=0b111, voted=0b001, leader=1), DEADLINE + 1, True),
        # Attempt 2 before a plurality: out of reach of the threshold is not the end, as the
        # votes to come may still tie or overtake the leader; the deadline or the last vote is.
        ("Voting", state(voted=0b011, leader=1, **PLURALITY_2), 0, False),
        ("Voting", state(voted=0b011, leader=1, attempt=1, version=2, threshold=3), 0, True),
        ("Voting", state(voted=0b1111, leader=2, **PLURALITY_2), 0, True),  # the last vote
        ("Voting", state(voted=0b011, leader=1, **PLURALITY_2), DEADLINE + 1, True),
        ("AwaitingFailover", state(voted=0b011, leader=1), DEADLINE, False),  # before timeout
        ("AwaitingFailover", state(voted=0b011, leader=1), DEADLINE + 1, True),  # timed out
    ],
)
def test_finalizable__mirrors_contract_rule(status, st, now, expected):
    assert offline_driver()._finalizable(st, status, now) is expected


def cast(net, sealed: bool, votes: list[bytes]) -> None:
    for i, (worker, result) in enumerate(zip(net.workers, votes)):
        value = result
        if sealed:
            value = net.voting.commitmentOf(result, keccak(b"salt"), worker, VID, 1)
        opening = "openAndCommit" if sealed else "openAndVote"
        function = opening if i == 0 else ("commit" if sealed else "vote")
        getattr(net.voting, function)(DESC if i == 0 else VID, value, sender=worker)


def agrees_with_finalize(net, chain, expected: bool) -> None:
    """The worker's rule at the next block's time says `expected`, and so does `finalize`."""
    st = net.voting.roundState(VID)
    driver = RoundDriver(connection_for(net.workers[0], net.voting), None, None, None, None)
    assert driver._finalizable(st, STATUS[st.status], chain.pending_timestamp) is expected
    if expected:
        net.voting.finalize(VID, sender=net.workers[0])
    else:
        with ape.reverts(net.voting.VotingNothingToFinalize, votingId=VID):
            net.voting.finalize(VID, sender=net.workers[0])


def later(chain, seconds: int) -> None:
    chain.pending_timestamp = chain.pending_timestamp + seconds
    chain.mine()


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("sealed", "votes", "wait", "expected"),
    [
        (False, [A], 0, False),
        (False, [A], 86_400, False),  # no quorum yet: no clock, nothing can fail
        (False, [A, B], 0, False),  # quorum: the clock runs, the third may decide
        (False, [A, B], 3_601, True),  # past the vote window
        (False, [A, B, C], 0, True),  # out of reach
        (True, [A], 86_400, False),  # one commit of two needed: no clock
        (True, [A, A], 3_601, False),  # quorum of commits, then the reveal phase runs
        (True, [A, A], 7_202, True),  # reveal phase over, nothing revealed
    ],
)
def test_finalizable__agrees_with_contract_finalize(create_voting, chain, sealed, votes, wait,
                                                    expected):  # fmt: skip
    net = create_voting("2/3", sealed=sealed)
    cast(net, sealed, votes)
    if wait:
        later(chain, wait)
    agrees_with_finalize(net, chain, expected)


@pytest.mark.smoke
def test_finalizable__pause_moves_the_deadline_on(create_voting, chain, owner):
    net = create_voting("2/3")
    cast(net, False, [A, B])
    deadline = int(net.voting.roundState(VID).deadline)
    net.voting.pause(sender=owner)
    later(chain, 2 * 3_600)  # far past the deadline the round had
    assert int(net.voting.roundState(VID).deadline) > deadline
    agrees_with_finalize(net, chain, False)
    net.voting.unpause(sender=owner)
    agrees_with_finalize(net, chain, False)
    later(chain, int(net.voting.roundState(VID).deadline) + 5 - chain.pending_timestamp)
    agrees_with_finalize(net, chain, True)


@pytest.mark.smoke
def test_finalizable__plurality_attempt_2_waits_for_its_deadline_or_last_vote(create_voting,
                                                                              chain):  # fmt: skip
    net = create_voting("3/4", fallback="plurality", plurality_min_votes=2)
    cast(net, False, [A, B, C])
    agrees_with_finalize(net, chain, True)  # attempt 1: out of reach, re-run at once
    for worker, result in zip(net.workers, [A, B, C]):
        net.voting.vote(VID, result, sender=worker)
    agrees_with_finalize(net, chain, False)  # out of reach, but the fourth vote may break the tie
    net.voting.vote(VID, A, sender=net.workers[3])
    agrees_with_finalize(net, chain, True)
    assert STATUS[net.voting.roundState(VID).status] == "Plurality"


@pytest.mark.smoke
def test_finalizable__awaiting_failover_after_its_timeout(create_voting, chain, failover_account):
    net = create_voting("2/3", fallback="failover", failover=failover_account.address)
    cast(net, False, [A, B])
    for votes in ([A, B], None):
        later(chain, 3_601)
        agrees_with_finalize(net, chain, True)
        if votes:
            for worker, result in zip(net.workers, votes):
                net.voting.vote(VID, result, sender=worker)
    st = net.voting.roundState(VID)
    assert STATUS[st.status] == "AwaitingFailover"
    agrees_with_finalize(net, chain, False)
    later(chain, FAILOVER_TIMEOUT - 60)
    agrees_with_finalize(net, chain, False)
    later(chain, int(net.voting.roundState(VID).deadline) + 5 - chain.pending_timestamp)
    agrees_with_finalize(net, chain, True)
    assert STATUS[net.voting.roundState(VID).status] == "Failed"
