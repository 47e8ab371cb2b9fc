"""Proves the toolchain end to end on both providers: compile, deploy, call, custom error, event."""

import ape
import pytest

from tests.conftest import make_config

pytestmark = pytest.mark.smoke


def test_deploy_and_read__compiled_with_pinned_solc(project, owner):
    voting = owner.deploy(project.WorkerVoting, owner, make_config())
    _config, version = voting.currentConfig()
    assert version == 0
    assert voting.configAt(0).voteDuration == 3600
    assert voting.owner() == owner
    assert voting.MAX_WORKERS() == 64
    assert project.WorkerVoting.contract_type.deployment_bytecode.bytecode


def test_add_worker__emits_event(project, owner, workers):
    voting = owner.deploy(project.WorkerVoting, owner, make_config())
    receipt = voting.addWorker(workers[0], sender=owner)
    assert receipt.events == [voting.WorkerAdded(worker=workers[0], index=0, joinedSeq=0)]
    assert voting.isWorker(workers[0])


def test_vote_by_outsider__reverts_with_custom_error(project, owner, outsider):
    voting = owner.deploy(project.WorkerVoting, owner, make_config())
    with ape.reverts(voting.VotingNotWorker, account=outsider):
        voting.vote(b"\x01" * 32, b"\x02" * 32, sender=outsider)
