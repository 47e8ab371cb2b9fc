"""A real nats-server with JetStream for tests: free loopback port, temporary store, start/stop."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import pytest

INSTALL_HINT = "run tools/install-nats.sh (installs the Debian package nats-server)"
# Debian installs the server in /usr/sbin, which is not on every user's PATH.
EXTRA_DIRS = ("/usr/sbin", "/usr/local/sbin")


def nats_server_binary() -> str:
    """Path of the nats-server executable; fails the calling test when it is not installed."""
    path = shutil.which("nats-server") or shutil.which(
        "nats-server", path=os.pathsep.join(EXTRA_DIRS)
    )
    if path is None:
        pytest.fail(f"nats-server is not installed (not on PATH); {INSTALL_HINT}", pytrace=False)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NatsServer:
    """One nats-server process with JetStream, on 127.0.0.1, storing under `workdir`.

    Stopping and starting again keeps the port and the store, as a broker restart does.
    """

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.binary = nats_server_binary()
        self.port = port or free_port()
        self.store_dir = workdir / "jetstream"
        self.log_path = workdir / "nats-server.log"
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Starts the server and waits until it accepts clients with JetStream enabled."""
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        command = [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port)]
        command += ["-sd", str(self.store_dir)]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited at start:\n{self.log_tail()}")
            if self._jetstream_ready():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nats-server not ready within {timeout} s:\n{self.log_tail()}")

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """Stops the server: SIGTERM (a clean shutdown) or, with `kill`, SIGKILL (a crash)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def restart(self, *, kill: bool = False) -> None:
        """Stops the server and starts it again on the same port with the same store."""
        self.stop(kill=kill)
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

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
