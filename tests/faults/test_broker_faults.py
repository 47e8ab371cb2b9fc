"""The broker fails: nats-server killed (-9) and kept down longer than the client's own reconnect
attempts, then restarted on the same port and store. Workers stay up, say so in one line each,
and the next hour reaches consensus with every vote; a message stored before the crash and not
yet consumed is delivered after it."""

import signal
import time

import pytest

from tests.faults.conftest import deploy, exit_code, metric, running, settle, wait_until
from tests.worker import localnet as ln

pytestmark = pytest.mark.anvil

DOWN_SECONDS = 8  # more than 10 reconnect attempts x 0.5 s: the client gives up, the source redials


def test_nats_killed_and_restarted__workers_carry_on_and_the_next_round_settles(
    project, anvil, broker, spawn, tmp_path
):
    chain = deploy(project, anvil(block_time=1), tmp_path, workers=3, threshold=2)
    procs = [spawn(chain, f"w{i}", i, broker) for i in (1, 2, 3)]
    for proc in procs:
        running(proc)
    before = ln.previous_hour() - ln.HOUR
    ln.publish(broker.url, ln.DATA_SUBJECT, ln.hour_payload(before), msg_id=f"h{before}")
    first = settle(broker, before, f"before-{before}")
    wait_until(lambda: chain.status(first) == 4, 60, "consensus before the crash")

    for proc in procs:  # stopped (SIGSTOP) so the next message is stored, not yet consumed
        proc.process.send_signal(signal.SIGSTOP)
    hour = ln.previous_hour()
    ln.publish(broker.url, ln.DATA_SUBJECT, ln.hour_payload(hour), msg_id=f"h{hour}")
    broker.stop(kill=True)
    for proc in procs:
        proc.process.send_signal(signal.SIGCONT)
    time.sleep(DOWN_SECONDS)
    for proc in procs:
        assert proc.process.poll() is None, proc.output()[-3000:]
    broker.start()

    second = settle(broker, hour, f"after-{hour}")
    wait_until(lambda: chain.status(second) == 4, 90, "consensus after the restart")
    wait_until(lambda: bin(chain.state(second)["voted"]).count("1") == 3, 30, "three votes")
    assert all(r["status"] == 1 for r in chain.worker_receipts())  # none reverted, none OOG
    for proc in procs:
        log = proc.output()
        assert "Traceback" not in log
        assert "disconnected from the broker" in log
        assert metric(proc, "worker_inputs_stored_total") == 2  # the stored message arrived
        proc.process.send_signal(signal.SIGTERM)
        assert exit_code(proc, 10) == 0
