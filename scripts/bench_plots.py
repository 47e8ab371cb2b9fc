"""Plots of the benchmark results: gas per round against pool size, registration gas against
rounds per epoch, worker latency, matching.

Usage: .venv/bin/python scripts/bench_plots.py   (run by `make bench` after the benchmarks)

Reads bench/results.json (written by bench_gas, bench_rewards, bench_worker and bench_matching) and
writes bench/gas_per_round.png, bench/registration_gas.png, bench/latency.png and
bench/matching.png. The other systems' figures are published constants, not re-measured here.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # NOTE: files only, no display
import matplotlib.pyplot as plt

BENCH = Path(__file__).resolve().parent.parent / "bench"
# Published gas for one whole round (or one report), by pool size n: (n, gas).
ANCHORS = {
    "Energy Web VotingFacet (worker voting, Green Proofs)": [(3, 500_000), (7, 855_000)],
    "Chainlink FluxAggregator (per-node submissions)": [
        (3, 350_600), (7, 731_100), (10, 998_400), (31, 3_356_400)],
    "Chainlink OCR2 (one aggregated report)": [(4, 94_600), (7, 103_700), (31, 176_200)],
}  # fmt: skip
SOURCES = (
    "Anchors: Energy Web VotingFacet 2-of-3 ~500k, 4-of-7 ~855k; Chainlink FluxAggregator "
    "2-of-3 350.6k, 4-of-7 731.1k, 7-of-10 998.4k, 21-of-31 3,356.4k; Chainlink OCR2 one report "
    "n=4 94.6k, n=7 103.7k, n=31 176.2k (published figures, not re-measured)."
)


def gas_plot(results: dict, path: Path) -> None:
    voting = results["voting"]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for mode, style in (("open", "o-"), ("sealed", "s-")):
        points = sorted((int(n), v["ops"]["round_total"]) for n, v in voting[mode].items())
        ax.plot([n for n, _ in points], [g / 1000 for _, g in points], style, linewidth=2,
                label=f"this project, {mode} mode (measured)")  # fmt: skip
    for (name, points), style in zip(ANCHORS.items(), ("^--", "v--", "d:"), strict=True):
        ax.plot([n for n, _ in points], [g / 1000 for _, g in points], style, label=name,
                alpha=0.8)  # fmt: skip
    ax.set_xlabel("pool size n (threshold: simple majority)")
    ax.set_ylabel("gas per whole round (thousands)")
    ax.set_yscale("log")
    ax.set_xticks([3, 7, 15, 31])
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("Gas of one voting round against pool size")
    ax.legend(fontsize=8, loc="upper left")
    fig.text(0.01, 0.01, "OCR2 aggregates off chain: one report per round, no per-node votes.",
             fontsize=7, alpha=0.7)  # fmt: skip
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def registration_plot(results: dict, path: Path) -> None:
    """Largest transaction of one worker's registration against the rounds of an epoch: the old
    single walk (one transaction) against registration in chunks."""
    rewards = results["rewards"]
    old = rewards["old"]
    rounds = sorted(int(r) for r in rewards["by_rounds"])
    span = [10 * 1.25**i for i in range(int(math.log(max(rounds) / 10, 1.25)) + 2)]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    ax.plot(span, [(old["fixed"] + old["per_round"] * r) / 1e6 for r in span], "--",
            color="tab:red", label=f"old single walk: {old['fixed'] // 1000}k + "
            f"{old['per_round'] / 1000:g}k per round, one transaction")  # fmt: skip
    rows = [(r, rewards["by_rounds"][str(r)]) for r in rounds]
    ax.plot([r for r, _ in rows], [row["max"] / 1e6 for _, row in rows], "-", color="tab:blue",
            label=f"chunks of {rewards['chunk']} entries: largest transaction")  # fmt: skip
    for r, row in rows:
        face = "tab:blue" if row["measured"] else "white"
        ax.plot([r], [row["max"] / 1e6], "o", color="tab:blue", markerfacecolor=face)
        ax.annotate(f"{row['txs']:,} tx", (r, row["max"] / 1e6), textcoords="offset points",
                    xytext=(0, 8), ha="center", fontsize=8)  # fmt: skip
    ax.axhline(
        6, color="grey", linestyle=":", label="6M gas (Energy Web Chain genesis block limit)"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rounds per epoch (672: hourly rounds, 4-week epochs; 8,760: a year)")
    ax.set_ylabel("largest transaction of one registration (M gas)")
    ax.set_title("Registering a worker's points: gas per transaction against epoch size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.text(0.01, 0.01, "Filled: measured on anvil; hollow: extrapolated (calls = ceil(rounds / "
             "chunk), each as measured); labels: transactions per worker.", fontsize=7,
             alpha=0.7)  # fmt: skip
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def latency_plot(results: dict, path: Path) -> None:
    worker = results["worker"]
    auto, blocks = worker["auto_mining"], worker["block_time_5s"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4), dpi=120)
    left.hist(auto["seconds"], bins=12, color="tab:blue", alpha=0.8)
    left.axvline(1.0, color="tab:red", linestyle="--", label="target p50 1 s")
    left.set_title(f"auto-mining anvil, {len(auto['seconds'])} rounds")
    left.set_xlabel("trigger to consensus (s)")
    left.set_ylabel("rounds")
    left.legend(fontsize=8)
    counts = {b: blocks["blocks"].count(b) for b in sorted(set(blocks["blocks"]))}
    right.bar([str(b) for b in counts], list(counts.values()), color="tab:green", alpha=0.8)
    right.set_title(f"5 s blocks, {len(blocks['blocks'])} rounds (target <= 2 blocks)")
    right.set_xlabel("blocks from trigger to consensus")
    right.set_ylabel("rounds")
    right.yaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"{worker['workers']} workers, threshold {worker['threshold']}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def matching_plot(results: dict, path: Path) -> None:
    """Time and peak memory of one matching hour against G x C, old and new workflow."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for workflow, style, label in (("old", "s--", "old: pro rata over all pairs"),
                                   ("new", "o-", "new: cfe, tiers, sparse")):  # fmt: skip
        points = sorted((s["devices"] * s["consumers"], s["total_s"], s["peak_rss_mib"])
                        for s in results["sizes"] if s["workflow"] == workflow)  # fmt: skip
        left.plot([p[0] for p in points], [p[1] for p in points], style, label=label)
        right.plot([p[0] for p in points], [p[2] for p in points], style, label=label)
    left.axhline(5, color="tab:red", linestyle=":", label="target 5 s at 1,000 x 10,000")
    right.axhline(1024, color="tab:red", linestyle=":", label="target 1 GB")
    for ax, title, unit in ((left, "parse + match + Merkle root", "seconds"),
                            (right, "peak resident memory", "MiB")):  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("devices x consumers (one hour, 3 zones)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    results_file = BENCH / "results.json"
    if not results_file.exists():
        print(f"{results_file} is missing: run `make bench` first", file=sys.stderr)
        return 1
    results = json.loads(results_file.read_text())
    written = []
    if "voting" in results:
        gas_plot(results, BENCH / "gas_per_round.png")
        written.append("bench/gas_per_round.png")
    if "rewards" in results and "by_rounds" in results["rewards"]:
        registration_plot(results, BENCH / "registration_gas.png")
        written.append("bench/registration_gas.png")
    if "worker" in results:
        latency_plot(results, BENCH / "latency.png")
        written.append("bench/latency.png")
    if "matching" in results:
        matching_plot(results["matching"], BENCH / "matching.png")
        written.append("bench/matching.png")
    print("wrote " + ", ".join(written) if written else "nothing to plot")
    print(SOURCES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
