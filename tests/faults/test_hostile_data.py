"""Hostile data on a chain with 1 s blocks: every bad NATS message and HTTP body is refused once,
never stored, never stops a worker, and the window with valid data still reaches consensus."""

import json
import signal

import pytest

from tests.faults.conftest import deploy, exit_code, health, metric, running, settle, wait_until
from tests.worker import localnet as ln
from worker.workflow import output_root, run_workflow

pytestmark = pytest.mark.anvil


def root(*payloads) -> bytes:
    return bytes.fromhex(output_root(run_workflow("worker.workflows.matching:run",
                                                  list(payloads), {}))[2:])  # fmt: skip


def bad_bodies(hour: int) -> dict[str, bytes]:
    reading = {"site": "gen-solar", "hour": hour, "wh": 5}
    return {
        "huge-int": b'{"generation": [{"site": "g", "hour": 0, "wh": ' + b"9" * 5000 + b"}]}",
        "deep": b"[" * 50_000 + b"]" * 50_000,
        "utf8": b'{"generation": [{"site": "\xff\xfe", "hour": 0, "wh": 1}]}',
        "nan": b'{"generation": [{"site": "g", "hour": 0, "wh": NaN}]}',
        "huge-string": json.dumps({"generation": [{**reading, "site": "x" * 100_000}]}).encode(),
        "wrong-type": json.dumps({"generation": [{**reading, "wh": "5"}]}).encode(),
        "conflict-inside": json.dumps({"generation": [reading, {**reading, "wh": 6}]}).encode(),
    }


def test_nats__bad_messages_refused_once_and_the_hour_reaches_consensus(
    project, anvil, broker, spawn, tmp_path
):
    chain = deploy(project, anvil(block_time=1), tmp_path, workers=3, threshold=2)
    hour = ln.previous_hour()
    good = ln.hour_payload(hour)
    bodies = bad_bodies(hour)
    for key, body in bodies.items():
        ln.publish(broker.url, ln.DATA_SUBJECT, body, msg_id=f"bad-{key}")
    ln.publish(broker.url, ln.DATA_SUBJECT, good, msg_id="good")
    later = {"generation": [{"site": "gen-solar", "hour": hour, "wh": 999}]}
    ln.publish(broker.url, ln.DATA_SUBJECT, later, msg_id="later-conflict")
    procs = [spawn(chain, f"w{i}", i, broker) for i in (1, 2, 3)]
    for proc in procs:
        running(proc)
    vid = settle(broker, hour, f"settle-{hour}")

    wait_until(lambda: chain.status(vid) == 4, 90, "consensus")
    assert chain.voting.functions.resultOf(vid).call() == root(good)  # the first copy counted
    wait_until(lambda: bin(chain.state(vid)["voted"]).count("1") == 3, 30, "three votes")
    receipts = chain.worker_receipts()
    assert receipts and all(r["status"] == 1 for r in receipts)  # no vote ran out of gas
    for proc in procs:
        assert proc.process.poll() is None, proc.output()[-3000:]
        assert metric(proc, "worker_source_errors_total", reason="malformed") == len(bodies)
        assert metric(proc, "worker_source_errors_total", reason="conflict") == 1
        assert metric(proc, "worker_inputs_stored_total") == 1
        log = proc.output()
        for key in bodies:
            assert log.count(f"(key bad-{key})") == 1, key  # one WARNING each, not redelivered
        assert "(key later-conflict): contradicts stored data" in log
        assert health(proc)[1]["status"] == "ok"
        assert proc.stop(signal.SIGTERM) == 0


def test_http__bad_bodies_refused_once_then_the_good_one_is_voted(
    project, anvil, spawn, data_api, tmp_path
):
    chain = deploy(project, anvil(block_time=1), tmp_path, workers=1, threshold=1)
    hour = ln.previous_hour()
    source = {"kind": "http", "name": "meters", "url": data_api.url, "poll_interval": 0.2,
              "timeout": 2, "retries": 0}  # fmt: skip
    trigger = {"kind": "interval", "period": 3600, "lag": 0, "catch_up": 1}
    bodies = bad_bodies(hour)
    data_api.body = bodies["huge-int"]
    proc = spawn(chain, "http", 1, trigger=trigger, source=source)
    running(proc)
    for count, body in enumerate(bodies.values(), start=1):
        data_api.body = body
        wait_until(lambda c=count: _refused(proc) >= c, 30, f"{count} refused")
    data_api.body = json.dumps(ln.hour_payload(hour)).encode()
    vid = _window_id(hour)
    wait_until(lambda: chain.status(vid) == 4, 60, "consensus on the previous hour")
    assert metric(proc, "worker_source_errors_total", reason="malformed") == len(bodies)
    assert proc.process.poll() is None
    proc.process.send_signal(signal.SIGTERM)
    assert exit_code(proc, 10) == 0


def _refused(proc) -> float:
    return metric(proc, "worker_source_errors_total", reason="malformed")


def _window_id(hour: int) -> bytes:
    return ln.round_naming("matching-test").window(hour, hour + ln.HOUR).voting_id


def test_5s_blocks__votes_in_one_block_never_run_out_of_gas(
    project, anvil, broker, spawn, tmp_path
):
    """Energy Web Chain's block time: three votes estimated against one state land in one block,
    one of them as the deciding vote; the gas floors cover it."""
    chain = deploy(project, anvil(block_time=5), tmp_path, workers=3, threshold=2)
    hour = ln.previous_hour()
    good = ln.hour_payload(hour)
    ln.publish(broker.url, ln.DATA_SUBJECT, good, msg_id="good")
    procs = [spawn(chain, f"w{i}", i, broker) for i in (1, 2, 3)]
    for proc in procs:
        running(proc)
    vid = settle(broker, hour, f"settle-{hour}")
    wait_until(lambda: bin(chain.state(vid)["voted"]).count("1") == 3, 90, "three votes")
    assert chain.status(vid) == 4
    assert chain.voting.functions.resultOf(vid).call() == root(good)
    receipts = chain.worker_receipts()
    assert len(receipts) >= 3 and all(r["status"] == 1 for r in receipts)  # no OutOfGas
    for proc in procs:
        wait_until(lambda p=proc: metric(p, "worker_consensus_total", agreed="yes") == 1, 30,
                   f"{proc.name} agreed")  # fmt: skip
        assert proc.stop(signal.SIGTERM) == 0
