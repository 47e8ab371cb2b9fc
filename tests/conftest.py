"""Shared fixtures: role-named accounts, a factory for voting contracts, round descriptors."""

from dataclasses import dataclass

import pytest
from eth_abi import encode
from eth_utils import keccak

# `--contract-coverage` (see tests/coverage): its hooks are this conftest's.
from scripts._voting import deploy_voting
from tests.coverage.plugin import (  # noqa: F401
    pytest_addoption,
    pytest_configure,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

ZERO_ADDRESS = "0x" + "00" * 20
FALLBACKS = {"alert": 0, "plurality": 1, "failover": 2}
HOUR = 3600
DAY = 24 * HOUR
EPOCH_LENGTH = DAY  # voting contracts of the tests: one-day epochs ...
MAX_WINDOW = 2 * HOUR  # ... and vote/reveal windows of at most two hours
FAILOVER_TIMEOUT = 6 * HOUR
SCHEDULE = keccak(text="tests:schedule")
ENCODING = keccak(text="tests:encoding")
DESCRIPTOR_TYPES = "(bytes32,uint64,uint64,bytes32,bytes32)"


def event_descriptor(key: str, schedule: bytes = SCHEDULE, encoding: bytes = ENCODING) -> tuple:
    """The Descriptor of an event round about `key` (a contract can open it at any time)."""
    return (schedule, 0, 0, keccak(text=key), encoding)


def window_descriptor(start: int, end: int, schedule: bytes = SCHEDULE) -> tuple:
    """The Descriptor of a window round about [start, end) (it opens once `end` has passed)."""
    return (schedule, start, end, b"\x00" * 32, ENCODING)


def descriptor_id(descriptor: tuple) -> bytes:
    """votingId = keccak256(abi.encode(descriptor)), as `WorkerVoting.descriptorId` computes it."""
    return keccak(encode([DESCRIPTOR_TYPES], [descriptor]))


@dataclass(frozen=True)
class Network:
    """A deployed voting contract with its enrolled workers."""

    voting: object
    workers: list
    threshold: int


def parse_threshold(text: str) -> tuple[int, int]:
    """'4/7' -> (4, 7): threshold m of n workers."""
    m, n = (int(part) for part in text.split("/"))
    return m, n


def make_config(
    threshold: int = 0,
    sealed: bool = False,
    vote_duration: int = HOUR,
    reveal_duration: int = 0,
    fallback: str = "alert",
    plurality_min_votes: int = 0,
    speed_rank: int = 3,
    failover: str = ZERO_ADDRESS,
    failover_timeout: int | None = None,
) -> tuple:
    """The Config struct as a tuple, field by field."""
    if sealed and not reveal_duration:
        reveal_duration = HOUR
    if failover_timeout is None:
        failover_timeout = FAILOVER_TIMEOUT if fallback == "failover" else 0
    return (
        threshold,
        sealed,
        vote_duration,
        reveal_duration,
        FALLBACKS[fallback],
        plurality_min_votes,
        speed_rank,
        failover,
        failover_timeout,
    )


@pytest.fixture(scope="session")
def owner(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def workers(accounts):
    return list(accounts[1:10])


@pytest.fixture(scope="session")
def outsider(accounts):
    return accounts[10]


@pytest.fixture(scope="session")
def failover_account(accounts):
    return accounts[11]


@pytest.fixture(scope="session")
def extra_workers(accounts):
    """Funded test accounts beyond the named ones, for large pools (ape-config has 80)."""

    def get(count: int) -> list:
        return list(accounts[12 : 12 + count])

    return get


@pytest.fixture(scope="session")
def create_voting(project, owner, workers, extra_workers):
    """Deploys WorkerVoting with n workers enrolled and threshold m (`threshold="m/n"`)."""

    def create(
        threshold: str = "2/3",
        pool: list | None = None,
        epoch_length: int = EPOCH_LENGTH,
        max_window: int = MAX_WINDOW,
        **config,
    ) -> Network:
        m, n = parse_threshold(threshold)
        if pool is None:
            pool = workers[:n] if n <= len(workers) else workers + extra_workers(n - len(workers))
        settings = make_config(threshold=m, **config)
        voting = deploy_voting(owner, settings, epoch_length, max_window)
        for worker in pool:
            voting.addWorker(worker, sender=owner)
        return Network(voting=voting, workers=pool, threshold=m)

    return create
