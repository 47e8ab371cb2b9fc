"""Gas benchmark of WorkerVoting on a local anvil chain.

Usage: ape run bench_gas --network ethereum:local:foundry  (or `make bench`; -v DEBUG: every tx)

Rounds open from an event descriptor (`openAndVote` / `openAndCommit`); later votes name the
round by its id. For each pool size (3, 7, 15, 31; simple majority) and mode a fresh contract plays
three rounds where every worker votes the same result: a warm-up in epoch 0, then, in epoch 1, the
first round of the epoch (its deciding vote creates the epoch's index entry) and a later one. A
fourth round has one dissent among the first `threshold` voters, so the threshold-th distinct
voter starts the clock without deciding: the quorum vote. The finalize paths (re-run, each
fallback, the failover timeout) run at 4-of-7. The figure for each operation is `receipt.gas_used`
(the whole transaction). A benchmark, not a test: it states each target and whether it is met,
and never fails on a number. Results go to bench/results.json ("voting") and bench/REPORT.md.
"""

from datetime import datetime, timezone
from typing import Any

import click
from ape import chain, project
from ape.api import AccountAPI, ReceiptAPI
from ape.cli import ConnectedProviderCommand
from ape.contracts import ContractInstance
from ape.logging import LogLevel, logger
from eth_utils import keccak

from scripts._bench_chain import (
    DAY,
    HOUR,
    cast,
    commitment,
    deploy,
    descriptor,
    funded_accounts,
    has_event,
    make_config,
    play,
    voting_id,
    voting_type,
)
from scripts._bench_report import (
    Table,
    check,
    code_fingerprint,
    fmt_gas,
    target_rows,
    text_table,
    write_report,
    write_results,
)

BLOCK_GAS = 6_000_000  # Energy Web Chain's genesis block gas limit
POOL_SIZES = (3, 7, 15, 31)
RESULT, WRONG = keccak(text="merkle root of the hour's records"), keccak(text="another root")
HEADING = "Voting (WorkerVoting)"

Ops = dict[str, int | None]

OPEN_OPS = [
    ("opening_vote", "opening vote (openAndVote)"),
    ("plain_vote", "plain vote"),
    ("quorum_vote", "quorum vote (threshold-th voter: starts the clock)"),
    ("deciding_vote_first", "deciding vote, first round of an epoch"),
    ("deciding_vote", "deciding vote, later round"),
    ("late_vote", "late vote (after consensus)"),
    ("round_total_first", "whole round, first of an epoch (all n vote)"),
    ("round_total", "whole round, later in the epoch (all n vote)"),
]
SEALED_OPS = [
    ("opening_commit", "opening commit (openAndCommit)"),
    ("plain_commit", "plain commit"),
    ("quorum_commit", "quorum commit (starts the clock)"),
    ("last_commit", "last commit (all committed: reveals open)"),
    ("first_reveal", "first reveal"),
    ("plain_reveal", "plain reveal"),
    ("deciding_reveal_first", "deciding reveal, first round of an epoch"),
    ("deciding_reveal", "deciding reveal, later round"),
    ("late_reveal", "late reveal (after consensus)"),
    ("round_total_first", "whole round, first of an epoch (n commits + n reveals)"),
    ("round_total", "whole round, later in the epoch"),
]
FINALIZE_OPS = [
    ("open_reopen", "open: finalize -> attempt 2"),
    ("open_alert", "open: finalize -> AlertOnly (chained as Failed)"),
    ("open_plurality", "open: finalize -> AcceptPlurality (recorded)"),
    ("open_failover", "open: finalize -> Failover (handed over)"),
    ("open_resolve", "open: resolveByFailover (recorded)"),
    ("open_timeout", "open: finalize after the failover timeout (chained as Failed)"),
    ("sealed_reopen", "sealed: finalize -> attempt 2"),
    ("sealed_alert", "sealed: finalize -> AlertOnly (chained as Failed)"),
]
POOL_OPS = [("add_worker", "addWorker (n-th worker)"), ("remove_worker", "removeWorker")]

# Published figures (not re-measured here), each with our closest figure as (mode, n, op).
EW, FLUX = "Energy Web VotingFacet (Green Proofs)", "Chainlink FluxAggregator"
ANCHORS: list[tuple[str, str, str, tuple[str, int, str] | None]] = [
    (EW, "plain vote", "96k", ("open", 7, "plain_vote")),
    (EW, "opening vote", "262-279k", ("open", 7, "opening_vote")),
    (EW, "2-of-3 round", "~500k", ("open", 3, "round_total")),
    (EW, "4-of-7 round", "~855k", ("open", 7, "round_total")),
    (FLUX, "plain submission", "77k", ("open", 7, "plain_vote")),
    (FLUX, "opening submission", "148k", ("open", 7, "opening_vote")),
    (FLUX, "2-of-3 round", "350.6k", ("open", 3, "round_total")),
    (FLUX, "4-of-7 round", "731.1k", ("open", 7, "round_total")),
    (FLUX, "21-of-31 round", "3,356.4k", ("open", 31, "round_total")),
]

