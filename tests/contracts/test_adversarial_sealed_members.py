"""Attacks in sealed mode (the attempt-2 copier), on membership and ownership, and on the rewards'
registration window and walk."""

import ape
from eth_abi import encode
from eth_utils import keccak

from tests.conftest import HOUR, ZERO_ADDRESS, descriptor_id, event_descriptor
from tests.contracts.adversarial_helpers import CONSENSUS, OTHER, TRUE, goto


def salt_of(worker) -> bytes:
    return keccak(text=f"salt of {worker.address}")


def sealed_commitment(voting, chain, worker, voting_id, result, attempt) -> bytes:
    types = ["bytes32", "bytes32", "address", "bytes32", "uint8", "uint256", "address"]
    values = [result, salt_of(worker), worker.address, voting_id, attempt]
    return keccak(encode(types, [*values, chain.chain_id, voting.address]))


# -------------------------------------------------------------------------------------------------
# Sealed mode: the attempt-2 copier
# -------------------------------------------------------------------------------------------------


def _sealed_split_then_attempt_two(net, chain, first_commit, attempt_two):
    """Attempt 1 of a 3/5 sealed round splits (its reveals are public); attempt 2 commits in the
    order `attempt_two` (worker, result) and reveals; returns the settled round."""
    voting = net.voting
    descriptor = event_descriptor("sealed split")
    voting_id = descriptor_id(descriptor)
    a, b, c, _d, _e = net.workers
    worker, value = first_commit
    voting.openAndCommit(descriptor, value(voting_id), sender=worker)
    for w, result in ((a, TRUE), (b, TRUE), (c, OTHER)):
        voting.commit(
            voting_id, sealed_commitment(voting, chain, w, voting_id, result, 1), sender=w
        )
    goto(chain, voting.roundState(voting_id).deadline + 1)
    for w, result in ((a, TRUE), (b, TRUE), (c, OTHER)):
        voting.reveal(voting_id, result, salt_of(w), sender=w)
    goto(chain, voting.roundState(voting_id).deadline + 1)
    voting.finalize(voting_id, sender=a)
    assert voting.roundState(voting_id).attempt == 2
    for w, result in attempt_two:
        voting.commit(
            voting_id, sealed_commitment(voting, chain, w, voting_id, result, 2), sender=w
        )
    assert voting.roundState(voting_id).early == 0
    goto(chain, voting.roundState(voting_id).deadline + 1)
    for w, result in attempt_two:
        voting.reveal(voting_id, result, salt_of(w), sender=w)
    return voting.settledRound(0)


def test_sealed_copier__earns_no_speed_in_attempt_two(create_voting, chain):
    """In attempt 2 the copier commits attempt 1's leading result first: no speed for anyone."""
    net = create_voting("3/5", sealed=True, speed_rank=2)
    a, _b, _c, d, copier = net.workers
    junk = (copier, lambda _vid: keccak(text="never revealed"))
    settled = _sealed_split_then_attempt_two(
        net, chain, junk, [(copier, TRUE), (d, TRUE), (a, TRUE)]
    )
    assert (settled.kind, settled.early) == (CONSENSUS, 0)
    assert settled.agreed & (1 << 4)


def test_sealed_junk_committer__first_in_attempt_one_earns_no_speed(create_voting, chain):
    """A worker takes attempt 1's first speed rank with a commitment it never reveals, then
    copies attempt 1's leader in attempt 2: attempt 1's ranks do not carry over."""
    net = create_voting("3/5", sealed=True, speed_rank=1)
    a, b, _c, _d, copier = net.workers
    junk = (copier, lambda _vid: keccak(text="junk commitment"))
    settled = _sealed_split_then_attempt_two(
        net, chain, junk, [(a, TRUE), (b, TRUE), (copier, TRUE)]
    )
    assert settled.kind == CONSENSUS
    assert settled.early == 0 and settled.agreed & (1 << 4)


# -------------------------------------------------------------------------------------------------
# Membership and ownership
# -------------------------------------------------------------------------------------------------


