"""Rewards: funding, epochs by settlement time, resumable registration, pulled claims, roll-over,
sweep, weights history, fee-taking tokens, re-entrancy."""

from dataclasses import replace

import ape
import pytest
from eth_utils import keccak

from tests.conftest import (
    EPOCH_LENGTH,
    MAX_WINDOW,
    ZERO_ADDRESS,
    descriptor_id,
    event_descriptor,
)
from tests.contracts import rewards_model as model

DAY, HOUR = 86_400, 3_600
WEIGHTS = [1000, 2000, 4000, 3000]
REG_WINDOW, EXPIRY = 3 * HOUR, 30 * DAY  # registration window: at least MAX_WINDOW (2 h) + 1 h
MARGIN = HOUR  # WorkerRewards.REGISTRATION_MARGIN
POT = 10**18 + 7  # not divisible: exercises rounding
A, B = keccak(text="root A"), keccak(text="root B")
NO_POINTS = [0, 0, 0, 0]


def deploy_rewards(project, owner, voting, token=ZERO_ADDRESS, weights=WEIGHTS):
    return owner.deploy(project.WorkerRewards, owner, voting, token, REG_WINDOW, EXPIRY, weights)


@pytest.fixture
def env(project, owner, create_voting):
    net = create_voting("3/4", speed_rank=2)
    return net, deploy_rewards(project, owner, net.voting)


def vote(net, key: str, result: bytes, worker):
    """Votes in the event round about `key`, opening it on the first vote."""
    return net.voting.openAndVote(event_descriptor(key), result, sender=worker)


def vid(key: str) -> bytes:
    return descriptor_id(event_descriptor(key))


def goto(chain, timestamp: int) -> None:
    chain.pending_timestamp = timestamp
    chain.mine()


def epoch_end(rewards, epoch: int) -> int:
    return rewards.epochTimes(epoch)[1]


def assert_points_registered(receipt, epoch: int, worker, points: list[int]) -> None:
    """Exactly one PointsRegistered log (Ape cannot build a mock log with a struct argument)."""
    [log] = receipt.events
    assert log.event_name == "PointsRegistered"
    assert log.event_arguments == {"epoch": epoch, "worker": worker.address, "points": points}


def registration(rewards, epoch: int, worker) -> tuple:
    registered, claimed, points, cursor, end = rewards.registration(epoch, worker)
    return registered, claimed, list(points), cursor, end


def play_two_rounds(net) -> list[model.SettledRound]:
    """Round 0: 3 agree, w3 late and dissenting. Round 1: w2 misses it."""
    w = net.workers
    for worker, result in zip(w, [A, A, A, B]):
        vote(net, "hour 0", result, worker)
    for worker in (w[1], w[0], w[3]):
        vote(net, "hour 1", A, worker)
    return [
        model.SettledRound(seq=0, voted={0, 1, 2, 3}, early={0, 1}, agreed={0, 1, 2}),
        model.SettledRound(seq=1, voted={0, 1, 3}, early={0, 1}, agreed={0, 1, 3}),
    ]


def register_all(rewards, net, sender, epoch: int = 0) -> list[list[int]]:
    points = []
    for worker in net.workers:
        receipt = rewards.register(epoch, worker, 100, sender=sender)
        points.append(list(receipt.events[-1].points))
    return points


# -------------------------------------------------------------------------------------------------
# Deployment and parameters
# -------------------------------------------------------------------------------------------------


def test_deploy__epochs_are_the_voting_contracts(env, chain):
    net, rewards = env
    begins = net.voting.epochStart()
    assert (rewards.start(), rewards.epochLength()) == (begins, EPOCH_LENGTH)
    assert rewards.epochTimes(1) == (begins + DAY, begins + 2 * DAY, begins + 2 * DAY + REG_WINDOW)
    info = rewards.epochInfo(0)
    assert (info.firstIndex, info.endIndex, info.ended, info.settled) == (0, 0, False, False)
    assert list(info.weights) == WEIGHTS
    assert rewards.currentEpoch() == 0
    deployed = chain.get_receipt(rewards.txn_hash).events.filter(rewards.WeightsUpdated)
    assert deployed == [rewards.WeightsUpdated(weights=WEIGHTS, fromEpoch=0)]


