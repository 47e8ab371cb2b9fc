"""Gas benchmark of WorkerRewards on fresh anvil chains: registration in chunks, funding, claims.

Usage: ape run bench_rewards --network ethereum:local:foundry  (or `make bench`)

Registration counts an epoch's settled rounds for one worker in resumable chunks
(`register(epoch, worker, maxRounds)`; here the worker client's chunk, `DEFAULT_CHUNK` entries a
call), so no transaction grows with the rounds of an epoch; the number of transactions does.
Epochs of 10 and 672 rounds are played on anvil (two workers of three vote in every round,
through plain JSON-RPC transactions to be quick); 8,760 and 50,000 are extrapolated from the
measured chunks. The old single walk (one transaction per worker walking every round) is
shown beside it from its last measured figures.
"""

import math
from pathlib import Path
from typing import Any

import click
from ape import accounts, chain, project
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
from scripts._voting import deploy_voting
from worker.registration import DEFAULT_CHUNK

HOUR, DAY = 3_600, 86_400
WEIGHTS = [1000, 2000, 4000, 3000]
ZERO = "0x" + "00" * 20
CHUNK = DEFAULT_CHUNK  # entries per register call: what the worker client sends
BATCH = 50  # rounds per block when playing them (100 transactions of at most 150k gas)
PLAYED = (10, 672)  # rounds per epoch played on anvil (2,000: anvil gave up on this machine)
TABLE = (10, 672, 8_760, 50_000)  # hourly rounds: 4-week epochs (672), a year (8,760)
OLD_FIXED, OLD_PER_ROUND = 215_000, 10_600  # the old single walk, as last measured
BLOCK_GAS = 6_000_000  # Energy Web Chain's genesis block gas limit
SCHEDULE, ENCODING = keccak(text="bench:schedule"), keccak(text="bench:encoding")
OUT = Path(__file__).resolve().parent.parent / "bench"


def deploy(owner: Any, pool: list) -> tuple[Any, Any]:
    """WorkerVoting (2 of 3, 1 h windows, 1-week epochs) with `pool`, and WorkerRewards on it."""
    config = (2, False, HOUR, 0, 0, 0, 3, ZERO, 0)
    voting = deploy_voting(owner, config, 7 * DAY, 2 * HOUR)
    for worker in pool:
        voting.addWorker(worker, sender=owner)
    rewards = owner.deploy(project.WorkerRewards, owner, voting, ZERO, DAY, 30 * DAY, WEIGHTS)
    return voting, rewards


def play_rounds(voting: Any, pool: list, rounds: int) -> None:
    """`rounds` event rounds settled by pool[0] and pool[1], both with openAndVote (whichever comes
    first opens), sent as plain JSON-RPC transactions from anvil's unlocked accounts, every field
    given (nothing estimated or looked up), BATCH rounds per block."""
    web3 = chain.provider.web3
    nonces = {w.address: web3.eth.get_transaction_count(w.address) for w in pool[:2]}
    price = 2 * web3.eth.gas_price
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        for i in range(rounds):
            d = (SCHEDULE, 0, 0, keccak(text=f"bench round {i}"), ENCODING)
            data = voting.openAndVote.encode_input(d, keccak(text=f"root {i}"))
            for sender in pool[:2]:
                tx = {"from": sender.address, "to": voting.address, "data": data, "gas": 150_000,
                      "gasPrice": price, "nonce": nonces[sender.address]}  # fmt: skip
                nonces[sender.address] += 1
                web3.provider.make_request("eth_sendTransaction", [_json(tx)])
            if i % BATCH == BATCH - 1 or i == rounds - 1:
                web3.provider.make_request("evm_mine", [])
        for _ in range(5):  # NOTE: anything left pending goes into the next blocks
            if voting.chainHead()[1] == rounds:
                break
            web3.provider.make_request("evm_mine", [])
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    length = voting.chainHead()[1]
    if length != rounds:
        raise click.ClickException(f"{length} of {rounds} rounds settled")


def _json(tx: dict) -> dict:
    """JSON-RPC quantities and data: 0x hex strings."""
    return {k: hex(v) if isinstance(v, int) else v if isinstance(v, str) else "0x" + bytes(v).hex()
            for k, v in tx.items()}  # fmt: skip


def goto(timestamp: int) -> None:
    chain.pending_timestamp = timestamp
    chain.mine()


def register_all(rewards: Any, worker: Any, sender: Any, sizes: list[int]) -> list[int]:
    """Registers `worker` for epoch 0 in calls of `sizes[i]` entries (then CHUNK); the gas of
    each call."""
    gas, i = [], 0
    while True:
        size = sizes[i] if i < len(sizes) else CHUNK
        receipt = rewards.register(0, worker, size, sender=sender)
        gas.append(receipt.gas_used)
        i += 1
        if rewards.registration(0, worker).registered:
            return gas


