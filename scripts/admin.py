"""Operates a deployed worker network: pool, funding, parameters, pause, ownership and status.

Every command reads the manifest of the connected network (`deployments/<ecosystem>-<network>.json`,
or `--manifest`) and refuses to run on another chain. Transactions ask first (`--yes` skips).

Usage:
    ape run admin status --network energyweb:volta:node
    ape run admin add-worker 0xWORKER... --network energyweb:volta:node --account deployer
"""

from pathlib import Path
from typing import Any

import click
from ape import chain, project
from ape.api import AccountAPI, ProviderAPI
from ape.cli import ConnectedProviderCommand
from ape.contracts import ContractInstance

from scripts._cli_errors import ScriptGroup
from scripts._deployment import (
    Deployment,
    address_arguments,
    connected_chain_id,
    erc20,
    format_amount,
    funding_steps,
    manifest_options,
    network_name,
    open_deployment,
    parse_amount,
    require_owner,
    send_steps,
    step,
    transaction_options,
)
from scripts._params import (
    BPS,
    WEIGHT_NAMES,
    VotingParams,
    parse_duration,
    read_section,
    validate_voting,
    voting_fields,
)
from scripts._report import reward_token, status_lines, voting_items


def success(net: Deployment, message: str) -> None:
    """The closing line: what happened, on which network, to which contract."""
    network = network_name(chain.provider.network)
    click.secho(f"{message} on {network} (WorkerVoting {net.voting.address})", fg="green")


@click.group(cls=ScriptGroup)
def cli() -> None:
    """Operate a deployed worker network (reads its deployment manifest)."""


# -------------------------------------------------------------------------------------------------
# Pool
# -------------------------------------------------------------------------------------------------


def _check_new_worker(voting: ContractInstance, worker: str) -> None:
    info = voting.workerInfo(worker)
    if info.active:
        raise click.BadParameter(f"{worker} is already in the pool", param_hint="WORKERS")
    if info.retired:
        raise click.BadParameter(
            f"{worker} was removed before; removal is final", param_hint="WORKERS"
        )
    gate, role, version = voting.eligibilityGate()
    if int(gate, 16) != 0 and not project.IEligibility.at(gate).hasRole(worker, role, version):
        raise click.BadParameter(
            f"{worker} does not hold role 0x{bytes(role).hex()} (version >= {version}) "
            f"in the eligibility gate {gate}",
            param_hint="WORKERS",
        )


@cli.command("add-worker", cls=ConnectedProviderCommand)
@transaction_options
@click.argument("workers", nargs=-1, required=True, callback=address_arguments)
def add_worker(
    provider: ProviderAPI,
    account: AccountAPI,
    yes: bool,
    workers: list[str],
    **where: Any,
) -> None:
    """Enrol WORKERS in the pool (they vote in rounds opened afterwards)."""
    net = open_deployment(provider, **where)
    require_owner(net.voting, "WorkerVoting", account)
    for worker in workers:
        _check_new_worker(net.voting, worker)
    active = net.voting.poolState().activeCount
    if active + len(workers) > net.max_workers:
        raise click.BadParameter(
            f"{active} active + {len(workers)} new workers exceed the pool size limit "
            f"{net.max_workers} of {net.path}",
            param_hint="WORKERS",
        )
    steps = [step(f"addWorker {w}", net.voting.addWorker, w) for w in workers]
    send_steps(account, yes, f"Add {len(workers)} worker(s)", steps)
    total = net.voting.poolState().activeCount
    success(net, f"Added {', '.join(workers)}; {total} active workers")


