"""Fixtures of the fault-injection suite: a real anvil with timed blocks (its own, so faults cannot
touch the session's chain), a real nats-server, contracts deployed through the node's JSON-RPC, and
`worker run` processes; faults come from outside (signals, node calls, bad data).

Every test module here is marked `anvil`, so `make test` runs the suite in its anvil pass.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from web3 import HTTPProvider, Web3

from scripts._localnet import AnvilNode, ensure_stream
from tests.conftest import EPOCH_LENGTH, MAX_WINDOW, ZERO_ADDRESS, make_config
from tests.worker import localnet as ln
from tests.worker.natsutil import NatsServer, free_port
from worker.chain import abi_document

DAY = 86_400


@dataclass
class Chain:
    """A deployment on a fault-suite anvil: web3, the contracts and the workers' addresses."""

    node: AnvilNode
    web3: Web3
    voting: object
    rewards: object
    manifest: Path
    workers: list[str]
    first_block: int

    @property
    def network(self) -> str:
        return f"ethereum:local:{self.node.uri}"

    def transact(self, call, sender: str | None = None) -> dict:
        tx_hash = call.transact({"from": sender or self.web3.eth.accounts[0]})
        return self.web3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)

    def status(self, vid: bytes) -> int:
        return int(self.voting.functions.roundState(vid).call()[0])

    def state(self, vid: bytes) -> dict:
        out = self.voting.functions.roundState(vid).call()
        names = [o["name"] for o in _outputs(self.voting, "roundState")]
        return dict(zip(names, out))

    def worker_receipts(self) -> list[dict]:
        """Receipts of every transaction a worker sent since the deployment."""
        found, senders = [], {w.lower() for w in self.workers}
        for number in range(self.first_block, self.web3.eth.block_number + 1):
            for tx in self.web3.eth.get_block(number, full_transactions=True)["transactions"]:
                if tx["from"].lower() in senders:
                    found.append(self.web3.eth.get_transaction_receipt(tx["hash"]))
        return found


def _outputs(contract, name: str) -> list[dict]:
    item = next(i for i in contract.abi if i.get("name") == name and i["type"] == "function")
    return item["outputs"][0]["components"] if item["outputs"][0]["type"] == "tuple" else []


def deploy(project, node: AnvilNode, workdir: Path, workers: int, threshold: int,
           **config) -> Chain:  # fmt: skip
    """Deploys WorkerVoting and WorkerRewards from anvil's account 0 and enrols accounts 1..n."""
    web3 = Web3(HTTPProvider(node.uri, request_kwargs={"timeout": 30}))
    owner = web3.eth.accounts[0]

    def create(name: str, *args):
        abi = [] if name == "WorkerPoolAdmin" else abi_document(name)["abi"]  # the module: no calls
        code = getattr(project, name).contract_type.deployment_bytecode.bytecode
        receipt = _wait(web3, web3.eth.contract(abi=abi, bytecode=code).constructor(*args)
                        .transact({"from": owner}))  # fmt: skip
        return web3.eth.contract(address=receipt["contractAddress"], abi=abi), receipt

    settings = make_config(threshold=threshold, **config)
    module, _ = create("WorkerPoolAdmin")
    voting, receipt = create("WorkerVoting", owner, settings, EPOCH_LENGTH, MAX_WINDOW,
                             module.address)  # fmt: skip
    rewards, _ = create("WorkerRewards", owner, voting.address, ZERO_ADDRESS, MAX_WINDOW + 3600,
                        30 * DAY, [2500, 2500, 2500, 2500])  # fmt: skip
    addresses = web3.eth.accounts[1 : workers + 1]
    hashes = [voting.functions.addWorker(a).transact({"from": owner}) for a in addresses]
    for tx_hash in hashes:
        _wait(web3, tx_hash)
    block = receipt["blockNumber"]
    manifest = ln._write_manifest(workdir / "manifest.json", web3.eth.chain_id, voting.address,
                                  rewards.address, block)  # fmt: skip
    return Chain(node, web3, voting, rewards, manifest, list(addresses), block)


def _wait(web3: Web3, tx_hash) -> dict:
    receipt = web3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)
    assert receipt["status"] == 1, receipt
    return receipt


