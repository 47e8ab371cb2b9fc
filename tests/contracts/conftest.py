"""Fixtures of the contract tests: the rewards tests' voting pool with its rewards contract."""

import pytest

from tests.contracts.rewards_helpers import deploy_rewards


@pytest.fixture
def env(project, owner, create_voting):
    net = create_voting("3/4", speed_rank=2)
    return net, deploy_rewards(project, owner, net.voting)
