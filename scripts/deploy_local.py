"""The main job on a local chain: deploy a network, run rounds, settle an epoch, pay rewards.

Usage: ape run deploy_local --network ethereum:local:foundry

Deploys through the same code path as `ape run deploy contracts` (parameters from
networks/local.yaml, manifest in a temporary folder), then plays four rounds with the four
workers of that file (all agree; one offline; one dissenting; a split that fails, re-runs and
succeeds), walks the result chain, and registers and claims the epoch's rewards.
"""

import tempfile
from pathlib import Path

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from ape.logging import LogLevel, logger
from eth_abi import encode
from eth_utils import keccak

from scripts._deployment import open_deployment
from scripts._report import status_lines
from scripts.deploy import execute, preflight, show

PARAMS = Path(__file__).resolve().parent.parent / "networks" / "local.yaml"
STATUS = ["", "Voting", "Committing", "Revealing", "Consensus", "Plurality", "Failover", "Failed"]


def goto(timestamp: int) -> None:
    chain.pending_timestamp = timestamp
    chain.mine()


def play(voting, workers, label: str, votes: list[bytes | None]) -> bytes:
    """One round: worker i votes votes[i] (None: offline). Returns the votingId."""
    voting_id = keccak(text=f"matching-24-7:{label}")
    for worker, result in zip(workers, votes, strict=True):
        if result is not None:
            receipt = voting.vote(voting_id, result, sender=worker)
            names = ", ".join(log.event_name for log in receipt.events)
            click.echo(f"    {worker.address[:10]} votes: {receipt.gas_used:>7,} gas  [{names}]")
    return voting_id


def walk_chain(voting) -> None:
    """Recomputes the chain head from genesis over every entry and compares."""
    head, length = voting.chainHead()
    walked = voting.genesis()
    types = ["bytes32", "uint32", "bytes32", "bytes32", "uint8", "uint8", "uint8"]
    for i in range(length):
        e = voting.chainEntry(i)
        values = [walked, i, e.votingId, e.result, e.attempt, e.votes, e.kind]
        walked = keccak(encode(types, values))
        click.echo(
            f"  entry {i}: {STATUS[e.kind]:<9} attempt {e.attempt}, {e.votes} votes, "
            f"result {e.result.hex()[:16]}..."
        )
    verdict = "verified" if walked == head else "MISMATCH"
    click.echo(f"  head {head.hex()[:16]}... recomputed from genesis: {verdict}")


@click.command(cls=ConnectedProviderCommand)
def cli(provider) -> None:
    """Deploy a worker network on the local chain and show a full reward epoch."""
    logger.set_level(LogLevel.WARNING)  # the script prints each transaction itself
    owner = accounts.test_accounts[0]
    workers = list(accounts.test_accounts[1:5])
    with tempfile.TemporaryDirectory() as folder:
        plan = preflight(provider, owner, PARAMS, Path(folder), True, "3 ether")
        show(plan, provider, owner)
        click.echo("Transactions:")
        manifest = execute(plan, owner)
        click.echo(f"  {'total':<54} {manifest['gas_used']:>10,} gas")
        net = open_deployment(provider, plan.manifest, Path(folder))
    voting, rewards = net.voting, net.rewards
    a, b = keccak(text="root of hour 1"), keccak(text="root of hour 2")
    click.echo("\nRound 1: all four agree")
    play(voting, workers, "hour-1", [a, a, a, a])
    click.echo("Round 2: worker 4 is offline")
    play(voting, workers, "hour-2", [b, b, b, None])
    click.echo("Round 3: worker 3 was fed corrupted data and dissents")
    play(voting, workers, "hour-3", [a, a, keccak(text="corrupted"), a])
    click.echo("Round 4: data split 2-2, no consensus; finalize re-runs it, then 3 agree")
    vid = play(voting, workers, "hour-4", [a, a, b, b])
    goto(voting.roundState(vid).deadline + 1)
    voting.finalize(vid, sender=owner)
    play(voting, workers, "hour-4", [b, b, b, None])

    click.echo("\nResult chain:")
    walk_chain(voting)

    ends = rewards.epochTimes(0)[1]
    goto(ends + 3600 + 1)
    click.echo("\nEpoch 0 rewards (registered after the epoch, claimed after the window):")
    for worker in workers:
        rewards.register(0, worker, sender=owner)
    goto(rewards.epochTimes(0)[2] + 1)
    for n, worker in enumerate(workers, start=1):
        availability, consistency, accuracy, speed = rewards.registration(0, worker)[2]
        paid = rewards.claim(0, worker, sender=worker).events[-1].amount
        click.echo(
            f"  worker {n}: availability {availability}, consistency {consistency}, "
            f"accuracy {accuracy}, speed {speed} -> {paid / 10**18:.6f} ETH"
        )
    click.echo("\n" + "\n".join(status_lines(net, rounds=3)))
    click.secho(
        f"\nWorker network ran on {plan.network}: WorkerVoting {voting.address}, "
        f"WorkerRewards {rewards.address}",
        fg="green",
    )
