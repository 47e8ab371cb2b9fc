"""`worker explorer`: which node it reads, from an Ape network choice or a URL."""

import json

from click.testing import CliRunner

from worker.cli import cli
from worker.explorer.server import rpc_url


def test_rpc_url__from_an_ape_network_choice_or_its_url():
    assert rpc_url("ethereum:local:http://127.0.0.1:9") == "http://127.0.0.1:9"
    assert rpc_url("energyweb:volta:https://my-rpc.example") == "https://my-rpc.example"
    assert rpc_url("energyweb:volta:node") == "https://volta-rpc.energyweb.org"  # ape-config.yaml
    assert rpc_url("energyweb:mainnet:node") == "https://rpc.energyweb.org"


def test_explorer__needs_a_node_and_names_the_one_that_does_not_answer(tmp_path):
    manifest = tmp_path / "manifest.json"
    contracts = {"WorkerVoting": {"address": "0x" + "11" * 20},
                 "WorkerRewards": {"address": "0x" + "22" * 20}}  # fmt: skip
    manifest.write_text(json.dumps({"chain_id": 31337, "contracts": contracts}))
    result = CliRunner().invoke(cli, ["explorer", "--manifest", str(manifest)])
    assert result.exit_code == 2 and "give --network or --rpc" in result.output
    result = CliRunner().invoke(cli, ["explorer", "--manifest", str(manifest), "--rpc",
                                      "http://127.0.0.1:9"])  # fmt: skip
    assert result.exit_code == 1
    assert "node http://127.0.0.1:9 does not answer eth_chainId" in result.output
