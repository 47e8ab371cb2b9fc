"""End to end: a real Prometheus scrapes a `worker run` process on anvil whose balance is below
`chain.low_balance`; the WorkerLowBalance alert fires, and every metric the rules and the
dashboard name is on the worker's /metrics page."""

import json
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml
from ape import chain

from tests.monitoring.promql import RULES, exposed_metrics, named_metrics
from tests.worker import localnet as ln
from tests.worker.natsutil import free_port

pytestmark = pytest.mark.anvil


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read().decode()


@pytest.fixture
def prometheus(tmp_path):
    """Starts Prometheus scraping the worker at the port it is given; yields its URL."""
    started = []

    def start(worker_port: int) -> str:
        rules = tmp_path / "alerts.yml"
        shutil.copy(RULES, rules)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": "ewc-worker",
                                "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}]}],
        }  # fmt: skip
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [shutil.which("prometheus") or "prometheus",
             f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        ln.wait_for(lambda: _ready(url), 30, what="prometheus ready")
        return url

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def _ready(url: str) -> bool:
    try:
        return "Ready" in fetch(f"{url}/-/ready")
    except OSError:
        return False


def firing(url: str) -> dict:
    alerts = json.loads(fetch(f"{url}/api/v1/alerts"))["data"]["alerts"]
    return {a["labels"]["alertname"]: a for a in alerts if a["state"] == "firing"}


def test_prometheus__low_balance_alert_fires_for_a_running_worker(deploy, broker, tmp_path,
                                                                  prometheus):  # fmt: skip
    _, manifest = deploy(1, 1)
    port = free_port()
    config = ln.worker_config(tmp_path, "w1", "TEST::1", f"ethereum:local:{chain.provider.uri}",
                              manifest, broker.url, {"kind": "event", "subject": ln.EVENT_SUBJECT},
                              metrics_port=port)  # fmt: skip
    data = yaml.safe_load(config.read_text())
    balance = chain.provider.get_balance(chain.provider.web3.eth.accounts[1]) / 1e18
    data["chain"]["low_balance"] = balance * 2  # the account holds half of it
    config.write_text(yaml.safe_dump(data))
    proc = ln.WorkerProcess("w1", config, tmp_path / "w1.log")
    proc.start()
    try:
        ln.wait_running([proc], timeout=60)
        url = prometheus(port)
        started = time.monotonic()
        alerts = ln.wait_for(lambda: firing(url).get("WorkerLowBalance") and firing(url), 30,
                             what="WorkerLowBalance firing")  # fmt: skip
        print(
            f"\nWorkerLowBalance firing {time.monotonic() - started:.1f} s after Prometheus started"
        )
        alert = alerts["WorkerLowBalance"]
        assert alert["labels"]["job"] == "ewc-worker"
        assert alert["labels"]["instance"] == f"127.0.0.1:{port}"
        assert "WorkerDown" not in alerts and "WorkerNoRpcEndpoint" not in alerts
        query = json.loads(fetch(f"{url}/api/v1/query?query=worker_low_balance"))
        assert query["data"]["result"][0]["value"][1] == "1"

        exposed = exposed_metrics(fetch(f"http://127.0.0.1:{port}/metrics"))
        missing = sorted(named_metrics() - exposed)
        assert not missing, f"named in the rules or the dashboard, not on /metrics: {missing}"
    finally:
        assert proc.stop() == 0, proc.output()[-3000:]