@pytest.mark.parametrize(
    ("field", "window", "expiry", "weights"),
    [
        ("registrationWindow", MAX_WINDOW + MARGIN - 1, EXPIRY, WEIGHTS),  # maxWindow + 1 h
        ("registrationWindow", 90 * DAY + 1, EXPIRY, WEIGHTS),
        ("claimExpiry", REG_WINDOW, 30 * DAY - 1, WEIGHTS),
        ("claimExpiry", REG_WINDOW, 3650 * DAY + 1, WEIGHTS),
        ("weights", REG_WINDOW, EXPIRY, [1000, 1000, 1000, 1000]),
    ],
)
def test_deploy__invalid_parameter_reverts(
    project, owner, create_voting, field, window, expiry, weights
):
    net = create_voting("1/1")
    with ape.reverts(project.WorkerRewards.RewardsInvalidParameter, field=field):
        owner.deploy(
            project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, window, expiry, weights
        )


@pytest.mark.parametrize(
    ("window", "expiry"), [(MAX_WINDOW + MARGIN, 30 * DAY), (90 * DAY, 3650 * DAY)]
)
def test_deploy__parameters_at_their_bounds_accepted(project, owner, create_voting, window, expiry):
    net = create_voting("1/1")
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, window, expiry, WEIGHTS
    )
    assert (rewards.registrationWindow(), rewards.claimExpiry()) == (window, expiry)
    assert rewards.REGISTRATION_MARGIN() == MARGIN


def test_deploy__without_voting_contract_reverts(project, owner):
    with ape.reverts(project.WorkerRewards.RewardsInvalidParameter, field="voting"):
        owner.deploy(project.WorkerRewards, owner, ZERO_ADDRESS, ZERO_ADDRESS, REG_WINDOW,
                     EXPIRY, WEIGHTS)  # fmt: skip


def test_renounce_ownership__reverts(env, owner, outsider):
    _net, rewards = env
    with ape.reverts(rewards.RewardsRenounceDisabled):
        rewards.renounceOwnership(sender=owner)
    rewards.transferOwnership(outsider, sender=owner)
    rewards.acceptOwnership(sender=outsider)
    assert rewards.owner() == outsider


# -------------------------------------------------------------------------------------------------
# Funding
# -------------------------------------------------------------------------------------------------


def test_fund__native_adds_to_pot(env, outsider):
    _net, rewards = env
    receipt = rewards.fund(0, 500, value=500, sender=outsider)
    assert receipt.events == [rewards.Funded(epoch=0, funder=outsider, amount=500)]
    rewards.fund(3, 200, value=200, sender=outsider)  # a later epoch
    assert rewards.epochInfo(0).pot == 500
    assert rewards.epochInfo(3).pot == 200


@pytest.mark.parametrize(("amount", "value"), [(0, 0), (100, 99), (100, 0)])
def test_fund__wrong_value_reverts(env, outsider, amount, value):
    _net, rewards = env
    with ape.reverts(rewards.RewardsWrongFunding, value=value, amount=amount):
        rewards.fund(0, amount, value=value, sender=outsider)


def test_fund__ended_epoch_reverts(env, outsider, chain):
    _net, rewards = env
    goto(chain, epoch_end(rewards, 1) + 1)
    with ape.reverts(rewards.RewardsEpochEnded, epoch=1, current=2):
        rewards.fund(1, 100, value=100, sender=outsider)


def test_plain_transfer__rejected(env, outsider):
    _net, rewards = env
    with ape.reverts():
        outsider.transfer(rewards, 100)


# -------------------------------------------------------------------------------------------------
# Epochs: rounds belong to the epoch of the block that settled them
# -------------------------------------------------------------------------------------------------


def test_epoch_nobody_touched__owns_no_chain_entries_and_pays_nothing(env, chain, outsider):
    net, rewards = env
    rewards.fund(2, POT, value=POT, sender=outsider)
    goto(chain, epoch_end(rewards, 2) + 1)  # epochs 0, 1 and 2 pass without a single round
    play_two_rounds(net)  # settle in epoch 3
    info = rewards.epochInfo(1)
    assert (info.ended, info.firstIndex, info.endIndex) == (True, 0, 0)
    assert (rewards.epochInfo(3).firstIndex, rewards.epochInfo(3).endIndex) == (0, 2)
    assert list(rewards.previewPoints(2, net.workers[0])) == NO_POINTS
    receipt = rewards.register(2, net.workers[0], 1, sender=outsider)
    assert_points_registered(receipt, 2, net.workers[0], NO_POINTS)
    assert registration(rewards, 2, net.workers[0]) == (True, False, NO_POINTS, 0, 0)
    goto(chain, epoch_end(rewards, 2) + REG_WINDOW + 1)
    receipt = rewards.claim(2, net.workers[0], sender=outsider)
    assert receipt.events == [  # nobody earned anything: the whole pot rolls over, nothing paid
        rewards.EpochSettled(epoch=2, pot=POT, totals=[0] * 4, rolledOver=POT, toEpoch=3),
        rewards.Claimed(epoch=2, worker=net.workers[0], caller=outsider, amount=0),
    ]
    assert rewards.epochInfo(3).pot == POT


