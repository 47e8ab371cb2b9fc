"""Attacks of a minority of workers (and of a careless owner) on rounds, played on the contract.

Each test plays one attack from the trust model and asserts that it no longer has its effect:
fewer than `threshold` workers can neither get a result recorded, nor fail, re-run or hand over a
round before the honest workers had their window, nor create a round that counts against others.
"""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak

from scripts._voting import pool_admin
from tests.conftest import (
    FAILOVER_TIMEOUT,
    HOUR,
    ZERO_ADDRESS,
    descriptor_id,
    event_descriptor,
    make_config,
    window_descriptor,
)

TRUE, BAD, OTHER = keccak(text="honest root"), keccak(text="invented root"), keccak(text="other")
VOTING, COMMITTING, REVEALING = 1, 2, 3
CONSENSUS, PLURALITY, FAILOVER_RESOLVED, FAILED, AWAITING = 4, 5, 6, 7, 8


def goto(chain, timestamp: int) -> None:
    chain.pending_timestamp = timestamp
    chain.mine()


def play(voting, workers, key: str, results: list) -> bytes:
    """Opens the event round about `key` with workers[0]'s vote; workers[i] vote results[i]."""
    descriptor = event_descriptor(key)
    voting.openAndVote(descriptor, results[0], sender=workers[0])
    voting_id = descriptor_id(descriptor)
    for worker, result in zip(workers[1:], results[1:]):
        voting.vote(voting_id, result, sender=worker)
    return voting_id


def salt_of(worker) -> bytes:
    return keccak(text=f"salt of {worker.address}")


def sealed_commitment(voting, chain, worker, voting_id, result, attempt) -> bytes:
    types = ["bytes32", "bytes32", "address", "bytes32", "uint8", "uint256", "address"]
    values = [result, salt_of(worker), worker.address, voting_id, attempt]
    return keccak(encode(types, [*values, chain.chain_id, voting.address]))


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


# -------------------------------------------------------------------------------------------------
# Sealed mode: the attempt-2 copier
# -------------------------------------------------------------------------------------------------


def _sealed_split_then_attempt_two(net, chain, first_commit, attempt_two):
    """Attempt 1 of a 3/5 sealed round splits (its reveals are public); attempt 2 commits in the
    order `attempt_two` (worker, result) and reveals; returns the settled round."""
    voting = net.voting
    descriptor = event_descriptor("sealed split")
    voting_id = descriptor_id(descriptor)
    a, b, c, _d, _e = net.workers
    worker, value = first_commit
    voting.openAndCommit(descriptor, value(voting_id), sender=worker)
    for w, result in ((a, TRUE), (b, TRUE), (c, OTHER)):
        voting.commit(
            voting_id, sealed_commitment(voting, chain, w, voting_id, result, 1), sender=w
        )
    goto(chain, voting.roundState(voting_id).deadline + 1)
    for w, result in ((a, TRUE), (b, TRUE), (c, OTHER)):
        voting.reveal(voting_id, result, salt_of(w), sender=w)
    goto(chain, voting.roundState(voting_id).deadline + 1)
    voting.finalize(voting_id, sender=a)
    assert voting.roundState(voting_id).attempt == 2
    for w, result in attempt_two:
        voting.commit(
            voting_id, sealed_commitment(voting, chain, w, voting_id, result, 2), sender=w
        )
    assert voting.roundState(voting_id).early == 0
    goto(chain, voting.roundState(voting_id).deadline + 1)
    for w, result in attempt_two:
        voting.reveal(voting_id, result, salt_of(w), sender=w)
    return voting.settledRound(0)


def test_sealed_copier__earns_no_speed_in_attempt_two(create_voting, chain):
    """In attempt 2 the copier commits attempt 1's leading result first: no speed for anyone."""
    net = create_voting("3/5", sealed=True, speed_rank=2)
    a, _b, _c, d, copier = net.workers
    junk = (copier, lambda _vid: keccak(text="never revealed"))
    settled = _sealed_split_then_attempt_two(
        net, chain, junk, [(copier, TRUE), (d, TRUE), (a, TRUE)]
    )
    assert (settled.kind, settled.early) == (CONSENSUS, 0)
    assert settled.agreed & (1 << 4)


def test_sealed_junk_committer__first_in_attempt_one_earns_no_speed(create_voting, chain):
    """A worker takes attempt 1's first speed rank with a commitment it never reveals, then
    copies attempt 1's leader in attempt 2: attempt 1's ranks do not carry over."""
    net = create_voting("3/5", sealed=True, speed_rank=1)
    a, b, _c, _d, copier = net.workers
    junk = (copier, lambda _vid: keccak(text="junk commitment"))
    settled = _sealed_split_then_attempt_two(
        net, chain, junk, [(a, TRUE), (b, TRUE), (copier, TRUE)]
    )
    assert settled.kind == CONSENSUS
    assert settled.early == 0 and settled.agreed & (1 << 4)


