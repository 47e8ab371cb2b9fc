"""Worker pool, eligibility gate, ownership, parameters, pause and the admin module."""

import ape
import pytest

from scripts._voting import deploy_voting, pool_admin
from tests.conftest import (
    DAY,
    EPOCH_LENGTH,
    HOUR,
    MAX_WINDOW,
    ZERO_ADDRESS,
    descriptor_id,
    event_descriptor,
    make_config,
)

ROLE = b"worker.roles.ewc-network".ljust(32, b"\x00")
DESCRIPTOR = event_descriptor("pool round")
VOTING_ID = descriptor_id(DESCRIPTOR)
RESULT = b"\x22" * 32
CONFIG_FIELDS = (
    "threshold", "sealedMode", "voteDuration", "revealDuration", "fallbackPolicy",
    "pluralityMinVotes", "speedRank", "failover", "failoverTimeout",
)  # fmt: skip


@pytest.fixture
def voting(project, owner):
    return deploy_voting(owner, make_config(), EPOCH_LENGTH, MAX_WINDOW)


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
    assert receipt.events == [voting.WorkerRemoved(worker=workers[1], by=owner, leftSeq=4)]
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
        voting.openAndVote(DESCRIPTOR, RESULT, sender=workers[0])


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
    assert receipt.events == [voting.WorkerRemoved(worker=workers[0], by=outsider, leftSeq=2)]


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
        ("voteDuration", make_config(vote_duration=MAX_WINDOW + 1)),
        ("revealDuration", make_config(sealed=True, reveal_duration=MAX_WINDOW + 1)),
        ("pluralityMinVotes", make_config(fallback="plurality", plurality_min_votes=1)),
        ("failover", make_config(fallback="failover")),
        ("failover", make_config(fallback="alert", failover="0x" + "01" * 20)),
        ("failoverTimeout", make_config(fallback="failover", failover="0x" + "01" * 20,
                                        failover_timeout=0)),
        ("failoverTimeout", make_config(fallback="failover", failover="0x" + "01" * 20,
                                        failover_timeout=30 * DAY + 1)),
        ("failoverTimeout", make_config(fallback="alert", failover_timeout=60)),
    ],
)  # fmt: skip
def test_set_config__invalid_field_reverts(voting, owner, field, config):
    with ape.reverts(voting.VotingInvalidConfig, field=field):
        voting.setConfig(config, sender=owner)


def test_set_config__limits_accepted(voting, owner):
    limits = [
        make_config(vote_duration=MAX_WINDOW, speed_rank=64, threshold=64),
        make_config(sealed=True, reveal_duration=MAX_WINDOW),
        make_config(fallback="plurality", plurality_min_votes=2),
        make_config(fallback="failover", failover="0x" + "01" * 20, failover_timeout=30 * DAY),
    ]
    for version, config in enumerate(limits, start=1):
        voting.setConfig(config, sender=owner)
        assert tuple(voting.configAt(version)) == config
    assert voting.currentConfig() == (limits[-1], len(limits))


def test_deploy__invalid_config_reverts(project, owner):
    admin = pool_admin(owner)
    with ape.reverts(project.WorkerVoting.VotingInvalidConfig, field="voteDuration"):
        owner.deploy(project.WorkerVoting, owner, make_config(vote_duration=0), DAY, MAX_WINDOW,
                     admin)  # fmt: skip


@pytest.mark.parametrize(
    ("field", "epoch_length", "max_window"),
    [
        ("maxWindow", DAY, 0),
        ("maxWindow", DAY, 30 * DAY + 1),
        ("epochLength", HOUR - 1, MAX_WINDOW),
        ("epochLength", 365 * DAY + 1, MAX_WINDOW),
    ],
)
def test_deploy__invalid_parameter_reverts(project, owner, field, epoch_length, max_window):
    admin = pool_admin(owner)
    with ape.reverts(project.WorkerVoting.VotingInvalidParameter, field=field):
        owner.deploy(project.WorkerVoting, owner, make_config(), epoch_length, max_window, admin)


@pytest.mark.parametrize("kind", ["zero", "account", "other contract"])
def test_deploy__admin_other_than_the_module_reverts(project, owner, outsider, kind):
    """Only WorkerPoolAdmin's exact code may run on the pool's storage: no owner's own module."""
    admin = {"zero": ZERO_ADDRESS, "account": outsider.address,
             "other contract": lambda: owner.deploy(project.MockToken).address}[kind]  # fmt: skip
    admin = admin() if callable(admin) else admin
    with ape.reverts(project.WorkerVoting.VotingInvalidParameter, field="admin"):
        owner.deploy(project.WorkerVoting, owner, make_config(), DAY, MAX_WINDOW, admin)


def test_admin_module__one_module_serves_two_pools_apart(project, owner, workers):
    """The module reads each pool's own storage: its workers and its maxWindow, never its own."""
    short = deploy_voting(owner, make_config(), DAY, HOUR)
    long = deploy_voting(owner, make_config(), DAY, 2 * HOUR)
    assert short.admin() == long.admin()
    short.addWorker(workers[0], sender=owner)
    assert (short.isWorker(workers[0]), long.isWorker(workers[0])) == (True, False)
    wide = make_config(vote_duration=2 * HOUR)
    with ape.reverts(short.VotingInvalidConfig, field="voteDuration"):
        short.setConfig(wide, sender=owner)
    long.setConfig(wide, sender=owner)
    assert long.configAt(1).voteDuration == 2 * HOUR