@cli.command("remove-worker", cls=ConnectedProviderCommand)
@transaction_options
@click.argument("workers", nargs=-1, required=True, callback=address_arguments)
def remove_worker(
    provider: ProviderAPI,
    account: AccountAPI,
    yes: bool,
    workers: list[str],
    **where: Any,
) -> None:
    """Remove WORKERS from the pool for good (open rounds keep their threshold)."""
    net = open_deployment(provider, **where)
    require_owner(net.voting, "WorkerVoting", account)
    for worker in workers:
        if not net.voting.workerInfo(worker).active:
            raise click.BadParameter(f"{worker} is not an active worker", param_hint="WORKERS")
    steps = [step(f"removeWorker {w}", net.voting.removeWorker, w) for w in workers]
    send_steps(account, yes, f"Remove {len(workers)} worker(s) for good", steps)
    total = net.voting.poolState().activeCount
    success(net, f"Removed {', '.join(workers)}; {total} active workers")


# -------------------------------------------------------------------------------------------------
# Rewards
# -------------------------------------------------------------------------------------------------


@cli.command(cls=ConnectedProviderCommand)
@transaction_options
@click.option("--epoch", type=click.IntRange(min=0), help="Epoch to fund [default: current].")
@click.argument("amount")
def fund(
    provider: ProviderAPI,
    account: AccountAPI,
    yes: bool,
    epoch: int | None,
    amount: str,
    **where: Any,
) -> None:
    """Add AMOUNT ('10 EWT', '0.5 ether', '5 gwei' or wei) to the pot of an epoch."""
    net = open_deployment(provider, **where)
    token, decimals, symbol = reward_token(net.rewards)
    value = parse_amount(amount, decimals)
    current = net.rewards.currentEpoch()
    epoch = current if epoch is None else epoch
    if epoch < current:
        raise click.BadParameter(
            f"epoch {epoch} has ended (current: {current})", param_hint="--epoch"
        )
    held = account.balance if token is None else erc20(token).balanceOf(account.address)
    if held < value:
        raise click.BadParameter(
            f"{account.address} holds {held} base units, fewer than {value}", param_hint="AMOUNT"
        )
    steps = funding_steps(net.rewards, account.address, value, epoch)
    shown = format_amount(value, decimals, symbol)
    send_steps(account, yes, f"Fund epoch {epoch} with {shown}", steps)
    pot = format_amount(net.rewards.epochInfo(epoch).pot, decimals, symbol)
    success(net, f"Funded epoch {epoch} with {shown}; its pot is {pot}")


@cli.command("set-weights", cls=ConnectedProviderCommand)
@transaction_options
@click.argument("weights", nargs=4, type=click.IntRange(0, BPS))
def set_weights(
    provider: ProviderAPI,
    account: AccountAPI,
    yes: bool,
    weights: tuple[int, int, int, int],
    **where: Any,
) -> None:
    """Set reward weights in bps (AVAILABILITY CONSISTENCY ACCURACY SPEED) from the next epoch."""
    if sum(weights) != BPS:
        raise click.BadParameter(f"must sum to {BPS}, got {sum(weights)}", param_hint="WEIGHTS")
    net = open_deployment(provider, **where)
    require_owner(net.rewards, "WorkerRewards", account)
    shown = ", ".join(f"{name} {w}" for name, w in zip(WEIGHT_NAMES, weights))
    steps = [step("setWeights", net.rewards.setWeights, list(weights))]
    send_steps(account, yes, f"Set weights {shown} from the next epoch", steps)
    success(net, f"Weights {shown} apply from epoch {net.rewards.weights().fromEpoch}")


# -------------------------------------------------------------------------------------------------
# Round parameters
# -------------------------------------------------------------------------------------------------


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    try:
        return None if value is None else parse_duration(value)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from err


def _apply_flags(fields: dict, flags: dict[str, Any]) -> dict:
    """The round parameters `fields` with the set-config flags applied."""
    fields = dict(fields)
    for name in ("threshold", "mode", "vote_duration", "reveal_duration", "speed_rank"):
        if flags[name] is not None:
            fields[name] = flags[name]
    if flags["mode"] == "open" and flags["reveal_duration"] is None:
        fields["reveal_duration"] = 0
    fallback = dict(fields.get("fallback") or {})
    if flags["fallback"] is not None and flags["fallback"] != fallback.get("policy"):
        fallback = {"policy": flags["fallback"]}
    for name in ("min_votes", "failover", "failover_timeout"):
        if flags[name] is not None:
            fallback[name] = flags[name]
    return fields | {"fallback": fallback}