def test_epochs__round_settled_in_the_last_second_belongs_to_the_earlier_epoch(
    env, chain, outsider
):
    net, rewards = env
    w, end = net.workers, epoch_end(rewards, 0)
    goto(chain, end - 100)
    for key in ("before", "at", "after"):  # all three open in epoch 0
        vote(net, key, A, w[0])
        vote(net, key, A, w[1])
    chain.pending_timestamp = end - 1
    assert vote(net, "before", A, w[2]).timestamp == end - 1  # settles in epoch 0's last second
    chain.pending_timestamp = end
    assert vote(net, "at", A, w[2]).timestamp == end  # settles in epoch 1's first second
    chain.pending_timestamp = end + 50
    vote(net, "after", A, w[2])
    assert net.voting.epochEntries(0) == (0, 1)
    assert net.voting.epochEntries(1) == (1, 3)
    info0, info1 = rewards.epochInfo(0), rewards.epochInfo(1)
    assert (info0.firstIndex, info0.endIndex, info1.firstIndex, info1.endIndex) == (0, 1, 1, 3)
    assert list(rewards.previewPoints(0, w[2])) == [1, 1, 1, 0]  # w2's third vote: not early
    assert list(rewards.previewPoints(1, w[0])) == [1, 1, 2, 2]
    goto(chain, end + HOUR)  # "before" took late votes until end - 1 + 1 h
    receipt = rewards.register(0, w[0], 100, sender=outsider)
    assert_points_registered(receipt, 0, w[0], [1, 1, 1, 1])


def test_register__at_first_block_after_epoch_stops_before_round_taking_late_votes(
    env, chain, outsider
):
    net, rewards = env
    w, end = net.workers, epoch_end(rewards, 0)
    rounds = play_two_rounds(net)
    goto(chain, end - 60)
    vote(net, "last", A, w[0])
    vote(net, "last", A, w[1])
    chain.pending_timestamp = end - 1
    vote(net, "last", A, w[2])  # consensus in epoch 0's last second: late votes for an hour
    late_until = end - 1 + HOUR
    assert net.voting.roundState(vid("last")).deadline == late_until
    rounds.append(model.SettledRound(2, {0, 1, 2, 3}, {0, 1}, {0, 1, 2}, late_until))

    chain.pending_timestamp = end  # the first block after the epoch
    receipt = rewards.register(0, w[3], 100, sender=outsider)
    assert receipt.timestamp == end
    assert receipt.events == [rewards.RegistrationProgressed(epoch=0, worker=w[3], cursor=2, end=3)]
    assert registration(rewards, 0, w[3]) == (False, False, [0, 0, 1, 0], 2, 3)
    chain.pending_timestamp = end + 10
    vote(net, "last", B, w[3])  # a late vote after the epoch boundary counts in epoch 0's round
    goto(chain, late_until - 1)
    assert rewards.register.call(0, w[3], 100) is False
    chain.pending_timestamp = late_until  # the round's last second of late votes
    receipt = rewards.register(0, w[3], 100, sender=outsider)
    assert receipt.events == [rewards.RegistrationProgressed(epoch=0, worker=w[3], cursor=2, end=3)]

    goto(chain, late_until + 1)
    assert rewards.register.call(0, w[3], 100) is True
    receipt = rewards.register(0, w[3], 100, sender=outsider)
    expected = model.points(rounds, model.Tenure(3))
    assert expected == [1, 1, 1, 0]  # voted in all three, agreed in one, never early
    assert_points_registered(receipt, 0, w[3], expected)
    assert registration(rewards, 0, w[3]) == (True, False, expected, 3, 3)


def test_register__in_chunks_gives_the_points_of_one_call(env, chain, outsider):
    net, rewards = env
    rewards.fund(0, POT, value=POT, sender=outsider)
    w, rounds = net.workers, []
    for i in range(9):  # worker i % 5 stays away; when all four vote, the second one dissents
        order = [(3, 1, 0, 2)[(k + i) % 4] for k in range(4)]
        votes = [(j, A) for j in order if j != i % 5]
        if len(votes) == 4:
            votes[1] = (votes[1][0], B)
        for j, result in votes:
            vote(net, f"chunked {i}", result, w[j])
        voted, early, agreed, deciding = model.attempt(votes, 3, 2)
        assert deciding == len(votes) - 1
        rounds.append(model.SettledRound(i, voted, early, agreed))
    expected = [model.points(rounds, model.Tenure(i)) for i in range(4)]
    goto(chain, epoch_end(rewards, 0) + 1)

    snapshot = chain.snapshot()
    single = register_all(rewards, net, outsider)
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + 1)
    single_shares = [list(rewards.claimable(0, worker)) for worker in w]
    single_totals = list(rewards.epochInfo(0).totals)
    chain.restore(snapshot)

    for i, worker in enumerate(w):  # worker i registers in chunks of i + 1 entries
        walk = model.Walk(model.Tenure(i))
        while not walk.step(rounds, 0, 9, i + 1, now=2**64):
            receipt = rewards.register(0, worker, i + 1, sender=outsider)
            assert receipt.events == [
                rewards.RegistrationProgressed(epoch=0, worker=worker, cursor=walk.cursor, end=9)
            ]
            assert registration(rewards, 0, worker) == (False, False, walk.partial, walk.cursor, 9)
        receipt = rewards.register(0, worker, i + 1, sender=outsider)
        assert_points_registered(receipt, 0, worker, expected[i])
    assert single == expected
    assert list(rewards.epochInfo(0).totals) == single_totals
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + 1)
    assert [list(rewards.claimable(0, worker)) for worker in w] == single_shares


