"""`worker rounds` and `worker proof`: this worker's local rounds and the proofs of their records.

Both read the local state store only: no node, no key.

    worker rounds --config worker.yaml [--status closed] [--json]
    worker proof --config worker.yaml VOTING_ID INDEX
    worker proof --config worker.yaml --find consumer=office --find hour=1750464000 [--json]

`--find FIELD=VALUE` matches the records of every stored round (the latest recorded attempt): a
field is named by the workflow's `FIELDS` (matching: consumer, generator, hour, wh) or by its
position (0, 1, ...); a value matches its JSON form (integers in decimal, bytes as 0x-hex) or, for
bytes, its ASCII text (`bytes32("solar-1")`). One match prints the proof document `worker verify`
reads; several print one per line (`--json`: a JSON list of documents).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from worker.cli_common import _bytes32, _fatal, config_option
from worker.config import load_config
from worker.errors import RoundNotFoundError


def _rows(store: Any, status: str | None) -> list[dict[str, Any]]:
    """One entry per round (its latest attempt), oldest first."""
    latest: dict[str, Any] = {}
    for r in store.rounds():
        latest[r.voting_id] = r
    rows = []
    for vid, r in latest.items():
        outcome = store.outcome(vid)
        mine = None
        for kind in ("reveal", "vote", "commit"):
            vote = store.vote(vid, r.attempt, kind)
            if vote is not None:
                mine = {"kind": kind, "result": vote.result, "state": vote.state,
                        "tx_hash": vote.tx_hash}  # fmt: skip
                break
        row = {
            "voting_id": vid,
            "window": None if r.window_start is None else [r.window_start, r.window_end],
            "event_key": r.event_key,
            "status": r.status,
            "attempt": r.attempt,
            "records": r.record_count,
            "result": r.result,
            "my_vote": mine,
            "outcome": None if outcome is None else {
                "kind": outcome.kind, "attempt": outcome.attempt, "result": outcome.result,
                "agreed": outcome.agreed, "fallback": outcome.fallback},
        }  # fmt: skip
        if status is None or r.status == status:
            rows.append(row)
    return rows


def _text(row: dict[str, Any]) -> str:
    what = f"event {row['event_key']}" if row["event_key"] else f"window {row['window']}"
    vote = row["my_vote"]
    mine = "no vote" if vote is None else f"{vote['kind']} {vote['result'][:12]} ({vote['state']})"
    out = row["outcome"]
    if out is None:
        outcome = "given up (no data)" if row["status"] == "closed" else "open"
    else:
        agreed = {True: ", agreed", False: ", DISAGREED", None: ""}[out["agreed"]]
        outcome = f"{out['kind']}{agreed}"
    return (f"{row['voting_id']}  {what}  {row['status']}  attempt {row['attempt']}  "
            f"{mine}  {outcome}")  # fmt: skip


@click.command()
@config_option
@click.option("--status", "status", default=None,
              help="Only rounds with this local status (skipped, computed, voted, committed, "
                   "revealed, closed).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def rounds(config_path: Path, status: str | None, as_json: bool) -> None:
    """List this worker's rounds: votingId, window or event, status, attempt, my vote, outcome.

    Reads the local state store only (no node, no key)."""
    from worker.state import StateStore

    with _fatal():
        config = load_config(config_path.resolve())
        with StateStore(config.state.directory) as store:
            rows = _rows(store, status)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("No rounds stored yet." if status is None else f"No round is {status}.")
    else:
        for row in rows:
            click.echo(_text(row))


def _criteria(found: tuple[str, ...], fields: tuple[str, ...]) -> list[tuple[int, str]]:
    criteria = []
    for item in found:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected FIELD=VALUE, got {item!r}", param_hint="--find")
        if name in fields:
            criteria.append((fields.index(name), value))
        elif name.isdigit():
            criteria.append((int(name), value))
        else:
            known = ", ".join(fields) if fields else "the workflow declares no FIELDS"
            raise click.BadParameter(f"unknown field {name!r} (fields: {known}; or a position "
                                     "0, 1, ...)", param_hint="--find")  # fmt: skip
    return criteria


def _matches(value: Any, wanted: str) -> bool:
    from worker.verify import to_json

    if str(to_json(value)) == wanted:
        return True
    return isinstance(value, bytes) and value.rstrip(b"\0") == wanted.encode()


def find_proofs(store: Any, criteria: list[tuple[int, str]]) -> list[Any]:
    """The proofs of every stored record that matches all `criteria` ((position, value))."""
    found = []
    for vid in dict.fromkeys(r.voting_id for r in store.rounds() if r.record_count):
        try:
            tree = store.round_tree(vid)
        except RoundNotFoundError:
            continue
        for index in range(len(tree)):
            record = tree.at(index)
            if all(p < len(record) and _matches(record[p], v) for p, v in criteria):
                found.append(store.proof_for(vid, index))
    return found


def _fields(config: Any) -> tuple[str, ...]:
    import importlib

    ref = config.workflow.ref
    module_name, _, function_name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return ()
    function = getattr(module, function_name, None)
    return tuple(getattr(function, "FIELDS", None) or getattr(module, "FIELDS", None) or ())


@click.command()
@config_option
@click.argument("voting_id", required=False)
@click.argument("index", type=int, required=False)
@click.option("--attempt", type=int, default=None, help="Attempt (default: the recorded one).")
@click.option("--find", "find", multiple=True, metavar="FIELD=VALUE",
              help="Find records instead: a field of the workflow's FIELDS (or a position) and "
                   "its value; repeat to match all (e.g. --find consumer=office --find "
                   "hour=1750464000).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True,
              help="With --find: print a JSON list of proof documents.")  # fmt: skip
def proof(config_path: Path, voting_id: str | None, index: int | None, attempt: int | None,
          find: tuple[str, ...], as_json: bool) -> None:  # fmt: skip
    """Print record INDEX of round VOTING_ID with its Merkle proof, as JSON for `verify`; or,
    with --find, the proofs of the records that match. Reads the local store only."""
    from worker.state import StateStore
    from worker.verify import proof_document

    if find and (voting_id or index is not None):
        raise click.UsageError("give VOTING_ID INDEX, or --find FIELD=VALUE, not both")
    if not find and (voting_id is None or index is None):
        raise click.UsageError("give VOTING_ID INDEX, or --find FIELD=VALUE (see `worker rounds`)")
    with _fatal():
        config = load_config(config_path.resolve())
        with StateStore(config.state.directory) as store:
            if not find:
                found = [store.proof_for(_bytes32(voting_id), index, attempt)]
            else:
                found = find_proofs(store, _criteria(find, _fields(config)))
    docs = [proof_document(p) for p in found]
    if not find:
        click.echo(json.dumps(docs[0], indent=2))
    elif not docs:
        if as_json:
            click.echo("[]")
        click.secho("no stored record matches " + " ".join(find), fg="red", err=True)
        sys.exit(1)
    elif as_json:
        click.echo(json.dumps(docs, indent=2))
    elif len(docs) == 1:
        click.echo(json.dumps(docs[0], indent=2))
    else:
        for doc in docs:
            click.echo(json.dumps(doc))
