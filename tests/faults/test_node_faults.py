"""The node misbehaves: frozen (SIGSTOP), reset (restarted empty), the worker removed, the account
drained, a second process on the same account. Each ends in the state the operator guide
promises: exit code, one log line, /health, metrics, and votes on chain."""

import signal
import time

import pytest

from tests.faults.conftest import deploy, exit_code, health, metric, running, settle, wait_until
from tests.worker import localnet as ln

pytestmark = pytest.mark.anvil


def test_frozen_node__health_503_and_sigterm_stops_within_10_s(
    project, anvil, broker, spawn, tmp_path
):
    node = anvil(block_time=1)
    chain = deploy(project, node, tmp_path, workers=1, threshold=1)
    proc = spawn(chain, "w1", 1, broker, chain_options={"rpc_timeout": 1})
    running(proc)
    wait_until(lambda: health(proc)[0] == 200, 30, "healthy")
    node._process.send_signal(signal.SIGSTOP)  # TCP still accepts; nothing answers
    try:
        _, report = wait_until(lambda: (h := health(proc))[0] == 503
                               and h[1]["components"]["chain"].get("problem") and h, 60,
                               "unhealthy while the node is frozen, saying why")  # fmt: skip
        assert "node unavailable" in report["components"]["chain"]["problem"]
        started = time.monotonic()
        proc.process.send_signal(signal.SIGTERM)
        assert exit_code(proc, 10) == 0
        assert time.monotonic() - started < 10
    finally:
        node._process.send_signal(signal.SIGCONT)


def test_removed_worker_exits_4_and_reset_chain_exits_3(project, anvil, broker, spawn, tmp_path):
    node = anvil(block_time=1)
    chain = deploy(project, node, tmp_path, workers=2, threshold=1)
    w1, w2 = (spawn(chain, f"w{i}", i, broker) for i in (1, 2))
    running(w1)
    running(w2)
    chain.transact(chain.voting.functions.removeWorker(chain.workers[0]))
    assert exit_code(w1, 30) == 4
    errors = [line for line in w1.output().splitlines() if " ERROR " in line]
    assert len(errors) == 1, errors
    assert "was removed from the pool of WorkerVoting" in errors[0]
    assert "stopping (exit code 4)" in errors[0]

    port = node.port
    node.stop(kill=True)  # the chain is reset: restarted empty on the same port
    anvil(block_time=1, port=port)
    assert exit_code(w2, 60) == 3
    errors = [line for line in w2.output().splitlines() if " ERROR " in line]
    assert len(errors) == 1, errors
    assert "no contract code on chain id 31337 (redeploy?): stopping (exit code 3)" in errors[0]
    assert "Traceback" not in w2.output()


def test_second_process_on_one_account_refused_with_exit_code_5(
    project, anvil, broker, spawn, tmp_path
):
    chain = deploy(project, anvil(block_time=1), tmp_path, workers=1, threshold=1)
    first = spawn(chain, "w1", 1, broker)
    running(first)
    other_state = spawn(chain, "w1-copy", 1, broker)  # same account, its own state directory
    same_state = spawn(chain, "w1-same", 1, broker, state=tmp_path / "w1" / "state")
    for proc, what in ((other_state, "account"), (same_state, "state directory")):
        assert exit_code(proc, 60) == 5, proc.output()[-2000:]
        assert f"pid {first.process.pid}" in proc.output()
        assert what in proc.output()
    assert first.process.poll() is None
    hour = ln.previous_hour()
    ln.publish(broker.url, ln.DATA_SUBJECT, ln.hour_payload(hour), msg_id="h")
    vid = settle(broker, hour, f"one-{hour}")
    wait_until(lambda: chain.status(vid) == 4, 60, "the first worker still votes")


def test_drained_account__refused_not_sent_degraded_then_votes_after_top_up(
    project, anvil, broker, spawn, tmp_path
):
    chain = deploy(project, anvil(block_time=1), tmp_path, workers=1, threshold=1)
    address = chain.workers[0]
    balance = chain.web3.eth.get_balance(address)
    proc = spawn(chain, "w1", 1, broker)
    running(proc)
    chain.web3.provider.make_request("anvil_setBalance", [address, hex(10**12)])
    hour = ln.previous_hour()
    ln.publish(broker.url, ln.DATA_SUBJECT, ln.hour_payload(hour), msg_id="h")
    vid = settle(broker, hour, f"drained-{hour}")
    wait_until(lambda: metric(proc, "worker_tx_refused_total", reason="funds") >= 1, 60,
               "a refusal for funds")  # fmt: skip
    status, report = wait_until(lambda: (h := health(proc))[1].get("status") == "degraded" and h,
                                30, "health degraded")  # fmt: skip
    assert status == 200 and "below chain.low_balance" in report["warnings"]["balance"]
    time.sleep(3)  # a few ticks: backoff, not a new signature per tick
    assert metric(proc, "worker_tx_refused_total", reason="funds") <= 3
    assert metric(proc, "worker_votes_sent_total", kind="vote") == 0
    assert "vote sent" not in proc.output()
    chain.web3.provider.make_request("anvil_setBalance", [address, hex(balance)])
    wait_until(lambda: chain.status(vid) == 4, 90, "consensus after the top-up")
    wait_until(lambda: health(proc)[1].get("status") == "ok", 60, "health ok again")
    assert proc.stop(signal.SIGTERM) == 0
