"""The `worker` command: run a node, show its status, claim rewards, export and verify proofs.

    worker run --config worker.yaml          run the node until SIGTERM / Ctrl-C
    worker status --config worker.yaml       enrolment, counters, rewards (--json for scripts)
    worker claim --config worker.yaml        register and claim ended epochs' rewards
    worker proof --config worker.yaml ID N   record N of round ID with its Merkle proof (JSON)
    worker verify --config worker.yaml FILE  check a record/proof against the chain

The Ape project (network definitions in `ape-config.yaml`) is `--project`, or `WORKER_PROJECT`,
or the checkout this package lives in, or the current directory if it has one, or the Energy Web
networks bundled with the package (`worker/project`, for an install from the wheel). Fatal problems
(invalid config, wrong chain, not enrolled, locked account) stop the command with one message and
an exit code: 1 in general, 3 contract without code (reset chain), 4 not enrolled or removed, 5
another process runs with the account or state directory (`worker.errors.EXIT_*`); `worker run`
stops the same way when it finds one of them while running.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from worker import __version__
from worker.config import WorkerConfig, load_config
from worker.errors import EXIT_FATAL, StartupError, WorkerError

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
STOP_DEADLINE = 8.0  # seconds from SIGTERM to exit, whatever the node or broker does


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

    project = _project_dir(option)
    os.chdir(project)
    logger.set_level(LogLevel.WARNING)
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


class _Session:
    """What every chain command opens: config, project, store and connection."""

    def __init__(self, config_path: Path, project: str | None) -> None:
        with _fatal():
            self.config: WorkerConfig = load_config(config_path.resolve())
        self.project = _enter_project(project)

    def connect(self, require_enrolled: bool = True) -> Any:
        from worker.chain import connect

        with _fatal():
            return connect(self.config.chain, self.project, require_enrolled=require_enrolled)

    def store(self) -> Any:
        from worker.state import StateStore

        with _fatal():
            return StateStore(self.config.state.directory)


@click.group()
@click.version_option(__version__, prog_name="worker")
def cli() -> None:
    """Worker node of an Energy Web worker network: vote on workflow results, earn rewards."""


@cli.command()
@config_option
@project_option
def run(config_path: Path, project: str | None) -> None:
    """Run the worker until SIGTERM or Ctrl-C."""
    from worker.health import Health, MetricsServer
    from worker.lock import account_lock, state_lock
    from worker.logs import add_secret, setup_logging
    from worker.metrics import Metrics
    from worker.node import Node
    from worker.workflow import load_workflow

    session = _Session(config_path, project)
    config = session.config
    with _fatal():
        setup_logging(config.logging.format, config.logging.level)
    with _fatal():
        add_secret(config.chain.read_passphrase())
    for source in config.all_sources:
        for value in getattr(source, "headers", {}).values():
            add_secret(value)
    with _fatal():
        workflow = load_workflow(config.workflow.ref)
        workflow.parse_params(config.workflow.params)
    with _fatal():
        state_lock(config.state.directory).acquire()  # NOTE: held until the process ends
    store = session.store()
    conn = session.connect()
    try:
        with _fatal():
            account_lock(conn.chain_id, conn.address, config.chain.network).acquire()
    except SystemExit:
        conn.close()
        store.close()
        raise
    metrics, health, server, code = Metrics(), Health(), None, 0
    conn.attach(metrics, health)  # RPC endpoints and build info
    try:
        if config.metrics.port:
            server = MetricsServer(metrics, health, config.metrics.host, config.metrics.port)
            with _fatal():
                server.start()
        with _fatal():
            node = Node(config, conn, store, workflow, metrics, health)
        try:
            asyncio.run(_run_until_signal(node))
        except StartupError as exc:  # NOTE: found while running: one line, then a clean stop
            logging.getLogger("worker").error("%s: stopping (exit code %d)", exc, exc.exit_code)
            code = exc.exit_code
    finally:
        if server is not None:
            server.stop()
        conn.close()
        store.close()
    sys.exit(code)


async def _run_until_signal(node: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if not stop.is_set():
            _exit_after(STOP_DEADLINE)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await node.run(stop)


def _exit_after(seconds: float) -> None:
    """Ends the process `seconds` from now if it has not stopped by then (a hung node call)."""

    def force() -> None:
        logging.getLogger("worker").error(
            "not stopped %g s after the signal (a call to the node or broker hangs): exiting now",
            seconds,
        )
        sys.stderr.flush()
        os._exit(0)

    timer = threading.Timer(seconds, force)
    timer.daemon = True
    timer.start()


@cli.command()
@config_option
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def status(config_path: Path, project: str | None, as_json: bool) -> None:
    """Show enrolment, vote counters, balance and claimable rewards."""
    from worker.rewards import worker_status
    from worker.status_text import format_status

    session = _Session(config_path, project)
    conn = session.connect(require_enrolled=False)
    try:
        with _fatal():
            info = worker_status(conn)
        click.echo(json.dumps(info, indent=2, default=str) if as_json else format_status(info))
    finally:
        conn.close()


@cli.command()
@config_option
@project_option
@click.option("--epoch", "epochs", type=int, multiple=True, help="Epoch to claim (repeatable).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def claim(config_path: Path, project: str | None, epochs: tuple[int, ...], yes: bool) -> None:
    """Claim this worker's rewards (default: every ended epoch with something to claim)."""
    from worker.registration import Schedule
    from worker.rewards import claim_rewards, next_claim
    from worker.status_text import format_amount, symbol_for, when
    from worker.submit import Submitter

    session = _Session(config_path, project)
    conn = session.connect(require_enrolled=False)
    store = session.store()
    try:
        if not yes:
            what = ", ".join(map(str, epochs)) if epochs else "every claimable epoch"
            click.confirm(f"Claim rewards of {conn.address} for {what}?", abort=True)
        chain = session.config.chain
        submitter = Submitter(conn, store, gas_margin=chain.gas_margin, floors=chain.gas_floors)
        chunk = session.config.rewards.register_chunk
        with _fatal():
            claims = claim_rewards(conn, submitter, list(epochs) or None, notify=click.echo,
                                   chunk=chunk)  # fmt: skip
        if not claims:
            now = int(conn.web3.eth.get_block("latest")["timestamp"])
            following = next_claim(Schedule.of(conn.rewards), now)
            click.echo(
                f"Nothing to claim now. The next claim opens {when(following['opens'])} "
                f"(epoch {following['epoch']}, once its registration window closed)."
            )
        symbol = symbol_for(conn.chain_id)
        for epoch, amount, tx_hash in claims:
            text = format_amount(amount, symbol)
            click.secho(f"Claimed epoch {epoch}: {text} in {tx_hash}", fg="green")
    finally:
        conn.close()
        store.close()