def test_register__zero_max_rounds_reverts(env, chain, outsider):
    net, rewards = env
    goto(chain, epoch_end(rewards, 0) + 1)
    with ape.reverts(rewards.RewardsInvalidParameter, field="maxRounds"):
        rewards.register(0, net.workers[0], 0, sender=outsider)


def test_register__rules(env, chain, outsider):
    net, rewards = env
    rewards.fund(0, POT, value=POT, sender=outsider)
    play_two_rounds(net)
    worker = net.workers[0]
    with ape.reverts(rewards.RewardsEpochNotEnded, epoch=0):
        rewards.register(0, worker, 100, sender=outsider)
    goto(chain, epoch_end(rewards, 0) + 1)
    with ape.reverts(rewards.RewardsUnknownWorker, account=outsider):
        rewards.register(0, outsider, 100, sender=outsider)
    with ape.reverts(rewards.RewardsUnknownWorker, account=outsider):
        rewards.previewPoints(0, outsider)
    assert list(rewards.previewPoints(0, net.workers[2])) == [1, 0, 1, 0]  # missed round 1
    assert list(rewards.previewPoints(0, net.workers[3])) == [1, 1, 1, 0]  # dissented in round 0
    assert registration(rewards, 0, worker) == (False, False, NO_POINTS, 0, 2)
    receipt = rewards.register(0, worker, 100, sender=outsider)
    points = list(receipt.events[-1].points)
    assert registration(rewards, 0, worker) == (True, False, points, 2, 2)
    assert list(rewards.claimable(0, worker)) == [0] * 4  # registration still open
    with ape.reverts(rewards.RewardsAlreadyRegistered, epoch=0, worker=worker):
        rewards.register(0, worker, 100, sender=outsider)
    with ape.reverts(rewards.RewardsEpochNotEnded, epoch=1):
        rewards.claim(1, worker, sender=outsider)
    closes = epoch_end(rewards, 0) + REG_WINDOW
    goto(chain, closes + 1)
    with ape.reverts(rewards.RewardsRegistrationClosed, epoch=0, closedAt=closes):
        rewards.register(0, net.workers[1], 100, sender=outsider)
    with ape.reverts(rewards.RewardsNotRegistered, epoch=0, worker=net.workers[1]):
        rewards.claim(0, net.workers[1], sender=outsider)
    assert sum(rewards.claimable(0, worker)) > 0
    assert list(rewards.claimable(0, net.workers[1])) == [0] * 4  # not registered
    rewards.claim(0, worker, sender=outsider)
    assert registration(rewards, 0, worker) == (True, True, points, 2, 2)
    assert list(rewards.claimable(0, worker)) == [0] * 4  # claimed
    with ape.reverts(rewards.RewardsAlreadyClaimed, epoch=0, worker=worker):
        rewards.claim(0, worker, sender=outsider)
    assert rewards.settle(0, sender=outsider).events == []  # settled by the first claim


def test_round_without_quorum__changes_nobody_points(env, chain, outsider):
    net, rewards = env
    w = net.workers
    rounds = play_two_rounds(net)
    for i in range(3):
        vote(net, f"spam {i}", A, w[0])  # opened alone: never reaches the quorum of 3
    vote(net, "spam 3", B, w[0])
    vote(net, "spam 3", B, w[3])  # two of three
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW - 10)
    with ape.reverts(net.voting.VotingNothingToFinalize, votingId=vid("spam 3")):
        net.voting.finalize(vid("spam 3"), sender=outsider)  # no clock: it never settles
    assert net.voting.chainHead()[1] == 2
    assert rewards.epochInfo(0).endIndex == 2
    expected = [model.points(rounds, model.Tenure(i)) for i in range(4)]
    assert expected[1] == [1, 1, 2, 2]  # w1 never voted in the spam rounds: still consistent
    assert register_all(rewards, net, outsider) == expected