def epoch_scenario(rounds: int) -> dict[str, Any]:
    """Fund, play `rounds` rounds in epoch 0, register two workers in chunks, settle, claim,
    sweep; the gas of each step."""
    owner, *pool = accounts.test_accounts[:4]
    voting, rewards = deploy(owner, pool)
    fund_first = rewards.fund(0, 10**18, value=10**18, sender=owner).gas_used
    fund_top_up = rewards.fund(0, 10**18, value=10**18, sender=owner).gas_used
    play_rounds(voting, pool, rounds)
    _begins, ends, registration_ends = rewards.epochTimes(0)
    goto(int(ends) + 2 * HOUR + 1)  # epoch over, every late-vote window closed
    chunks = register_all(rewards, pool[0], owner, [])
    # pool[1]: a first chunk of CHUNK, then one of CHUNK // 2: the per-entry slope of a middle call
    probe = register_all(rewards, pool[1], owner, [CHUNK, CHUNK // 2] if rounds > 2 * CHUNK else [])
    goto(int(registration_ends) + 1)
    out = {"rounds": rounds, "chunks": chunks, "probe": probe, "fund_first": fund_first,
           "fund_top_up": fund_top_up}  # fmt: skip
    if rounds == min(PLAYED):  # the first claim settles the epoch
        out["claim_with_settle"] = rewards.claim(0, pool[0], sender=owner).gas_used
        out["claim"] = rewards.claim(0, pool[1], sender=owner).gas_used
    else:
        out["settle"] = rewards.settle(0, sender=owner).gas_used
        out["claim"] = rewards.claim(0, pool[0], sender=owner).gas_used
        goto(int(registration_ends) + 30 * DAY + 1)  # past the claim expiry: pool[1] never claimed
        out["sweep"] = rewards.sweep(0, sender=owner).gas_used
    return out


def slope(data: dict[str, Any]) -> float:
    """Gas per entry of a middle register call: (a CHUNK-entry call - a CHUNK/2-entry call) / 50."""
    probe = data["played"][str(max(PLAYED))]["probe"]
    return (probe[2] - probe[1]) / (CHUNK - CHUNK // 2)


def largest_fixed(data: dict[str, Any]) -> float:
    """The part of a middle CHUNK-entry call that does not grow with its entries."""
    probe = data["played"][str(max(PLAYED))]["probe"]
    return probe[2] - CHUNK * slope(data)


def under_1m(data: dict[str, Any]) -> int:
    """Entries per call that keep the first (costliest) call under 1M gas, from the slope."""
    first = data["played"][str(max(PLAYED))]["chunks"][0]
    return int((1_000_000 - (first - CHUNK * slope(data))) // slope(data) // 10 * 10)


def per_rounds(data: dict[str, Any], rounds: int) -> dict[str, Any]:
    """Transactions per worker, largest call, total gas: measured when played, else extrapolated
    (the chunks of the largest epoch played, middle calls scaled by the count)."""
    played = data["played"].get(str(rounds))
    if played is not None:
        chunks = played["chunks"]
        return {"txs": len(chunks), "max": max(chunks), "total": sum(chunks), "measured": True}
    base = data["played"][str(max(PLAYED))]["chunks"]
    txs = math.ceil(rounds / CHUNK)
    middle = max(base[1:-1])
    entries_then, entries_now = max(PLAYED) % CHUNK or CHUNK, rounds % CHUNK or CHUNK
    last = base[-1] + (entries_now - entries_then) * slope(data)
    total = base[0] + middle * (txs - 2) + last
    return {"txs": txs, "max": max(base[0], middle, last), "total": round(total), "measured": False}


def targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = {r: per_rounds(data, r) for r in TABLE}
    worst = max(row["max"] for row in rows.values())
    return [
        check("largest register transaction <= 1M gas, any epoch size", worst, 1_000_000, "gas"),
        check("largest register transaction <= 1/6 of a 6M block", worst / BLOCK_GAS, 1 / 6, "x"),
    ]


def tables(data: dict[str, Any]) -> list[Table]:
    head = ["rounds per epoch"] + [f"{r:,}" for r in TABLE]
    rows = {r: per_rounds(data, r) for r in TABLE}
    old = {r: OLD_FIXED + OLD_PER_ROUND * r for r in TABLE}
    mark = {r: "" if rows[r]["measured"] else " (ext.)" for r in TABLE}
    chunked = [
        ["register transactions per worker"] + [f"{rows[r]['txs']:,}{mark[r]}" for r in TABLE],
        ["largest register transaction (gas)"] + [fmt_gas(rows[r]["max"]) + mark[r] for r in TABLE],
        ["registration gas per worker, total"] + [fmt_gas(rows[r]["total"]) + mark[r]
                                                  for r in TABLE],
        ["old single walk: one transaction (gas)"] + [fmt_gas(old[r]) for r in TABLE],
        ["old walk fits a 6M block"] + ["yes" if old[r] <= BLOCK_GAS else "no" for r in TABLE],
    ]  # fmt: skip
    played = data["played"]
    calls = [[f"R={r}", fmt_gas(c[0]), fmt_gas(max(c[1:-1], default=None)),
              fmt_gas(c[-1]) if len(c) > 1 else "(one call)", str(len(c))]
             for r, c in ((int(k), v["chunks"]) for k, v in played.items())]  # fmt: skip
    small, large = played[str(min(PLAYED))], played[str(PLAYED[1])]
    other = [
        ["fund (first of an epoch)", fmt_gas(small["fund_first"])],
        ["fund (top-up)", fmt_gas(small["fund_top_up"])],
        ["settle", fmt_gas(large["settle"])],
        ["claim (first of an epoch: settles it too)", fmt_gas(small["claim_with_settle"])],
        ["claim (epoch settled)", fmt_gas(large["claim"])],
        ["sweep (after the claim expiry)", fmt_gas(large["sweep"])],
    ]
    return [
        (f"Registration in chunks of {CHUNK} entries against the old single walk", head, chunked),
        ("Register calls as played (gas)",
         ["epoch", "first call", "largest middle call", "last call", "calls"], calls),
        ("Funding, settling, claims (gas)", ["operation", "gas"], other),
        target_rows(data["targets"]),
    ]  # fmt: skip


@click.command(cls=ConnectedProviderCommand)
def cli() -> None:
    """Measure WorkerRewards gas (registration in chunks, funding, claims); write bench/ files."""
    logger.set_level(LogLevel.WARNING)
    data: dict[str, Any] = {"chunk": CHUNK, "old": {"fixed": OLD_FIXED, "per_round": OLD_PER_ROUND}}
    data["played"] = {}
    for rounds in PLAYED:
        click.echo(f"  epoch of {rounds:,} rounds ...")
        data["played"][str(rounds)] = epoch_scenario(rounds)
    data["slope_per_entry"] = round(slope(data), 1)
    data["by_rounds"] = {str(r): per_rounds(data, r) for r in TABLE}
    data["targets"] = targets(data)
    built = tables(data)
    for table in built:
        click.echo(text_table(*table) + "\n")
    notes = [
        f"Played: epochs of {', '.join(f'{r:,}' for r in PLAYED)} rounds, each settled by two "
        "votes of a 2-of-3 pool; the registered worker voted, agreed and was fast in every round "
        "(the costliest path per entry).",
        f"Extrapolated (ext.): calls = ceil(rounds / {CHUNK}); the first and the middle calls as "
        f"measured in the {max(PLAYED):,}-round epoch; the last call scaled by its entries at the "
        f"measured slope of {data['slope_per_entry']:,} gas per entry (a {CHUNK}-entry call minus "
        f"a {CHUNK // 2}-entry call, both in the middle of a registration, over "
        f"{CHUNK - CHUNK // 2}).",
        f"Old single walk: {OLD_FIXED:,} + {OLD_PER_ROUND:,} gas per round in one transaction "
        "(the last measurements before registration became resumable); 672 rounds ~7.35M.",
        f"A middle call of {CHUNK} entries costs about {CHUNK} x {data['slope_per_entry']:,.0f} "
        f"+ {largest_fixed(data):,.0f} gas; calls of {under_1m(data)} entries would stay under 1M "
        "(from the same slope; the worker client chooses the chunk).",
        "A vote pays nothing for rewards: nothing runs in the vote path (see the voting tables).",
        "The first claim of an epoch also settles it (rolls over the pots nobody earned).",
    ]
    OUT.mkdir(exist_ok=True)
    write_results(OUT / "results.json", "rewards", data)
    intro = (
        "Whole-transaction gas of WorkerRewards on fresh anvil chains (`make bench`). Registration "
        f"counts the epoch's settled rounds for one worker in calls of at most {CHUNK} entries "
        "(the worker client's chunk); anyone may send them, and the worker client does after "
        "each epoch."
    )
    write_report(OUT / "REPORT.md", "rewards", "Rewards", intro, built, notes)
    click.echo("wrote bench/results.json and bench/REPORT.md (rewards section)")