# -------------------------------------------------------------------------------------------------
# Membership and ownership
# -------------------------------------------------------------------------------------------------


def test_reveal__removed_and_late_joined_workers_revert(create_voting, chain, owner, outsider):
    net = create_voting("3/4", sealed=True)
    voting, w = net.voting, net.workers
    descriptor = event_descriptor("sealed members")
    voting_id = descriptor_id(descriptor)
    value = sealed_commitment(voting, chain, w[0], voting_id, TRUE, 1)
    voting.openAndCommit(descriptor, value, sender=w[0])
    for worker in w[1:3]:
        voting.commit(voting_id, sealed_commitment(voting, chain, worker, voting_id, TRUE, 1),
                      sender=worker)  # fmt: skip
    voting.removeWorker(w[0], sender=owner)
    voting.addWorker(outsider, sender=owner)  # takes w[0]'s pool index
    goto(chain, voting.roundState(voting_id).deadline + 1)
    with ape.reverts(voting.VotingNotWorker, account=w[0]):
        voting.reveal(voting_id, TRUE, salt_of(w[0]), sender=w[0])
    with ape.reverts(voting.VotingNotEligible, votingId=voting_id, worker=outsider):
        voting.reveal(voting_id, TRUE, salt_of(outsider), sender=outsider)


def test_renounce_ownership__reverts_and_keeps_owner(project, create_voting, owner):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingRenounceDisabled):
        net.voting.renounceOwnership(sender=owner)
    assert net.voting.owner() == owner
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, 3 * HOUR, 30 * 24 * HOUR,
        [2500, 2500, 2500, 2500],
    )  # fmt: skip
    with ape.reverts(rewards.RewardsRenounceDisabled):
        rewards.renounceOwnership(sender=owner)
    assert rewards.owner() == owner


def test_admin_module__direct_calls_touch_nothing_of_the_pool(project, create_voting, owner):
    """The module runs on the voting contract's storage only through delegatecall; it owns
    itself, so nobody can administer it directly."""
    net = create_voting("2/3")
    module = project.WorkerPoolAdmin.at(net.voting.admin())
    assert module.owner() == module.address
    with ape.reverts(module.OwnableUnauthorizedAccount, account=owner):
        module.addWorker(owner, sender=owner)
    assert net.voting.workers() == [w.address for w in net.workers]


# -------------------------------------------------------------------------------------------------
# Rewards: the registration window and the walk
# -------------------------------------------------------------------------------------------------


def test_rewards__registration_window_needs_margin_beyond_max_window(project, create_voting, owner):
    net = create_voting("2/3", max_window=2 * HOUR)
    args = (ZERO_ADDRESS, 30 * 24 * HOUR, [2500, 2500, 2500, 2500])
    margin = HOUR
    with ape.reverts(project.WorkerRewards.RewardsInvalidParameter, field="registrationWindow"):
        owner.deploy(project.WorkerRewards, owner, net.voting, args[0], 2 * HOUR + margin - 1,
                     *args[1:])  # fmt: skip
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, args[0], 2 * HOUR + margin, *args[1:]
    )
    assert rewards.registrationWindow() == 3 * HOUR
    assert rewards.REGISTRATION_MARGIN() == margin


def test_rewards__register_with_huge_chunk_completes(project, create_voting, chain, owner):
    net = create_voting("2/3")
    voting, w = net.voting, net.workers
    rewards = owner.deploy(project.WorkerRewards, owner, voting, ZERO_ADDRESS, 3 * HOUR,
                           30 * 24 * HOUR, [2500, 2500, 2500, 2500])  # fmt: skip
    for i in range(3):
        descriptor = event_descriptor(f"hour {i}")
        voting.openAndVote(descriptor, TRUE, sender=w[0])
        voting.vote(descriptor_id(descriptor), TRUE, sender=w[1])
    goto(chain, rewards.epochTimes(0)[1] + 2 * HOUR + 1)  # late windows closed
    assert not rewards.register(0, w[0], 1, sender=w[0]).return_value
    rewards.register(0, w[0], 2**256 - 1, sender=w[0])
    registered, _claimed, points, cursor, end = rewards.registration(0, w[0])
    assert (registered, tuple(points), cursor, end) == (True, (1, 1, 3, 3), 3, 3)
