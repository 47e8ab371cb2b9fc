"""A local worker network for integration tests: contracts on the session's anvil, a NATS broker,
hourly matching data, and `worker run` processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats
import yaml
from nats.js.api import StorageType

ROOT = Path(__file__).resolve().parents[2]
STREAM, DATA_SUBJECT, EVENT_SUBJECT = "GRID", "grid.readings", "grid.settle"
HOUR = 3600


def previous_hour(now: float | None = None) -> int:
    """Start of the hour before the current one (UTC epoch seconds)."""
    return int((now or time.time()) // HOUR) * HOUR - HOUR


def hour_payload(hour: int, scale: int = 1) -> dict:
    """One hour of generation and consumption readings (a valid matching input)."""
    return {
        "generation": [
            {"site": "gen-solar", "hour": hour, "wh": 1_200_000 * scale},
            {"site": "gen-wind", "hour": hour, "wh": 800_000},
        ],
        "consumption": [
            {"site": "office", "hour": hour, "wh": 700_000},
            {"site": "factory", "hour": hour, "wh": 1_500_000},
        ],
    }


async def _publish(url: str, messages: list[tuple[str, bytes, dict | None]]) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=STREAM, subjects=["grid.>"], storage=StorageType.FILE)
        for subject, body, headers in messages:
            await js.publish(subject, body, headers=headers)
    finally:
        await nc.close()


def publish(url: str, subject: str, payload: dict | bytes, msg_id: str | None = None) -> None:
    """Publishes one JSON message to the stream (created if needed)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Nats-Msg-Id": msg_id} if msg_id else None
    asyncio.run(_publish(url, [(subject, body, headers)]))


def write_manifest(path: Path, chain_id: int, voting, rewards, block: int = 0) -> Path:
    """A deployment manifest with the fields the worker reads."""
    contracts = {
        "WorkerVoting": {"address": voting.address, "block_number": block},
        "WorkerRewards": {"address": rewards.address, "block_number": block},
    }
    manifest = {"version": 1, "network": "ethereum:local", "chain_id": chain_id,
                "contracts": contracts}  # fmt: skip
    path.write_text(json.dumps(manifest, indent=2))
    return path


@dataclass
class WorkerProcess:
    """One `worker run` process with its config, state directory and log."""

    name: str
    config: Path
    log: Path
    process: subprocess.Popen | None = None
    env: dict = field(default_factory=dict)

    def start(self) -> None:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        handle = self.log.open("ab")
        command = [sys.executable, "-m", "worker.cli", "run", "--config", str(self.config)]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle,
                                        stderr=subprocess.STDOUT)  # fmt: skip

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def worker_config(workdir: Path, name: str, account: int, network: str, manifest: Path,
                  nats_url: str, trigger: dict, metrics_port: int = 0,
                  poll_interval: float = 0.2) -> Path:  # fmt: skip
    """Writes the YAML config of worker `name` (test account `account`) and returns its path."""
    home = workdir / name
    home.mkdir(parents=True, exist_ok=True)
    config = {
        "chain": {"network": network, "manifest": str(manifest), "account": f"TEST::{account}",
                  "confirmations": 0, "poll_interval": poll_interval, "replace_after": 30},
        "source": {"kind": "nats", "name": "grid", "servers": [nats_url], "stream": STREAM,
                   "subject": DATA_SUBJECT, "durable": name},
        "trigger": trigger,
        "workflow": {"ref": "worker.workflows.matching:run", "name": "matching-test"},
        "state": {"directory": str(home / "state")},
        "metrics": {"port": metrics_port},
        "logging": {"format": "human", "level": "DEBUG"},
    }  # fmt: skip
    path = home / "worker.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Polls `predicate` until it returns a truthy value; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