@pytest.fixture
def anvil(tmp_path) -> Iterator:
    """Starts anvils: `anvil(block_time=1)`; all are stopped (and resumed first) at the end."""
    started = []

    def start(block_time: float = 1, port: int | None = None) -> AnvilNode:
        node = AnvilNode(tmp_path / f"anvil{len(started)}", port=port, block_time=block_time)
        node.start()
        started.append(node)
        return node

    yield start
    for node in started:
        if node.pid is not None:
            with contextlib.suppress(Exception):
                node._process.send_signal(signal.SIGCONT)
        node.stop(kill=True)


@pytest.fixture
def broker(tmp_path) -> Iterator[NatsServer]:
    with NatsServer(tmp_path / "nats") as server:
        ensure_stream(server.url)
        yield server


@pytest.fixture
def spawn(tmp_path) -> Iterator:
    """Starts `worker run` processes (killed at the end): `spawn(chain, name, account, ...)`."""
    procs: list[ln.WorkerProcess] = []

    def start(chain: Chain, name: str, account: int, broker: NatsServer | None = None,
              trigger: dict | None = None, chain_options: dict | None = None,
              source: dict | None = None, state: Path | None = None):  # fmt: skip
        port = free_port()
        path = ln.worker_config(tmp_path, name, f"TEST::{account}", chain.network, chain.manifest,
                                broker.url if broker else "nats://127.0.0.1:1",
                                trigger or {"kind": "event", "subject": ln.EVENT_SUBJECT},
                                metrics_port=port, poll_interval=0.3)  # fmt: skip
        config = yaml.safe_load(path.read_text())
        config["chain"].update(chain_options or {})
        if source is not None:
            config["source"] = source
        if state is not None:
            config["state"]["directory"] = str(state)
        path.write_text(yaml.safe_dump(config))
        proc = ln.WorkerProcess(name, path, tmp_path / f"{name}.log")
        proc.port = port
        proc.start()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop(signal.SIGKILL, timeout=5)


def running(proc: ln.WorkerProcess, timeout: float = 90) -> None:
    ln.wait_for(lambda: "running (pool index" in proc.output() or proc.process.poll() is not None,
                timeout, what=f"{proc.name} to start")  # fmt: skip
    assert proc.process.poll() is None, proc.output()[-3000:]


def fetch(proc: ln.WorkerProcess, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{proc.port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def metric(proc: ln.WorkerProcess, name: str, **labels: str) -> float:
    """One sample of the worker's /metrics (0 when absent or unreachable)."""
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{inner}}} " if labels else f"{name} "
    for line in fetch(proc, "/metrics")[1].splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


def health(proc: ln.WorkerProcess) -> tuple[int, dict]:
    status, body = fetch(proc, "/health")
    return status, json.loads(body) if body else {}


def exit_code(proc: ln.WorkerProcess, timeout: float) -> int:
    """Waits for the process to end on its own; fails the test after `timeout` seconds."""
    try:
        return proc.process.wait(timeout=timeout)
    except Exception as exc:
        raise AssertionError(f"{proc.name} still runs after {timeout} s:\n"
                             f"{proc.output()[-3000:]}") from exc  # fmt: skip


class BodyServer:
    """An HTTP data API that serves whatever body is set (`body`), bad ones included."""

    def __init__(self) -> None:
        self.body = b"{}"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = server.body
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/readings"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def data_api() -> Iterator[BodyServer]:
    server = BodyServer()
    yield server
    server.close()


def settle(broker, hour: int, key: str) -> bytes:
    """Publishes the settlement event `key` for the hour from `hour`; returns its round's id."""
    ln.publish(broker.url, ln.EVENT_SUBJECT,
               {"key": key, "window_start": hour, "window_end": hour + ln.HOUR})  # fmt: skip
    return ln.round_naming("matching-test").event(key).voting_id


def wait_until(predicate, timeout: float, what: str):
    return ln.wait_for(predicate, timeout, interval=0.2, what=what)


__all__ = ["Chain", "deploy", "exit_code", "fetch", "health", "metric", "running", "settle",
           "time"]  # fmt: skip
