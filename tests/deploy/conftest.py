"""Fixtures for the deploy and admin scripts: a local chain with Volta's chain id, parameter files,
runners for the click commands and a check that a test sent no transaction.

ape-foundry starts anvil without a chain id option, so `volta_node` starts its own anvil with
`--chain-id 73799` on a free port (same mnemonic and hardfork as the project's test chain). The
scripts reach it exactly as they reach Volta: `--network energyweb:volta:http://127.0.0.1:<port>`.
"""

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from ape import accounts, config, networks
from click.testing import CliRunner, Result
from web3 import HTTPProvider, Web3

from scripts import admin, deploy
from scripts._localnet import AnvilNode

VOLTA_CHAIN_ID = 73799
ROOT = Path(__file__).resolve().parents[2]

BASE_PARAMS = {
    "network": "energyweb:volta",
    "chain_id": VOLTA_CHAIN_ID,
    "pool": {"max_workers": 5, "initial_workers": []},
    "voting": {
        "threshold": 0,
        "mode": "open",
        "vote_duration": "15m",
        "reveal_duration": 0,
        "fallback": {"policy": "alert"},
        "speed_rank": 3,
    },
    "reward": {
        "token": "native",
        "weights": [2000, 2000, 4000, 2000],
        "epoch_length": "1w",
        "registration_window": "2d",
        "claim_expiry": "90d",
    },
}

MANIFEST = "energyweb-volta.json"


def deploy_args(params, *extra: str) -> list[str]:
    return ["contracts", "--params", str(params), "--account", "TEST::0", "--yes", *extra]


@pytest.fixture(scope="package", autouse=True)
def ape_data_folder() -> Iterator[Path]:
    """A temporary Ape data folder: what Ape records about contracts deployed on "Volta" here
    (deployments, contract types) stays out of the user's ~/.ape."""
    with config.isolate_data_folder(keep="packages") as folder:
        yield folder


@pytest.fixture(scope="package")
def volta_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of a local anvil chain with Volta's chain id, funded test accounts, London rules."""
    node = AnvilNode(tmp_path_factory.mktemp("volta"), accounts=10, chain_id=VOLTA_CHAIN_ID,
                     mnemonic=config.get_config("test").mnemonic)  # fmt: skip
    try:
        node.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield node.uri
    node.stop()


@pytest.fixture(scope="package")
def nonce_of(volta_node: str) -> Callable[[str], int]:
    """Reads an account's nonce on the Volta-id chain straight from the node (no Ape context)."""
    web3 = Web3(HTTPProvider(volta_node))
    return lambda address: web3.eth.get_transaction_count(address)


@pytest.fixture(scope="package")
def volta(volta_node: str) -> str:
    """The network choice the scripts get: Volta, reached through the local node."""
    return f"energyweb:volta:{volta_node}"


@pytest.fixture(scope="package")
def on_volta(volta: str) -> Callable:
    """Context manager: Ape connected to the Volta-id chain, for setting up and checking."""

    @contextlib.contextmanager
    def connect() -> Iterator:
        with networks.parse_network_choice(volta) as provider:
            yield provider

    return connect


@pytest.fixture(scope="package")
def deployer():
    """Test account 0: deploys and owns (`--account TEST::0`)."""
    return accounts.test_accounts[0]


@pytest.fixture
def nonce_unchanged(nonce_of, deployer):
    """Asserts, after the test, that the deployer sent no transaction during it."""
    before = nonce_of(deployer.address)
    yield
    assert nonce_of(deployer.address) == before


@pytest.fixture(scope="package")
def volta_workers() -> list[str]:
    """Addresses of test accounts 1-4: the workers."""
    return [account.address for account in accounts.test_accounts[1:5]]


@pytest.fixture
def write_params(tmp_path: Path) -> Callable[..., Path]:
    """Writes a parameter file: BASE_PARAMS with sections updated (`None` removes a field)."""

    def write(name: str = "params.yaml", **sections: dict | int | str | None) -> Path:
        data = {
            key: dict(value) if isinstance(value, dict) else value
            for key, value in BASE_PARAMS.items()
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                merged = {**data[key], **value}
                data[key] = {k: v for k, v in merged.items() if v is not None}
            elif value is None:
                data.pop(key, None)
            else:
                data[key] = value
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data), encoding="utf8")
        return path

    return write


@pytest.fixture
def deployments_dir(tmp_path: Path) -> Path:
    """A fresh manifest folder for each test."""
    return tmp_path / "deployments"


def _invoke(command, args: list[str], user_input: str | None) -> Result:
    return CliRunner().invoke(command, args, input=user_input, catch_exceptions=False)


@pytest.fixture
def run_deploy(volta: str, deployments_dir: Path) -> Callable[..., Result]:
    """Runs `ape run deploy <args>` in-process against the Volta-id chain."""

    def run(*args: str, network: str | None = None, user_input: str | None = None) -> Result:
        common = ["--network", network or volta, "--deployments-dir", str(deployments_dir)]
        return _invoke(deploy.cli, [*args, *common], user_input)

    return run


@pytest.fixture
def run_admin(volta: str, deployments_dir: Path) -> Callable[..., Result]:
    """Runs `ape run admin <args>` in-process against the Volta-id chain."""

    def run(*args: str, user_input: str | None = None) -> Result:
        common = ["--network", volta, "--deployments-dir", str(deployments_dir)]
        return _invoke(admin.cli, [*args, *common], user_input)

    return run


@pytest.fixture(scope="package")
def ape_run(ape_data_folder: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Runs `ape <command> <args>` (command `run` unless given) in a subprocess from the project
    root, as a user would, with the test session's Ape data folder."""
    ape = Path(sys.executable).parent / "ape"
    base_env = {
        **os.environ,
        "PATH": f"{ape.parent}{os.pathsep}{os.environ['PATH']}",
        "APE_DATA_FOLDER": str(ape_data_folder),
    }

    def run(
        *args: str, command: str = "run", stdin: str | None = None, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ape), command, *args],
            cwd=ROOT,
            env=base_env | (env or {}),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run
