"""worker.metrics: Prometheus metrics, liveness and the HTTP endpoint serving both."""

import json
import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from worker.errors import MetricsPortError, WorkerError
from worker.health import Health, MetricsServer
from worker.metrics import Metrics


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def metrics():
    return Metrics()


@pytest.fixture
def health(clock):
    return Health(clock=clock)


@pytest.fixture
def server(metrics, health):
    with MetricsServer(metrics, health, host="127.0.0.1", port=0) as running:
        yield running


def fetch(server: MetricsServer, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    """(status, headers, body) of a request to the server; HTTP errors are answers too."""
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text `text`."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    raise AssertionError(f"no sample {name}{labels}")


# -------------------------------------------------------------------------------------------------
# Metrics
# -------------------------------------------------------------------------------------------------


def test_render__known_labels_start_at_zero(metrics):
    text = metrics.render().decode()

    assert sample(text, "worker_votes_sent_total", kind="claim") == 0
    assert sample(text, "worker_source_errors_total", reason="sink") == 0
    assert sample(text, "worker_consensus_total", agreed="absent") == 0
    assert sample(text, "worker_up") == 0


def test_render__counts_events(metrics):
    metrics.round_seen("trigger")
    metrics.round_seen("chain")
    metrics.round_seen("chain")
    metrics.vote_sent("commit")
    metrics.vote_sent("commit")
    metrics.vote_sent("reveal")
    metrics.tx_failed("finalize")
    metrics.tx_replaced()
    metrics.round_failure("plurality")
    metrics.inputs_stored(24)
    metrics.inputs_stored()
    metrics.workflow_error()

    text = metrics.render().decode()

    assert sample(text, "worker_rounds_seen_total", source="trigger") == 1
    assert sample(text, "worker_rounds_seen_total", source="chain") == 2
    assert sample(text, "worker_votes_sent_total", kind="commit") == 2
    assert sample(text, "worker_votes_sent_total", kind="reveal") == 1
    assert sample(text, "worker_votes_sent_total", kind="vote") == 0
    assert sample(text, "worker_tx_failed_total", kind="finalize") == 1
    assert sample(text, "worker_tx_replaced_total") == 1
    assert sample(text, "worker_round_failures_total", kind="plurality") == 1
    assert sample(text, "worker_inputs_stored_total") == 25
    assert sample(text, "worker_workflow_errors_total") == 1


def test_gas_spent__adds_gas_and_fee(metrics):
    metrics.gas_spent(21_000, 21_000 * 10**9)
    metrics.gas_spent(50_000, 50_000 * 2 * 10**9)

    text = metrics.render().decode()

    assert sample(text, "worker_gas_used_total") == 71_000
    assert sample(text, "worker_gas_spent_wei_total") == 121_000 * 10**9


def test_consensus__maps_agreement_to_labels(metrics):
    metrics.consensus(True)
    metrics.consensus(True)
    metrics.consensus(False)
    metrics.consensus(None)

    text = metrics.render().decode()

    assert sample(text, "worker_consensus_total", agreed="yes") == 2
    assert sample(text, "worker_consensus_total", agreed="no") == 1
    assert sample(text, "worker_consensus_total", agreed="absent") == 1


def test_source_error__unknown_reason_counts_as_other(metrics):
    metrics.source_error("unreachable")
    metrics.source_error("timeout")

    text = metrics.render().decode()

    assert sample(text, "worker_source_errors_total", reason="unreachable") == 1
    assert sample(text, "worker_source_errors_total", reason="other") == 1
    assert "timeout" not in text


@pytest.mark.parametrize(
    "call", [lambda m: m.vote_sent("votes"), lambda m: m.tx_failed(""), lambda m: m.round_seen("x")]
)
def test_labelled_event__unknown_label_value_raises(metrics, call):
    with pytest.raises(ValueError, match="unknown"):
        call(metrics)


def test_gauges__set_state(metrics):
    metrics.balance(3 * 10**17, low=True)
    metrics.block(31_337)
    metrics.pending_transactions(2)
    metrics.running(True)

    text = metrics.render().decode()

    assert sample(text, "worker_account_balance_wei") == 3 * 10**17
    assert sample(text, "worker_low_balance") == 1
    assert sample(text, "worker_last_block") == 31_337
    assert sample(text, "worker_pending_transactions") == 2
    assert sample(text, "worker_up") == 1

    metrics.balance(5 * 10**18, low=False)
    metrics.running(False)
    text = metrics.render().decode()

    assert sample(text, "worker_low_balance") == 0
    assert sample(text, "worker_up") == 0


def test_latencies__land_in_buckets(metrics):
    metrics.observe_vote_latency(0.07)
    metrics.observe_vote_latency(90)
    metrics.observe_consensus_latency(400)

    text = metrics.render().decode()

    assert sample(text, "worker_trigger_to_vote_seconds_bucket", le="0.05") == 0
    assert sample(text, "worker_trigger_to_vote_seconds_bucket", le="0.1") == 1
    assert sample(text, "worker_trigger_to_vote_seconds_bucket", le="60.0") == 1
    assert sample(text, "worker_trigger_to_vote_seconds_bucket", le="120.0") == 2
    assert sample(text, "worker_trigger_to_vote_seconds_count") == 2
    assert sample(text, "worker_trigger_to_consensus_seconds_bucket", le="300.0") == 0
    assert sample(text, "worker_trigger_to_consensus_seconds_bucket", le="600.0") == 1


def test_metrics__instances_are_independent():
    first, second = Metrics(), Metrics()

    first.vote_sent("vote")

    assert sample(first.render().decode(), "worker_votes_sent_total", kind="vote") == 1
    assert sample(second.render().decode(), "worker_votes_sent_total", kind="vote") == 0


# -------------------------------------------------------------------------------------------------
# Health
# -------------------------------------------------------------------------------------------------


def test_report__healthy_when_beats_are_fresh(health, clock):
    health.register("chain", 30)
    health.register("loop", 60)
    clock.now += 20
    health.beat("chain")
    clock.now += 25

    healthy, report = health.report()

    assert healthy
    assert report == {
        "status": "ok",
        "live": True,
        "ready": True,
        "reasons": {},
        "components": {
            "chain": {"ok": True, "age": 25.0, "max_age": 30, "problem": None, "warning": None},
            "loop": {"ok": True, "age": 45.0, "max_age": 60, "problem": None, "warning": None},
        },
    }


def test_report__unhealthy_when_a_component_is_stale(health, clock):
    health.register("chain", 30)
    health.register("loop", 60)
    clock.now += 31

    healthy, report = health.report()

    assert not healthy
    assert report["status"] == "unhealthy"
    assert report["components"]["chain"]["problem"] == "no heartbeat for 31.0 s (max 30 s)"
    assert report["components"]["loop"]["problem"] is None


def test_report__now_overrides_the_clock(health, clock):
    health.register("source", 10)

    assert health.report(now=clock.now + 10)[0]
    assert not health.report(now=clock.now + 10.5)[0]


def test_problem__unhealthy_until_cleared(health):
    health.register("source", 60)
    health.beat("source")
    health.problem("source", "api.example.org unreachable")

    healthy, report = health.report()

    assert not healthy
    assert report["components"]["source"]["problem"] == "api.example.org unreachable"

    health.clear("source")

    assert health.report()[0]


def test_beat__unregistered_component_is_shown_but_never_stale(health, clock):
    health.beat("nats")
    clock.now += 10_000

    healthy, report = health.report()

    assert healthy
    assert report["components"]["nats"] == {"ok": True, "age": 10_000.0, "max_age": None,
                                            "problem": None, "warning": None}  # fmt: skip


def test_report__liveness_only_fails_for_a_stuck_live_component(health, clock):
    health.register("loop", 30, live=True)
    health.register("chain", 30)
    health.problem("source", "source 'meters' fails (never succeeded): connection refused")
    health.detail("windows", waiting=3)
    clock.now += 31
    health.beat("chain")

    _, report = health.report()

    assert report["ready"] is False and report["live"] is False
    assert report["reasons"] == {
        "loop": "no heartbeat for 31.0 s (max 30 s)",
        "source": "source 'meters' fails (never succeeded): connection refused",
    }
    assert report["components"]["windows"] == {
        "ok": True,
        "age": None,
        "max_age": None,
        "problem": None,
        "warning": None,
        "waiting": 3,
    }
    health.beat("loop")
    _, report = health.report()
    assert report["live"] is True and report["ready"] is False


def test_set_info__keys_join_the_report(health):
    health.set_info("account", "0x" + "ab" * 20)
    health.set_info("chain_id", 246)

    _, report = health.report()

    assert report["account"] == "0x" + "ab" * 20
    assert report["chain_id"] == 246


def test_set_info__reserved_key_raises(health):
    with pytest.raises(ValueError, match="reserved"):
        health.set_info("status", "fine")


def test_register__non_positive_max_age_raises(health):
    with pytest.raises(ValueError, match="max_age"):
        health.register("loop", 0)


# -------------------------------------------------------------------------------------------------
# HTTP endpoint
# -------------------------------------------------------------------------------------------------


def test_get_metrics__serves_names_and_values(server, metrics):
    metrics.vote_sent("vote")
    metrics.block(77)

    status, headers, body = fetch(server, "/metrics")

    assert status == 200
    assert headers["Content-Type"] == CONTENT_TYPE_LATEST
    text = body.decode()
    assert sample(text, "worker_votes_sent_total", kind="vote") == 1
    assert sample(text, "worker_last_block") == 77
    assert "# HELP worker_trigger_to_vote_seconds" in text


def test_get_health__200_when_fresh(server, health, clock):
    health.register("loop", 30)
    health.set_info("chain_id", 73799)
    clock.now += 5

    status, headers, body = fetch(server, "/health")

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "status": "ok",
        "live": True,
        "ready": True,
        "reasons": {},
        "components": {
            "loop": {"ok": True, "age": 5.0, "max_age": 30, "problem": None, "warning": None}
        },
        "chain_id": 73799,
    }