def test_reveal__removed_and_late_joined_workers_revert(create_voting, chain, owner, outsider):
    net = create_voting("3/4", sealed=True)
    voting, w = net.voting, net.workers
    descriptor = event_descriptor("sealed members")
    voting_id = descriptor_id(descriptor)
    value = sealed_commitment(voting, chain, w[0], voting_id, TRUE, 1)
    voting.openAndCommit(descriptor, value, sender=w[0])
    for worker in w[1:3]:
        voting.commit(voting_id, sealed_commitment(voting, chain, worker, voting_id, TRUE, 1),
                      sender=worker)  # fmt: skip
    voting.removeWorker(w[0], sender=owner)
    voting.addWorker(outsider, sender=owner)  # takes w[0]'s pool index
    goto(chain, voting.roundState(voting_id).deadline + 1)
    with ape.reverts(voting.VotingNotWorker, account=w[0]):
        voting.reveal(voting_id, TRUE, salt_of(w[0]), sender=w[0])
    with ape.reverts(voting.VotingNotEligible, votingId=voting_id, worker=outsider):
        voting.reveal(voting_id, TRUE, salt_of(outsider), sender=outsider)


def test_renounce_ownership__reverts_and_keeps_owner(project, create_voting, owner):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingRenounceDisabled):
        net.voting.renounceOwnership(sender=owner)
    assert net.voting.owner() == owner
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, 3 * HOUR, 30 * 24 * HOUR,
        [2500, 2500, 2500, 2500],
    )  # fmt: skip
    with ape.reverts(rewards.RewardsRenounceDisabled):
        rewards.renounceOwnership(sender=owner)
    assert rewards.owner() == owner


def test_admin_module__direct_calls_touch_nothing_of_the_pool(project, create_voting, owner):
    """The module runs on the voting contract's storage only through delegatecall; it owns
    itself, so nobody can administer it directly."""
    net = create_voting("2/3")
    module = project.WorkerPoolAdmin.at(net.voting.admin())
    assert module.owner() == module.address
    with ape.reverts(module.OwnableUnauthorizedAccount, account=owner):
        module.addWorker(owner, sender=owner)
    assert net.voting.workers() == [w.address for w in net.workers]


# -------------------------------------------------------------------------------------------------
# Rewards: the registration window and the walk
# -------------------------------------------------------------------------------------------------


def test_rewards__registration_window_needs_margin_beyond_max_window(project, create_voting, owner):
    net = create_voting("2/3", max_window=2 * HOUR)
    args = (ZERO_ADDRESS, 30 * 24 * HOUR, [2500, 2500, 2500, 2500])
    margin = HOUR
    with ape.reverts(project.WorkerRewards.RewardsInvalidParameter, field="registrationWindow"):
        owner.deploy(project.WorkerRewards, owner, net.voting, args[0], 2 * HOUR + margin - 1,
                     *args[1:])  # fmt: skip
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, args[0], 2 * HOUR + margin, *args[1:]
    )
    assert rewards.registrationWindow() == 3 * HOUR
    assert rewards.REGISTRATION_MARGIN() == margin


def test_rewards__register_with_huge_chunk_completes(project, create_voting, chain, owner):
    net = create_voting("2/3")
    voting, w = net.voting, net.workers
    rewards = owner.deploy(project.WorkerRewards, owner, voting, ZERO_ADDRESS, 3 * HOUR,
                           30 * 24 * HOUR, [2500, 2500, 2500, 2500])  # fmt: skip
    for i in range(3):
        descriptor = event_descriptor(f"hour {i}")
        voting.openAndVote(descriptor, TRUE, sender=w[0])
        voting.vote(descriptor_id(descriptor), TRUE, sender=w[1])
    goto(chain, rewards.epochTimes(0)[1] + 2 * HOUR + 1)  # late windows closed
    assert not rewards.register(0, w[0], 1, sender=w[0]).return_value
    rewards.register(0, w[0], 2**256 - 1, sender=w[0])
    registered, _claimed, points, cursor, end = rewards.registration(0, w[0])
    assert (registered, tuple(points), cursor, end) == (True, (1, 1, 3, 3), 3, 3)
