"""What `deploy` and `admin` share: chain checks, amounts, transactions and the manifest.

A manifest (`deployments/<ecosystem>-<network>.json`) records one network's deployment: addresses,
chain id, transactions with block numbers and gas, the deployer, the parameters and the compiler.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
from ape import chain, project
from ape.api import AccountAPI, NetworkAPI, ProviderAPI, ReceiptAPI
from ape.cli import account_option
from ape.contracts import ContractInstance
from ape.exceptions import ContractLogicError
from eth_utils import is_address, to_checksum_address

from tools.fresh_build import use_project_solc

use_project_solc()  # NOTE: this checkout's compiler link (.solcx/), also for a bare `ape run`

MANIFEST_VERSION = 1
DEFAULT_DEPLOYMENTS_DIR = Path("deployments")
ERC20_ABI = [
    {
        "type": "function",
        "name": name,
        "stateMutability": mutability,
        "inputs": [{"name": f"arg{i}", "type": t} for i, t in enumerate(inputs)],
        "outputs": [{"name": "", "type": output}],
    }
    for name, mutability, inputs, output in (
        ("decimals", "view", [], "uint8"),
        ("symbol", "view", [], "string"),
        ("balanceOf", "view", ["address"], "uint256"),
        ("allowance", "view", ["address", "address"], "uint256"),
        ("approve", "nonpayable", ["address", "uint256"], "bool"),
    )
]
_UNIT_EXPONENTS = {"wei": 0, "gwei": 9}
_WHOLE_UNITS = ("ether", "ewt", "vt", "token", "tokens")


# -------------------------------------------------------------------------------------------------
# Network and chain
# -------------------------------------------------------------------------------------------------


def network_name(network: NetworkAPI) -> str:
    """`ecosystem:network`, as parameter files name it."""
    return f"{network.ecosystem.name}:{network.name}"


def connected_chain_id(provider: ProviderAPI) -> int:
    """The chain id the node reports (not a configured value)."""
    value = provider.make_request("eth_chainId", [])
    return int(value, 16) if isinstance(value, str) else int(value)


def require_chain(provider: ProviderAPI, chain_id: int, network: str | None, source: str) -> None:
    """Stops unless the connected chain (and network, if given) is the one `source` expects.

    Args:
        provider: The connected provider.
        chain_id: The chain id the node must report.
        network: `ecosystem:network` the connection must use, or None for any.
        source: What expects it, for the message (a parameter file, a manifest).

    Raises:
        click.UsageError: On a wrong chain id or network, or when Ape would sign for another
            chain id than the node's.
    """
    actual = connected_chain_id(provider)
    here = network_name(provider.network)
    if actual != chain_id:
        raise click.UsageError(
            f"connected to chain id {actual} ({here}), but {source} expects chain id {chain_id}; "
            "nothing was sent"
        )
    if network is not None and network != here:
        raise click.UsageError(
            f"connected to network {here}, but {source} expects {network}; nothing was sent"
        )
    if provider.chain_id != actual:
        # NOTE: Ape signs for the chain id it configures for the network, not the node's.
        raise click.UsageError(
            f"the node reports chain id {actual}, but Ape signs for chain id {provider.chain_id} "
            f"on {here}; for a running anvil use --network ethereum:local:foundry with "
            "APE_FOUNDRY_HOST=<its URL>; nothing was sent"
        )


def require_contract(provider: ProviderAPI, address: str, field_path: str) -> None:
    """Stops unless there is contract code at `address`."""
    if not provider.get_code(address):
        raise click.BadParameter(
            f"{field_path}: no contract at {address} on {network_name(provider.network)}",
            param_hint="--params",
        )


def erc20(address: str) -> ContractInstance:
    """An ERC-20 token by address, with the few functions used here."""
    return chain.contracts.instance_at(address, abi=ERC20_ABI, fetch_from_explorer=False)


def parse_amount(text: str, decimals: int = 18, param_hint: str = "AMOUNT") -> int:
    """Base units from `1.5 ether` (also EWT, VT, token: 10**decimals), `20 gwei`, `7 wei`, `7`.

    Args:
        text: The amount as the user wrote it; a plain integer is in base units (wei).
        decimals: Decimals of a whole unit: 18 for the native coin, the token's otherwise.
        param_hint: The option or argument named in error messages.

    Raises:
        click.BadParameter: For anything but a positive whole number of base units.
    """
    match = re.fullmatch(r"\s*([0-9][0-9_]*(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if not match or (unit and unit not in _WHOLE_UNITS and unit not in _UNIT_EXPONENTS):
        raise click.BadParameter(
            f"not an amount: {text!r}; use e.g. '1.5 ether' (or EWT, VT, token), '20 gwei', '7'",
            param_hint=param_hint,
        )
    exponent = decimals if unit in _WHOLE_UNITS else _UNIT_EXPONENTS.get(unit, 0)
    try:
        value = Decimal(match.group(1).replace("_", "")) * (Decimal(10) ** exponent)
    except InvalidOperation as err:
        raise click.BadParameter(f"not an amount: {text!r}", param_hint=param_hint) from err
    if value != value.to_integral_value() or value <= 0:
        raise click.BadParameter(
            f"{text!r} is not a positive whole number of base units", param_hint=param_hint
        )
    return int(value)


def format_amount(amount: int, decimals: int, symbol: str) -> str:
    """`1500000000000000000` -> `1.5 EWT (1500000000000000000 base units)`."""
    whole = Decimal(amount) / (Decimal(10) ** decimals)
    return f"{whole:f} {symbol} ({amount} base units)"


def native_symbol(network: NetworkAPI) -> str:
    """The coin's name on the Energy Web networks, `ether` elsewhere."""
    return {"energyweb:volta": "VT", "energyweb:mainnet": "EWT"}.get(network_name(network), "ether")


