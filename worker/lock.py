"""One process per account and per state directory.

Two `worker run` processes with one account would sign with the same nonces and split the broker's
messages between them (each sees half, and a round may miss its data); two with one state directory
would interleave their writes. `ProcessLock` takes an exclusive `flock` on a lock file for the life
of the process: in the state directory (`worker.lock`), and per chain and account in the lock
directory (`WORKER_LOCK_DIR`, default the system's temporary directory), so a second process on the
same machine is refused at start with the pid of the first. The kernel releases the lock when the
process ends, however it ends (kill -9 included), so a stale file never blocks a restart.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

from worker.chain import LOCAL_CHAIN_IDS
from worker.errors import LockedError

STATE_LOCK = "worker.lock"


class ProcessLock:
    """An exclusive lock held until `release` or the end of the process.

    Args:
        path: The lock file (created if missing).
        what: What it guards, for the error message ("state directory state/", "account 0x...").
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = Path(path), what
        self._fd: int | None = None

    def acquire(self) -> ProcessLock:
        """Takes the lock.

        Raises:
            LockedError: another process holds it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LockedError(
                self.what,
                f"another worker process (pid {holder}) runs with it, holding {self.path}",
                "one process per account and state directory: stop the other one first",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Releases the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def state_lock(directory: Path) -> ProcessLock:
    """The lock of a state directory."""
    return ProcessLock(Path(directory) / STATE_LOCK, f"state directory {directory}")


def account_lock(chain_id: int, address: str, network: str) -> ProcessLock:
    """The machine-wide lock of an account on a chain.

    A local development chain id (31337, 1337) is shared by every local node, so there the node
    (`network`, e.g. "ethereum:local:http://127.0.0.1:8545") is part of the key as well.
    """
    root = Path(os.environ.get("WORKER_LOCK_DIR") or tempfile.gettempdir())
    name = f"ewc-worker-{chain_id}-{address.lower()}"
    if chain_id in LOCAL_CHAIN_IDS:
        name += "-" + hashlib.sha256(network.encode()).hexdigest()[:12]
    return ProcessLock(root / f"{name}.lock", f"account {address} on chain id {chain_id}")
