"""Pieces of a local worker network: an anvil chain, a NATS JetStream broker, matching data,
worker configs and `worker run` processes. Used by the worker benchmark, the demo and the tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import yaml

ROOT = Path(__file__).resolve().parent.parent
STREAM, DATA_SUBJECT, EVENT_SUBJECT = "GRID", "grid.readings", "grid.settle"
HOUR = 3600
WORKFLOW_NAME, MATCHING_REF = "matching-test", "worker.workflows.matching:run"
NATS_HINT = "run tools/install-nats.sh (installs the Debian package nats-server)"
# Debian installs the server in /usr/sbin, which is not on every user's PATH.
EXTRA_DIRS = ("/usr/sbin", "/usr/local/sbin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_busy(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _binary(name: str, hint: str, extra: tuple[str, ...] = ()) -> str:
    path = shutil.which(name) or shutil.which(name, path=os.pathsep.join(extra))
    venv = Path(sys.executable).parent / name
    if path is None and venv.exists():
        path = str(venv)
    if path is None:
        raise RuntimeError(f"{name} is not installed (not on PATH); {hint}")
    return path


class _Process:
    """A child process with a log file, stopped with SIGTERM (or SIGKILL for a crash)."""

    log_path: Path
    _process: subprocess.Popen[bytes] | None = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _spawn(self, command: list[str]) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """Stops the process: SIGTERM (a clean shutdown) or, with `kill`, SIGKILL (a crash)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class NatsServer(_Process):
    """One nats-server process with JetStream, on 127.0.0.1, storing under `workdir`.

    Stopping and starting again keeps the port and the store, as a broker restart does.
    """

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.binary = _binary("nats-server", NATS_HINT, EXTRA_DIRS)
        self.port = port or free_port()
        self.store_dir = workdir / "jetstream"
        self.log_path = workdir / "nats-server.log"
        self.url = f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Starts the server and waits until it accepts clients with JetStream enabled."""
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._spawn([self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                     "-sd", str(self.store_dir)])  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited at start:\n{self.log_tail()}")
            if self._jetstream_ready():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nats-server not ready within {timeout} s:\n{self.log_tail()}")

    def restart(self, *, kill: bool = False) -> None:
        """Stops the server and starts it again on the same port with the same store."""
        self.stop(kill=kill)
        self.start()

    def _jetstream_ready(self) -> bool:
        """True when the server greets a client with an INFO line that announces JetStream."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                greeting = conn.makefile("rb").readline()
        except OSError:
            return False
        if not greeting.startswith(b"INFO "):
            return False
        return bool(json.loads(greeting[5:]).get("jetstream"))


class AnvilNode(_Process):
    """An anvil chain on 127.0.0.1 (auto-mining, or a block every `block_time` seconds), with
    anvil's default test accounts or those of `mnemonic`."""

    def __init__(self, workdir: Path, port: int | None = None, block_time: float | None = None,
                 accounts: int = 20, chain_id: int = 31337,
                 mnemonic: str | None = None) -> None:  # fmt: skip
        self.binary = _binary("anvil", "run `make setup` (links anvil into .venv/bin)")
        self.port = port or free_port()
        self.block_time, self.accounts, self.chain_id = block_time, accounts, chain_id
        self.mnemonic = mnemonic
        self.log_path = workdir / "anvil.log"
        self.uri = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self, timeout: float = 20.0) -> None:
        if self.running:
            return
        if port_busy(self.port):
            raise RuntimeError(
                f"port {self.port} is busy: stop what listens there, or pick another"
            )
        command = [self.binary, "--port", str(self.port), "--accounts", str(self.accounts),
                   "--chain-id", str(self.chain_id), "--hardfork", "london"]  # fmt: skip
        if self.block_time:
            command += ["--block-time", str(self.block_time)]
        if self.mnemonic:
            command += ["--mnemonic", self.mnemonic]
        self._spawn(command)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"anvil exited at start:\n{self.log_tail()}")
            if port_busy(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"anvil not ready within {timeout} s:\n{self.log_tail()}")


