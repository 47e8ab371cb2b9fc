"""Integration: a `worker run` process with two RPC endpoints (TCP proxies in front of one anvil)
keeps voting on time when one freezes or dies mid-round, and refuses an endpoint of another chain
at start."""

import json
import time
import urllib.request
from urllib.parse import urlsplit

import pytest
import yaml
from ape import chain

from scripts._localnet import AnvilNode
from tests.worker import localnet as ln
from tests.worker.natsutil import free_port
from tests.worker.tcpproxy import TcpProxy

pytestmark = pytest.mark.anvil

EVENT_TRIGGER = {"kind": "event", "subject": ln.EVENT_SUBJECT}
RPC_TIMEOUT = 2.0


def with_endpoints(config_path, urls, **chain_fields):
    config = yaml.safe_load(config_path.read_text())
    config["chain"].update(network="ethereum:local", rpc=urls, rpc_timeout=RPC_TIMEOUT,
                           rpc_probe_interval=0.5, **chain_fields)  # fmt: skip
    config_path.write_text(yaml.safe_dump(config))
    return config_path


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.read().decode()


def settle_round(broker, voting, hour, key, during=None):
    """Publishes an hour of data and its settlement event, then calls `during` (the round is
    under way); returns (votingId, seconds to consensus)."""
    ln.publish(broker.url, ln.DATA_SUBJECT, ln.hour_payload(hour), msg_id=f"h{hour}")
    started = time.monotonic()
    event = {"key": key, "window_start": hour, "window_end": hour + ln.HOUR}
    ln.publish(broker.url, ln.EVENT_SUBJECT, event)
    if during is not None:
        during()
    vid = ln.NAMING.event(key).voting_id
    ln.wait_for(lambda: int(voting.roundState(vid).status) == 4, 30, what=f"consensus of {key}")
    return vid, time.monotonic() - started


def test_worker__votes_on_time_through_the_other_endpoint(deploy, broker, tmp_path):
    voting, manifest = deploy(1, 1)
    node_port = urlsplit(chain.provider.uri).port
    first, second = TcpProxy(node_port), TcpProxy(node_port)
    port = free_port()
    config = ln.worker_config(tmp_path, "w1", "TEST::1", "ethereum:local", manifest, broker.url,
                              EVENT_TRIGGER, metrics_port=port)  # fmt: skip
    with_endpoints(config, [first.url, second.url])
    proc = ln.WorkerProcess("w1", config, tmp_path / "w1.log")
    proc.start()
    try:
        ln.wait_running([proc], timeout=60)
        hour = ln.previous_hour()
        _, baseline = settle_round(broker, voting, hour - 3 * ln.HOUR, "before")
        assert second.seen("eth_call") == 0  # reads go to the first endpoint while it is fine

        # Mid-round, the node behind the first endpoint hangs.
        _, frozen = settle_round(broker, voting, hour - 2 * ln.HOUR, "frozen", first.freeze)
        assert frozen < baseline + 3 * RPC_TIMEOUT, (baseline, frozen, proc.output()[-2000:])
        assert second.seen("eth_sendRawTransaction") >= 1
        a, b = (f'endpoint="127.0.0.1:{p.port}"' for p in (first, second))
        metrics = get(port, "/metrics")
        assert f"worker_rpc_up{{{a}}} 0.0" in metrics and f"worker_rpc_up{{{b}}} 1.0" in metrics
        health = json.loads(get(port, "/health"))
        assert health["status"] == "degraded" and "127.0.0.1" in health["warnings"]["rpc"]
        assert health["build"]["voting"] == voting.address
        assert 'worker_build_info{chain_id="' in metrics

        first.thaw()  # the first one comes back in front, then dies mid-round
        ln.wait_for(lambda: f"worker_rpc_up{{{a}}} 1.0" in get(port, "/metrics"), 10,
                    what="the first endpoint up again")  # fmt: skip
        calls = second.seen("eth_call")
        _, killed = settle_round(broker, voting, hour - ln.HOUR, "killed", first.kill)
        assert killed < baseline + 3 * RPC_TIMEOUT, (baseline, killed)
        assert second.seen("eth_call") > calls
        print(f"\nconsensus: {baseline:.2f} s normal, {frozen:.2f} s with the first endpoint "
              f"frozen, {killed:.2f} s with it killed")  # fmt: skip
    finally:
        assert proc.stop() == 0, proc.output()[-3000:]
        first.kill()
        second.kill()


def test_worker__refuses_an_endpoint_of_another_chain_at_start(deploy, broker, tmp_path):
    _, manifest = deploy(1, 1)
    with AnvilNode(tmp_path / "other", chain_id=4242) as other:
        config = ln.worker_config(tmp_path, "w1", "TEST::1", "ethereum:local", manifest,
                                  broker.url, EVENT_TRIGGER)  # fmt: skip
        with_endpoints(config, [chain.provider.uri, other.uri])
        done = ln.worker_cli("run", "--config", str(config), timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "chain.rpc[1] 127.0.0.1:" in done.stderr
    assert "serves chain id 4242" in done.stderr and f"chain id {chain.chain_id}" in done.stderr