def test_removed_worker__keeps_points_before_removal_only(env, chain, owner, outsider):
    net, rewards = env
    w = net.workers
    for worker in w:
        vote(net, "hour 0", A, worker)  # w3's vote is late, for the result
    net.voting.removeWorker(w[3], sender=owner)  # gone before round 1
    for worker in w[:3]:
        vote(net, "hour 1", A, worker)
    goto(chain, epoch_end(rewards, 0) + 1)
    assert list(rewards.previewPoints(0, w[3])) == [1, 1, 1, 0]  # round 1 never concerned it
    assert list(rewards.previewPoints(0, w[0])) == [1, 1, 2, 2]
    receipt = rewards.register(0, w[3], 1, sender=outsider)
    assert receipt.events == [rewards.RegistrationProgressed(epoch=0, worker=w[3], cursor=1, end=2)]
    assert_points_registered(rewards.register(0, w[3], 1, sender=outsider), 0, w[3], [1, 1, 1, 0])


def test_worker_joined_mid_epoch__counts_rounds_opened_after_it_joined(
    env, chain, owner, outsider, workers
):
    net, rewards = env
    w = net.workers
    vote(net, "hour 0", A, w[0])
    vote(net, "hour 0", A, w[1])
    net.voting.addWorker(workers[4], sender=owner)  # joins while round 0 is open (seq 1)
    vote(net, "hour 0", A, w[2])  # settles after it joined: entry 0, but not its round
    for worker in (w[0], w[1], workers[4]):
        vote(net, "hour 1", A, worker)
    net.voting.addWorker(workers[5], sender=owner)  # joins after entries 0 and 1
    goto(chain, epoch_end(rewards, 0) + 10)
    vote(net, "hour 2", A, w[0])
    vote(net, "hour 2", A, w[1])
    vote(net, "hour 2", A, w[2])  # entry 2, in epoch 1
    net.voting.addWorker(workers[6], sender=owner)  # joins in epoch 1, after entry 2
    goto(chain, epoch_end(rewards, 0) + HOUR + 20)

    assert list(rewards.previewPoints(0, workers[4])) == [1, 1, 1, 0]  # round 0 is not its own
    assert list(rewards.previewPoints(0, workers[5])) == NO_POINTS
    assert list(rewards.previewPoints(1, workers[5])) == NO_POINTS  # eligible, stayed away
    receipt = rewards.register(0, workers[4], 100, sender=outsider)
    assert_points_registered(receipt, 0, workers[4], [1, 1, 1, 0])
    assert registration(rewards, 0, workers[5]) == (False, False, NO_POINTS, 2, 2)  # joined at 2
    assert registration(rewards, 0, workers[6]) == (False, False, NO_POINTS, 2, 2)  # joined at 3
    assert registration(rewards, 1, w[0]) == (False, False, NO_POINTS, 2, 3)
    receipt = rewards.register(0, workers[5], 100, sender=outsider)
    assert_points_registered(receipt, 0, workers[5], NO_POINTS)
    assert registration(rewards, 0, workers[5]) == (True, False, NO_POINTS, 2, 2)
    receipt = rewards.register(0, workers[6], 100, sender=outsider)  # joined past epoch 0's end
    assert_points_registered(receipt, 0, workers[6], NO_POINTS)
    assert registration(rewards, 0, workers[6]) == (True, False, NO_POINTS, 2, 2)


# -------------------------------------------------------------------------------------------------
# Claims, settlement, sweep
# -------------------------------------------------------------------------------------------------


