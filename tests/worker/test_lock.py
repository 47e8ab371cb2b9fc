"""One process per account and state directory: a second one is refused with the first's pid."""

import os
import signal
import subprocess
import sys
import time

import pytest

from worker.errors import EXIT_LOCKED, LockedError
from worker.lock import ProcessLock, account_lock, state_lock

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_state_lock__second_holder_refused_until_released(tmp_path):
    first = state_lock(tmp_path).acquire()
    with pytest.raises(LockedError) as raised:
        state_lock(tmp_path).acquire()
    assert raised.value.exit_code == EXIT_LOCKED == 5
    assert str(raised.value) == (
        f"state directory {tmp_path}: another worker process (pid {os.getpid()}) runs with it, "
        f"holding {tmp_path / 'worker.lock'} (one process per account and state directory: "
        "stop the other one first)"
    )
    first.release()
    state_lock(tmp_path).acquire().release()


def test_account_lock__one_file_per_chain_and_account_local_chains_per_node(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKER_LOCK_DIR", str(tmp_path))
    volta = account_lock(73799, ADDRESS, "energyweb:volta:node")
    assert volta.path == account_lock(73799, ADDRESS.lower(), "energyweb:volta:https://x").path
    a = account_lock(31337, ADDRESS, "ethereum:local:http://127.0.0.1:8545")
    b = account_lock(31337, ADDRESS, "ethereum:local:http://127.0.0.1:9545")
    assert a.path != b.path
    a.acquire()
    b.acquire()
    with pytest.raises(LockedError, match=f"account {ADDRESS} on chain id 31337"):
        account_lock(31337, ADDRESS, "ethereum:local:http://127.0.0.1:8545").acquire()


def test_lock__released_when_its_process_is_killed(tmp_path):
    path = tmp_path / "held.lock"
    code = (
        "import sys, time; from worker.lock import ProcessLock; "
        f"ProcessLock({str(path)!r}, 'x').acquire(); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(LockedError, match=f"pid {holder.pid}"):
            ProcessLock(path, "x").acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    deadline = time.monotonic() + 5
    while True:
        try:
            ProcessLock(path, "x").acquire().release()
            break
        except LockedError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