NOTES = [
    "Gas is receipt.gas_used: the whole transaction, 21,000 base and calldata included.",
    "Threshold 0 in the config: simple majority n//2+1 of the pool (2, 4, 8, 16); speedRank 3; "
    "one-hour windows, one-day epochs.",
    "Opening votes carry the 160-byte descriptor (openAndVote); every other vote names the round "
    "by its id (vote, commit).",
    "First round of an epoch: its deciding vote (sealed: reveal) appends the epoch's first chain "
    "entry and writes the epoch index (a new storage slot, and the end of the previous epoch).",
    "* n=3: a 2-of-3 round has no plain vote (the second one decides); the figure comes from a "
    "3-of-3 round on a fresh contract. † n=3: the quorum vote is the dissenting one.",
    "Quorum vote: the threshold-th distinct voter of attempt 1 when it does not decide (a dissent "
    "came first); when it decides, the deciding vote starts nothing (the round is settled).",
    "Plain and late figures are the largest sample of their kind in the round (all samples are in "
    "results.json); a late vote also counts the worker's late votes (first late vote: new slot).",
    "Finalize paths at 4-of-7 after a warm-up round: the clock starts at 4 split votes; "
    "AcceptPlurality records 3 votes of 4 (min_votes 2, quorum met); the failover timeout is 6 h.",
    "Pool administration runs in the WorkerPoolAdmin module through delegatecall.",
]


# -------------------------------------------------------------------------------------------------
# Scenarios
# -------------------------------------------------------------------------------------------------


def rounds_ops(owner, pool: list, sealed: bool, warn: list[str]) -> tuple[Ops, Any, dict]:
    """Warm-up, first-of-epoch, later and quorum rounds on one contract; returns ops, samples."""
    n, m = len(pool), len(pool) // 2 + 1
    voting, adds = deploy(owner, pool, make_config(sealed))
    same = [RESULT] * n
    play(voting, pool, sealed, "warm-up", same)
    chain.mine(deltatime=DAY)  # into epoch 1, past every late-vote window
    first = play(voting, pool, sealed, "first of epoch 1", same)
    later = play(voting, pool, sealed, "later in epoch 1", same)
    mixed = [RESULT, WRONG] + [RESULT] * (n - 2)  # one dissent among the first m voters
    quorum = play(voting, pool[:m], sealed, "quorum", mixed[:m]) if not sealed else []
    ops: Ops = {"round_total_first": sum(first), "round_total": sum(later)}
    if sealed:
        commits, reveals = later[:n], later[n:]
        ops |= {"opening_commit": commits[0], "plain_commit": max(commits[1 : m - 1], default=None),
                "quorum_commit": commits[m - 1], "last_commit": commits[-1],
                "first_reveal": reveals[0], "plain_reveal": max(reveals[1 : m - 1], default=None),
                "deciding_reveal_first": first[n + m - 1], "deciding_reveal": reveals[m - 1],
                "late_reveal": max(reveals[m:], default=None)}  # fmt: skip
    else:
        ops |= {"opening_vote": later[0], "plain_vote": max(later[1 : m - 1], default=None),
                "quorum_vote": quorum[m - 1], "deciding_vote_first": first[m - 1],
                "deciding_vote": later[m - 1],
                "late_vote": max(later[m:], default=None)}  # fmt: skip
    state = voting.roundState(voting_id(descriptor("quorum")))
    if not sealed and (state.deadline == 0 or state.status != 1):
        warn.append(f"n={n}: the quorum vote did not start the clock")
    removed = voting.removeWorker(pool[-1], sender=owner).gas_used
    samples = {"first_of_epoch": first, "later": later, "quorum": quorum}
    return ops, samples, {"add_worker": adds[-1], "remove_worker": removed}


