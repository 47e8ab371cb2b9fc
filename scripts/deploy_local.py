"""Deploys a voting network on a local chain, runs one round and prints what happened.

Usage: ape run deploy_local --network ethereum:local:foundry [--workers 7] [--threshold 4]
"""

import click
from ape import accounts, project
from ape.cli import ConnectedProviderCommand
from eth_utils import keccak

HOUR = 3600


@click.command(cls=ConnectedProviderCommand)
@click.option(
    "--workers", "n_workers", default=7, show_default=True, help="Workers to enrol (1-9)."
)
@click.option("--threshold", default=0, help="Votes for consensus; 0 = simple majority.")
def cli(n_workers: int, threshold: int) -> None:
    """Deploy WorkerVoting on the local chain and run one round with every worker voting."""
    if not 1 <= n_workers <= 9:
        raise click.BadParameter(
            "must be between 1 and 9 (the local test accounts)", param_hint="--workers"
        )
    owner, *pool = accounts.test_accounts[: n_workers + 1]
    config = (threshold, False, HOUR, 0, 0, 0, 3, "0x" + "00" * 20)
    voting = owner.deploy(project.WorkerVoting, owner, config)
    click.echo(f"WorkerVoting deployed at {voting.address}")
    for worker in pool:
        voting.addWorker(worker, sender=owner)
    click.echo(f"Enrolled {len(pool)} workers")

    voting_id = keccak(text="matching-24-7:2026-11-23T00:00Z/PT1H")
    result = keccak(text="merkle root of the hour's matched volumes")
    total_gas = 0
    for worker in pool:
        receipt = voting.vote(voting_id, result, sender=worker)
        total_gas += receipt.gas_used
        names = ", ".join(log.event_name for log in receipt.events)
        click.echo(f"  vote from {worker.address[:10]}: {receipt.gas_used:>7,} gas  [{names}]")

    state = voting.roundState(voting_id)
    head, length = voting.chainHead()
    click.echo(f"Round status {state.status}, threshold {state.threshold} of {state.eligibleCount}")
    click.echo(f"Result {voting.resultOf(voting_id).hex()} recorded as chain entry {length - 1}")
    click.echo(f"Chain head {head.hex()}; whole round {total_gas:,} gas")