@cli.command()
@config_option
@click.argument("voting_id")
@click.argument("index", type=int)
@click.option("--attempt", type=int, default=None, help="Attempt (default: the recorded one).")
def proof(config_path: Path, voting_id: str, index: int, attempt: int | None) -> None:
    """Print record INDEX of round VOTING_ID with its Merkle proof, as JSON for `verify`."""
    from worker.state import StateStore
    from worker.verify import proof_document

    with _fatal():
        config = load_config(config_path.resolve())
        with StateStore(config.state.directory) as store:
            found = store.proof_for(_bytes32(voting_id), index, attempt)
    click.echo(json.dumps(proof_document(found), indent=2))


@cli.command()
@click.argument("proof_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A worker config to take the network and manifest from.",
)
@click.option("--network", help="Ape network choice, e.g. energyweb:volta:node.")
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Deployment manifest (default: the deploy default for the network).",
)
@project_option
@click.option(
    "--max-entries",
    type=int,
    default=10_000,
    show_default=True,
    help="Most result-chain entries to walk.",
)
def verify(proof_file: Path, config_path: Path | None, network: str | None,
           manifest: Path | None, project: str | None, max_entries: int) -> None:  # fmt: skip
    """Check that a record is part of a round's recorded result and that the round is linked
    into the contract's result chain, from chain data and PROOF_FILE (`worker proof` output)
    alone. Needs no account. Exit code 1 if any check fails."""
    from worker.chain import connect
    from worker.config import ChainConfig
    from worker.verify import format_report, load_proof, verify_record

    if config_path is not None:
        with _fatal():
            chain_config = load_config(config_path.resolve()).chain
        if network or manifest:
            chain_config = chain_config.model_copy(update={
                k: v for k, v in (("network", network), ("manifest", manifest)) if v})  # fmt: skip
    elif network:
        chain_config = ChainConfig(network=network, manifest=manifest, account="-")
    else:
        raise click.UsageError("give --config, or --network (and --manifest)")
    if chain_config.manifest is not None:
        chain_config = chain_config.model_copy(update={"manifest": chain_config.manifest.resolve()})
    with _fatal():
        doc = load_proof(proof_file)
    project_dir = _enter_project(project)
    with _fatal():
        conn = connect(chain_config, project_dir, with_account=False)
    try:
        with _fatal():
            report = verify_record(conn.voting, doc, max_entries=max_entries)
        click.echo(format_report(report))
        if not report.ok:
            sys.exit(1)
    finally:
        conn.close()


def _bytes32(text: str) -> bytes:
    try:
        value = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        value = b""
    if len(value) != 32:
        raise click.BadParameter(f"expected a 0x-prefixed 32-byte hex id, got {text!r}")
    return value


from worker.cli_export import register  # noqa: E402  export, multiproof, explorer

register(cli)

if __name__ == "__main__":
    cli()
