"""The explorer's server on anvil: it relays read calls only, serves its files and nothing else, and
refuses a manifest of another chain."""

import json
import urllib.error
import urllib.request

import pytest
from ape import chain

from worker.explorer.server import ExplorerError, ExplorerServer

pytestmark = pytest.mark.anvil
VOTING, REWARDS = "0x" + "11" * 20, "0x" + "22" * 20


def manifest(tmp_path, chain_id: int):
    path = tmp_path / f"manifest-{chain_id}.json"
    path.write_text(json.dumps({"network": "ethereum:local", "chain_id": chain_id, "contracts": {
        "WorkerVoting": {"address": VOTING, "block_number": 3},
        "WorkerRewards": {"address": REWARDS}}}))  # fmt: skip
    return path


@pytest.fixture
def server(tmp_path):
    explorer = ExplorerServer(chain.provider.uri, manifest(tmp_path, chain.chain_id))
    explorer.start()
    yield explorer
    explorer.stop()


def get(server, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def rpc(server, payload) -> object:
    request = urllib.request.Request(server.url + "rpc", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def call(method: str, params: list, id_: int = 1) -> dict:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}


def test_server__tells_the_page_its_deployment(server):
    status, body = get(server, "/api/deployment")
    assert status == 200
    assert json.loads(body) == {"chainId": chain.chain_id, "network": "ethereum:local",
                                "voting": VOTING, "rewards": REWARDS, "fromBlock": 3}  # fmt: skip


def test_server__relays_read_calls_single_and_batched_and_counts_them(server):
    height = chain.blocks.height
    reply = rpc(server, call("eth_blockNumber", []))
    assert int(reply["result"], 16) >= height
    block = call("eth_getBlockByNumber", ["0x0", False], 2)
    replies = rpc(server, [call("eth_chainId", [], 1), block])
    assert [r["id"] for r in replies] == [1, 2]
    assert int(replies[0]["result"], 16) == chain.chain_id
    assert server.stats() == {"requests": 2, "total": 3, "calls": {
        "eth_blockNumber": 1, "eth_chainId": 1, "eth_getBlockByNumber": 1}}  # fmt: skip


def test_server__refuses_to_relay_anything_that_writes(server):
    sender = chain.provider.web3.eth.accounts[0]
    send = call("eth_sendTransaction", [{"from": sender, "to": VOTING, "value": "0x1"}])
    before = chain.provider.web3.eth.get_transaction_count(sender)
    reply = rpc(server, send)
    assert reply["error"]["code"] == -32601 and "read calls only" in reply["error"]["message"]
    replies = rpc(server, [call("eth_blockNumber", [], 1), dict(send, id=2)])  # one bad: none goes
    assert all(r["error"]["code"] == -32601 for r in replies)
    assert chain.provider.web3.eth.get_transaction_count(sender) == before
    assert server.stats()["total"] == 0


def test_server__serves_its_files_and_ethers_only(server):
    status, body = get(server, "/")
    assert status == 200 and b'<script type="module" src="/static/app.js">' in body
    status, body = get(server, "/vendor/ethers.min.js")
    assert status == 200 and len(body) > 100_000
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/server.py", "/static/"):
        assert get(server, path)[0] == 404, path


def test_server__refuses_a_manifest_of_another_chain(tmp_path):
    with pytest.raises(ExplorerError, match=f"is chain {chain.chain_id}, the manifest's is 246"):
        ExplorerServer(chain.provider.uri, manifest(tmp_path, 246))
