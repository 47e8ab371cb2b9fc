"""Ape's errors at the command line of the deploy and admin scripts: one line, what to do."""

import json

from eth_account import Account

from scripts import admin


def test_admin__network_without_ecosystem_names_the_full_choice():
    from click.testing import CliRunner

    result = CliRunner().invoke(admin.cli, ["status", "--network", "volta"])

    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: Invalid value for '--network': 'volta' names no ecosystem: give "
        "ecosystem:network[:provider], e.g. energyweb:volta (or energyweb:volta:node)"
    )


def test_deploy__wrong_passphrase_one_line_names_the_variable(
    ape_run, ape_data_folder, volta, write_params, deployments_dir, on_volta, deployer
):
    key = Account.create()
    with on_volta():
        deployer.transfer(key.address, 10**20)
    keyfile = ape_data_folder / "accounts" / "operator-2.json"
    keyfile.parent.mkdir(exist_ok=True)
    keyfile.write_text(json.dumps(Account.encrypt(key.key, "right", iterations=2)))
    variable = "APE_ACCOUNTS_operator-2_PASSPHRASE"

    result = ape_run("deploy", "contracts", "--params", str(write_params()), "--network", volta,
                     "--deployments-dir", str(deployments_dir), "--account", "operator-2",
                     "--yes", env={variable: "wrong"})  # fmt: skip

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: account operator-2: wrong passphrase (read from environment variable {variable})"
        f"; the alias 'operator-2' has characters a shell variable name cannot hold: set it with "
        f"`env '{variable}=...' ape run ...`, or re-import the key under an alias of letters, "
        "digits and '_'"
    )
    assert not deployments_dir.exists()


def test_admin__node_of_another_chain_one_line(volta_node, deployments_dir):
    from click.testing import CliRunner

    network = f"energyweb:mainnet:{volta_node}"  # a node of Volta's chain id
    args = ["status", "--network", network, "--deployments-dir", str(deployments_dir)]

    result = CliRunner().invoke(admin.cli, args)

    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: Provider connected to chain ID '73799', which does not match network chain ID "
        "'246'. Are you connected to 'mainnet'? Check --network (energyweb:volta is chain id "
        "73799, energyweb:mainnet 246)"
    )
    assert "Traceback" not in result.output