def _check_config(net: Deployment, new: VotingParams, max_window: Any) -> None:
    """Checks against the deployment: the pool size limit and the fixed longest window (a
    parameter file's voting.max_window, if given, must be the deployed one)."""
    for name, value in (("threshold", new.threshold), ("min_votes", new.fallback.min_votes)):
        if value > net.max_workers:
            raise click.BadParameter(
                f"{name} {value} exceeds the pool size limit {net.max_workers}",
                param_hint="set-config",
            )
    deployed = int(net.voting.maxWindow())
    try:
        given = None if max_window is None else parse_duration(max_window)
    except ValueError as err:
        raise click.BadParameter(
            f"params.voting.max_window: {err}", param_hint="set-config"
        ) from err
    if given is not None and given != deployed:
        raise click.BadParameter(
            f"voting.max_window is fixed at deployment ({deployed} s), got {given}",
            param_hint="set-config",
        )
    problem = new.window_problem(deployed)
    if problem:
        raise click.BadParameter(f"{problem} (fixed at deployment)", param_hint="set-config")


@cli.command("set-config", cls=ConnectedProviderCommand)
@transaction_options
@click.option(
    "--params",
    "params_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Start from the voting section of this parameter file (flags override it).",
)
@click.option("--threshold", type=int, help="Votes for consensus; 0 = simple majority.")
@click.option("--mode", type=click.Choice(["open", "sealed"]))
@click.option("--vote-duration", callback=_duration, help="Seconds, or e.g. 15m, 1h.")
@click.option("--reveal-duration", callback=_duration, help="Sealed mode: seconds, or 10m.")
@click.option("--fallback", type=click.Choice(["alert", "plurality", "failover"]))
@click.option("--min-votes", type=int, help="Plurality fallback: least votes it needs.")
@click.option("--failover", help="Failover fallback: the address that decides.")
@click.option(
    "--failover-timeout",
    callback=_duration,
    help="Failover fallback: how long it may decide before anyone may fail the round, e.g. 1d.",
)
@click.option("--speed-rank", type=int, help="How many of the first votes count as fast.")
def set_config(
    provider: ProviderAPI,
    account: AccountAPI,
    yes: bool,
    params_file: Path | None,
    manifest: Path | None,
    deployments_dir: Path,
    **flags: Any,
) -> None:
    """Set the round parameters for rounds opened afterwards (from --params and/or flags)."""
    net = open_deployment(provider, manifest, deployments_dir)
    require_owner(net.voting, "WorkerVoting", account)
    config, version = net.voting.currentConfig()
    old = validate_voting(voting_fields(config), "config", "set-config")
    base = voting_fields(config) if params_file is None else read_section(params_file, "voting")
    prefix = "config" if params_file is None else "params.voting"
    max_window = base.pop("max_window", None)
    new = validate_voting(_apply_flags(base, flags), prefix, "set-config")
    _check_config(net, new, max_window)
    if new == old:
        click.echo("The round parameters already have these values; nothing sent.")
        return
    click.echo(f"Round parameters, version {version} -> {version + 1}:")
    before = dict(voting_items(old))
    for label, value in voting_items(new):
        was = before.pop(label, "not set")
        click.echo(f"  {label:<16} {value}" + ("" if was == value else f"   (was {was})"))
    for label, was in before.items():
        click.echo(f"  {label:<16} not set   (was {was})")
    steps = [step("setConfig", net.voting.setConfig, new.as_config())]
    send_steps(account, yes, "Set these round parameters", steps)
    success(net, f"Round parameters version {version + 1} set")


# -------------------------------------------------------------------------------------------------
# Pause and ownership
# -------------------------------------------------------------------------------------------------


