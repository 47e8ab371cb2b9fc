"""Gas benchmark of WorkerVoting on a local anvil chain.

Usage: ape run bench_gas --network ethereum:local:foundry  (or `make bench`; -v DEBUG: every tx)

Every scenario runs on a freshly deployed contract: whole rounds at pool sizes 3, 7, 15 and 31 with
a simple-majority threshold in open and sealed mode, a finalize that re-opens a round and one per
fallback policy, pool changes, and syncStats over settled rounds. The figure for each operation is
`receipt.gas_used` (the whole transaction). A benchmark, not a test: it states each target and
whether it is met, and never fails on a number. Results go to bench/results.json (key "voting") and
bench/REPORT.md (between the voting markers); other sections of both files are kept.
"""

from datetime import datetime, timezone
from functools import cache
from typing import Any

import click
from ape import accounts, chain, project
from ape.api import AccountAPI, ReceiptAPI
from ape.cli import ConnectedProviderCommand
from ape.contracts import ContractInstance
from ape.logging import LogLevel, logger
from eth_utils import keccak

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

HOUR = 3600
ZERO_ADDRESS = "0x" + "00" * 20
POOL_SIZES = (3, 7, 15, 31)
SYNC_ROUNDS = (1, 10, 50)
SPEED_RANK = 3
FALLBACKS = {"alert": 0, "plurality": 1, "failover": 2}
RESULT = keccak(text="merkle root of the hour's records")
HEADING = "Voting (WorkerVoting)"

Ops = dict[str, int | None]

# (key, label) in table order.
OPEN_OPS = [
    ("opening_vote", "opening vote"),
    ("plain_vote", "plain vote"),
    ("deciding_vote", "deciding vote"),
    ("late_vote", "late vote (after consensus)"),
    ("round_total", "whole round (all n vote)"),
]
SEALED_OPS = [
    ("opening_commit", "opening commit"),
    ("plain_commit", "plain commit"),
    ("last_commit", "last commit (all committed)"),
    ("first_reveal", "first reveal"),
    ("plain_reveal", "plain reveal"),
    ("deciding_reveal", "deciding reveal"),
    ("late_reveal", "late reveal (after consensus)"),
    ("round_total", "whole round (n commits + n reveals)"),
]
FINALIZE_OPS = [
    ("finalize_reopen", "finalize -> attempt 2"),
    ("finalize_alert", "finalize -> fallback AlertOnly"),
    ("finalize_plurality", "finalize -> fallback AcceptPlurality"),
    ("finalize_failover", "finalize -> fallback Failover"),
]
POOL_OPS = [("add_worker", "addWorker (n-th worker)"), ("remove_worker", "removeWorker")]
FINALIZE_EVENTS = {
    "alert": "RoundFailed",
    "plurality": "ResultRecorded",
    "failover": "FailoverRequested",
}

# Reference figures as the project brief quotes them (not re-measured here), each with our closest
# figure as (mode, n, op), or None when we have no comparable run.
EW = "Energy Web VotingFacet (Green Proofs), measured on a local EVM"
FLUX = "Chainlink FluxAggregator"
OCR2 = "Chainlink OCR2 one report"
ANCHORS: list[tuple[str, str, str, tuple[str, int, str] | None]] = [
    (EW, "plain vote", "96k", ("open", 7, "plain_vote")),
    (EW, "opening vote", "262-279k", ("open", 7, "opening_vote")),
    (EW, "4-of-7 round", "~855k", ("open", 7, "round_total")),
    (EW, "2-of-3 round", "~500k", ("open", 3, "round_total")),
    (FLUX, "plain submission", "77k", ("open", 7, "plain_vote")),
    (FLUX, "opening submission", "148k", ("open", 7, "opening_vote")),
    (FLUX, "2-of-3 round", "350.6k", ("open", 3, "round_total")),
    (FLUX, "4-of-7 round", "731.1k", ("open", 7, "round_total")),
    (FLUX, "7-of-10 round", "998.4k", None),
    (FLUX, "21-of-31 round", "3,356.4k", ("open", 31, "round_total")),
    (OCR2, "n=4", "94.6k", ("open", 3, "round_total")),
    (OCR2, "n=7", "103.7k", ("open", 7, "round_total")),
    (OCR2, "n=31", "176.2k", ("open", 31, "round_total")),
]

