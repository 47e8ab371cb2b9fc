"""Deploys a worker network (WorkerVoting + WorkerRewards) from a parameter file.

Usage:
    ape run deploy check --params networks/volta.yaml --network energyweb:volta:node
    ape run deploy contracts --params networks/volta.yaml --network energyweb:volta:node \\
        --account deployer [--fund "10 VT"] [--yes] [--force]

`check` validates everything and sends nothing. `contracts` validates the same, shows what it will
deploy, asks, then deploys WorkerPoolAdmin (the pool administration module), WorkerVoting (on that
module), WorkerRewards (wired to it), sets the eligibility gate,
enrols the initial workers, optionally funds the current epoch and writes the manifest
`deployments/<ecosystem>-<network>.json` after every transaction.
"""

from dataclasses import dataclass
from pathlib import Path

import click
from ape import project
from ape.api import AccountAPI, ProviderAPI
from ape.cli import ConnectedProviderCommand

from scripts._cli_errors import ScriptGroup
from scripts._deployment import (
    MANIFEST_VERSION,
    TxLog,
    account_option_with_help,
    compiler_info,
    confirm,
    connected_chain_id,
    deployments_dir_option,
    enable_autosign,
    erc20,
    format_amount,
    funding_steps,
    manifest_path,
    native_symbol,
    network_name,
    parse_amount,
    require_chain,
    require_contract,
    step,
    utc_now,
    write_manifest,
)
from scripts._params import DeployParams, load_params
from scripts._report import describe
from scripts._voting import deployment_gas, module_code


@dataclass(frozen=True)
class Plan:
    """Everything a deployment needs, checked before anything is sent."""

    params: DeployParams
    params_file: Path
    manifest: Path
    network: str
    chain_id: int
    fund: int | None
    fund_text: str


def _check_gate(params: DeployParams) -> None:
    gate = params.eligibility_gate
    if gate is None:
        return
    registry = project.IEligibility.at(gate.address)
    for i, worker in enumerate(params.pool.initial_workers):
        if not registry.hasRole(worker, gate.role_hash, gate.version):
            raise click.BadParameter(
                f"params.pool.initial_workers[{i}]: {worker} does not hold role {gate.role} "
                f"(version >= {gate.version}) in the eligibility gate {gate.address}",
                param_hint="--params",
            )


def _check_module(provider: ProviderAPI, address: str) -> None:
    """Stops unless `address` holds exactly the WorkerPoolAdmin code of this build."""
    require_contract(provider, address, "params.voting.admin_module")
    code = bytes(provider.get_code(address))
    if code != module_code():
        raise click.BadParameter(
            f"params.voting.admin_module: {address} holds other code than this build's "
            "WorkerPoolAdmin (WorkerVoting would refuse it); leave it out to deploy one",
            param_hint="--params",
        )


def _check_block_gas(provider: ProviderAPI, params: DeployParams) -> None:
    """Stops when a deployment transaction cannot fit in a block of the connected chain."""
    limit = provider.web3.eth.get_block("latest")["gasLimit"]
    needs = deployment_gas(params.voting.as_config(), params.reward.epoch_length, params.max_window)
    for name, gas in needs.items():
        if gas > limit:
            raise click.UsageError(
                f"deploying {name} needs up to {gas:,} gas, more than the block gas limit "
                f"{limit:,} of {network_name(provider.network)}; nothing was sent"
            )


def _check_funds(account: AccountAPI, params: DeployParams, fund: int) -> None:
    if params.reward.token == "native":
        if account.balance <= fund:
            raise click.BadParameter(
                f"{account.address} holds {account.balance} wei, not enough to fund {fund} wei "
                "and pay for gas",
                param_hint="--fund",
            )
        return
    balance = erc20(params.reward.token).balanceOf(account.address)
    if balance < fund:
        raise click.BadParameter(
            f"{account.address} holds {balance} base units of {params.reward.token}, "
            f"fewer than {fund}",
            param_hint="--fund",
        )


