"""Integration: `worker run` processes on a real anvil and a real nats-server reach consensus,
survive `kill -9` without double-voting, and report bad input without crashing."""

import json
import signal
import urllib.request

import pytest
import yaml
from ape import chain

from tests.worker import localnet as ln
from tests.worker.natsutil import free_port
from worker.state import StateStore
from worker.workflow import output_root, run_workflow

pytestmark = pytest.mark.anvil


EVENT_TRIGGER = {"kind": "event", "subject": ln.EVENT_SUBJECT}


def settle(broker, hour: int, key: str) -> bytes:
    event = {"key": key, "window_start": hour, "window_end": hour + ln.HOUR}
    ln.publish(broker.url, ln.EVENT_SUBJECT, event)
    return ln.NAMING.event(key).voting_id


def expected_root(*payloads) -> bytes:
    root = output_root(run_workflow("worker.workflows.matching:run", list(payloads), {}))
    return bytes.fromhex(root[2:])


def status_of(voting, vid) -> int:
    return int(voting.roundState(vid).status)


def test_workers__reach_consensus_and_record_agreement(
    deploy, broker, spawn_workers, accounts, tmp_path
):
    voting, manifest = deploy(3, 2)
    hour = ln.previous_hour()
    payload = ln.hour_payload(hour)
    ln.publish(broker.url, ln.DATA_SUBJECT, payload, msg_id=f"h{hour}")
    procs = spawn_workers(manifest, broker, 3, EVENT_TRIGGER)
    vid = settle(broker, hour, f"settle-{hour}")

    ln.wait_for(lambda: status_of(voting, vid) == 4, 90, what="consensus")
    assert voting.resultOf(vid) == expected_root(payload)
    # The third vote arrives late (after consensus) and still counts for the worker.
    ln.wait_for(lambda: bin(voting.roundState(vid).voted).count("1") == 3, 30, what="3 votes")

    def outcomes():
        found = []
        for proc in procs:
            with StateStore(tmp_path / proc.name / "state") as store:
                found.append((store.outcome(vid), store.vote(vid, 1, "vote")))
        return found if all(o is not None and v.state == "confirmed" for o, v in found) else None

    for outcome, _vote in ln.wait_for(outcomes, 30, what="every worker's outcome"):
        assert (outcome.kind, outcome.agreed, outcome.attempt) == ("Consensus", True, 1)
    for proc in procs:
        assert proc.stop() == 0, proc.output()
        assert "worker stopped" in proc.output()

    # The operator and auditor commands on the same data.
    config = str(procs[0].config)
    exported = ln.worker_cli("proof", "--config", config, "0x" + vid.hex(), "3")
    assert exported.returncode == 0, exported.stderr
    (tmp_path / "record.json").write_text(exported.stdout)
    network = f"ethereum:local:{chain.provider.uri}"
    checked = ln.worker_cli("verify", str(tmp_path / "record.json"), "--network", network,
                  "--manifest", str(manifest))  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "VERIFIED" in checked.stdout and "NOT VERIFIED" not in checked.stdout
    doc = json.loads(exported.stdout)
    doc["record"][3] = int(doc["record"][3]) + 1  # one watt-hour more
    (tmp_path / "forged.json").write_text(json.dumps(doc))
    forged = ln.worker_cli("verify", str(tmp_path / "forged.json"), "--network", network,
                 "--manifest", str(manifest))  # fmt: skip
    assert forged.returncode == 1 and "NOT VERIFIED" in forged.stdout, forged.stdout
    status = ln.worker_cli("status", "--config", config, "--json")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("{"), status.stdout + status.stderr
    info = json.loads(status.stdout)
    assert info["enrolment"]["active"] is True
    # Counters include a consensus round once its late-vote period is over; the chain has it now.
    assert (info["address"], info["chain_length"]) == (accounts[1].address, 1)


def test_workers__interval_trigger_votes_the_previous_hour(deploy, broker, spawn_workers, tmp_path):
    voting, manifest = deploy(2, 2)
    hour = ln.previous_hour()
    payload = ln.hour_payload(hour, scale=2)
    ln.publish(broker.url, ln.DATA_SUBJECT, payload, msg_id=f"h{hour}")
    trigger = {"kind": "interval", "period": 3600, "lag": 0, "catch_up": 2}
    procs = spawn_workers(manifest, broker, 2, trigger)
    vid = ln.NAMING.window(hour, hour + ln.HOUR).voting_id

    ln.wait_for(lambda: status_of(voting, vid) == 4, 90, what="consensus on the previous hour")
    assert voting.resultOf(vid) == expected_root(payload)
    for proc in procs:
        assert proc.stop() == 0, proc.output()


