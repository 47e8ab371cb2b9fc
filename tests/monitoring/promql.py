"""What the monitoring files name: alert rules, their unit tests, dashboard queries, metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitoring" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "monitoring" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "monitoring" / "grafana" / "ewc-worker-dashboard.json"
_METRIC = re.compile(r"\bworker_[a-z0-9_]+\b")


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        raise RuntimeError(
            "promtool is not installed: run `make setup` (tools/install-prometheus.sh)"
        )
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def named_metrics() -> set[str]:
    """Every worker_* metric the rules (expressions and texts) and the dashboard name."""
    texts = [RULES.read_text(), *dashboard_exprs()]
    return {name for text in texts for name in _METRIC.findall(text)}


def exposed_metrics(text: str) -> set[str]:
    """Sample and family names of a /metrics page."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names