NOTES = [
    "Gas is receipt.gas_used: the whole transaction, 21,000 base and calldata included.",
    "Threshold 0 in the config: simple majority n//2+1 of the pool (2, 4, 8, 16); speedRank 3.",
    "* n=3: a 2-of-3 round has no plain vote or plain reveal (the second one decides); the figure "
    "comes from a 3-of-3 round on a fresh contract (same code path, threshold not reached).",
    "Plain and late figures are the largest sample of their kind in the round (every sample is in "
    "results.json): sealed commits after the first speedRank ones cost less, as they leave the "
    "round slot unchanged.",
    "Finalize: one vote (sealed: a commit; in attempt 2 also its reveal), then the deadline "
    "passed by time travel; AcceptPlurality needs 1 vote, so attempt 2 records a Plurality result.",
    "addWorker grows with n: the lowest free pool index is found by a loop over the occupied ones.",
    "syncStats: n=3, every worker voted in all 50 rounds; each R is a different worker syncing "
    "from zero (first write of its counters).",
    "Anchors compare whole rounds with every worker voting; the m-of-n differs where the anchor "
    "names another (21-of-31 vs our 16-of-31; OCR2 n=4 vs our n=3; no n=10 run).",
]


# -------------------------------------------------------------------------------------------------
# Chain helpers
# -------------------------------------------------------------------------------------------------


def funded_accounts(count: int) -> list[AccountAPI]:
    """The first `count` test accounts, generating and funding more when the config has fewer."""
    found = list(accounts.test_accounts)[:count]
    while len(found) < count:
        account = accounts.test_accounts.generate_test_account()
        account.balance = 10**21  # anvil: ape sets the balance directly
        found.append(account)
    return found


def make_config(
    sealed: bool, threshold: int = 0, fallback: str = "alert", failover: str = ""
) -> tuple:
    """The Config tuple (see tests/conftest.py): one-hour windows, the given fallback policy."""
    plurality_min = 1 if fallback == "plurality" else 0
    failover = failover if fallback == "failover" else ZERO_ADDRESS
    reveal_duration = HOUR if sealed else 0
    policy = FALLBACKS[fallback]
    return (threshold, sealed, HOUR, reveal_duration, policy, plurality_min, SPEED_RANK, failover)


@cache
def voting_type() -> Any:
    """The WorkerVoting contract type, compiled once: later source edits do not mix into the run."""
    return project.WorkerVoting


def deploy(
    owner: AccountAPI, pool: list[AccountAPI], config: tuple
) -> tuple[ContractInstance, list[int]]:
    """Deploys WorkerVoting with `config` and enrols `pool`; returns it and each addWorker's gas."""
    voting = owner.deploy(voting_type(), owner, config)
    return voting, [voting.addWorker(worker, sender=owner).gas_used for worker in pool]


def has_event(receipt: ReceiptAPI, name: str) -> bool:
    """Whether `receipt` emitted an event called `name`."""
    return any(log.event_name == name for log in receipt.events)


def salt_for(worker: AccountAPI, attempt: int) -> bytes:
    """A salt that `cast` and `reveal` both rebuild."""
    return keccak(text=f"salt:{worker.address}:{attempt}")


def cast(voting: ContractInstance, worker: AccountAPI, vid: bytes, sealed: bool) -> ReceiptAPI:
    """Votes RESULT in open mode; commits to it in sealed mode."""
    if not sealed:
        return voting.vote(vid, RESULT, sender=worker)
    attempt = voting.roundState(vid).attempt or 1  # 0 before the round opens
    commitment = voting.commitmentOf(RESULT, salt_for(worker, attempt), worker, vid, attempt)
    return voting.commit(vid, commitment, sender=worker)


def reveal(voting: ContractInstance, worker: AccountAPI, vid: bytes) -> ReceiptAPI:
    """Reveals RESULT for the current attempt (sealed mode)."""
    salt = salt_for(worker, voting.roundState(vid).attempt)
    return voting.reveal(vid, RESULT, salt, sender=worker)


# -------------------------------------------------------------------------------------------------
# Scenarios
# -------------------------------------------------------------------------------------------------


