"""What stops a running worker: a node that never answers is cut off by the request timeout, and
a vanished contract or a removed enrolment is fatal, with its exit code and `/health` saying why."""

import asyncio
import socket
import time
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from tests.worker.chainutil import connection_for
from worker.chain import Manifest, check_deployment
from worker.config import parse_config
from worker.errors import EXIT_CHAIN_GONE, EXIT_NOT_ENROLLED, ChainGoneError, NotEnrolledError
from worker.health import Health
from worker.node import Node
from worker.rpc import DaemonExecutor, limit_rpc
from worker.state import StateStore
from worker.workflow import load_workflow


def test_limit_rpc__a_node_that_never_answers_times_out(tmp_path):
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        web3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 1800}))  # as ape-foundry
        assert limit_rpc(web3, 0.5) is True
        started = time.monotonic()
        with pytest.raises(Exception, match=r"timed out|Timeout"):
            web3.eth.chain_id  # noqa: B018
        assert time.monotonic() - started < 3  # not 30 minutes, not 6 retries


def test_daemon_executor__a_hung_call_does_not_hold_the_process():
    executor = DaemonExecutor("test")
    assert executor.submit(sum, [1, 2]).result(timeout=5) == 3
    executor.submit(time.sleep, 3600)
    executor.shutdown(wait=False)
    assert executor._thread.daemon  # abandoned at exit instead of joined


def node_for(worker, voting, tmp_path, store) -> Node:
    config = parse_config({
        "chain": {"network": "ethereum:local", "account": "TEST::1", "confirmations": 0},
        "source": {"kind": "http", "url": "http://127.0.0.1:9/none"},
        "trigger": {"kind": "interval", "period": 3600},
        "workflow": {"ref": "worker.workflows.matching:run", "name": "checks"},
        "state": {"directory": str(tmp_path)},
    })  # fmt: skip
    conn = connection_for(worker, voting)
    return Node(config, conn, store, load_workflow(config.workflow.ref), health=Health())


def test_tick__removed_worker_stops_with_exit_code_4_and_health_says_why(
    create_voting, owner, tmp_path
):
    net = create_voting("2/3")
    with StateStore(tmp_path) as store:
        node = node_for(net.workers[0], net.voting, tmp_path, store)
        node.tick()
        net.voting.removeWorker(net.workers[0], sender=owner)
        node._next_check = 0.0  # the periodic check is due
        stop = asyncio.Event()
        with pytest.raises(NotEnrolledError) as raised:
            asyncio.run(node._chain_loop(stop))
        node._executor.shutdown()
    assert raised.value.exit_code == EXIT_NOT_ENROLLED == 4
    assert "was removed from the pool of WorkerVoting" in str(raised.value)
    healthy, report = node.health.report()
    assert not healthy
    assert report["components"]["chain"]["problem"].startswith(
        f"stopping: account {net.workers[0].address}: was removed from the pool"
    )


def test_check_deployment__contract_without_code_is_chain_gone_exit_code_3(create_voting, chain):
    net = create_voting("2/3")
    empty = "0x" + "11" * 20
    manifest = Manifest(Path("m.json"), None, chain.chain_id, net.voting.address, empty, 0)
    with pytest.raises(ChainGoneError) as raised:
        check_deployment(chain.provider.web3, manifest, "ethereum:local")
    assert raised.value.exit_code == EXIT_CHAIN_GONE == 3
    assert str(raised.value) == (
        f"WorkerRewards at {empty}: no contract code on chain id {chain.chain_id} (redeploy?)"
    )