# -------------------------------------------------------------------------------------------------
# Transactions
# -------------------------------------------------------------------------------------------------


def confirm(question: str, yes: bool) -> None:
    """Asks before sending; `--yes` answers for the user. Declining aborts the command."""
    if not yes:
        click.confirm(question, abort=True)


def enable_autosign(account: AccountAPI) -> None:
    """Keystore accounts: sign the confirmed transactions without asking once per transaction.

    Raises:
        click.ClickException: a wrong passphrase, in one line naming the variable read.
    """
    from ape.exceptions import AccountsError

    set_autosign = getattr(account, "set_autosign", None)
    if set_autosign is None:
        return
    try:
        set_autosign(True)
    except AccountsError as exc:  # NOTE: InvalidPasswordError is one
        from scripts._cli_errors import passphrase_problem

        raise click.ClickException(passphrase_problem(account.alias, exc)) from exc


@dataclass
class TxLog:
    """Sends transactions, prints the gas each one used and keeps a record of each."""

    records: list[dict] = field(default_factory=list)
    on_record: Callable[[], None] | None = None

    def send(self, action: str, send: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs `send(*args, **kwargs)` (a contract call or a deploy) and records its receipt."""
        try:
            result = send(*args, **kwargs)
        except ContractLogicError as err:
            raise click.ClickException(f"{action}: the transaction would revert: {err}") from err
        receipt: ReceiptAPI = (
            chain.get_receipt(result.txn_hash) if isinstance(result, ContractInstance) else result
        )
        record = {
            "action": action,
            "tx_hash": receipt.txn_hash,
            "block_number": receipt.block_number,
            "gas_used": receipt.gas_used,
        }
        if receipt.contract_address:
            record["contract_address"] = receipt.contract_address
        self.records.append(record)
        click.echo(f"  {action:<54} {receipt.gas_used:>10,} gas  tx {receipt.txn_hash}")
        if self.on_record is not None:
            self.on_record()
        return result

    def run(self, steps: list["Step"], account: AccountAPI) -> None:
        """Sends each step from `account`, in order."""
        for action, function, args, kwargs in steps:
            self.send(action, function, *args, sender=account, **kwargs)

    @property
    def gas_used(self) -> int:
        """Gas used by every transaction sent so far."""
        return sum(record["gas_used"] for record in self.records)


# -------------------------------------------------------------------------------------------------
# Manifest
# -------------------------------------------------------------------------------------------------


def manifest_path(directory: Path, network: NetworkAPI) -> Path:
    """`<directory>/<ecosystem>-<network>.json`."""
    return directory / f"{network.ecosystem.name}-{network.name}.json"


def utc_now() -> str:
    """The current time, ISO 8601 in UTC."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def compiler_info(contract_name: str) -> dict:
    """Compiler name, version and settings that built `contract_name`, and the configured pin."""
    info: dict[str, Any] = {"configured_version": str(project.config.solidity.version)}
    for compiler in project.manifest.compilers or []:
        if contract_name in (compiler.contractTypes or []):
            settings = compiler.settings or {}
            info |= {
                "name": compiler.name,
                "version": compiler.version,
                "evm_version": settings.get("evmVersion"),
                "optimizer": settings.get("optimizer"),
            }
    return info


def write_manifest(path: Path, manifest: dict) -> None:
    """Writes the manifest atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf8")
    partial.replace(path)


@dataclass(frozen=True)
class Deployment:
    """A deployed network as its manifest records it, bound to the connected chain."""

    path: Path
    manifest: dict
    voting: ContractInstance
    rewards: ContractInstance

    @property
    def max_workers(self) -> int:
        """The pool size limit the network was deployed with."""
        return int(self.manifest["parameters"]["pool"]["max_workers"])


def open_deployment(
    provider: ProviderAPI, manifest: Path | None, deployments_dir: Path
) -> Deployment:
    """Loads the manifest of the connected network (or `manifest`) and checks it is this chain.

    Args:
        provider: The connected provider.
        manifest: A manifest file to use instead of the connected network's.
        deployments_dir: Folder of the manifests, `<ecosystem>-<network>.json` each.

    Raises:
        click.UsageError: If the manifest is missing, malformed or of another chain.
    """
    path = manifest or manifest_path(deployments_dir, provider.network)
    if not path.is_file():
        raise click.UsageError(
            f"no manifest at {path}: deploy first (ape run deploy contracts) or pass --manifest"
        )
    try:
        data = json.loads(path.read_text(encoding="utf8"))
        addresses = {
            name: data["contracts"][name]["address"] for name in ("WorkerVoting", "WorkerRewards")
        }
        chain_id = int(data["chain_id"])
    except (ValueError, KeyError, TypeError) as err:
        raise click.UsageError(f"{path} is not a deployment manifest: {err!r}") from err
    require_chain(provider, chain_id, data.get("network"), f"manifest {path}")
    return Deployment(
        path=path,
        manifest=data,
        voting=project.WorkerVoting.at(addresses["WorkerVoting"]),
        rewards=project.WorkerRewards.at(addresses["WorkerRewards"]),
    )


# -------------------------------------------------------------------------------------------------
# Command-line pieces
# -------------------------------------------------------------------------------------------------


def deployments_dir_option(command: Callable) -> Callable:
    """`--deployments-dir`, the folder of the manifests."""
    return click.option(
        "--deployments-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_DEPLOYMENTS_DIR,
        show_default=True,
        help="Folder of the deployment manifests.",
    )(command)


def manifest_options(command: Callable) -> Callable:
    """`--manifest` and `--deployments-dir`."""
    command = click.option(
        "--manifest",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Manifest to use instead of the connected network's.",
    )(command)
    return deployments_dir_option(command)


ACCOUNT_HELP = (
    "Ape account that signs: a keystore alias (`ape accounts list`; its passphrase from "
    "APE_ACCOUNTS_<alias>_PASSPHRASE or a prompt) or TEST::<n> on a local chain."
)


def account_option_with_help(command: Callable) -> Callable:
    """Ape's `--account` option, with a help text (Ape's has none)."""
    command = account_option()(command)
    command.__click_params__[-1].help = ACCOUNT_HELP
    return command


def transaction_options(command: Callable) -> Callable:
    """The sending account, `--yes` and the manifest options."""
    command = click.option("--yes", is_flag=True,
                           help="Do not ask for confirmation (for scripts).")(command)  # fmt: skip
    return manifest_options(account_option_with_help(command))


def address_arguments(ctx: click.Context, param: click.Parameter, values: Any) -> Any:
    """Click callback: checks addresses (one or a tuple) and returns them checksummed."""
    many = isinstance(values, tuple)
    for value in values if many else (values,):
        if not is_address(value) or int(value, 16) == 0:
            raise click.BadParameter(f"not an address: {value!r}", ctx=ctx, param=param)
    checked = [to_checksum_address(value) for value in (values if many else (values,))]
    duplicates = sorted({value for value in checked if checked.count(value) > 1})
    if duplicates:
        raise click.BadParameter(f"given more than once: {', '.join(duplicates)}", ctx, param)
    return checked if many else checked[0]


def require_owner(contract: ContractInstance, name: str, account: AccountAPI) -> None:
    """Stops unless `account` owns `contract`."""
    owner = contract.owner()
    if owner != account.address:
        raise click.UsageError(f"{account.address} is not the owner of {name} (owner: {owner})")


Step = tuple[str, Callable, tuple, dict]


def step(action: str, function: Callable, *args: Any, **kwargs: Any) -> Step:
    """One transaction: a label, the contract method, its arguments and transaction options."""
    return (action, function, args, kwargs)


def send_steps(account: AccountAPI, yes: bool, question: str, steps: list[Step]) -> TxLog:
    """Asks once, then sends each step from `account`, printing the gas each one used."""
    confirm(f"{question} on {network_name(chain.provider.network)}?", yes)
    enable_autosign(account)
    log = TxLog()
    log.run(steps, account)
    return log


def funding_steps(rewards: ContractInstance, funder: str, amount: int, epoch: int) -> list[Step]:
    """Funding `epoch` with `amount`: native coin as value, or an ERC-20 approved first."""
    token = rewards.token()
    if int(token, 16) == 0:
        return [step(f"fund epoch {epoch}", rewards.fund, epoch, amount, value=amount)]
    steps = []
    if erc20(token).allowance(funder, rewards.address) < amount:
        steps.append(step("approve reward token", erc20(token).approve, rewards, amount))
    return [*steps, step(f"fund epoch {epoch}", rewards.fund, epoch, amount)]
