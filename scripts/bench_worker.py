"""Worker benchmark: trigger-to-consensus latency of 7 worker processes, idle memory, Merkle build.

Usage: ape run bench_worker [--rounds N] [--block-rounds N]

Starts its own chains and broker: an auto-mining anvil, then an anvil that makes a block every
5 s (like Energy Web Chain), each with a NATS JetStream server; deploys WorkerVoting (4 of 7, open
mode) and WorkerRewards, starts 7 `worker run` processes with an event trigger, publishes one
hour of matching data, then for each round publishes a settlement event and measures the time
(and blocks) until the round's consensus is on chain. Idle memory is the resident set of each
worker after the rounds; the Merkle figure builds the tree of 100,000 matching records.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from ape import networks
from ape.logging import LogLevel, logger

from scripts._bench_deploy import THRESHOLD, WORKERS, deploy
from scripts._bench_report import check, target_rows, text_table, write_report, write_results
from scripts._localnet import (
    DATA_SUBJECT,
    EVENT_SUBJECT,
    AnvilNode,
    NatsServer,
    WorkerProcess,
    hour_payload,
    previous_hour,
    publish,
    round_naming,
    wait_running,
    worker_config,
)

OUT = Path(__file__).resolve().parent.parent / "bench"
WORKFLOW = "matching-bench"


def measure(uri: str, voting_address: str, nats_url: str, rounds: int, tag: str) -> dict:
    """Publishes `rounds` settlement events, one at a time; latency until consensus of each."""
    from worker.chain import contract_at

    seconds, blocks = [], []
    with networks.parse_network_choice(f"ethereum:local:{uri}") as provider:
        voting = contract_at(voting_address, "WorkerVoting")
        eth = provider.web3.eth
        start_block = eth.block_number + 1
        hour = previous_hour()
        publish(nats_url, DATA_SUBJECT, hour_payload(hour), msg_id=f"data-{hour}")
        time.sleep(1.0)  # every worker stores the data before the first trigger
        for r in range(rounds):
            key = f"{tag}-{r}"
            vid = round_naming(WORKFLOW).event(key).voting_id
            first_block = eth.block_number
            start = time.monotonic()
            publish(nats_url, EVENT_SUBJECT, {"key": key, "window_start": hour,
                                              "window_end": hour + 3600})  # fmt: skip
            while int(voting.roundState(vid).status) != 4:
                if time.monotonic() - start > 120:
                    raise click.ClickException(f"round {key}: no consensus within 120 s")
                time.sleep(0.01)
            seconds.append(time.monotonic() - start)
            blocks.append(eth.block_number - first_block)
            click.echo(f"  {tag} round {r}: {seconds[-1]:.2f} s, {blocks[-1]} block(s)")
            time.sleep(0.5)  # late votes of the other workers land before the next trigger
        sent, reverted = worker_receipts(eth, start_block, voting_address)
    return {"seconds": seconds, "blocks": blocks, "transactions": sent, "reverted": reverted}


def worker_receipts(eth: Any, first: int, voting: str) -> tuple[int, int]:
    """Transactions to the voting contract mined since block `first`, and how many reverted (an
    out-of-gas vote is one of them)."""
    sent = reverted = 0
    for number in range(first, eth.block_number + 1):
        for tx in eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["to"] and tx["to"].lower() == voting.lower():
                sent += 1
                reverted += eth.get_transaction_receipt(tx["hash"])["status"] == 0
    return sent, reverted


def run_network(workdir: Path, block_time: float | None, rounds: int, tag: str) -> dict:
    """One fresh chain + broker + 7 workers: latency of `rounds` rounds and idle memory."""
    # NOTE: chain id 1337 is what Ape signs with for an `ethereum:local:<uri>` network.
    with AnvilNode(workdir / "anvil", block_time=block_time, chain_id=1337) as node, \
            NatsServer(workdir / "nats") as broker:  # fmt: skip
        voting, manifest = deploy(node.uri, workdir)
        trigger = {"kind": "event", "subject": EVENT_SUBJECT}
        procs = []
        for i in range(1, WORKERS + 1):
            config = worker_config(workdir, f"w{i}", f"TEST::{i}", f"ethereum:local:{node.uri}",
                                   manifest, broker.url, trigger, poll_interval=0.1,
                                   workflow_name=WORKFLOW)  # fmt: skip
            procs.append(WorkerProcess(f"w{i}", config, workdir / f"w{i}.log"))
        try:
            for p in procs:
                p.start()
            try:
                wait_running(procs)
            except RuntimeError as exc:
                raise click.ClickException(str(exc)) from exc
            result = measure(node.uri, voting, broker.url, rounds, tag)
            time.sleep(3.0)
            result["rss_mib"] = [p.rss_mb() for p in procs]
        finally:
            for p in procs:
                p.stop()
        return result


def merkle_seconds(records: int = 100_000, repeat: int = 3) -> list[float]:
    """Seconds to build the standard Merkle tree of `records` matching records."""
    from worker.merkle import StandardMerkleTree

    types = ["string", "string", "uint64", "uint256"]
    values = [(f"consumer-{i % 997}", f"generator-{i % 101}", 1_750_464_000 + 3600 * (i // 9973),
               i * 7919 % 10**9) for i in range(records)]  # fmt: skip
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        StandardMerkleTree.of(values, types)
        times.append(time.perf_counter() - start)
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@click.command()
@click.option("--rounds", default=20, show_default=True, help="Rounds on the auto-mining chain.")
@click.option("--block-rounds", default=6, show_default=True, help="Rounds with 5 s blocks.")
def cli(rounds: int, block_rounds: int) -> None:
    """Measure worker latency, memory and Merkle build time; write bench/ results and report."""
    logger.set_level(LogLevel.WARNING)  # the deployments' transactions are not the subject here
    with tempfile.TemporaryDirectory() as folder:
        click.echo(f"Auto-mining anvil, {WORKERS} workers, threshold {THRESHOLD}:")
        auto = run_network(Path(folder) / "auto", None, rounds, "auto")
        click.echo("anvil with a block every 5 s:")
        blocks = run_network(Path(folder) / "blocks", 5, block_rounds, "blocks")
    merkle = merkle_seconds()
    rss = [m for m in auto["rss_mib"] + blocks["rss_mib"] if m is not None]
    p50 = statistics.median(auto["seconds"])
    block_p50 = statistics.median(blocks["blocks"])
    targets = [
        check("latency p50 with 7 workers, auto-mining <= 1 s", p50, 1.0, "s"),
        check("latency p50 with 5 s blocks <= 2 blocks", block_p50, 2, "blocks"),
        check("idle memory of one worker <= 200 MiB RSS", max(rss), 200, "MiB"),
        check(
            "reverted (e.g. out-of-gas) worker transactions with 5 s blocks = 0",
            blocks["reverted"],
            0,
            "tx",
        ),
        check("Merkle tree of 100k records <= 2 s", min(merkle), 2.0, "s"),
    ]
    rows = [
        ["auto-mining: p50 / p90 / max (s)", f"{p50:.2f}", f"{_pct(auto['seconds'], 0.9):.2f}",
         f"{max(auto['seconds']):.2f}"],
        ["5 s blocks: p50 / p90 / max (s)", f"{statistics.median(blocks['seconds']):.2f}",
         f"{_pct(blocks['seconds'], 0.9):.2f}", f"{max(blocks['seconds']):.2f}"],
        ["5 s blocks: p50 / p90 / max (blocks)", f"{block_p50:g}",
         f"{_pct(blocks['blocks'], 0.9):g}", f"{max(blocks['blocks']):g}"],
        ["idle RSS per worker: min / median / max (MiB)", f"{min(rss):.0f}",
         f"{statistics.median(rss):.0f}", f"{max(rss):.0f}"],
        ["worker transactions mined / reverted: auto-mining", str(auto["transactions"]),
         str(auto["reverted"]), ""],
        ["worker transactions mined / reverted: 5 s blocks", str(blocks["transactions"]),
         str(blocks["reverted"]), ""],
        ["Merkle 100k records: best / median / worst (s)", f"{min(merkle):.2f}",
         f"{statistics.median(merkle):.2f}", f"{max(merkle):.2f}"],
    ]  # fmt: skip
    tables = [("Worker", ["measure", "a", "b", "c"], rows), target_rows(targets)]
    for table in tables:
        click.echo("\n" + text_table(*table))
    data = {"workers": WORKERS, "threshold": THRESHOLD, "auto_mining": auto,
            "block_time_5s": blocks, "merkle_100k_seconds": merkle, "targets": targets}  # fmt: skip
    OUT.mkdir(exist_ok=True)
    write_results(OUT / "results.json", "worker", data)
    intro = (f"{WORKERS} `worker run` processes (threshold {THRESHOLD}, open mode, event trigger "
             "over NATS JetStream) on anvil, measured from publishing the settlement event to the "
             "round's consensus on chain. Run with `make bench`.")  # fmt: skip
    notes = [
        "Latency includes NATS delivery, the workflow, the Merkle tree, gas estimation, signing, "
        "the transactions and the observer's 10 ms polling; workers poll the chain every 0.1 s.",
        "With 5 s blocks the four deciding votes must land in blocks; 1 block means the votes "
        "went into the next block after the trigger.",
        "All processes share this 2-core machine with anvil and nats-server.",
    ]
    write_report(OUT / "REPORT.md", "worker", "Worker", intro, tables, notes)
    click.echo(f"\nwrote {OUT / 'results.json'} and {OUT / 'REPORT.md'}")
