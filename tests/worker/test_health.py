"""worker.health: the health report (heartbeats, problems, liveness, readiness, info) and the
due windows that worker.node_health reports in it."""

import time

import pytest

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
