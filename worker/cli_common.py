"""What the `worker` commands share: the project directory, one-line errors, common options."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from worker.errors import EXIT_FATAL, WorkerError

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _project_dir(option: str | None) -> Path:
    if option:
        return Path(option).resolve()
    if env := os.environ.get("WORKER_PROJECT"):
        return Path(env).resolve()
    if (_PACKAGE_ROOT / "ape-config.yaml").is_file():
        return _PACKAGE_ROOT
    if (Path.cwd() / "ape-config.yaml").is_file():
        return Path.cwd()
    return Path(__file__).resolve().parent / "project"  # the wheel's Energy Web networks


def _enter_project(option: str | None) -> Path:
    """Makes the Ape project the current directory and quiets Ape; returns the project.

    Ape reads the project (network definitions, test mnemonic) of the current directory, and
    prints its own info lines ("Connecting to ...") where the command's output goes.
    """
    from ape.logging import LogLevel, logger

    from worker.logs import route_ape_logs

    project = _project_dir(option)
    os.chdir(project)
    logger.set_level(LogLevel.WARNING)
    route_ape_logs()
    return project


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


@contextmanager
def _fatal() -> Iterator[None]:
    """Turns the package's errors into one clear line and their exit code (1 unless stated)."""
    try:
        yield
    except WorkerError as exc:
        _fail(str(exc), getattr(exc, "exit_code", EXIT_FATAL))


config_option = click.option(
    "--config", "-c", "config_path", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The worker's YAML config (environment overrides: WORKER_<SECTION>__<FIELD>).",
)  # fmt: skip
project_option = click.option(
    "--project", "project", type=click.Path(exists=True, file_okay=False), default=None,
    help="Ape project with the network definitions (default: this checkout, or the cwd).",
)  # fmt: skip


def _bytes32(text: str) -> bytes:
    try:
        value = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        value = b""
    if len(value) != 32:
        raise click.BadParameter(f"expected a 0x-prefixed 32-byte hex id, got {text!r}")
    return value