def finalize_ops(owner, pool: list, failover: AccountAPI, warn: list[str]) -> Ops:
    """The finalize paths at 4-of-7, each on a contract that already chained one round."""
    pool, ops = pool[:7], {}
    split = [RESULT, WRONG, RESULT, WRONG]

    def contract(sealed: bool, fallback: str) -> ContractInstance:
        voting, _ = deploy(owner, pool, make_config(sealed, 4, fallback, failover.address))
        play(voting, pool, sealed, "warm-up", [RESULT] * len(pool))  # all: reveals open at once
        return voting

    def attempt(voting, key: str, results: list[bytes], sealed: bool = False, n: int = 1):
        vid = voting_id(descriptor(key))
        for i, (worker, result) in enumerate(zip(pool, results, strict=False)):
            if n == 1 and i == 0:
                cast(voting, worker, descriptor(key), result, sealed, True)
            elif sealed:
                value, _ = commitment(voting, worker, vid, result, n)
                voting.commit(vid, value, sender=worker)
            else:
                voting.vote(vid, result, sender=worker)
        chain.mine(deltatime=(2 if sealed else 1) * HOUR + 1)
        return voting.finalize(vid, sender=owner)

    def expect(receipt: ReceiptAPI, key: str, event: str) -> None:
        ops[key] = receipt.gas_used
        if not has_event(receipt, event):
            warn.append(f"finalize path {key} emitted no {event}")

    plurality = [RESULT, RESULT, RESULT, WRONG]
    for fallback, second, event in (("alert", split, "RoundFailed"),
                                    ("plurality", plurality, "ResultRecorded"),
                                    ("failover", split, "FailoverRequested")):  # fmt: skip
        voting = contract(False, fallback)
        expect(attempt(voting, "failing", split), "open_reopen", "RoundReopened")
        expect(attempt(voting, "failing", second, n=2), f"open_{fallback}", event)
    vid = voting_id(descriptor("failing"))
    receipt = voting.resolveByFailover(vid, RESULT, sender=failover)
    expect(receipt, "open_resolve", "ResultRecorded")
    attempt(voting, "timed out", split)
    attempt(voting, "timed out", split, n=2)
    chain.mine(deltatime=6 * HOUR + 1)
    expect(voting.finalize(voting_id(descriptor("timed out")), sender=owner), "open_timeout",
           "RoundFailed")  # fmt: skip
    sealed = contract(True, "alert")
    expect(attempt(sealed, "failing", split, True), "sealed_reopen", "RoundReopened")
    expect(attempt(sealed, "failing", split, True, n=2), "sealed_alert", "RoundFailed")
    return ops


def measure(owner: AccountAPI, pool: list[AccountAPI], failover: AccountAPI) -> dict[str, Any]:
    """Runs every scenario and returns the measured part of the "voting" section."""
    warn: list[str] = []
    out: dict[str, Any] = {"open": {}, "sealed": {}, "pool": {}}
    for mode in ("open", "sealed"):
        sealed = mode == "sealed"
        for n in POOL_SIZES:
            click.echo(f"  {mode} mode, n={n} ...")
            ops, samples, pool_ops = rounds_ops(owner, pool[:n], sealed, warn)
            probed = []
            if n == 3:  # a 2-of-3 round has no plain vote/reveal: take it from a 3-of-3 round
                probe, _ = deploy(owner, pool[:3], make_config(sealed, threshold=3))
                gas = play(probe, pool[:3], sealed, "probe", [RESULT] * 3)
                key = "plain_reveal" if sealed else "plain_vote"
                ops[key], probed = gas[4] if sealed else gas[1], [key]
                if sealed:
                    ops["plain_commit"], probed = gas[1], [key, "plain_commit"]
            out[mode][str(n)] = {"threshold": n // 2 + 1, "ops": ops, "probed": probed,
                                 "samples": samples}  # fmt: skip
            if not sealed:
                out["pool"][str(n)] = pool_ops
    click.echo("  finalize paths (4-of-7) ...")
    out["finalize"] = finalize_ops(owner, pool, failover, warn)
    click.echo("  deployment ...")
    out["deployment"] = deployment_ops(owner)
    out["warnings"] = warn
    return out


def deployment_ops(owner: AccountAPI) -> dict[str, int]:
    """Gas of deploying the pool administration module and a WorkerVoting on it."""
    module = owner.deploy(project.WorkerPoolAdmin)
    voting = owner.deploy(voting_type(), owner, make_config(False, 4), DAY, 2 * HOUR, module)
    receipts = (chain.get_receipt(c.txn_hash) for c in (module, voting))
    return dict(zip(("WorkerPoolAdmin", "WorkerVoting"), (r.gas_used for r in receipts)))


# -------------------------------------------------------------------------------------------------
# Targets, anchors, tables
# -------------------------------------------------------------------------------------------------


def op(data: dict[str, Any], mode: str, n: int, key: str) -> int:
    return data[mode][str(n)]["ops"][key]


def targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The brief's targets, each stated with whether it is met."""
    plain = {n: op(data, "open", n, "plain_vote") for n in POOL_SIZES}
    opening = max(op(data, "open", n, "opening_vote") for n in POOL_SIZES)
    drift = abs(plain[31] - plain[3]) / plain[3]
    return [
        check("plain vote <= 42k (worst n)", max(plain.values()), 42_000, "gas"),
        check("opening vote <= 110k (worst n)", opening, 110_000, "gas"),
        check("4-of-7 whole round <= 400k (later round of an epoch)",
              op(data, "open", 7, "round_total"), 400_000, "gas"),
        check("4-of-7 whole round <= 400k (first round of an epoch)",
              op(data, "open", 7, "round_total_first"), 400_000, "gas"),
        check("plain vote at n=31 within 5% of n=3", drift, 0.05, "%"),
        check("largest deployment transaction <= 6M (Energy Web Chain's genesis block limit)",
              max(data["deployment"].values()), BLOCK_GAS, "gas"),
    ]  # fmt: skip


def anchors(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for source, metric, gas, ours in ANCHORS:
        mine = op(data, *ours) if ours else None
        label = f"{ours[0]} n={ours[1]} {ours[2]}" if ours else "n/a"
        rows.append({"source": source, "metric": metric, "anchor": gas, "ours": mine, "as": label})
    return rows


def tables(data: dict[str, Any]) -> list[Table]:
    """(title, header, rows) for every table of the voting section."""
    head = ["operation"] + [f"n={n} ({n // 2 + 1}-of-{n})" for n in POOL_SIZES]
    out = []
    for mode, ops in (("open", OPEN_OPS), ("sealed", SEALED_OPS)):
        cells = [data[mode][str(n)] for n in POOL_SIZES]
        rows = []
        for key, label in ops:
            marks = ["*" if key in c["probed"] else "" for c in cells]
            if key == "quorum_vote":
                marks[0] = "†"
            rows.append([label] + [fmt_gas(c["ops"][key]) + mk for c, mk in zip(cells, marks)])
        out.append((f"{mode.capitalize()} mode (gas per transaction)", head, rows))
    final = [[label, fmt_gas(data["finalize"].get(key))] for key, label in FINALIZE_OPS]
    out.append(("No consensus: finalize and failover (4-of-7)", ["operation", "gas"], final))
    pool = [[label] + [fmt_gas(data["pool"][str(n)][k]) for n in POOL_SIZES] for k, label in
            POOL_OPS]  # fmt: skip
    out.append(("Pool changes (gas)", ["operation"] + [f"n={n}" for n in POOL_SIZES], pool))
    deployed = [[f"deploy {name}", fmt_gas(gas)] for name, gas in data["deployment"].items()]
    out.append(("Deployment (gas)", ["transaction", "gas"], deployed))
    out.append(target_rows(data["targets"]))
    anc = [[a["source"], a["metric"], a["anchor"], fmt_gas(a["ours"]), a["as"]]
           for a in data["anchors"]]  # fmt: skip
    out.append(("Anchors", ["source", "metric", "anchor gas", "ours", "our figure"], anc))
    return out


@click.command(cls=ConnectedProviderCommand)
def cli() -> None:
    """Measure the gas of every WorkerVoting operation; write bench/results.json and REPORT.md."""
    owner, failover, *pool = funded_accounts(max(POOL_SIZES) + 2)
    network = chain.provider.network_choice
    # NOTE: compiled once, now: edits to the sources during the run do not mix in.
    code = code_fingerprint(voting_type().contract_type.runtime_bytecode.bytecode)
    click.echo(f"Measuring WorkerVoting gas on {network} (fresh contract per scenario):")
    # NOTE: hide Ape's per-transaction INFO lines (hundreds of them) unless -v DEBUG was given.
    with logger.at_level(LogLevel.WARNING if logger.level == LogLevel.INFO else logger.level):
        section = measure(owner, pool, failover)
    section["targets"] = targets(section)
    section["anchors"] = anchors(section)
    section |= {"notes": NOTES, "network": network, "code": code}
    section["generated"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    click.echo()
    for table in tables(section):
        click.echo(text_table(*table) + "\n")
    for note in NOTES + section["warnings"]:
        click.echo(f"- {note}")
    bench = project.path / "bench"
    bench.mkdir(exist_ok=True)
    write_results(bench / "results.json", "voting", section)
    intro = (
        f"Generated {section['generated']} on {network}. WorkerVoting runtime code: "
        f"{code['runtime_bytes']:,} bytes (EIP-170 limit 24,576), sha256 {code['sha256']}. "
        "Refresh with `make bench`."
    )
    notes = NOTES + section["warnings"]
    write_report(bench / "REPORT.md", "voting", HEADING, intro, tables(section), notes)
    met = sum(t["met"] for t in section["targets"])
    click.echo(f"\n{met} of {len(section['targets'])} targets met (benchmark: informational only).")
    click.echo(f"Wrote {bench / 'results.json'} and the voting section of {bench / 'REPORT.md'}.")
