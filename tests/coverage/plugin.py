"""pytest hooks of `--contract-coverage` (wired in tests/conftest.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.coverage import recorder

OUT = Path(".build") / "coverage"
_LINES = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contract coverage")
    group.addoption(
        "--contract-coverage",
        action="store_true",
        help="Measure statement, branch and function coverage of contracts/ on the embedded "
        "chain; print it and write .build/coverage/{lcov.info,coverage.json}.",
    )
    group.addoption(
        "--contract-coverage-min",
        type=float,
        default=None,
        metavar="PERCENT",
        help="With --contract-coverage: fail the run when statement, branch or function coverage "
        "of contracts/ is lower.",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("contract_coverage"):
        recorder.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not config.getoption("contract_coverage"):
        return
    recorder.uninstall()
    records = recorder.records()
    if not records:
        config.stash[_LINES] = ["no EVM execution recorded: coverage is measured on the embedded "
                                "chain only (not with --network)"]  # fmt: skip
        return
    from ape import project

    from tests.coverage import build
    from tests.coverage.analysis import analyse
    from tests.coverage.report import table, totals, write_json, write_lcov

    started = time.monotonic()
    try:
        output = build.compile_project(project)
    except Exception as exc:  # NOTE: any compiler failure: reported, and the run fails
        config.stash[_LINES] = [f"FAILED: contracts could not be compiled for coverage: {exc}"]
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    cov = analyse(records, build.codes(output), build.sources(output, Path(project.path)))
    out = Path(project.path) / OUT
    out.mkdir(parents=True, exist_ok=True)
    write_lcov(cov, out / "lcov.info")
    write_json(cov, out / "coverage.json")
    lines = table(cov)
    took = time.monotonic() - started
    lines.append(f"{cov.codes_matched} executed codes of this project, {cov.codes_other} other; "
                 f"analysed in {took:.1f} s; lcov and JSON in {OUT}/")  # fmt: skip
    floor = config.getoption("contract_coverage_min")
    for kind, (hit, total) in totals(cov).items() if floor is not None else ():
        if total and 100 * hit / total < floor:
            lines.append(f"FAILED: {kind} coverage {100 * hit / total:.1f}% is below {floor}%")
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
    config.stash[_LINES] = lines


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(_LINES, None)
    if lines is None:
        return
    terminalreporter.section("contract coverage")
    for line in lines:
        terminalreporter.write_line(line, red=line.startswith("FAILED"))
