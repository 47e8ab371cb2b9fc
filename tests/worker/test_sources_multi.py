"""Two sources feeding one round: production from an HTTP API fetched by window (the example
server of examples/sources), consumption from a NATS JetStream subject; a real nats-server, a
real anvil and a `worker run` process."""

import asyncio
import json
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml
from ape import chain

from scripts._localnet import ensure_stream
from tests.worker import localnet as ln
from tests.worker.natsutil import free_port
from worker.sources import HttpSource
from worker.state import StateStore
from worker.workflow import output_root, run_workflow

CFE, NAME = "worker.workflows.cfe:run", "cfe-two-sources"
TIERS = [{"name": "zone", "scope": "zone"}, {"name": "cwe", "scope": "area"}]
PARAMS = {"zones": ["DE-LU", "NL"], "areas": {"cwe": ["DE-LU", "NL"]}, "tiers": TIERS}
METER_SUBJECT = "grid.meters"


def hour_of(hour: int) -> tuple[dict, dict]:
    """Production (for the registry API) and consumption (for the broker) of one hour."""
    span = {"start": hour, "end": hour + 3600}
    production = {
        "production": [
            {"device": "de-wind", "zone": "DE-LU", "source": "wind", "wh": 900, **span},
            {"device": "nl-solar", "zone": "NL", "source": "solar", "wh": 100, **span},
        ]
    }
    consumption = {"consumption": [
        {"consumer": "de-office", "zone": "DE-LU", "wh": 500, **span},
        {"consumer": "nl-home", "zone": "NL", "wh": 700, **span}]}  # fmt: skip
    return production, consumption


@pytest.fixture
def registry(tmp_path):
    """The example HTTP server serving production readings; yields its base URL."""
    hour = ln.previous_hour()
    earlier, _ = hour_of(hour - 3600)
    production, _ = hour_of(hour)
    data = tmp_path / "production.json"
    data.write_text(json.dumps({"production": earlier["production"] + production["production"]}))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "examples/sources/http_server.py", "--port", str(port),
         "--serve", f"production={data}"],
        cwd=ln.ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert "serving production" in server.stdout.readline()
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


def test_http_source__window_url_fetches_each_waiting_window_once(registry):
    hour = ln.previous_hour()
    waiting = [(hour, hour + 3600), (hour - 3600, hour), (hour + 3600, hour + 7200)]
    source = HttpSource(None, name="registry", window_url=registry + "/production?start={start}"
                        "&end={end}", windows=lambda: waiting, interval=0.05)  # fmt: skip
    stored = []

    async def sink(batch):
        stored.append(batch)

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(sink, stop))
        await asyncio.sleep(0.6)  # several polls
        stop.set()
        await task

    asyncio.run(main())
    spans = [(b.payload["production"][0]["start"], b.source) for b in stored]
    assert spans == [(hour, "registry"), (hour - 3600, "registry")]  # the third has no data: 404
    assert source.stats.unchanged + source.stats.not_modified > 0  # asked again, not delivered
    assert source.stats.no_data > 0 and source.stats.errors == 0  # a 404: no data yet


@pytest.mark.anvil
def test_worker__round_waits_for_both_sources_then_votes_their_root(deploy, broker, registry,
                                                                     tmp_path):  # fmt: skip
    voting, manifest = deploy(1, 1)
    hour = ln.previous_hour()
    production, consumption = hour_of(hour)
    ensure_stream(broker.url)
    port = free_port()
    config = {
        "chain": {"network": f"ethereum:local:{chain.provider.uri}", "manifest": str(manifest),
                  "account": "TEST::1", "confirmations": 0, "poll_interval": 0.2},
        "sources": [
            {"kind": "http", "name": "registry", "delivers": ["production"], "poll_interval": 0.3,
             "window_url": registry + "/production?start={start}&end={end}"},
            {"kind": "nats", "name": "meters", "delivers": ["consumption"],
             "servers": [broker.url], "stream": ln.STREAM, "subject": METER_SUBJECT,
             "durable": "w1-meters"},
        ],
        "trigger": {"kind": "interval", "period": 3600, "lag": 0, "catch_up": 1},
        "workflow": {"ref": CFE, "name": NAME, "params": PARAMS},
        "state": {"directory": str(tmp_path / "state")},
        "metrics": {"port": port},
    }  # fmt: skip
    path = tmp_path / "worker.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = ln.WorkerProcess("w1", path, tmp_path / "w1.log")
    proc.start()
    vid = ln.round_naming(NAME, CFE, PARAMS).window(hour, hour + 3600).voting_id

    def stored_sources():
        with StateStore(tmp_path / "state") as store:
            return sorted(i["source"] for i in store.inputs_for_window(hour, hour + 3600))

    try:
        # The registry's hour arrives by its window URL; the round waits for the meters.
        ln.wait_for(lambda: stored_sources() == ["registry"], 60, what="the registry's hour")
        time.sleep(1.5)  # several chain ticks
        assert int(voting.roundState(vid).status) == 0, proc.output()  # not opened: incomplete
        assert "waits for source(s) meters" in proc.output()
        ln.publish(broker.url, METER_SUBJECT, consumption, msg_id=f"meters-{hour}")
        ln.wait_for(lambda: int(voting.roundState(vid).status) == 4, 60, what="consensus")
        expected = output_root(run_workflow(CFE, [production, consumption], PARAMS))
        assert "0x" + bytes(voting.resultOf(vid)).hex() == expected
        assert stored_sources() == ["meters", "registry"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            health = json.loads(answer.read())
        assert {"source:meters", "source:registry"} <= set(health["components"])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            metrics = answer.read().decode()
        assert 'worker_source_batches_total{source="meters"} 1.0' in metrics
        assert 'worker_source_up{source="registry"} 1.0' in metrics
    finally:
        code = proc.stop()
    assert code == 0, proc.output()
