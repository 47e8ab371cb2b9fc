"""Rewards: funding, epochs, registration, pulled claims, roll-over, sweep, re-entrancy."""

import ape
import pytest
from eth_utils import keccak

from tests.conftest import ZERO_ADDRESS
from tests.contracts import rewards_model as model

DAY, HOUR = 86_400, 3_600
WEIGHTS = [1000, 2000, 4000, 3000]
REG_WINDOW, EXPIRY = 2 * HOUR, 30 * DAY
POT = 10**18 + 7  # not divisible: exercises rounding
A, B = keccak(text="root A"), keccak(text="root B")


def rid(i: int) -> bytes:
    return keccak(text=f"hour {i}")


@pytest.fixture
def env(project, owner, create_voting):
    net = create_voting("3/4", speed_rank=2)
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, DAY, REG_WINDOW, EXPIRY, WEIGHTS
    )
    return net, rewards


def goto(chain, timestamp: int) -> None:
    chain.pending_timestamp = timestamp
    chain.mine()


def epoch_end(rewards, epoch: int) -> int:
    return rewards.epochTimes(epoch)[1]


def play_two_rounds(net) -> list[model.SettledRound]:
    """Round 0: 3 agree, w3 late and dissenting. Round 1: w2 misses it."""
    v, w = net.voting, net.workers
    for worker, result in zip(w, [A, A, A, B]):
        v.vote(rid(0), result, sender=worker)
    for worker in (w[1], w[0], w[3]):
        v.vote(rid(1), A, sender=worker)
    return [
        model.SettledRound(seq=0, voted={0, 1, 2, 3}, early={0, 1}, agreed={0, 1, 2}),
        model.SettledRound(seq=1, voted={0, 1, 3}, early={0, 1}, agreed={0, 1, 3}),
    ]


def test_deploy__checkpoints_epoch_zero(env):
    _net, rewards = env
    info = rewards.epochInfo(0)
    assert (info.checkpointed, info.firstIndex, list(info.weights)) == (True, 0, WEIGHTS)
    assert rewards.currentEpoch() == 0


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("epochLength", (60, REG_WINDOW, EXPIRY, WEIGHTS)),
        ("registrationWindow", (DAY, 0, EXPIRY, WEIGHTS)),
        ("claimExpiry", (DAY, REG_WINDOW, DAY, WEIGHTS)),
        ("weights", (DAY, REG_WINDOW, EXPIRY, [1000, 1000, 1000, 1000])),
    ],
)
def test_deploy__invalid_parameter_reverts(project, owner, create_voting, field, args):
    net = create_voting("1/1")
    with ape.reverts(project.WorkerRewards.RewardsInvalidParameter, field=field):
        owner.deploy(project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, *args)


def test_deploy__without_voting_contract_reverts(project, owner):
    with ape.reverts(project.WorkerRewards.RewardsInvalidParameter, field="voting"):
        owner.deploy(project.WorkerRewards, owner, ZERO_ADDRESS, ZERO_ADDRESS, DAY, REG_WINDOW,
                     EXPIRY, WEIGHTS)  # fmt: skip


def test_epoch_nobody_touched__owns_no_chain_entries(env, chain, outsider):
    net, rewards = env
    goto(chain, epoch_end(rewards, 2) + 1)  # epochs 1 and 2 pass without a single call
    play_two_rounds(net)  # settle in epoch 3, where the next checkpoint is taken
    info = rewards.epochInfo(1)
    assert (info.checkpointed, info.ended, info.endIndex) == (False, True, 0)
    assert list(rewards.previewPoints(1, net.workers[0])) == [0, 0, 0, 0]


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