def test_get_health__503_when_stale(server, health, clock):
    health.register("chain", 30)
    clock.now += 45

    status, _, body = fetch(server, "/health")

    assert status == 503
    report = json.loads(body)
    assert report["status"] == "unhealthy"
    assert report["components"]["chain"]["problem"] == "no heartbeat for 45.0 s (max 30 s)"


def test_get_health__503_with_the_problem(server, health):
    health.register("chain", 30)
    health.problem("chain", "wrong chain id 1, expected 246")

    status, _, body = fetch(server, "/health")

    assert status == 503
    assert json.loads(body)["components"]["chain"]["problem"] == "wrong chain id 1, expected 246"


def test_get_health_live_and_ready__answer_apart_with_reasons_and_gauges(server, health, clock):
    health.register("loop", 30, live=True)
    health.problem("source", "source 'meters' fails (never succeeded): HTTP 503")

    live, _, live_body = fetch(server, "/health/live")
    ready, _, ready_body = fetch(server, "/health/ready")
    _, _, metrics_text = fetch(server, "/metrics")

    assert (live, ready) == (200, 503)
    assert json.loads(live_body) == {"live": True, "status": "ok", "reasons": {}}
    assert json.loads(ready_body)["reasons"] == {
        "source": "source 'meters' fails (never succeeded): HTTP 503"
    }
    text = metrics_text.decode()
    assert 'worker_health_ok{component="source"} 0.0' in text
    assert 'worker_health_ok{component="loop"} 1.0' in text
    assert "worker_ready 0.0" in text and "worker_live 1.0" in text
    clock.now += 31
    assert fetch(server, "/health/live")[0] == 503


