"""Shared fixtures: role-named accounts and a factory for voting contracts."""

from dataclasses import dataclass

import pytest

# `--contract-coverage` (see tests/coverage): its hooks are this conftest's.
from tests.coverage.plugin import (  # noqa: F401
    pytest_addoption,
    pytest_configure,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

ZERO_ADDRESS = "0x" + "00" * 20
FALLBACKS = {"alert": 0, "plurality": 1, "failover": 2}
HOUR = 3600


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
) -> tuple:
    """The Config struct as a tuple, field by field."""
    if sealed and not reveal_duration:
        reveal_duration = HOUR
    return (
        threshold,
        sealed,
        vote_duration,
        reveal_duration,
        FALLBACKS[fallback],
        plurality_min_votes,
        speed_rank,
        failover,
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

    def create(threshold: str = "2/3", pool: list | None = None, **config) -> Network:
        m, n = parse_threshold(threshold)
        if pool is None:
            pool = workers[:n] if n <= len(workers) else workers + extra_workers(n - len(workers))
        voting = owner.deploy(project.WorkerVoting, owner, make_config(threshold=m, **config))
        for worker in pool:
            voting.addWorker(worker, sender=owner)
        return Network(voting=voting, workers=pool, threshold=m)

    return create
