"""RPC budget: an idle worker (interval trigger, 24 catch-up windows without data, default chain
settings) sends at most 0.2 requests/s to its node, counted by a proxy in front of anvil."""

import json
import signal
import time
import urllib.request

import pytest
from ape import chain

from scripts._rpc_proxy import RpcProxy
from tests.worker import localnet as ln
from tests.worker.natsutil import free_port

pytestmark = pytest.mark.anvil

BUDGET = 0.2  # requests/s per idle worker
COUNTED = 30.0  # seconds


def health(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())


def test_idle_worker__requests_below_budget_and_waiting_windows_cost_nothing(
    deploy, broker, tmp_path
):
    _, manifest = deploy(1, 1)
    ln.publish(broker.url, "grid.other", {"warm": "stream"})  # the stream exists
    port = free_port()
    with RpcProxy(chain.provider.uri) as proxy:
        config = ln.worker_config(tmp_path, "w1", "TEST::1", f"ethereum:local:{proxy.uri}",
                                  manifest, broker.url, {"kind": "interval"}, metrics_port=port,
                                  poll_interval=2.0)  # fmt: skip
        proc = ln.WorkerProcess("w1", config, tmp_path / "w1.log")
        proc.start()
        try:
            ln.wait_running([proc])
            report = ln.wait_for(lambda: (h := health(port))["components"].get("windows") and h,
                                 30, what="the windows component")  # fmt: skip
            time.sleep(4.0)  # the start-up pass is over
            before, calls_before = proxy.counts()
            started = time.monotonic()
            time.sleep(COUNTED)
            after, calls = proxy.counts()
            elapsed = time.monotonic() - started
        finally:
            proc.stop(signal.SIGKILL, timeout=5)
    rate = (after - before) / elapsed
    assert rate <= BUDGET, f"{rate:.3f} requests/s: {calls - calls_before}"
    # NOTE: 24 catch-up windows, 23 when the clock crossed into a new window during the test.
    assert report["components"]["windows"]["waiting"] >= 23
    assert calls["eth_call"] > 0  # the start-up checks went through the proxy