def test_get_health__200_degraded_with_a_warning_then_ok(server, health):
    health.register("chain", 30)
    health.warn("balance", "account 0xabc holds 0.01, below chain.low_balance 0.1: top it up")

    status, _, body = fetch(server, "/health")

    assert status == 200
    report = json.loads(body)
    assert report["status"] == "degraded"
    assert report["warnings"] == {
        "balance": "account 0xabc holds 0.01, below chain.low_balance 0.1: top it up"
    }
    health.unwarn("balance")
    assert json.loads(fetch(server, "/health")[2])["status"] == "ok"
    health.warn("balance", "low")
    health.problem("chain", "node down")
    assert fetch(server, "/health")[0] == 503


def test_metrics__refused_transactions_by_reason():
    metrics = Metrics()
    metrics.tx_refused("funds")
    text = metrics.render().decode()
    assert sample(text, "worker_tx_refused_total", reason="funds") == 1
    assert sample(text, "worker_tx_refused_total", reason="nonce") == 0
    with pytest.raises(ValueError, match="unknown reason"):
        metrics.tx_refused("bad luck")


def test_get_index__names_both_paths(server):
    status, _, body = fetch(server, "/")

    assert status == 200
    assert b"/metrics" in body
    assert b"/health" in body


def test_get_metrics__query_string_ignored(server):
    assert fetch(server, "/metrics?name[]=worker_up")[0] == 200


