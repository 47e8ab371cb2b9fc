"""`worker export`, `worker multiproof` and `worker explorer`: whole rounds for third parties.

    worker export --config worker.yaml ID [-o tree.json]   the round's records tree (standard-v1)
    worker multiproof --config worker.yaml ID 0 3 7         several records, one proof (JSON)
    worker explorer --network energyweb:volta:node --manifest deployments/energyweb-volta.json

`register(cli)` adds them to the `worker` command group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from worker.cli_common import _bytes32
from worker.errors import EXIT_FATAL, WorkerError

_config_option = click.option(
    "--config", "-c", "config_path", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The worker's YAML config (its state directory holds the round's records).",
)  # fmt: skip
_attempt_option = click.option(
    "--attempt", type=int, default=None, help="Attempt (default: the recorded one)."
)
_output_option = click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write to this file instead of standard output.",
)  # fmt: skip


def _voting_id(text: str) -> str:
    return "0x" + _bytes32(text).hex()


def _tree(config_path: Path, voting_id: str, attempt: int | None):
    """(attempt, tree) of a round from the worker's state store."""
    from worker.config import load_config
    from worker.state import StateStore

    config = load_config(config_path.resolve())
    with StateStore(config.state.directory) as store:
        tree = store.round_tree(voting_id, attempt)
        attempt = store.proof_for(voting_id, 0, attempt).attempt  # the attempt round_tree chose
    return attempt, tree


def _emit(doc: dict, output: Path | None) -> None:
    text = json.dumps(doc, indent=2)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf8")
        click.echo(f"wrote {output}", err=True)


def _fail(exc: WorkerError) -> None:
    click.secho(f"error: {exc}", fg="red", err=True)
    sys.exit(getattr(exc, "exit_code", EXIT_FATAL))


@click.command("export")
@_config_option
@click.argument("voting_id", callback=lambda _c, _p, v: _voting_id(v))
@_attempt_option
@_output_option
def export_command(config_path: Path, voting_id: str, attempt: int | None,
                   output: Path | None) -> None:  # fmt: skip
    """Write round VOTING_ID's whole records tree in @openzeppelin/merkle-tree's dump format
    (`StandardMerkleTree.load` reads it), with `votingId` and `attempt`."""
    from worker.export import tree_document

    try:
        attempt, tree = _tree(config_path, voting_id, attempt)
    except WorkerError as exc:
        _fail(exc)
    _emit(tree_document(tree, voting_id, attempt), output)


@click.command("multiproof")
@_config_option
@click.argument("voting_id", callback=lambda _c, _p, v: _voting_id(v))
@click.argument("indices", type=int, nargs=-1, required=True)
@_attempt_option
@_output_option
def multiproof_command(config_path: Path, voting_id: str, indices: tuple[int, ...],
                       attempt: int | None, output: Path | None) -> None:  # fmt: skip
    """Prove records INDICES of round VOTING_ID at once: an OpenZeppelin multiproof (leaves,
    proof, proofFlags) for `verifyMultiProof`, with each record's own proof for
    `WorkerVoting.verifyRecords`."""
    from worker.export import multiproof_document

    try:
        attempt, tree = _tree(config_path, voting_id, attempt)
        doc = multiproof_document(tree, voting_id, attempt, list(indices))
    except WorkerError as exc:
        _fail(exc)
    _emit(doc, output)


@click.command("explorer")
@click.option("--network", default=None, help="Ape network choice, e.g. energyweb:volta:node.")
@click.option("--rpc", default=None, help="JSON-RPC URL of a node (instead of --network).")
@click.option(
    "--manifest", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Deployment manifest (`ape run deploy` writes it).",
)  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8700, show_default=True, help="Port (0: a free one).")
def explorer_command(network: str | None, rpc: str | None, manifest: Path, host: str,
                     port: int) -> None:  # fmt: skip
    """Serve the read-only explorer of a deployment: rounds, votes, workers, rewards, and record
    verification, computed in the browser from chain data (through this server's RPC relay)."""
    from worker.explorer.server import ExplorerServer, rpc_url

    try:
        url = rpc if rpc else rpc_url(network)
        server = ExplorerServer(url, manifest.resolve(), host, port)
    except WorkerError as exc:
        _fail(exc)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    server.start()
    click.echo(f"explorer: {server.url} (chain {server.chain_id}, node {url})")
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def register(cli: click.Group) -> None:
    """Adds the commands of this module to the `worker` group."""
    for command in (export_command, multiproof_command, explorer_command):
        cli.add_command(command)
