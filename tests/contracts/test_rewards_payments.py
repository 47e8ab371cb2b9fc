"""Rewards: payments to contract wallets, re-entrancy, ERC-20 pools and fee-taking tokens."""

from dataclasses import replace

import ape
import pytest

from tests.conftest import ZERO_ADDRESS
from tests.contracts import rewards_model as model
from tests.contracts.rewards_helpers import (
    EXPIRY,
    POT,
    REG_WINDOW,
    WEIGHTS,
    A,
    deploy_rewards,
    epoch_end,
    goto,
    play_two_rounds,
    register_all,
    vid,
    vote,
)

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