def test_claims__pay_what_the_model_computes(env, chain, outsider):
    net, rewards = env
    rewards.fund(0, POT // 2, value=POT // 2, sender=outsider)
    rounds = play_two_rounds(net)
    rewards.fund(0, POT - POT // 2, value=POT - POT // 2, sender=outsider)  # mid-epoch
    goto(chain, epoch_end(rewards, 0) + 1)
    expected_points = [model.points(rounds, model.Tenure(i)) for i in range(4)]
    for worker, pts in zip(net.workers, expected_points):
        assert_points_registered(rewards.register(0, worker, 100, sender=outsider), 0, worker, pts)
    with ape.reverts(
        rewards.RewardsRegistrationOpen, epoch=0, closesAt=epoch_end(rewards, 0) + REG_WINDOW
    ):
        rewards.claim(0, net.workers[0], sender=outsider)
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + 1)
    expected = model.payouts(POT, WEIGHTS, expected_points)
    for worker, shares in zip(net.workers, expected):
        assert list(rewards.claimable(0, worker)) == shares
        before = worker.balance
        receipt = rewards.claim(0, worker, sender=outsider)  # paid to the worker, not the caller
        assert worker.balance - before == sum(shares)
        assert receipt.events[-1] == rewards.Claimed(
            epoch=0, worker=worker, caller=outsider, amount=sum(shares)
        )
    info = rewards.epochInfo(0)
    assert info.paid == POT  # every category earned: nothing left, no dust
    assert rewards.balance == 0


def test_settle__rolls_unearned_category_to_current_epoch(project, owner, create_voting, chain):
    net = create_voting("2/2", speed_rank=0)  # nobody can earn speed
    rewards = deploy_rewards(project, owner, net.voting)
    rewards.fund(0, POT, value=POT, sender=owner)
    for worker in net.workers:
        vote(net, "hour 0", A, worker)
    goto(chain, epoch_end(rewards, 0) + 1)
    register_all(rewards, net, owner)
    with ape.reverts(
        rewards.RewardsRegistrationOpen, epoch=0, closesAt=epoch_end(rewards, 0) + REG_WINDOW
    ):
        rewards.settle(0, sender=owner)
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + 1)
    registered = [[1, 1, 1, 0], [1, 1, 1, 0]]
    rolled = model.rolled_over(POT, WEIGHTS, registered)
    receipt = rewards.settle(0, sender=owner)
    assert receipt.events == [
        rewards.EpochSettled(epoch=0, pot=POT, totals=[2, 2, 2, 0], rolledOver=rolled, toEpoch=1)
    ]
    assert rewards.epochInfo(1).pot == rolled
    paid = sum(rewards.claim(0, w, sender=owner).events[-1].amount for w in net.workers)
    assert paid + rolled == POT


def test_sweep__after_expiry_rolls_unclaimed_forward(env, chain, outsider):
    net, rewards = env
    rewards.fund(0, POT, value=POT, sender=outsider)
    play_two_rounds(net)
    goto(chain, epoch_end(rewards, 0) + 1)
    register_all(rewards, net, outsider)
    expires = epoch_end(rewards, 0) + REG_WINDOW + EXPIRY
    goto(chain, expires - 10)
    first = rewards.claim(0, net.workers[0], sender=outsider).events[-1].amount
    with ape.reverts(rewards.RewardsNotExpired, epoch=0, expiresAt=expires):
        rewards.sweep(0, sender=outsider)
    goto(chain, expires + 1)
    current = rewards.currentEpoch()
    receipt = rewards.sweep(0, sender=outsider)
    assert receipt.events == [rewards.Swept(epoch=0, amount=POT - first, toEpoch=current)]
    assert rewards.epochInfo(current).pot == POT - first
    info = rewards.epochInfo(0)
    assert (info.paid, info.movedOut, info.swept) == (first, POT - first, True)
    assert list(rewards.claimable(0, net.workers[1])) == [0] * 4
    with ape.reverts(rewards.RewardsClaimExpired, epoch=0):
        rewards.claim(0, net.workers[1], sender=outsider)
    with ape.reverts(rewards.RewardsClaimExpired, epoch=0):
        rewards.sweep(0, sender=outsider)
    assert rewards.balance == POT - first == rewards.epochInfo(current).pot  # nothing stranded


# -------------------------------------------------------------------------------------------------
# Weights: a change applies from the next epoch, for good
# -------------------------------------------------------------------------------------------------

EVEN = [2500, 2500, 2500, 2500]
ACCURACY = [0, 0, 10000, 0]


def test_set_weights__apply_from_next_epoch(env, chain, owner, outsider):
    _net, rewards = env
    with ape.reverts(rewards.OwnableUnauthorizedAccount, account=outsider):
        rewards.setWeights(EVEN, sender=outsider)
    with ape.reverts(rewards.RewardsInvalidParameter, field="weights"):
        rewards.setWeights([5000, 5000, 1, 0], sender=owner)
    assert tuple(map(list, rewards.weights()[:2])) == (WEIGHTS, [0, 0, 0, 0])
    assert rewards.weights()[2] == 0
    receipt = rewards.setWeights(EVEN, sender=owner)
    assert receipt.events == [rewards.WeightsUpdated(weights=EVEN, fromEpoch=1)]
    current, pending, from_epoch = rewards.weights()
    assert (list(current), list(pending), from_epoch) == (WEIGHTS, EVEN, 1)
    assert list(rewards.epochInfo(0).weights) == WEIGHTS
    assert list(rewards.epochInfo(1).weights) == EVEN
    goto(chain, epoch_end(rewards, 0) + 1)
    current, pending, from_epoch = rewards.weights()
    assert (list(current), list(pending), from_epoch) == (EVEN, [0, 0, 0, 0], 0)


