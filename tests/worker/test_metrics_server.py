"""worker.health.MetricsServer: the HTTP endpoint serving the metrics and the health report."""

import json
import socket
import urllib.error
import urllib.request

import pytest
from prometheus_client import CONTENT_TYPE_LATEST

from tests.worker.conftest import sample
from worker.errors import MetricsPortError, WorkerError
from worker.health import MetricsServer


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