def run_round(
    voting: ContractInstance, pool: list[AccountAPI], sealed: bool, threshold: int, warn: list[str]
) -> tuple[Ops, list[int]]:
    """Every worker votes RESULT (sealed: commits, then reveals); returns ops and all samples."""
    vid = keccak(text=f"bench round {len(pool)} {sealed}")
    receipts = [cast(voting, worker, vid, sealed) for worker in pool]
    commits = [r.gas_used for r in receipts] if sealed else []
    ops: Ops = {}
    if sealed:
        ops["opening_commit"], ops["last_commit"] = commits[0], commits[-1]
        ops["plain_commit"] = max(commits[1:-1], default=None)
        receipts = [reveal(voting, worker, vid) for worker in pool]
    gas = [r.gas_used for r in receipts]
    kind = "reveal" if sealed else "vote"
    ops["first_reveal" if sealed else "opening_vote"] = gas[0]
    ops[f"plain_{kind}"] = max(gas[1 : threshold - 1], default=None)
    ops[f"deciding_{kind}"] = gas[threshold - 1]
    ops[f"late_{kind}"] = max(gas[threshold:], default=None)
    ops["round_total"] = sum(commits + gas)
    if not has_event(receipts[threshold - 1], "ResultRecorded"):
        warn.append(f"sealed={sealed} n={len(pool)}: {kind} {threshold} recorded no result")
    return ops, commits + gas


def finalize_ops(
    owner: AccountAPI, pool: list[AccountAPI], sealed: bool, failover: str, warn: list[str]
) -> Ops:
    """finalize gas: attempt 1 re-opened as attempt 2, then each fallback policy on attempt 2."""
    ops: Ops = {}
    lapse = (2 if sealed else 1) * HOUR + 1  # past the vote (sealed: commit + reveal) windows
    for policy, event in FINALIZE_EVENTS.items():
        voting, _ = deploy(owner, pool, make_config(sealed, fallback=policy, failover=failover))
        vid = keccak(text=f"bench failing round {policy}")
        cast(voting, pool[0], vid, sealed)  # one vote: the threshold is out of reach
        chain.mine(deltatime=lapse)
        receipt = voting.finalize(vid, sender=owner)
        ops.setdefault("finalize_reopen", receipt.gas_used)
        if not has_event(receipt, "RoundReopened"):
            warn.append(f"finalize did not re-open (sealed={sealed}, n={len(pool)}, {policy})")
        cast(voting, pool[0], vid, sealed)
        if sealed:  # reveal the lone commit, so AcceptPlurality has a leader with one vote
            chain.mine(deltatime=HOUR + 1)
            reveal(voting, pool[0], vid)
        chain.mine(deltatime=HOUR + 1)
        receipt = voting.finalize(vid, sender=owner)
        ops[f"finalize_{policy}"] = receipt.gas_used
        if not has_event(receipt, event):
            warn.append(f"finalize (sealed={sealed}, n={len(pool)}, {policy}) emitted no {event}")
    return ops


def sync_stats_ops(owner: AccountAPI, pool: list[AccountAPI]) -> list[dict[str, float]]:
    """syncStats over R settled rounds, each R for another worker syncing from zero."""
    voting, _ = deploy(owner, pool[:3], make_config(sealed=False))
    for seq in range(max(SYNC_ROUNDS)):
        vid = keccak(text=f"bench settled round {seq}")
        for worker in pool[:3]:  # every worker votes in every round: the costlier path
            voting.vote(vid, RESULT, sender=worker)
    chain.mine(deltatime=HOUR + 1)  # every round is past its deadline: settled
    rows = []
    for worker, rounds in zip(pool[:3], SYNC_ROUNDS, strict=True):
        gas = voting.syncStats(worker, rounds, sender=owner).gas_used
        rows.append({"rounds": rounds, "gas": gas, "per_round": round(gas / rounds, 1)})
    return rows


