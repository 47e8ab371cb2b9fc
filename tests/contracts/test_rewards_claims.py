"""Rewards: pulled claims, settlement and roll-over, sweep after expiry, and the weights history."""

import ape

from tests.contracts import rewards_model as model
from tests.contracts.rewards_helpers import (
    DAY,
    EXPIRY,
    HOUR,
    NO_POINTS,
    POT,
    REG_WINDOW,
    WEIGHTS,
    A,
    assert_points_registered,
    deploy_rewards,
    epoch_end,
    goto,
    play_two_rounds,
    register_all,
    vote,
)

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
