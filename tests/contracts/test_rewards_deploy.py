"""Rewards: deployment and its parameters, ownership, and funding an epoch's pot."""

import ape
import pytest

from tests.conftest import EPOCH_LENGTH, MAX_WINDOW, ZERO_ADDRESS
from tests.contracts.rewards_helpers import (
    DAY,
    EXPIRY,
    MARGIN,
    REG_WINDOW,
    WEIGHTS,
    epoch_end,
    goto,
)

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