def preflight(
    provider: ProviderAPI,
    account: AccountAPI | None,
    params_file: Path,
    deployments_dir: Path,
    force: bool,
    fund_text: str | None,
) -> Plan:
    """Validates the parameter file against the connected chain; sends nothing.

    Args:
        provider: The connected provider.
        account: The deploying account, or None when only checking (no balance checks).
        params_file: The YAML parameter file.
        deployments_dir: Folder of the manifests.
        force: Whether an existing manifest for this network may be replaced.
        fund_text: The `--fund` amount as given, or None.

    Raises:
        click.BadParameter: For a bad parameter file or amount.
        click.UsageError: For a wrong chain, an existing manifest or an account without funds.
    """
    params = load_params(params_file)
    require_chain(provider, params.chain_id, params.network, f"parameter file {params_file}")
    path = manifest_path(deployments_dir, provider.network)
    if path.exists() and not force:
        raise click.UsageError(
            f"{path} already records a deployment on {network_name(provider.network)}; "
            "pass --force to deploy again and replace it"
        )
    if params.reward.token != "native":
        require_contract(provider, params.reward.token, "params.reward.token")
    if params.eligibility_gate is not None:
        require_contract(
            provider, params.eligibility_gate.address, "params.eligibility_gate.address"
        )
        _check_gate(params)
    if params.voting.admin_module is not None:
        _check_module(provider, params.voting.admin_module)
    fund = None
    if fund_text is not None:
        token = params.reward.token
        decimals = 18 if token == "native" else erc20(token).decimals()
        fund = parse_amount(fund_text, decimals, "--fund")
        if account is not None:
            _check_funds(account, params, fund)
    if account is not None and account.balance == 0:
        raise click.UsageError(f"{account.address} has no balance to pay for gas")
    _check_block_gas(provider, params)
    return Plan(
        params=params,
        params_file=params_file,
        manifest=path,
        network=network_name(provider.network),
        chain_id=connected_chain_id(provider),
        fund=fund,
        fund_text=fund_text or "",
    )


def show(plan: Plan, provider: ProviderAPI, account: AccountAPI | None) -> None:
    """Prints what the deployment will do."""
    click.echo(f"Network: {plan.network} (chain id {plan.chain_id}) via {provider.name}")
    if account is not None:
        symbol = native_symbol(provider.network)
        balance = format_amount(account.balance, 18, symbol)
        click.echo(f"Deployer and owner: {account.address} (balance {balance})")
    click.echo(f"Parameters: {plan.params_file}")
    for line in describe(plan.params):
        click.echo(f"  {line}")
    if plan.fund is not None:
        click.echo(f"Fund the current epoch with {plan.fund_text} ({plan.fund} base units)")
    click.echo(f"Manifest: {plan.manifest}")
    for warning in plan.params.warnings():
        click.secho(f"Warning: {warning}", fg="yellow")


def _new_manifest(plan: Plan, account: AccountAPI, log: TxLog) -> dict:
    parameters = plan.params.model_dump(mode="json")
    parameters["voting"]["max_window"] = plan.params.max_window  # the value deployed
    return {
        "version": MANIFEST_VERSION,
        "status": "in progress",
        "network": plan.network,
        "chain_id": plan.chain_id,
        "deployer": account.address,
        "started_at": utc_now(),
        "contracts": {},
        "transactions": log.records,
        "parameters": parameters,
        "params_file": str(plan.params_file),
        "compiler": compiler_info("WorkerVoting"),
    }


def _contract_entry(log: TxLog) -> dict:
    record = log.records[-1]
    return {key: record[key] for key in ("tx_hash", "block_number", "gas_used")} | {
        "address": record["contract_address"]
    }