def test_workers__kill_9_after_commit_reveals_once_after_restart(
    deploy, broker, spawn_workers, accounts, tmp_path
):
    # 4 workers enrolled, 3 running: the commit phase lasts until its deadline.
    voting, manifest = deploy(4, 3, sealed=True, vote_duration=12, reveal_duration=120)
    hour = ln.previous_hour()
    payload = ln.hour_payload(hour)
    ln.publish(broker.url, ln.DATA_SUBJECT, payload, msg_id=f"h{hour}")
    w1, *_others = spawn_workers(manifest, broker, 3, EVENT_TRIGGER)
    vid = settle(broker, hour, f"sealed-{hour}")
    address = accounts[1].address
    w1_bit = 1 << int(voting.workerInfo(address).index)

    ln.wait_for(lambda: voting.roundState(vid).committed & w1_bit, 60, what="w1's commit")
    w1.stop(signal.SIGKILL)
    deadline = voting.roundState(vid).deadline
    pending = chain.provider.web3.eth.get_block
    ln.wait_for(lambda: pending("pending")["timestamp"] > deadline + 1, 60, what="the deadline")
    w1.start()
    ln.wait_for(lambda: status_of(voting, vid) == 4, 90, what="consensus after restart")
    ln.wait_for(lambda: voting.roundState(vid).voted & w1_bit, 60, what="w1's reveal")

    committed = [e for e in voting.VoteCommitted.range(0, chain.blocks.height + 1)
                 if e.worker == address]  # fmt: skip
    revealed = [e for e in voting.VoteCast.range(0, chain.blocks.height + 1)
                if e.worker == address]  # fmt: skip
    assert (len(committed), len(revealed)) == (1, 1)
    assert voting.resultOf(vid) == expected_root(payload)

    def recorded():
        with StateStore(tmp_path / "w1" / "state") as store:
            rows = [store.vote(vid, 1, kind) for kind in ("commit", "reveal")]
        return rows if all(r is not None and r.state == "confirmed" for r in rows) else None

    commit, _reveal = ln.wait_for(recorded, 30, what="w1's commit and reveal confirmed")
    assert commit.tries == 1
    assert w1.stop() == 0, w1.output()


def test_worker__malformed_input_is_reported_and_worker_carries_on(
    deploy, broker, spawn_workers, tmp_path
):
    voting, manifest = deploy(1, 1)
    port = free_port()
    (proc,) = spawn_workers(manifest, broker, 1, EVENT_TRIGGER, metrics_port=port)
    hour = ln.previous_hour()
    ln.publish(broker.url, ln.DATA_SUBJECT, b"{not json", msg_id="bad-1")
    ln.publish(broker.url, ln.DATA_SUBJECT, {"generation": [{"site": "x", "hour": 1}]},
               msg_id="bad-2")  # fmt: skip
    ln.publish(broker.url, ln.DATA_SUBJECT, ln.hour_payload(hour), msg_id="good")
    vid = settle(broker, hour, f"one-{hour}")

    ln.wait_for(lambda: status_of(voting, vid) == 4, 60, what="consensus of the sole worker")

    def metric_text() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return response.read().decode()

    expected = [
        'worker_source_errors_total{reason="malformed"} 2.0',
        "worker_inputs_stored_total 1.0",
        "worker_trigger_to_vote_seconds_count 1.0",
        'worker_consensus_total{agreed="yes"} 1.0',
    ]
    ln.wait_for(lambda: all(line in metric_text() for line in expected), 30, what=str(expected))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
        health = json.loads(response.read())
    assert health["status"] == "ok"
    assert proc.process.poll() is None  # still running
    assert proc.stop() == 0, proc.output()


def test_worker__unreachable_api_is_reported_and_worker_carries_on(deploy, tmp_path):
    _voting, manifest = deploy(1, 1)
    port, dead = free_port(), free_port()  # nothing listens on `dead`
    config = {
        "chain": {"network": f"ethereum:local:{chain.provider.uri}", "manifest": str(manifest),
                  "account": "TEST::1", "confirmations": 0, "poll_interval": 0.2},
        "source": {"kind": "http", "name": "meters", "url": f"http://127.0.0.1:{dead}/readings",
                   "poll_interval": 0.2, "timeout": 1, "retries": 0},
        "trigger": {"kind": "interval", "period": 3600, "lag": 0, "catch_up": 1},
        "workflow": {"ref": "worker.workflows.matching:run", "name": "matching-test"},
        "state": {"directory": str(tmp_path / "state")},
        "metrics": {"port": port},
    }  # fmt: skip
    path = tmp_path / "worker.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = ln.WorkerProcess("http", path, tmp_path / "http.log")
    proc.start()

    def unreachable() -> float:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return 0.0
        prefix = 'worker_source_errors_total{reason="unreachable"} '
        line = next((x for x in text.splitlines() if x.startswith(prefix)), prefix + "0")
        return float(line.removeprefix(prefix))

    try:
        ln.wait_for(lambda: unreachable() >= 2, 60, what="two unreachable errors counted")
        assert proc.process.poll() is None, proc.output()  # still running
    finally:
        code = proc.stop()
    assert code == 0, proc.output()
    assert f"127.0.0.1:{dead}" in proc.output()