def test_head_metrics__headers_without_body(server):
    _, get_headers, get_body = fetch(server, "/metrics")
    status, headers, body = fetch(server, "/metrics", method="HEAD")

    assert status == 200
    assert body == b""
    assert headers["Content-Length"] == str(len(get_body))
    assert headers["Content-Type"] == get_headers["Content-Type"]


def test_get_unknown_path__404(server):
    assert fetch(server, "/metricsx")[0] == 404
    assert fetch(server, "/health/")[0] == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE"])
def test_other_methods__405(server, method):
    status, headers, _ = fetch(server, "/metrics", method=method)

    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


def test_requests__nothing_written_to_stderr(server, capsys):
    fetch(server, "/metrics")
    fetch(server, "/nowhere")

    assert capsys.readouterr().err == ""


def test_start__busy_port_raises(server, metrics, health):
    second = MetricsServer(metrics, health, host="127.0.0.1", port=server.port)

    with pytest.raises(MetricsPortError, match=f"127.0.0.1:{server.port}") as caught:
        second.start()

    assert isinstance(caught.value, WorkerError)
    assert (caught.value.host, caught.value.port) == ("127.0.0.1", server.port)
    assert not second.running


@pytest.mark.parametrize(("host", "port"), [("no-such-host.invalid", 0), ("127.0.0.1", 70_000)])
def test_start__invalid_address_raises(metrics, health, host, port):
    with pytest.raises(MetricsPortError, match=f"{host}:{port}"):
        MetricsServer(metrics, health, host=host, port=port).start()


def test_start__port_zero_binds_an_ephemeral_port(server):
    assert server.running
    assert server.port != 0


def test_stop__closes_the_port_and_is_idempotent(metrics, health):
    server = MetricsServer(metrics, health, port=0)
    server.start()
    port = server.port

    server.stop()
    server.stop()

    assert not server.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_start__again_after_stop(metrics, health):
    server = MetricsServer(metrics, health, port=0)
    with server:
        pass

    with server:
        assert fetch(server, "/")[0] == 200


def test_health_reporter__windows_not_ok_once_the_newest_due_window_is_a_period_overdue(health):
    from types import SimpleNamespace

    from worker.node_health import HealthReporter
    from worker.trigger import IntervalTrigger

    end = int(time.time()) - 3600 - 300 - 100  # due 300 s after it ends: 3,700 s overdue
    waiting = {b"\x01" * 32: ((end - 3600, end), "has 0 of 1 inputs: not computed yet")}
    node = SimpleNamespace(health=health, sources=[], trigger=IntervalTrigger(3600, lag=300),
                           driver=SimpleNamespace(waiting=waiting, known_at={}))  # fmt: skip
    reporter = HealthReporter(node)

    reporter.report()
    _, report = health.report()
    assert report["components"]["windows"]["waiting"] == 1
    assert report["reasons"]["windows"].startswith(
        f"the newest due window [{end - 3600}, {end}] has 0 of 1 inputs: not computed yet, "
    )
    waiting[b"\x02" * 32] = ((end, end + 3600), "has 0 of 1 inputs: not computed yet")
    reporter.report()  # the newest one is due less than a period ago: data may still come
    assert "windows" not in health.report()[1]["reasons"]