def execute(plan: Plan, account: AccountAPI) -> dict:
    """Sends the deployment; the manifest is rewritten after every transaction.

    Returns:
        The complete manifest, as written.
    """
    params = plan.params
    log = TxLog()
    manifest = _new_manifest(plan, account, log)
    log.on_record = lambda: write_manifest(plan.manifest, manifest)
    entries = manifest["contracts"]

    module = params.voting.admin_module
    if module is None:
        module = log.send("deploy WorkerPoolAdmin", account.deploy, project.WorkerPoolAdmin)
        entries["WorkerPoolAdmin"] = _contract_entry(log)
    else:
        click.echo(f"  reusing WorkerPoolAdmin {module} (params.voting.admin_module)")
        entries["WorkerPoolAdmin"] = {"address": module, "reused": True}
    voting = log.send(
        "deploy WorkerVoting",
        account.deploy,
        project.WorkerVoting,
        account,
        params.voting.as_config(),
        params.reward.epoch_length,
        params.max_window,
        module,
    )
    entries["WorkerVoting"] = _contract_entry(log)
    reward = params.reward
    rewards = log.send(
        "deploy WorkerRewards",
        account.deploy,
        project.WorkerRewards,
        account,
        voting,
        reward.token_address,
        reward.registration_window,
        reward.claim_expiry,
        list(reward.weights),
    )
    entries["WorkerRewards"] = _contract_entry(log)
    write_manifest(plan.manifest, manifest)
    steps = []
    gate = params.eligibility_gate
    if gate is not None:
        setter = voting.setEligibilityGate
        steps.append(step("setEligibilityGate", setter, gate.address, gate.role_hash, gate.version))
    steps += [step(f"addWorker {w}", voting.addWorker, w) for w in params.pool.initial_workers]
    if plan.fund is not None:
        epoch = rewards.currentEpoch()
        steps += funding_steps(rewards, account.address, plan.fund, epoch)
    log.run(steps, account)
    manifest |= {"status": "complete", "completed_at": utc_now(), "gas_used": log.gas_used}
    write_manifest(plan.manifest, manifest)
    return manifest


# -------------------------------------------------------------------------------------------------
# Commands
# -------------------------------------------------------------------------------------------------

params_option = click.option(
    "--params",
    "params_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Network parameter file, e.g. networks/volta.yaml.",
)
fund_option = click.option(
    "--fund",
    "fund_text",
    metavar="AMOUNT",
    help="Fund the current epoch: '10 ether' (or EWT, VT, token), '5 gwei' or wei.",
)


@click.group(cls=ScriptGroup)
def cli() -> None:
    """Deploy a worker network: WorkerVoting and WorkerRewards from a parameter file."""


@cli.command(cls=ConnectedProviderCommand)
@params_option
@deployments_dir_option
@fund_option
@click.option("--force", is_flag=True, help="Replace an existing manifest for this network.")
def check(
    provider: ProviderAPI,
    params_file: Path,
    deployments_dir: Path,
    fund_text: str | None,
    force: bool,
) -> None:
    """Validate a parameter file against the connected network; sends nothing."""
    plan = preflight(provider, None, params_file, deployments_dir, force, fund_text)
    show(plan, provider, None)
    click.echo(f"Parameters are valid for {plan.network} (chain id {plan.chain_id}); nothing sent.")


@cli.command(cls=ConnectedProviderCommand)
@account_option_with_help
@params_option
@deployments_dir_option
@fund_option
@click.option("--force", is_flag=True, help="Replace an existing manifest for this network.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def contracts(
    provider: ProviderAPI,
    account: AccountAPI,
    params_file: Path,
    deployments_dir: Path,
    fund_text: str | None,
    force: bool,
    yes: bool,
) -> None:
    """Deploy WorkerVoting and WorkerRewards, enrol the initial workers and write the manifest."""
    plan = preflight(provider, account, params_file, deployments_dir, force, fund_text)
    show(plan, provider, account)
    confirm(f"Deploy to {plan.network}?", yes)
    enable_autosign(account)
    click.echo("Transactions:")
    manifest = execute(plan, account)
    voting = manifest["contracts"]["WorkerVoting"]["address"]
    rewards = manifest["contracts"]["WorkerRewards"]["address"]
    click.echo(f"  {'total':<54} {manifest['gas_used']:>10,} gas")
    click.echo(f"Manifest written to {plan.manifest}")
    click.secho(
        f"Deployed WorkerVoting at {voting} and WorkerRewards at {rewards} on {plan.network} "
        f"(chain id {plan.chain_id})",
        fg="green",
    )