def _set_paused(net: Deployment, account: AccountAPI, yes: bool, paused: bool) -> None:
    require_owner(net.voting, "WorkerVoting", account)
    if net.voting.poolState().paused == paused:
        raise click.UsageError(f"WorkerVoting is already {'paused' if paused else 'unpaused'}")
    if paused:
        send_steps(account, yes, "Pause new rounds and votes", [step("pause", net.voting.pause)])
        success(net, "Paused new rounds and votes")
    else:
        send_steps(account, yes, "Allow rounds and votes", [step("unpause", net.voting.unpause)])
        success(net, "Unpaused: rounds and votes are allowed again")


@cli.command(cls=ConnectedProviderCommand)
@transaction_options
def pause(provider: ProviderAPI, account: AccountAPI, yes: bool, **where: Any) -> None:
    """Stop new rounds and votes (finalize and failover decisions still work)."""
    _set_paused(open_deployment(provider, **where), account, yes, True)


@cli.command(cls=ConnectedProviderCommand)
@transaction_options
def unpause(provider: ProviderAPI, account: AccountAPI, yes: bool, **where: Any) -> None:
    """Allow new rounds and votes again."""
    _set_paused(open_deployment(provider, **where), account, yes, False)


contract_option = click.option(
    "--contract",
    type=click.Choice(["both", "voting", "rewards"]),
    default="both",
    show_default=True,
    help="Which contract(s).",
)


def _targets(net: Deployment, which: str) -> list[tuple[str, ContractInstance]]:
    pairs = [("WorkerVoting", net.voting), ("WorkerRewards", net.rewards)]
    return [pair for pair in pairs if which in ("both", pair[0][6:].lower())]


@cli.command("transfer-ownership", cls=ConnectedProviderCommand)
@transaction_options
@contract_option
@click.argument("new_owner", callback=address_arguments)
def transfer_ownership(
    provider: ProviderAPI, account: AccountAPI, yes: bool, contract: str, new_owner: str, **where
) -> None:
    """Offer ownership to NEW_OWNER, who completes it with accept-ownership (two steps)."""
    net = open_deployment(provider, **where)
    targets = _targets(net, contract)
    for name, instance in targets:
        require_owner(instance, name, account)
    names = " and ".join(name for name, _ in targets)
    steps = [step(f"transferOwnership {n}", c.transferOwnership, new_owner) for n, c in targets]
    send_steps(account, yes, f"Offer ownership of {names} to {new_owner}", steps)
    success(net, f"Ownership of {names} offered to {new_owner}; it completes with accept-ownership")


@cli.command("accept-ownership", cls=ConnectedProviderCommand)
@transaction_options
@contract_option
def accept_ownership(
    provider: ProviderAPI, account: AccountAPI, yes: bool, contract: str, **where: Any
) -> None:
    """Accept ownership offered to the account."""
    net = open_deployment(provider, **where)
    targets = _targets(net, contract)
    for name, instance in targets:
        if instance.pendingOwner() != account.address:
            raise click.UsageError(f"{account.address} is not the pending owner of {name}")
    names = " and ".join(name for name, _ in targets)
    steps = [step(f"acceptOwnership {n}", c.acceptOwnership) for n, c in targets]
    send_steps(account, yes, f"Accept ownership of {names}", steps)
    success(net, f"{account.address} now owns {names}")


# -------------------------------------------------------------------------------------------------
# Status
# -------------------------------------------------------------------------------------------------


@cli.command(cls=ConnectedProviderCommand)
@manifest_options
@click.option("--rounds", default=5, show_default=True, help="How many recent rounds to list.")
def status(provider: ProviderAPI, rounds: int, **where: Any) -> None:
    """Show the pool, parameters, result chain, recent rounds and the current epoch."""
    net = open_deployment(provider, **where)
    block = chain.blocks.head
    click.echo(
        f"Network {network_name(provider.network)} (chain id {connected_chain_id(provider)}), "
        f"block {block.number}; manifest {net.path}"
    )
    for line in status_lines(net, rounds):
        click.echo(line)
