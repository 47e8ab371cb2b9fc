"""Proves the toolchain end to end on both providers: compile, deploy, call, custom error, event."""

import ape
import pytest

from scripts._voting import deploy_voting
from tests.conftest import EPOCH_LENGTH, MAX_WINDOW, make_config

pytestmark = pytest.mark.smoke


def test_deploy_and_read__compiled_with_pinned_solc(project, owner):
    voting = deploy_voting(owner, make_config(), EPOCH_LENGTH, MAX_WINDOW)
    _config, version = voting.currentConfig()
    assert version == 0
    assert voting.configAt(0).voteDuration == 3600
    assert voting.owner() == owner
    assert voting.MAX_WORKERS() == 64
    assert project.WorkerVoting.contract_type.deployment_bytecode.bytecode


def test_add_worker__emits_event(project, owner, workers):
    voting = deploy_voting(owner, make_config(), EPOCH_LENGTH, MAX_WINDOW)
    receipt = voting.addWorker(workers[0], sender=owner)
    assert receipt.events == [voting.WorkerAdded(worker=workers[0], index=0, joinedSeq=1)]
    assert voting.isWorker(workers[0])


def test_vote_by_outsider__reverts_with_custom_error(project, owner, outsider):
    voting = deploy_voting(owner, make_config(), EPOCH_LENGTH, MAX_WINDOW)
    with ape.reverts(voting.VotingNotWorker, account=outsider):
        voting.vote(b"\x01" * 32, b"\x02" * 32, sender=outsider)


def test_code_size__every_contract_within_eip170(project):
    """WorkerVoting delegates pool administration to a module to stay deployable (24 576 bytes)."""
    for contract in (project.WorkerVoting, project.WorkerPoolAdmin, project.WorkerRewards):
        code = bytes.fromhex(contract.contract_type.runtime_bytecode.bytecode.removeprefix("0x"))
        assert 0 < len(code) <= 24_576, contract.contract_type.name