# -------------------------------------------------------------------------------------------------
# Data and workers
# -------------------------------------------------------------------------------------------------


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


async def publish_async(url: str, messages: list[tuple[str, bytes, dict | None]]) -> None:
    """Publishes (subject, body, headers) messages to the stream, created if needed."""
    import nats
    from nats.js.api import StorageType

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=STREAM, subjects=["grid.>"], storage=StorageType.FILE)
        for subject, body, headers in messages:
            await js.publish(subject, body, headers=headers)
    finally:
        await nc.close()


def ensure_stream(url: str) -> None:
    """Creates the stream of the local network's subjects (idempotent)."""
    asyncio.run(publish_async(url, []))


def publish(url: str, subject: str, payload: dict | bytes, msg_id: str | None = None) -> None:
    """Publishes one JSON message to the stream (created if needed)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Nats-Msg-Id": msg_id} if msg_id else None
    asyncio.run(publish_async(url, [(subject, body, headers)]))


def round_naming(workflow_name: str = WORKFLOW_NAME, ref: str = MATCHING_REF,
                 params: dict | None = None):  # fmt: skip
    """How workers running workflow `ref` as `workflow_name` name their rounds: a
    `worker.descriptor.RoundNaming` (`.event(key).voting_id`, `.window(start, end).voting_id`)."""
    from worker.descriptor import RoundNaming
    from worker.workflow import load_workflow

    workflow = load_workflow(ref)
    return RoundNaming.of(workflow_name, workflow.parse_params(params), workflow.types)


def worker_config(workdir: Path, name: str, account: str, network: str, manifest: Path,
                  nats_url: str, trigger: dict, metrics_port: int = 0, poll_interval: float = 0.2,
                  level: str = "INFO", workflow_name: str = WORKFLOW_NAME,
                  workflow_ref: str = MATCHING_REF) -> Path:  # fmt: skip
    """Writes the YAML config of worker `name` (Ape account `account`) and returns its path."""
    home = workdir / name
    home.mkdir(parents=True, exist_ok=True)
    config = {
        "chain": {"network": network, "manifest": str(manifest), "account": account,
                  "confirmations": 0, "poll_interval": poll_interval, "replace_after": 30},
        "source": {"kind": "nats", "name": "grid", "servers": [nats_url], "stream": STREAM,
                   "subject": DATA_SUBJECT, "durable": name},
        "trigger": trigger,
        "workflow": {"ref": workflow_ref, "name": workflow_name},
        "state": {"directory": str(home / "state")},
        "metrics": {"port": metrics_port},
        "logging": {"format": "human", "level": level},
    }  # fmt: skip
    path = home / "worker.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class WorkerProcess:
    """One `worker run` process with its config and log."""

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

    def rss_mb(self) -> float | None:
        """Resident memory of the process in MiB (Linux /proc), or None if it is not running."""
        if self.process is None or self.process.poll() is not None:
            return None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_running(procs: list[WorkerProcess], timeout: float = 120.0) -> None:
    """Waits until every worker logged that it runs.

    Raises:
        RuntimeError: a worker exited (with the end of its log), or `timeout` passed.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all("running (pool index" in p.output() for p in procs):
            return
        for p in procs:
            if p.process.poll() is not None:
                raise RuntimeError(f"worker {p.name} exited:\n{p.output()[-3000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"the workers did not start within {timeout:g} s")


def worker_cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Runs a `worker` command (`worker proof ...`, `worker verify ...`), capturing its output."""
    command = [sys.executable, "-m", "worker.cli", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def write_manifest(path: Path, chain_id: int, voting_address: str, rewards_address: str,
                   block: int = 0, network: str = "ethereum:local") -> Path:  # fmt: skip
    """A deployment manifest with the fields the worker reads."""
    contracts = {
        "WorkerVoting": {"address": voting_address, "block_number": block},
        "WorkerRewards": {"address": rewards_address, "block_number": block},
    }
    manifest = {"version": 1, "network": network, "chain_id": chain_id, "contracts": contracts}
    path.write_text(json.dumps(manifest, indent=2))
    return path