def measure(owner: AccountAPI, pool: list[AccountAPI], failover: str) -> dict[str, Any]:
    """Runs every scenario and returns the measured part of the "voting" section."""
    warn: list[str] = []
    out: dict[str, Any] = {"open": {}, "sealed": {}, "pool": {}}
    for mode in ("open", "sealed"):
        sealed = mode == "sealed"
        for n in POOL_SIZES:
            click.echo(f"  {mode} mode, n={n} ...")
            voting, adds = deploy(owner, pool[:n], make_config(sealed))
            ops, samples = run_round(voting, pool[:n], sealed, n // 2 + 1, warn)
            probed = []
            if n == 3:  # a 2-of-3 round has no plain vote/reveal: take it from a 3-of-3 round
                probe, _ = deploy(owner, pool[:n], make_config(sealed, threshold=3))
                key = "plain_reveal" if sealed else "plain_vote"
                ops[key], probed = run_round(probe, pool[:n], sealed, 3, warn)[0][key], [key]
            ops.update(finalize_ops(owner, pool[:n], sealed, failover, warn))
            out[mode][str(n)] = {"threshold": n // 2 + 1, "ops": ops, "probed": probed}
            out[mode][str(n)]["samples"] = samples
            if not sealed:
                removed = voting.removeWorker(pool[n - 1], sender=owner).gas_used
                out["pool"][str(n)] = {"add_worker": adds[-1], "remove_worker": removed}
    click.echo("  syncStats ...")
    out["sync_stats"] = sync_stats_ops(owner, pool)
    out["warnings"] = warn
    return out


# -------------------------------------------------------------------------------------------------
# Targets, anchors, tables
# -------------------------------------------------------------------------------------------------


def op(data: dict[str, Any], mode: str, n: int, key: str) -> int:
    """One measured figure."""
    return data[mode][str(n)]["ops"][key]


def targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The brief's targets, each stated with whether it is met."""
    plain = {n: op(data, "open", n, "plain_vote") for n in POOL_SIZES}
    opening = max(op(data, "open", n, "opening_vote") for n in POOL_SIZES)
    ratio = max(op(data, "open", n, "deciding_vote") / plain[n] for n in POOL_SIZES)
    drift = abs(plain[31] - plain[3]) / plain[3]
    open3, open7 = op(data, "open", 3, "round_total"), op(data, "open", 7, "round_total")
    sealed7 = op(data, "sealed", 7, "round_total")
    return [
        check("open mode plain vote <= 50k (worst n)", max(plain.values()), 50_000, "gas"),
        check("opening vote <= 110k (worst n)", opening, 110_000, "gas"),
        check("deciding vote <= 1.5x plain vote (worst n)", ratio, 1.5, "x"),
        check("2-of-3 round (all 3 vote) <= 180k", open3, 180_000, "gas"),
        check("4-of-7 round (all 7 vote) <= 400k", open7, 400_000, "gas"),
        check("plain vote at n=31 within 5% of n=3", drift, 0.05, "%"),
        check("sealed 4-of-7 round <= 1.7x open 4-of-7 round", sealed7 / open7, 1.7, "x"),
    ]


def anchors(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The reference figures next to our closest comparable measurement."""
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
        rows = [
            [label] + [fmt_gas(c["ops"][k], k in c["probed"]) for c in cells] for k, label in ops
        ]
        rows += [[label] + [fmt_gas(c["ops"][k]) for c in cells] for k, label in FINALIZE_OPS]
        out.append((f"{mode.capitalize()} mode (gas per transaction)", head, rows))
    pool = [
        [label] + [fmt_gas(data["pool"][str(n)][k]) for n in POOL_SIZES] for k, label in POOL_OPS
    ]
    out.append(("Pool changes (gas)", ["operation"] + [f"n={n}" for n in POOL_SIZES], pool))
    sync = [
        [str(s["rounds"]), fmt_gas(s["gas"]), f"{s['per_round']:,.0f}"] for s in data["sync_stats"]
    ]
    first, last = data["sync_stats"][-2], data["sync_stats"][-1]  # marginal cost: R=10 -> R=50
    extra = (last["gas"] - first["gas"]) / (last["rounds"] - first["rounds"])
    sync.append([f"{first['rounds']} -> {last['rounds']}", "marginal", f"{extra:,.0f}"])
    out.append(("syncStats over R settled rounds", ["R", "gas", "gas per round"], sync))
    out.append(target_rows(data["targets"]))
    anc = [
        [a["source"], a["metric"], a["anchor"], fmt_gas(a["ours"]), a["as"]]
        for a in data["anchors"]
    ]
    out.append(("Anchors", ["source", "metric", "anchor gas", "ours", "our figure"], anc))
    return out


# -------------------------------------------------------------------------------------------------
# Command
# -------------------------------------------------------------------------------------------------


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
        section = measure(owner, pool, failover.address)
    section["targets"] = targets(section)
    section["anchors"] = anchors(section)
    section["notes"] = NOTES
    section["network"] = network
    section["code"] = code
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
