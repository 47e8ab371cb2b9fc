"""Fixtures of the worker integration tests: a broker, a deployed network, worker processes; and of
the metrics and health tests: a clock moved by hand, `Metrics`, `Health` and reading one sample."""

import signal
import time

import pytest
from ape import chain
from prometheus_client.parser import text_string_to_metric_families

from scripts._voting import deploy_voting
from tests.conftest import EPOCH_LENGTH, MAX_WINDOW, ZERO_ADDRESS, make_config
from tests.worker import localnet as ln
from tests.worker.natsutil import NatsServer
from worker.health import Health
from worker.metrics import Metrics

REGISTRATION_WINDOW = MAX_WINDOW + 3600  # must be longer than the voting contract's maxWindow
CLAIM_EXPIRY = 30 * 86_400


@pytest.fixture
def broker(tmp_path):
    """A nats-server with JetStream."""
    with NatsServer(tmp_path / "nats") as server:
        yield server


@pytest.fixture
def deploy(project, owner, accounts, tmp_path):
    """Deploys voting and rewards, enrols test accounts 1..n and writes a manifest; returns
    (voting, manifest)."""

    def create(n: int, threshold: int, **config):
        settings = make_config(threshold=threshold, **config)
        voting = deploy_voting(owner, settings, EPOCH_LENGTH, MAX_WINDOW)
        for i in range(1, n + 1):
            voting.addWorker(accounts[i], sender=owner)
        rewards = owner.deploy(project.WorkerRewards, owner, voting, ZERO_ADDRESS,
                               REGISTRATION_WINDOW, CLAIM_EXPIRY, [2500] * 4)  # fmt: skip
        manifest = ln.write_manifest(tmp_path / "manifest.json", chain.chain_id, voting, rewards)
        # NOTE: the session's chain clock falls behind wall time when earlier tests' snapshots are
        # reverted; the workers' windows follow wall time and open only once ended on chain.
        wall = int(time.time()) + 1
        if chain.pending_timestamp < wall:
            chain.pending_timestamp = wall
            chain.mine()
        return voting, manifest

    return create


@pytest.fixture
def spawn_workers(tmp_path):
    """Starts `worker run` processes for test accounts first..first+n-1; kills them at the end."""
    started = []

    def spawn(manifest, broker, n: int, trigger: dict, first: int = 1, **kwargs):
        network = f"ethereum:local:{chain.provider.uri}"
        for i in range(first, first + n):
            config = ln.worker_config(tmp_path, f"w{i}", f"TEST::{i}", network, manifest,
                                      broker.url, trigger, **kwargs)  # fmt: skip
            process = ln.WorkerProcess(f"w{i}", config, tmp_path / f"w{i}.log")
            process.start()
            started.append(process)
        return started[-n:]

    yield spawn
    for process in started:
        process.stop(signal.SIGKILL, timeout=5)


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def metrics():
    return Metrics()


@pytest.fixture
def health(clock):
    return Health(clock=clock)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text `text`."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    raise AssertionError(f"no sample {name}{labels}")
