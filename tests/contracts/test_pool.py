"""Worker pool, eligibility gate, ownership, parameters and pause."""

import ape
import pytest

from tests.conftest import ZERO_ADDRESS, make_config

ROLE = b"worker.roles.ewc-network".ljust(32, b"\x00")
VOTING_ID = b"\x11" * 32
RESULT = b"\x22" * 32


@pytest.fixture
def voting(project, owner):
    return owner.deploy(project.WorkerVoting, owner, make_config())


@pytest.fixture
def claim_manager(project, owner):
    return owner.deploy(project.MockClaimManager)


def test_add_worker__by_outsider_reverts(voting, outsider, workers):
    with ape.reverts(voting.OwnableUnauthorizedAccount, account=outsider):
        voting.addWorker(workers[0], sender=outsider)


def test_add_worker__zero_address_reverts(voting, owner):
    with ape.reverts(voting.VotingZeroAddress):
        voting.addWorker(ZERO_ADDRESS, sender=owner)


def test_add_worker__twice_reverts(voting, owner, workers):
    voting.addWorker(workers[0], sender=owner)
    with ape.reverts(voting.VotingWorkerExists, worker=workers[0]):
        voting.addWorker(workers[0], sender=owner)


def test_add_worker__pool_full_reverts(voting, owner, workers, extra_workers):
    pool = workers + extra_workers(64 - len(workers))
    for worker in pool:
        voting.addWorker(worker, sender=owner)
    assert voting.poolState()[0] == 64
    assert [voting.workerInfo(w).index for w in pool] == list(range(64))
    newcomer = extra_workers(64 - len(workers) + 1)[-1]
    with ape.reverts(voting.VotingPoolFull, max=64):
        voting.addWorker(newcomer, sender=owner)


def test_remove_worker__retires_and_frees_lowest_index(voting, owner, workers):
    for worker in workers[:3]:
        voting.addWorker(worker, sender=owner)
    receipt = voting.removeWorker(workers[1], sender=owner)
    assert receipt.events == [voting.WorkerRemoved(worker=workers[1], by=owner, leftSeq=0)]
    info = voting.workerInfo(workers[1])
    assert (info.active, info.retired) == (False, True)
    assert voting.workers() == [workers[0], workers[2]]
    voting.addWorker(workers[3], sender=owner)
    assert voting.workerInfo(workers[3]).index == 1
    with ape.reverts(voting.VotingWorkerRetired, worker=workers[1]):
        voting.addWorker(workers[1], sender=owner)


def test_remove_worker__not_a_worker_reverts(voting, owner, outsider):
    with ape.reverts(voting.VotingNotWorker, account=outsider):
        voting.removeWorker(outsider, sender=owner)


def test_removed_worker__cannot_vote(voting, owner, workers):
    voting.addWorker(workers[0], sender=owner)
    voting.removeWorker(workers[0], sender=owner)
    with ape.reverts(voting.VotingNotWorker, account=workers[0]):
        voting.vote(VOTING_ID, RESULT, sender=workers[0])


def test_gate__add_without_role_reverts(voting, owner, workers, claim_manager):
    voting.setEligibilityGate(claim_manager, ROLE, 1, sender=owner)
    with ape.reverts(voting.VotingWorkerNotEligible, worker=workers[0]):
        voting.addWorker(workers[0], sender=owner)
    claim_manager.grant(workers[0], ROLE, 1, sender=owner)
    voting.addWorker(workers[0], sender=owner)
    assert voting.isWorker(workers[0])


def test_gate__role_version_below_minimum_reverts(voting, owner, workers, claim_manager):
    voting.setEligibilityGate(claim_manager, ROLE, 2, sender=owner)
    claim_manager.grant(workers[0], ROLE, 1, sender=owner)
    with ape.reverts(voting.VotingWorkerNotEligible, worker=workers[0]):
        voting.addWorker(workers[0], sender=owner)


def test_gate__anyone_removes_revoked_worker(voting, owner, workers, outsider, claim_manager):
    receipt = voting.setEligibilityGate(claim_manager, ROLE, 1, sender=owner)
    assert receipt.events == [
        voting.EligibilityGateUpdated(gate=claim_manager, role=ROLE, roleVersion=1)
    ]
    assert tuple(voting.eligibilityGate()) == (claim_manager.address, ROLE, 1)
    claim_manager.grant(workers[0], ROLE, 1, sender=owner)
    voting.addWorker(workers[0], sender=owner)
    with ape.reverts(voting.VotingWorkerStillEligible, worker=workers[0]):
        voting.removeIneligibleWorker(workers[0], sender=outsider)
    claim_manager.revoke(workers[0], ROLE, sender=owner)
    receipt = voting.removeIneligibleWorker(workers[0], sender=outsider)
    assert receipt.events == [voting.WorkerRemoved(worker=workers[0], by=outsider, leftSeq=0)]