def test_claims__pay_what_the_model_computes(env, chain, outsider):
    net, rewards = env
    rewards.fund(0, POT // 2, value=POT // 2, sender=outsider)
    rounds = play_two_rounds(net)
    rewards.fund(0, POT - POT // 2, value=POT - POT // 2, sender=outsider)  # mid-epoch
    goto(chain, epoch_end(rewards, 0) + 1)
    expected_points = [model.points(rounds, model.Tenure(i)) for i in range(4)]
    for worker, pts in zip(net.workers, expected_points):
        receipt = rewards.register(0, worker, sender=outsider)
        assert list(receipt.events[-1].points) == pts
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
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, DAY, REG_WINDOW, EXPIRY, WEIGHTS
    )
    rewards.fund(0, POT, value=POT, sender=owner)
    for worker in net.workers:
        net.voting.vote(rid(0), A, sender=worker)
    goto(chain, epoch_end(rewards, 0) + 1)
    for worker in net.workers:
        rewards.register(0, worker, sender=owner)
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


def test_register__rules(env, chain, outsider):
    net, rewards = env
    rewards.fund(0, POT, value=POT, sender=outsider)
    play_two_rounds(net)
    worker = net.workers[0]
    with ape.reverts(rewards.RewardsEpochNotEnded, epoch=0):
        rewards.register(0, worker, sender=outsider)
    goto(chain, epoch_end(rewards, 0) + 1)
    with ape.reverts(rewards.RewardsUnknownWorker, account=outsider):
        rewards.register(0, outsider, sender=outsider)
    assert tuple(rewards.registration(0, worker)) == (False, False, (0, 0, 0, 0))
    receipt = rewards.register(0, worker, sender=outsider)
    points = tuple(receipt.events[-1].points)
    assert tuple(rewards.registration(0, worker)) == (True, False, points)
    assert list(rewards.claimable(0, worker)) == [0] * 4  # registration still open
    with ape.reverts(rewards.RewardsAlreadyRegistered, epoch=0, worker=worker):
        rewards.register(0, worker, sender=outsider)
    closes = epoch_end(rewards, 0) + REG_WINDOW
    goto(chain, closes + 1)
    with ape.reverts(rewards.RewardsRegistrationClosed, epoch=0, closedAt=closes):
        rewards.register(0, net.workers[1], sender=outsider)
    with ape.reverts(rewards.RewardsNotRegistered, epoch=0, worker=net.workers[1]):
        rewards.claim(0, net.workers[1], sender=outsider)
    assert sum(rewards.claimable(0, worker)) > 0
    assert list(rewards.claimable(0, net.workers[1])) == [0] * 4  # not registered
    rewards.claim(0, worker, sender=outsider)
    assert tuple(rewards.registration(0, worker)) == (True, True, points)
    assert list(rewards.claimable(0, worker)) == [0] * 4  # claimed
    with ape.reverts(rewards.RewardsAlreadyClaimed, epoch=0, worker=worker):
        rewards.claim(0, worker, sender=outsider)


def test_register__round_still_taking_late_votes_reverts(env, chain, outsider):
    net, rewards = env
    goto(chain, epoch_end(rewards, 0) - 60)
    for worker in net.workers[:3]:
        net.voting.vote(rid(0), A, sender=worker)
    late_until = net.voting.roundState(rid(0)).deadline
    goto(chain, epoch_end(rewards, 0) + 1)
    with ape.reverts(rewards.RewardsRoundNotSettled, chainIndex=0, lateUntil=late_until):
        rewards.register(0, net.workers[0], sender=outsider)
    goto(chain, late_until + 1)
    rewards.register(0, net.workers[0], sender=outsider)


def test_removed_worker__keeps_points_before_removal_only(env, chain, owner):
    net, rewards = env
    v, w = net.voting, net.workers
    for worker in w[:3]:
        v.vote(rid(0), A, sender=worker)
    v.removeWorker(w[3], sender=owner)  # missed round 0, gone before round 1
    for worker in w[:3]:
        v.vote(rid(1), A, sender=worker)
    goto(chain, epoch_end(rewards, 0) + 1)
    assert list(rewards.previewPoints(0, w[3])) == [0, 0, 0, 0]
    assert list(rewards.previewPoints(0, w[0])) == [1, 1, 2, 2]


def test_epochs__rounds_belong_to_the_epoch_they_settle_in(env, chain, outsider):
    net, rewards = env
    play_two_rounds(net)
    goto(chain, epoch_end(rewards, 0) + 1)
    rewards.checkpoint(sender=outsider)
    for worker in net.workers[:3]:
        net.voting.vote(rid(7), A, sender=worker)
    assert (rewards.epochInfo(0).firstIndex, rewards.epochInfo(0).endIndex) == (0, 2)
    assert rewards.epochInfo(1).firstIndex == 2
    goto(chain, epoch_end(rewards, 1) + 1)
    assert list(rewards.previewPoints(1, net.workers[0])) == [1, 1, 1, 1]


def test_sweep__after_expiry_rolls_unclaimed_forward(env, chain, outsider):
    net, rewards = env
    rewards.fund(0, POT, value=POT, sender=outsider)
    play_two_rounds(net)
    goto(chain, epoch_end(rewards, 0) + 1)
    for worker in net.workers:
        rewards.register(0, worker, sender=outsider)
    expires = epoch_end(rewards, 0) + REG_WINDOW + EXPIRY
    goto(chain, expires - 10)
    first = rewards.claim(0, net.workers[0], sender=outsider).events[-1].amount
    with ape.reverts(rewards.RewardsNotExpired, epoch=0, expiresAt=expires):
        rewards.sweep(0, sender=outsider)
    goto(chain, expires + 1)
    current = rewards.currentEpoch()
    receipt = rewards.sweep(0, sender=outsider)
    assert receipt.events[-1] == rewards.Swept(epoch=0, amount=POT - first, toEpoch=current)
    assert rewards.epochInfo(current).pot == POT - first
    with ape.reverts(rewards.RewardsClaimExpired, epoch=0):
        rewards.claim(0, net.workers[1], sender=outsider)


def test_set_weights__apply_from_next_epoch(env, chain, owner, outsider):
    _net, rewards = env
    new = [2500, 2500, 2500, 2500]
    with ape.reverts(rewards.OwnableUnauthorizedAccount, account=outsider):
        rewards.setWeights(new, sender=outsider)
    with ape.reverts(rewards.RewardsInvalidParameter, field="weights"):
        rewards.setWeights([5000, 5000, 1, 0], sender=owner)
    assert tuple(map(list, rewards.weights()[:2])) == (WEIGHTS, [0, 0, 0, 0])
    receipt = rewards.setWeights(new, sender=owner)
    assert receipt.events == [rewards.WeightsUpdated(weights=new, fromEpoch=1)]
    current, pending, from_epoch = rewards.weights()
    assert (list(current), list(pending), from_epoch) == (WEIGHTS, new, 1)
    assert list(rewards.epochInfo(0).weights) == WEIGHTS
    goto(chain, epoch_end(rewards, 0) + 1)
    rewards.checkpoint(sender=outsider)
    assert list(rewards.epochInfo(1).weights) == new


def _wallet_env(project, owner, create_voting, workers):
    wallet = owner.deploy(project.MockWorkerWallet)
    net = create_voting("2/2", pool=[wallet, workers[0]])
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, DAY, REG_WINDOW, EXPIRY, WEIGHTS
    )
    rewards.fund(0, POT, value=POT, sender=owner)
    wallet.vote(net.voting, rid(0), A, sender=owner)
    net.voting.vote(rid(0), A, sender=workers[0])
    return net, rewards, wallet


