"""The local worker network pieces of `scripts._localnet` for integration tests, plus `wait_for`."""

from __future__ import annotations

import time

from scripts._localnet import (  # noqa: F401  (re-exported for the tests)
    DATA_SUBJECT,
    EVENT_SUBJECT,
    HOUR,
    ROOT,
    STREAM,
    WorkerProcess,
    hour_payload,
    previous_hour,
    publish,
    round_naming,
    wait_running,
    worker_cli,
    worker_config,
)
from scripts._localnet import write_manifest as _write_manifest

NAMING = round_naming()  # how the workers of these tests name their rounds


def write_manifest(path, chain_id: int, voting, rewards, block: int = 0):
    """A deployment manifest for deployed `voting` and `rewards` contracts."""
    return _write_manifest(path, chain_id, voting.address, rewards.address, block)


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Polls `predicate` until it returns a truthy value; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