def test_remove_ineligible__without_gate_reverts(voting, owner, workers, outsider):
    voting.addWorker(workers[0], sender=owner)
    with ape.reverts(voting.VotingWorkerStillEligible, worker=workers[0]):
        voting.removeIneligibleWorker(workers[0], sender=outsider)


def test_ownership__two_step_transfer(voting, owner, outsider, workers):
    voting.transferOwnership(outsider, sender=owner)
    assert voting.owner() == owner
    assert voting.pendingOwner() == outsider
    with ape.reverts(voting.OwnableUnauthorizedAccount, account=workers[0]):
        voting.acceptOwnership(sender=workers[0])
    voting.acceptOwnership(sender=outsider)
    assert voting.owner() == outsider
    voting.addWorker(workers[0], sender=outsider)


@pytest.mark.parametrize(
    ("field", "config"),
    [
        ("threshold", make_config(threshold=65)),
        ("voteDuration", make_config(vote_duration=0)),
        ("voteDuration", make_config(vote_duration=31 * 24 * 3600)),
        ("revealDuration", make_config(sealed=False, reveal_duration=60)),
        ("revealDuration", make_config(sealed=True, reveal_duration=31 * 24 * 3600)),
        ("speedRank", make_config(speed_rank=65)),
        ("pluralityMinVotes", make_config(fallback="plurality")),
        ("pluralityMinVotes", make_config(fallback="alert", plurality_min_votes=2)),
        ("failover", make_config(fallback="failover")),
        ("failover", make_config(fallback="alert", failover="0x" + "01" * 20)),
    ],
)
def test_set_config__invalid_field_reverts(voting, owner, field, config):
    with ape.reverts(voting.VotingInvalidConfig, field=field):
        voting.setConfig(config, sender=owner)


def test_deploy__invalid_config_reverts(project, owner):
    with ape.reverts(project.WorkerVoting.VotingInvalidConfig, field="voteDuration"):
        owner.deploy(project.WorkerVoting, owner, make_config(vote_duration=0))


def test_set_config__applies_to_rounds_opened_afterwards(voting, owner, workers):
    for worker in workers[:3]:
        voting.addWorker(worker, sender=owner)
    voting.vote(VOTING_ID, RESULT, sender=workers[0])
    config = make_config(threshold=3, vote_duration=7200)
    receipt = voting.setConfig(config, sender=owner)
    fields = ("threshold", "sealedMode", "voteDuration", "revealDuration", "fallbackPolicy")
    fields += ("pluralityMinVotes", "speedRank", "failover")
    assert receipt.events == [voting.ConfigUpdated(version=1, **dict(zip(fields, config)))]
    assert voting.currentConfig()[1] == 1
    assert voting.roundState(VOTING_ID).threshold == 2  # the open round keeps its threshold
    voting.vote(VOTING_ID, RESULT, sender=workers[1])
    assert voting.roundState(VOTING_ID).status == 4  # Consensus at 2 of 3
    other = b"\x33" * 32
    voting.vote(other, RESULT, sender=workers[0])
    state = voting.roundState(other)
    assert (state.threshold, state.configVersion) == (3, 1)


def test_set_config__by_outsider_reverts(voting, outsider):
    with ape.reverts(voting.OwnableUnauthorizedAccount, account=outsider):
        voting.setConfig(make_config(), sender=outsider)


def test_pause__stops_votes_and_new_rounds(voting, owner, workers):
    voting.addWorker(workers[0], sender=owner)
    receipt = voting.pause(sender=owner)
    assert receipt.events == [voting.Paused(account=owner)]
    with ape.reverts(voting.VotingPaused):
        voting.vote(VOTING_ID, RESULT, sender=workers[0])
    with ape.reverts(voting.VotingPauseUnchanged, paused=True):
        voting.pause(sender=owner)
    receipt = voting.unpause(sender=owner)
    assert receipt.events == [voting.Unpaused(account=owner)]
    with ape.reverts(voting.VotingPauseUnchanged, paused=False):
        voting.unpause(sender=owner)
    voting.vote(VOTING_ID, RESULT, sender=workers[0])
    assert voting.resultOf(VOTING_ID) == RESULT  # 1 of 1


def test_pause__by_outsider_reverts(voting, outsider):
    with ape.reverts(voting.OwnableUnauthorizedAccount, account=outsider):
        voting.pause(sender=outsider)
