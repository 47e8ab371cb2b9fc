"""Shared by the rewards tests (test_rewards_*.py): parameters, deployment, votes in event rounds,
moving the chain's time and registering every worker."""

from eth_utils import keccak

from tests.conftest import ZERO_ADDRESS, descriptor_id, event_descriptor
from tests.contracts import rewards_model as model

DAY, HOUR = 86_400, 3_600
WEIGHTS = [1000, 2000, 4000, 3000]
REG_WINDOW, EXPIRY = 3 * HOUR, 30 * DAY  # registration window: at least MAX_WINDOW (2 h) + 1 h
MARGIN = HOUR  # WorkerRewards.REGISTRATION_MARGIN
POT = 10**18 + 7  # not divisible: exercises rounding
A, B = keccak(text="root A"), keccak(text="root B")
NO_POINTS = [0, 0, 0, 0]


def deploy_rewards(project, owner, voting, token=ZERO_ADDRESS, weights=WEIGHTS):
    return owner.deploy(project.WorkerRewards, owner, voting, token, REG_WINDOW, EXPIRY, weights)


def vote(net, key: str, result: bytes, worker):
    """Votes in the event round about `key`, opening it on the first vote."""
    return net.voting.openAndVote(event_descriptor(key), result, sender=worker)


def vid(key: str) -> bytes:
    return descriptor_id(event_descriptor(key))


def goto(chain, timestamp: int) -> None:
    chain.pending_timestamp = timestamp
    chain.mine()


def epoch_end(rewards, epoch: int) -> int:
    return rewards.epochTimes(epoch)[1]


def assert_points_registered(receipt, epoch: int, worker, points: list[int]) -> None:
    """Exactly one PointsRegistered log (Ape cannot build a mock log with a struct argument)."""
    [log] = receipt.events
    assert log.event_name == "PointsRegistered"
    assert log.event_arguments == {"epoch": epoch, "worker": worker.address, "points": points}


def play_two_rounds(net) -> list[model.SettledRound]:
    """Round 0: 3 agree, w3 late and dissenting. Round 1: w2 misses it."""
    w = net.workers
    for worker, result in zip(w, [A, A, A, B]):
        vote(net, "hour 0", result, worker)
    for worker in (w[1], w[0], w[3]):
        vote(net, "hour 1", A, worker)
    return [
        model.SettledRound(seq=0, voted={0, 1, 2, 3}, early={0, 1}, agreed={0, 1, 2}),
        model.SettledRound(seq=1, voted={0, 1, 3}, early={0, 1}, agreed={0, 1, 3}),
    ]


def register_all(rewards, net, sender, epoch: int = 0) -> list[list[int]]:
    points = []
    for worker in net.workers:
        receipt = rewards.register(epoch, worker, 100, sender=sender)
        points.append(list(receipt.events[-1].points))
    return points