def test_deploy__parameter_limits_accepted(project, owner):
    for epoch_length, max_window in [(HOUR, 30 * DAY), (365 * DAY, 1)]:
        config = make_config(vote_duration=1)
        voting = deploy_voting(owner, config, epoch_length, max_window)
        assert (voting.epochLength(), voting.maxWindow()) == (epoch_length, max_window)


def test_renounce_ownership__disabled(voting, owner):
    with ape.reverts(voting.VotingRenounceDisabled):
        voting.renounceOwnership(sender=owner)
    assert voting.owner() == owner


def test_admin_module__called_directly_reverts(project, voting, owner, workers):
    """The module owns itself: nobody can administer its own storage directly."""
    admin = project.WorkerPoolAdmin.at(voting.admin())
    assert admin.owner() == admin.address
    with ape.reverts(admin.OwnableUnauthorizedAccount, account=owner):
        admin.addWorker(workers[0], sender=owner)
    with ape.reverts(admin.OwnableUnauthorizedAccount, account=owner):
        admin.pause(sender=owner)
    voting.addWorker(workers[0], sender=owner)  # through the voting contract: its own storage
    assert voting.isWorker(workers[0])
    assert voting.admin() == admin.address


def test_admin_module__reverts_pass_through_with_their_data(voting, owner, workers):
    voting.addWorker(workers[0], sender=owner)
    with ape.reverts(voting.VotingWorkerExists, worker=workers[0]):
        voting.addWorker(workers[0], sender=owner)


def test_worker_info__all_fields(voting, owner, workers):
    voting.addWorker(workers[0], sender=owner)
    voting.openAndVote(DESCRIPTOR, RESULT, sender=workers[0])  # 1 of 1: chained at once
    receipt = voting.addWorker(workers[1], sender=owner)
    assert receipt.events == [voting.WorkerAdded(worker=workers[1], index=1, joinedSeq=2)]
    info = voting.workerInfo(workers[1])
    assert tuple(info) == (True, False, 1, 2, 0, 0, 1)  # active, retired, index, joinedSeq,
    # leftSeq, late, joinedIndex
    voting.removeWorker(workers[0], sender=owner)
    assert tuple(voting.workerInfo(workers[0])) == (False, True, 0, 1, 3, 0, 0)
    assert tuple(voting.workerInfo(ZERO_ADDRESS)) == (False, False, 0, 0, 0, 0, 0)


def test_set_config__applies_to_rounds_opened_afterwards(voting, owner, workers):
    for worker in workers[:3]:
        voting.addWorker(worker, sender=owner)
    voting.openAndVote(DESCRIPTOR, RESULT, sender=workers[0])
    config = make_config(threshold=3, vote_duration=7200)
    receipt = voting.setConfig(config, sender=owner)
    assert receipt.events == [voting.ConfigUpdated(version=1, **dict(zip(CONFIG_FIELDS, config)))]
    assert voting.currentConfig()[1] == 1
    assert voting.roundState(VOTING_ID).threshold == 2  # the open round keeps its threshold
    voting.openAndVote(DESCRIPTOR, RESULT, sender=workers[1])
    assert voting.roundState(VOTING_ID).status == 4  # Consensus at 2 of 3
    other = event_descriptor("another pool round")
    voting.openAndVote(other, RESULT, sender=workers[0])
    state = voting.roundState(descriptor_id(other))
    assert (state.threshold, state.configVersion) == (3, 1)


def test_set_config__by_outsider_reverts(voting, outsider):
    with ape.reverts(voting.OwnableUnauthorizedAccount, account=outsider):
        voting.setConfig(make_config(), sender=outsider)


def test_pause__stops_votes_and_new_rounds(voting, owner, workers):
    voting.addWorker(workers[0], sender=owner)
    receipt = voting.pause(sender=owner)
    assert receipt.events == [voting.Paused(account=owner)]
    with ape.reverts(voting.VotingPaused):
        voting.openAndVote(DESCRIPTOR, RESULT, sender=workers[0])
    with ape.reverts(voting.VotingPauseUnchanged, paused=True):
        voting.pause(sender=owner)
    receipt = voting.unpause(sender=owner)
    assert receipt.events == [voting.Unpaused(account=owner)]
    with ape.reverts(voting.VotingPauseUnchanged, paused=False):
        voting.unpause(sender=owner)
    voting.openAndVote(DESCRIPTOR, RESULT, sender=workers[0])
    assert voting.resultOf(VOTING_ID) == RESULT  # 1 of 1


def test_pause__pool_state_reports_the_pause(voting, owner, chain):
    assert tuple(voting.poolState()) == (0, 0, 0, 0, False, 0)
    paused_at = voting.pause(sender=owner).timestamp
    chain.pending_timestamp = paused_at + 100
    chain.mine()
    assert tuple(voting.poolState()) == (0, 0, 0, 0, True, 100)
    chain.pending_timestamp = paused_at + 250
    voting.unpause(sender=owner)
    chain.pending_timestamp += 1000
    chain.mine()
    assert tuple(voting.poolState()) == (0, 0, 0, 0, False, 250)


def test_pause__owner_still_administers(voting, owner, workers):
    voting.pause(sender=owner)
    voting.addWorker(workers[0], sender=owner)
    voting.setConfig(make_config(threshold=1), sender=owner)
    voting.removeWorker(workers[0], sender=owner)
    assert voting.poolState()[:5] == (0, 2, 0, 1, True)  # generation 2: one addition, one removal


def test_pause__by_outsider_reverts(voting, outsider):
    with ape.reverts(voting.OwnableUnauthorizedAccount, account=outsider):
        voting.pause(sender=outsider)
