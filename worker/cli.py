"""The `worker` command: run a node, show its status, claim rewards, export and verify proofs.

    worker run --config worker.yaml          run the node until SIGTERM / Ctrl-C
    worker status --config worker.yaml       enrolment, counters, rewards (--json for scripts)
    worker claim --config worker.yaml        register and claim ended epochs' rewards
    worker check --config worker.yaml        every start-up check, without running (exit 0/1)
    worker rounds --config worker.yaml       this worker's rounds: id, window, status, vote, outcome
    worker proof --config worker.yaml ID N   record N of round ID with its Merkle proof (JSON)
    worker proof -c worker.yaml --find consumer=office   the proofs of the matching records
    worker verify --config worker.yaml FILE  check a record/proof against the chain

Only `run` and `claim` unlock the account's key; `status`, `check`, `rounds`, `proof` and
`verify` read the address from the keystore file (or need none) and never ask for a passphrase.
Every `--json` output is one JSON document on standard output; logs and Ape's messages go to
standard error.

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
from pathlib import Path
from typing import Any

import click

from worker import __version__
from worker.cli_common import (  # noqa: F401  (_bytes32, _fail: part of this module's surface)
    _bytes32,
    _enter_project,
    _fail,
    _fatal,
    config_option,
    project_option,
)
from worker.config import WorkerConfig, load_config
from worker.errors import StartupError

STOP_DEADLINE = 8.0  # seconds from SIGTERM to exit, whatever the node or broker does


class _Session:
    """What every chain command opens: config, project, store and connection."""

    def __init__(self, config_path: Path, project: str | None) -> None:
        with _fatal():
            self.config: WorkerConfig = load_config(config_path.resolve())
        self.project = _enter_project(project)

    def connect(self, require_enrolled: bool = True, unlock: bool = True) -> Any:
        from worker.chain import connect

        with _fatal():
            return connect(self.config.chain, self.project, require_enrolled=require_enrolled,
                           unlock=unlock)  # fmt: skip

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
    from worker.check import check_trigger
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
        check_trigger(config, workflow)
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
    """Show enrolment, vote counters, balance and claimable rewards (never unlocks the key)."""
    from worker.rewards import worker_status
    from worker.status_text import format_status

    session = _Session(config_path, project)
    conn = session.connect(require_enrolled=False, unlock=False)
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
    from worker.status_text import claim_preview, format_amount, symbol_for, when
    from worker.submit import Submitter

    session = _Session(config_path, project)
    conn = session.connect(require_enrolled=False)
    store = session.store()
    try:
        with _fatal():
            preview = claim_preview(conn, list(epochs) or None)
        for line in preview.lines:
            click.echo(line)
        if not preview.anything and not epochs:  # NOTE: a requested epoch is refused with why
            return
        if not yes:
            click.confirm(f"{preview.question} (give --yes to skip this question)", abort=True)
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


@cli.command()
@config_option
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(config_path: Path, project: str | None, as_json: bool) -> None:
    """Run every start-up check (config, workflow, trigger x workflow, chain id, manifest,
    enrolment, balance, source and a sample payload) without running; exit 0 if all pass, else
    1. Never unlocks the key."""
    from worker.check import run_checks

    run_checks(config_path, project, as_json)


def _register() -> None:
    from worker.cli_rounds import proof, rounds

    cli.add_command(rounds)
    cli.add_command(proof)


_register()

from worker.cli_export import register  # noqa: E402  export, multiproof, explorer

register(cli)

if __name__ == "__main__":
    cli()
