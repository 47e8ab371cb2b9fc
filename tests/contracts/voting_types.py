"""Values of the WorkerVoting model (voting_model.py) and its stateful test: statuses, fallback
policies, the `Revert` a refused action raises, the configuration, workers, rounds and the hashes
(chain link, descriptor id) as the contract computes them."""

from dataclasses import dataclass, field
from enum import IntEnum

from eth_abi import encode
from eth_utils import keccak

MAX_WORKERS = 64
VOTE_DURATION, REVEAL_DURATION, FAILOVER_TIMEOUT = 3600, 1800, 5400
CHAIN_LINK_TYPES = ["bytes32", "uint32", "bytes32", "bytes32", "uint8", "uint8", "uint8"]
ZERO = bytes(32)


class Status(IntEnum):
    NONE = 0
    VOTING = 1
    COMMITTING = 2
    REVEALING = 3
    CONSENSUS = 4
    PLURALITY = 5
    FAILOVER_RESOLVED = 6
    FAILED = 7
    AWAITING_FAILOVER = 8


RECORDED = (Status.CONSENSUS, Status.PLURALITY, Status.FAILOVER_RESOLVED)
OPEN = (Status.VOTING, Status.COMMITTING, Status.REVEALING)


class Fallback(IntEnum):
    ALERT = 0
    PLURALITY = 1
    FAILOVER = 2


class Revert(Exception):
    """The contract must revert with custom error `name` and these inputs."""

    def __init__(self, name: str, **inputs):
        super().__init__(f"{name}{inputs}")
        self.name = name
        self.inputs = inputs


@dataclass(frozen=True)
class Config:
    threshold: int
    sealed: bool
    fallback: Fallback
    plurality_min_votes: int
    speed_rank: int
    failover: str | None
    vote_duration: int = VOTE_DURATION

    @property
    def reveal_duration(self) -> int:
        return REVEAL_DURATION if self.sealed else 0

    @property
    def failover_timeout(self) -> int:
        return FAILOVER_TIMEOUT if self.fallback == Fallback.FAILOVER else 0


@dataclass
class Worker:
    index: int
    joined_seq: int  # rounds opened when it joined
    joined_index: int  # chain length when it joined
    active: bool = True
    left_seq: int = 0
    late: int = 0


def mask(indices) -> int:
    return sum(1 << i for i in set(indices))


def chain_link(head: bytes, index: int, entry: tuple) -> bytes:
    """keccak256(abi.encode(head, uint32 index, votingId, result, attempt, votes, uint8 kind))."""
    return keccak(encode(CHAIN_LINK_TYPES, [head, index, *entry]))


def descriptor_id(descriptor: tuple) -> bytes:
    return keccak(encode(["(bytes32,uint64,uint64,bytes32,bytes32)"], [descriptor]))


@dataclass
class Round:
    voting_id: bytes
    seq: int
    threshold: int
    eligible: int
    speed_rank: int
    status: Status
    deadline: int = 0  # round clock; Consensus: block time; 0: waiting for the quorum
    attempt: int = 1
    quorum: bool = False  # attempt 1 reached its participation quorum
    votes: dict = field(default_factory=dict)  # pool index -> result (sealed mode: revealed)
    committed: set = field(default_factory=set)  # pool indices that committed in this attempt
    commitments: dict = field(default_factory=dict)  # worker -> (result, salt, attempt)
    early: int = 0
    leader: bytes | None = None
    leader_votes: int = 0
    tied: bool = False

    def tally(self, result: bytes) -> int:
        return sum(vote == result for vote in self.votes.values())
