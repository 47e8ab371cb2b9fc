"""Gas benchmark of WorkerRewards on fresh anvil chains: funding, registration and claims.

Usage: ape run bench_rewards --network ethereum:local:foundry

Registration walks an epoch's settled rounds once for one worker, so its gas grows with the rounds
of the epoch and must stay flat in the pool size; a claim is constant. Reward accounting adds
nothing to a vote (it reads the voting contract afterwards), which the vote figures show.
"""

from pathlib import Path
from typing import Any

import click
from ape import accounts, chain, project
from ape.api import AccountAPI
from ape.cli import ConnectedProviderCommand
from ape.logging import LogLevel, logger
from eth_utils import keccak

from scripts._bench_report import (
    Table,
    check,
    fmt_gas,
    target_rows,
    text_table,
    write_report,
    write_results,
)

DAY, HOUR = 86_400, 3_600
WEIGHTS = [1000, 2000, 4000, 3000]
ZERO = "0x" + "00" * 20
ROUND_COUNTS = (1, 10, 50, 100)
POOL_SIZES = (3, 7, 15, 31)
OUT = Path(__file__).resolve().parent.parent / "bench"


def pool_accounts(count: int) -> list[AccountAPI]:
    """Owner first, then `count` funded workers (generated beyond the mnemonic's accounts)."""
    made = list(accounts.test_accounts[: count + 1])
    while len(made) < count + 1:
        account = accounts.test_accounts.generate_test_account()
        account.balance = 10**21
        made.append(account)
    return made


def deploy(owner: AccountAPI, pool: list[AccountAPI]) -> tuple[Any, Any]:
    """WorkerVoting (simple majority, 1 h rounds) with `pool` enrolled, and WorkerRewards on it."""
    config = (0, False, HOUR, 0, 0, 0, 3, ZERO)
    voting = owner.deploy(project.WorkerVoting, owner, config)
    for worker in pool:
        voting.addWorker(worker, sender=owner)
    rewards = owner.deploy(
        project.WorkerRewards, owner, voting, ZERO, DAY, 2 * HOUR, 30 * DAY, WEIGHTS
    )
    return voting, rewards


def play_rounds(voting: Any, pool: list[AccountAPI], rounds: int) -> list[int]:
    """`rounds` rounds where every worker votes; returns the gas of each vote of the first round."""
    gas = []
    for i in range(rounds):
        vid, result = keccak(text=f"bench round {i}"), keccak(text=f"root {i}")
        for worker in pool:
            receipt = voting.vote(vid, result, sender=worker)
            if i == 0:
                gas.append(receipt.gas_used)
    return gas


def goto(timestamp: int) -> None:
    chain.pending_timestamp = timestamp
    chain.mine()


def epoch_scenario(n: int, rounds: int) -> dict[str, int]:
    """Fund, play `rounds` rounds in epoch 0, register and claim one worker; gas of each step."""
    owner, *pool = pool_accounts(n)
    voting, rewards = deploy(owner, pool)
    first_fund = rewards.fund(0, 10**18, value=10**18, sender=owner).gas_used
    top_up = rewards.fund(0, 10**18, value=10**18, sender=owner).gas_used
    votes = play_rounds(voting, pool, rounds)
    ends = rewards.epochTimes(0)[1]
    goto(ends + HOUR + 1)  # past the epoch and every late-vote window
    register = rewards.register(0, pool[0], sender=owner).gas_used
    second_register = rewards.register(0, pool[1], sender=owner).gas_used
    goto(ends + 2 * HOUR + 1)
    first_claim = rewards.claim(0, pool[0], sender=owner).gas_used  # settles the epoch too
    claim = rewards.claim(0, pool[1], sender=owner).gas_used
    return {
        "fund_first": first_fund,
        "fund_top_up": top_up,
        "register": register,
        "register_second": second_register,
        "claim_with_settle": first_claim,
        "claim": claim,
        "opening_vote": votes[0],
        "plain_vote": votes[1] if n > 3 else votes[0],
    }


def per_round(by_rounds: dict[int, dict[str, int]], key: str) -> float:
    """Marginal gas of one more settled round, from the smallest to the largest epoch measured."""
    lo, hi = min(by_rounds), max(by_rounds)
    return (by_rounds[hi][key] - by_rounds[lo][key]) / (hi - lo)


def measure() -> dict[str, Any]:
    by_rounds = {r: epoch_scenario(7, r) for r in ROUND_COUNTS}
    by_pool = {n: epoch_scenario(n, 10) for n in POOL_SIZES}
    return {"by_rounds": by_rounds, "by_pool": by_pool}


def targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    by_pool = data["by_pool"]
    small, large = by_pool[min(POOL_SIZES)]["register"], by_pool[max(POOL_SIZES)]["register"]
    vote_with, vote_without = data["vote_with_rewards"], data["vote_without_rewards"]
    return [
        check("registration at n=31 within 5% of n=3 (flat in pool)", large / small - 1, 0.05, "%"),
        check(
            "plain vote with rewards deployed <= without (no extra gas)",
            vote_with,
            vote_without,
            "gas",
        ),
    ]


def tables(data: dict[str, Any]) -> list[Table]:
    keys = [
        "fund_first",
        "fund_top_up",
        "register",
        "register_second",
        "claim_with_settle",
        "claim",
    ]
    by_rounds, by_pool = data["by_rounds"], data["by_pool"]
    rounds_rows = [[k] + [fmt_gas(by_rounds[r][k]) for r in ROUND_COUNTS] for k in keys]
    pool_rows = [[k] + [fmt_gas(by_pool[n][k]) for n in POOL_SIZES] for k in keys]
    marginal = [
        [key, f"{per_round(by_rounds, key):,.0f}"] for key in ("register", "claim_with_settle")
    ]
    return [
        (
            "Rewards gas by rounds in the epoch (7 workers)",
            ["operation"] + [f"R={r}" for r in ROUND_COUNTS],
            rounds_rows,
        ),
        (
            "Rewards gas by pool size (10 rounds)",
            ["operation"] + [f"n={n}" for n in POOL_SIZES],
            pool_rows,
        ),
        ("Gas per extra settled round", ["operation", "gas per round"], marginal),
        target_rows(data["targets"]),
    ]


@click.command(cls=ConnectedProviderCommand)
def cli() -> None:
    """Measure WorkerRewards gas on fresh contracts; print a table, write bench/ files."""
    logger.set_level(LogLevel.WARNING)
    data = measure()
    owner, *pool = pool_accounts(7)
    voting, _ = deploy(owner, pool)
    data["vote_without_rewards"] = play_rounds(voting, pool, 1)[1]
    data["vote_with_rewards"] = data["by_rounds"][1]["plain_vote"]
    data["targets"] = targets(data)
    built = tables(data)
    for table in built:
        click.echo(text_table(*table) + "\n")
    OUT.mkdir(exist_ok=True)
    write_results(OUT / "results.json", "rewards", data)
    intro = (
        "Whole-transaction gas of WorkerRewards on fresh anvil chains (`make bench`). Registration "
        "walks the epoch's settled rounds once for one worker; the first claim also settles the "
        "epoch. Reward accounting reads the voting contract afterwards, so votes cost the same."
    )
    notes = [
        "A vote costs the same with a funded reward contract: nothing runs in the vote path.",
        "Keep the rounds of an epoch within what one registration can walk in a block.",
    ]
    write_report(OUT / "REPORT.md", "rewards", "Rewards", intro, built, notes)
    click.echo("wrote bench/results.json and bench/REPORT.md (rewards section)")
