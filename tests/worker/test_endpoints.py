"""RPC failover (`worker.endpoints.FailoverProvider`) on real anvil nodes behind TCP proxies."""

import time
from urllib.parse import urlsplit

import pytest
from ape import chain
from prometheus_client import CollectorRegistry, generate_latest
from web3 import Web3

from scripts._localnet import AnvilNode
from tests.worker.localnet import wait_for
from tests.worker.tcpproxy import TcpProxy
from worker.endpoints import FailoverProvider, endpoint_label
from worker.errors import StartupError
from worker.health import Health

pytestmark = pytest.mark.anvil


@pytest.fixture
def node_port():
    return urlsplit(chain.provider.uri).port


@pytest.fixture
def proxies(node_port):
    made = [TcpProxy(node_port), TcpProxy(node_port)]
    yield made
    for proxy in made:
        proxy.kill()


def failover(urls, **kwargs):
    kwargs = {"timeout": 1.0, "probe_interval": 0.2, **kwargs}
    provider = FailoverProvider(urls, chain.chain_id, **kwargs)
    provider.probe_all()
    return provider


def test_endpoint_label__host_and_port_only():
    assert endpoint_label("https://user:key@rpc.example.org/v1/SECRET?k=1") == "rpc.example.org"
    assert endpoint_label("http://127.0.0.1:8545", ["127.0.0.1:8545"]) == "127.0.0.1:8545#2"


def test_reads__fail_over_when_the_first_endpoint_freezes(proxies):
    first, second = proxies
    provider = failover([first.url, second.url])
    w3 = Web3(provider)
    assert w3.eth.chain_id == chain.chain_id
    assert first.seen("eth_chainId") == 2 and second.seen("eth_chainId") == 1  # probe + read

    first.freeze()
    started = time.monotonic()
    assert w3.eth.block_number == chain.blocks.head.number
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 2.5  # one timeout on the frozen endpoint, then the other answers
    assert not provider.endpoints[0].usable and provider.endpoints[1].usable
    started = time.monotonic()
    w3.eth.get_balance(chain.provider.web3.eth.accounts[0])
    assert time.monotonic() - started < 0.5  # the frozen one is skipped from now on

    first.thaw()
    provider.probe(provider.endpoints[0])
    assert provider.endpoints[0].usable  # back in front once a probe succeeds


def test_reads__fail_over_when_an_endpoint_dies_and_raise_when_all_do(proxies):
    first, second = proxies
    provider = failover([first.url, second.url])
    w3 = Web3(provider)
    first.kill()
    assert w3.eth.block_number == chain.blocks.head.number
    assert provider.endpoints[0].errors == 1
    second.kill()
    with pytest.raises(OSError):
        w3.eth.block_number  # noqa: B018


def signed_transfer(sender, receiver):
    txn = chain.provider.network.ecosystem.create_transaction(
        chain_id=chain.chain_id, to=receiver.address, value=1, nonce=sender.nonce,
        gas_limit=21000, gas_price=chain.provider.gas_price, type=0, sender=sender.address,
    )  # fmt: skip
    return sender.sign_transaction(txn).serialize_transaction()


def test_broadcast__reaches_every_usable_endpoint(proxies, accounts):
    first, second = proxies
    w3 = Web3(failover([first.url, second.url]))
    raw = signed_transfer(accounts[5], accounts[6])
    tx_hash = w3.eth.send_raw_transaction(raw)
    # NOTE: the first acceptance returns; the other endpoint's copy may still be on its way.
    both = lambda: [p.seen("eth_sendRawTransaction") for p in proxies] == [1, 1]  # noqa: E731
    wait_for(both, 5, what="the transaction at both endpoints")
    assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10).status == 1

    first.kill()  # a resend: the node's own answer comes back, not the dead endpoint's error
    with pytest.raises(Exception) as info:
        w3.eth.send_raw_transaction(raw)
    assert not isinstance(info.value, OSError) and "nonce" in str(info.value).lower()


def test_broadcast__a_frozen_endpoint_does_not_hold_it_up(proxies, accounts):
    first, second = proxies
    w3 = Web3(failover([first.url, second.url], timeout=3.0))
    first.freeze()
    started = time.monotonic()
    tx_hash = w3.eth.send_raw_transaction(signed_transfer(accounts[5], accounts[6]))
    assert time.monotonic() - started < 1.0  # the other endpoint's acceptance is the answer
    assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10).status == 1


def test_reads__skip_an_endpoint_that_lags_the_best_head(tmp_path, proxies):
    behind = AnvilNode(tmp_path / "behind", chain_id=chain.chain_id)  # a fresh chain: head 0
    with behind:
        chain.mine(3)
        ahead = proxies[0]
        provider = failover([behind.uri, ahead.url], max_lag=2)
        assert provider.endpoints[0].lagging and not provider.endpoints[0].usable
        assert Web3(provider).eth.block_number == chain.blocks.head.number
        tolerant = failover([behind.uri, ahead.url], max_lag=10**6)
        assert Web3(tolerant).eth.block_number == 0  # within the allowed lag: the first one


def test_probe__an_endpoint_of_another_chain_is_never_used(tmp_path, proxies):
    other = AnvilNode(tmp_path / "other", chain_id=999)
    with other:
        provider = failover([other.uri, proxies[0].url])
        assert provider.endpoints[0].chain_id == 999 and not provider.endpoints[0].usable
        assert Web3(provider).eth.chain_id == chain.chain_id
        alone = failover([other.uri])
        with pytest.raises(StartupError, match="every endpoint serves another chain"):
            Web3(alone).eth.block_number  # noqa: B018
        with pytest.raises(StartupError, match="every endpoint serves another chain"):
            Web3(alone).eth.send_raw_transaction(b"\x01")


def test_attach__metrics_and_health_per_endpoint(proxies):
    first, second = proxies

    class Metrics:
        registry = CollectorRegistry()

    health, metrics = Health(), Metrics()
    provider = failover([first.url, second.url])
    provider.attach(metrics, health)
    provider.start()
    try:
        healthy, report = health.report()
        assert healthy and "rpc" not in report.get("warnings", {})
        first.kill()
        deadline = time.monotonic() + 5
        while health.report()[1].get("warnings", {}).get("rpc") is None:
            assert time.monotonic() < deadline, "no rpc warning"
            time.sleep(0.05)
        text = generate_latest(metrics.registry).decode()
        a, b = (f'endpoint="127.0.0.1:{p.port}"' for p in proxies)
        assert f"worker_rpc_up{{{a}}} 0.0" in text and f"worker_rpc_up{{{b}}} 1.0" in text
        assert f"worker_rpc_errors_total{{{a}}} 1.0" in text
        assert f"worker_rpc_head{{{b}}} {float(chain.blocks.head.number)}" in text
        assert f"worker_rpc_latency_seconds{{{b}}}" in text
        second.kill()
        deadline = time.monotonic() + 5
        while health.report()[0]:
            assert time.monotonic() < deadline, "still healthy without endpoints"
            time.sleep(0.05)
        assert "no usable RPC endpoint" in health.report()[1]["components"]["rpc"]["problem"]
    finally:
        provider.stop()
