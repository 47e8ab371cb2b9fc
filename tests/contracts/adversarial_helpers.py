"""Shared by the adversarial tests (test_adversarial_*.py): attacks of a minority of workers (and
of a careless owner) on rounds, played on the contract.

Each test plays one attack from the trust model and asserts that it no longer has its effect:
fewer than `threshold` workers can neither get a result recorded, nor fail, re-run or hand over a
round before the honest workers had their window, nor create a round that counts against others.
"""

from eth_utils import keccak

from tests.conftest import descriptor_id, event_descriptor

TRUE, BAD, OTHER = keccak(text="honest root"), keccak(text="invented root"), keccak(text="other")
VOTING, COMMITTING, REVEALING = 1, 2, 3
CONSENSUS, PLURALITY, FAILOVER_RESOLVED, FAILED, AWAITING = 4, 5, 6, 7, 8


def goto(chain, timestamp: int) -> None:
    chain.pending_timestamp = timestamp
    chain.mine()


def play(voting, workers, key: str, results: list) -> bytes:
    """Opens the event round about `key` with workers[0]'s vote; workers[i] vote results[i]."""
    descriptor = event_descriptor(key)
    voting.openAndVote(descriptor, results[0], sender=workers[0])
    voting_id = descriptor_id(descriptor)
    for worker, result in zip(workers[1:], results[1:]):
        voting.vote(voting_id, result, sender=worker)
    return voting_id
