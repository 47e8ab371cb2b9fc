"""The alert rules and the dashboard with the real promtool: valid, and every alert unit-tested."""

import yaml

from tests.monitoring.promql import (
    DASHBOARD,
    RULE_TESTS,
    RULES,
    alerts,
    dashboard_exprs,
    named_metrics,
    promtool,
)

EXPECTED = {  # what the operator needs to hear about, by alert
    "WorkerDown", "WorkerChainHeadStalled", "WorkerSourceStale", "WorkerSourceErrors",
    "WorkerLowBalance", "WorkerTransactionsFailed", "WorkerTransactionsRefused",
    "WorkerMissedRounds", "WorkerDisagreesWithConsensus", "WorkerRpcEndpointDown",
    "WorkerNoRpcEndpoint",
}  # fmt: skip


def test_rules__promtool_check_passes():
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(EXPECTED)} rules found" in done.stdout


def test_rules__every_alert_is_there_with_severity_and_texts():
    found = {rule["alert"]: rule for rule in alerts()}
    assert set(found) == EXPECTED
    for name, rule in found.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_rules__promtool_unit_tests_pass_and_cover_every_alert():
    done = promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    quiet = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if not case.get("exp_alerts")
    }
    assert fired == EXPECTED  # each alert is seen firing ...
    assert quiet == EXPECTED  # ... and seen not firing before its time


def test_dashboard__every_query_is_valid_promql(tmp_path):
    # NOTE: promtool parses the expressions of recording rules; Grafana's $instance becomes .*.
    exprs = [e.replace("$instance", ".*") for e in dashboard_exprs()]
    rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(exprs) >= 15 and DASHBOARD.name in str(DASHBOARD)
    assert {"worker_rpc_up", "worker_build_info", "worker_consensus_total"} <= named_metrics()