def _to_claims(chain, rewards, net, owner):
    goto(chain, epoch_end(rewards, 0) + 1)
    for worker in net.workers:
        rewards.register(0, worker, sender=owner)
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + 1)


def test_claim__contract_wallet_receives(project, owner, create_voting, workers, chain):
    net, rewards, wallet = _wallet_env(project, owner, create_voting, workers)
    _to_claims(chain, rewards, net, owner)
    amount = rewards.claim(0, wallet, sender=owner).events[-1].amount
    assert amount > 0
    assert wallet.received() == amount == wallet.balance


def test_claim__reentrant_claimer_cannot_drain(project, owner, create_voting, workers, chain):
    net, rewards, wallet = _wallet_env(project, owner, create_voting, workers)
    _to_claims(chain, rewards, net, owner)
    reenter = rewards.claim.encode_input(0, wallet)
    wallet.arm(rewards, reenter, sender=owner)
    with ape.reverts(rewards.RewardsPaymentFailed):
        rewards.claim(0, wallet, sender=owner)
    assert rewards.balance == POT
    wallet.arm(ZERO_ADDRESS, b"", sender=owner)
    rewards.claim(0, wallet, sender=owner)
    assert wallet.balance + rewards.balance == POT


def test_token_pool__funds_and_pays_erc20(project, owner, create_voting, chain):
    net = create_voting("2/2")
    token = owner.deploy(project.MockToken)
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, token, DAY, REG_WINDOW, EXPIRY, WEIGHTS
    )
    token.mint(owner, POT, sender=owner)
    token.approve(rewards, POT, sender=owner)
    with ape.reverts(rewards.RewardsWrongFunding, value=1, amount=POT):
        rewards.fund(0, POT, value=1, sender=owner)
    rewards.fund(0, POT, sender=owner)
    for worker in net.workers:
        net.voting.vote(rid(0), A, sender=worker)
    _to_claims(chain, rewards, net, owner)
    for worker in net.workers:
        rewards.claim(0, worker, sender=owner)
    assert sum(token.balanceOf(w) for w in net.workers) == POT
    assert token.balanceOf(rewards) == 0