def test_set_weights__twice_in_one_epoch_keeps_the_last(env, chain, owner):
    _net, rewards = env
    rewards.setWeights(EVEN, sender=owner)
    receipt = rewards.setWeights(ACCURACY, sender=owner)
    assert receipt.events == [rewards.WeightsUpdated(weights=ACCURACY, fromEpoch=1)]
    assert [list(rewards.epochInfo(e).weights) for e in range(3)] == [WEIGHTS, ACCURACY, ACCURACY]
    goto(chain, epoch_end(rewards, 0) + 1)
    rewards.setWeights(EVEN, sender=owner)  # from epoch 2
    assert [list(rewards.epochInfo(e).weights) for e in range(4)] == [
        WEIGHTS,
        ACCURACY,
        EVEN,
        EVEN,
    ]


def test_set_weights__epoch_settled_much_later_pays_with_its_own_weights(
    env, chain, owner, outsider
):
    net, rewards = env
    w = net.workers
    rewards.fund(0, POT, value=POT, sender=outsider)
    rewards.fund(1, 3 * POT, value=3 * POT, sender=outsider)
    rounds0 = play_two_rounds(net)
    rewards.setWeights(EVEN, sender=owner)  # mid-epoch 0: from epoch 1
    goto(chain, epoch_end(rewards, 0) + 1)
    points0 = register_all(rewards, net, outsider)
    assert points0 == [model.points(rounds0, model.Tenure(i)) for i in range(4)]
    for worker in (w[2], w[3], w[0]):
        vote(net, "epoch 1", A, worker)  # w1 misses epoch 1's only round
    rewards.setWeights(ACCURACY, sender=owner)  # mid-epoch 1: from epoch 2
    goto(chain, epoch_end(rewards, 1) + HOUR)
    points1 = register_all(rewards, net, outsider, epoch=1)
    assert points1 == [[1, 1, 1, 0], NO_POINTS, [1, 1, 1, 1], [1, 1, 1, 1]]

    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + 20 * DAY)  # long after, weights changed twice
    current = rewards.currentEpoch()
    assert current == 21
    shares0 = model.payouts(POT, WEIGHTS, points0)
    shares1 = model.payouts(3 * POT, EVEN, points1)
    assert [list(rewards.claimable(0, worker)) for worker in w] == shares0  # not settled yet
    assert list(rewards.epochInfo(1).weights) == EVEN
    for epoch, shares, pot, pts in ((0, shares0, POT, points0), (1, shares1, 3 * POT, points1)):
        receipt = rewards.claim(epoch, w[0], sender=outsider)
        rolled = model.rolled_over(pot, [WEIGHTS, EVEN][epoch], pts)
        totals = [sum(p[c] for p in pts) for c in range(4)]
        assert receipt.events[0] == rewards.EpochSettled(
            epoch=epoch, pot=pot, totals=totals, rolledOver=rolled, toEpoch=current
        )
        assert receipt.events[-1].amount == sum(shares[0])
        assert [list(rewards.claimable(epoch, worker)) for worker in w[1:]] == shares[1:]
    assert list(rewards.epochInfo(0).weights) == WEIGHTS  # as settled
    assert list(rewards.epochInfo(1).weights) == EVEN


# -------------------------------------------------------------------------------------------------
# Payments: contract wallets, re-entrancy, tokens
# -------------------------------------------------------------------------------------------------


def _wallet_env(project, owner, create_voting, workers):
    wallet = owner.deploy(project.MockWorkerWallet)
    net = create_voting("2/2", pool=[wallet, workers[0]])
    rewards = deploy_rewards(project, owner, net.voting)
    rewards.fund(0, POT, value=POT, sender=owner)
    vote(net, "hour 0", A, workers[0])  # opens the round; the wallet votes in the open round
    wallet.vote(net.voting, vid("hour 0"), A, sender=owner)
    return net, rewards, wallet


def _to_claims(chain, rewards, net, owner):
    goto(chain, epoch_end(rewards, 0) + 1)
    register_all(rewards, net, owner)
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + 1)


def test_claim__contract_wallet_receives(project, owner, create_voting, workers, chain):
    net, rewards, wallet = _wallet_env(project, owner, create_voting, workers)
    _to_claims(chain, rewards, net, owner)
    amount = rewards.claim(0, wallet, sender=owner).events[-1].amount
    assert amount == sum(model.payouts(POT, WEIGHTS, [[1, 1, 1, 1]] * 2)[0])
    assert wallet.received() == amount == wallet.balance


