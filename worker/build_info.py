"""What runs: the worker's version, git revision, contract addresses and chain id.

Published as the metric `worker_build_info{version, revision, chain_id, voting, rewards} 1` and as
`build` in `/health`, so a dashboard or an operator sees which build serves which deployment.
The revision is the checkout's `git` commit, or the `worker/REVISION` file a wheel built with
`make wheel` carries, or "unknown".
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from worker import __version__

PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def revision() -> str:
    """The git commit the package runs from (short hash), or "unknown"."""
    bundled = PACKAGE_DIR / "REVISION"
    if (PACKAGE_DIR.parent / ".git").exists():
        try:
            done = subprocess.run(["git", "-C", str(PACKAGE_DIR.parent), "rev-parse", "--short=12",
                                   "HEAD"], capture_output=True, text=True, timeout=5)  # fmt: skip
            if done.returncode == 0 and done.stdout.strip():
                return done.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    if bundled.is_file():
        return bundled.read_text(encoding="utf-8").strip() or "unknown"
    return "unknown"


def build_info(conn: Any) -> dict[str, str]:
    """The build and deployment labels of the worker on connection `conn`."""
    return {
        "version": __version__,
        "revision": revision(),
        "chain_id": str(conn.chain_id),
        "voting": conn.manifest.voting,
        "rewards": conn.manifest.rewards,
    }


def publish_build_info(conn: Any, metrics: Any = None, health: Any = None) -> dict[str, str]:
    """Sets `worker_build_info` in `metrics`' registry and `build` in `health`; returns the info."""
    info = build_info(conn)
    if metrics is not None:
        from prometheus_client import Gauge

        gauge = Gauge("worker_build_info", "Version, git revision and deployment of the worker",
                      list(info), registry=metrics.registry)  # fmt: skip
        gauge.labels(**info).set(1)
    if health is not None:
        health.set_info("build", info)
    return info