def test_claim__reentrant_claimer_cannot_drain(project, owner, create_voting, workers, chain):
    net, rewards, wallet = _wallet_env(project, owner, create_voting, workers)
    _to_claims(chain, rewards, net, owner)
    reenter = rewards.claim.encode_input(0, wallet)
    wallet.arm(rewards, reenter, sender=owner)
    amount = sum(rewards.claimable(0, wallet))
    with ape.reverts(rewards.RewardsPaymentFailed, to=wallet, amount=amount):
        rewards.claim(0, wallet, sender=owner)
    assert rewards.balance == POT
    wallet.arm(ZERO_ADDRESS, b"", sender=owner)
    rewards.claim(0, wallet, sender=owner)
    assert wallet.balance == amount
    assert wallet.balance + rewards.balance == POT


def test_token_pool__funds_and_pays_erc20(project, owner, create_voting, chain):
    net = create_voting("2/2")
    token = owner.deploy(project.MockToken)
    rewards = deploy_rewards(project, owner, net.voting, token)
    token.mint(owner, POT, sender=owner)
    token.approve(rewards, POT, sender=owner)
    with ape.reverts(rewards.RewardsWrongFunding, value=1, amount=POT):
        rewards.fund(0, POT, value=1, sender=owner)
    with ape.reverts(rewards.RewardsWrongFunding, value=0, amount=2**128):
        rewards.fund(0, 2**128, sender=owner)
    rewards.fund(0, POT, sender=owner)
    for worker in net.workers:
        vote(net, "hour 0", A, worker)
    _to_claims(chain, rewards, net, owner)
    for worker in net.workers:
        rewards.claim(0, worker, sender=owner)
    assert sum(token.balanceOf(w) for w in net.workers) == POT
    assert token.balanceOf(rewards) == 0


FEE_BPS = 150  # 1.5 % of every transfer is burned


def test_fund__fee_token_credits_what_arrived_and_conserves_it(
    project, owner, create_voting, chain, outsider
):
    net = create_voting("3/4", speed_rank=0)  # nobody earns speed: that category rolls over
    token = owner.deploy(project.MockFeeToken, FEE_BPS)
    rewards = deploy_rewards(project, owner, net.voting, token)
    token.mint(outsider, POT, sender=owner)
    token.approve(rewards, POT, sender=outsider)
    receipt = rewards.fund(0, POT, sender=outsider)
    funded = POT - POT * FEE_BPS // 10_000
    assert receipt.events.filter(rewards.Funded) == [
        rewards.Funded(epoch=0, funder=outsider, amount=funded)
    ]
    assert rewards.epochInfo(0).pot == funded == token.balanceOf(rewards)
    rounds = [replace(r, early=set()) for r in play_two_rounds(net)]  # speed rank 0
    goto(chain, epoch_end(rewards, 0) + 1)
    points = [model.points(rounds, model.Tenure(i)) for i in range(4)]
    assert register_all(rewards, net, outsider) == points
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + 1)
    shares = model.payouts(funded, WEIGHTS, points)
    paid = 0
    for worker, share in list(zip(net.workers, shares))[:3]:  # w3 never claims: swept
        before = token.balanceOf(worker)
        amount = rewards.claim(0, worker, sender=outsider).events.filter(rewards.Claimed)[0].amount
        assert amount == sum(share)
        assert token.balanceOf(worker) - before == amount - amount * FEE_BPS // 10_000
        paid += amount
    rolled = model.rolled_over(funded, WEIGHTS, points)
    assert rolled > 0
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + EXPIRY + 1)
    swept = rewards.sweep(0, sender=outsider).events.filter(rewards.Swept)[0].amount
    assert swept == sum(shares[3])
    info = rewards.epochInfo(0)
    assert (info.paid, info.movedOut) == (paid, rolled + swept)
    assert paid + rolled + swept == funded  # exactly
    current = rewards.currentEpoch()
    held = rewards.epochInfo(1).pot + rewards.epochInfo(current).pot
    assert (rewards.epochInfo(1).pot, rewards.epochInfo(current).pot) == (rolled, swept)
    assert token.balanceOf(rewards) == held == funded - paid  # no dust


@pytest.mark.parametrize(("fee_bps", "arrives"), [(10_000, 0), (10_100, 101)])
def test_fund__token_crediting_nothing_or_more_than_sent_reverts(
    project, owner, create_voting, fee_bps, arrives
):
    net = create_voting("1/1")
    token = owner.deploy(project.MockFeeToken, fee_bps)
    rewards = deploy_rewards(project, owner, net.voting, token)
    token.mint(owner, 100, sender=owner)
    token.approve(rewards, 100, sender=owner)
    assert token.received(100) == arrives
    with ape.reverts(rewards.RewardsWrongFunding, value=arrives, amount=100):
        rewards.fund(0, 100, sender=owner)
