"""Integration: an early opener cannot take window rounds from honest `worker run` processes.

Four enrolled workers, threshold 3: three honest worker processes with an interval trigger of
6-second windows (computed 2 s after they end), and one enrolled account driven by this test.
It opens every window's round the moment the window ends, with the right descriptor and a
wrong result, and calls `finalize` whenever the contract lets it. The attempt has no clock until
three workers voted, so the honest workers, joining seconds later, still decide every window.
"""

import time

import pytest
from ape import chain
from ape.exceptions import ContractLogicError
from eth_utils import keccak

from tests.worker import fastflow
from tests.worker import localnet as ln
from worker.rounds import STATUS
from worker.workflow import output_root, run_workflow

pytestmark = pytest.mark.anvil
PERIOD, LAG, WINDOWS = 6, 2, 3
NAME = "fast-test"
NAMING = ln.round_naming(NAME, fastflow.REF)
FORGED = keccak(text="the opener's result")


def payload(start: int, value: int) -> dict:
    return {"window_start": start, "window_end": start + PERIOD, "value": value}


def expected_root(start: int, value: int) -> bytes:
    root = output_root(run_workflow(fastflow.REF, [payload(start, value)], {}))
    return bytes.fromhex(root[2:])


def try_finalize(voting, vid: bytes, opener) -> bool:
    """Sends `finalize` if a call says it would pass (a raw call: no trace of each revert)."""
    call = {"from": opener.address, "to": voting.address, "data": voting.finalize.encode_input(vid)}
    try:
        chain.provider.web3.eth.call(call)
    except Exception:
        return False  # NOTE: VotingNothingToFinalize, or settled already
    voting.finalize(vid, sender=opener)
    return True


def test_early_opener__honest_workers_still_decide_every_window(
    deploy, broker, spawn_workers, accounts
):
    voting, manifest = deploy(4, 3, vote_duration=60)
    opener = accounts[4]
    trigger = {"kind": "interval", "period": PERIOD, "lag": LAG, "catch_up": 3}
    procs = spawn_workers(manifest, broker, 3, trigger, workflow_name=NAME,
                          workflow_ref=fastflow.REF)  # fmt: skip
    ln.wait_running(procs)
    if chain.pending_timestamp < time.time():  # NOTE: a snapshot revert can leave anvil behind
        chain.pending_timestamp = int(time.time()) + 1
        chain.mine()
    first = (int(time.time()) // PERIOD + 1) * PERIOD  # a window that has not begun yet
    starts = [first + i * PERIOD for i in range(WINDOWS)]
    for i, start in enumerate(starts):
        ln.publish(broker.url, ln.DATA_SUBJECT, payload(start, 100 + i), msg_id=f"v{start}")
    rounds = {start: NAMING.window(start, start + PERIOD) for start in starts}
    opened, finalized = set(), 0
    deadline = time.monotonic() + (starts[-1] + PERIOD - time.time()) + 40

    def settled(start: int) -> bool:
        return STATUS[voting.roundState(rounds[start].voting_id).status] not in ("None", "Voting")

    while True:
        chain_time = int(chain.provider.web3.eth.get_block("pending")["timestamp"])
        for start in starts:  # first thing on every pass: open each window the moment it ends
            if start not in opened and chain_time >= start + PERIOD:
                try:
                    voting.openAndVote(tuple(rounds[start]), FORGED, sender=opener)
                    opened.add(start)
                except ContractLogicError:
                    pass  # NOTE: the next block's time lags this clock by up to a second
        undecided = [s for s in sorted(opened) if not settled(s)]
        if len(opened) == WINDOWS and not undecided:
            break
        for start in undecided:
            finalized += try_finalize(voting, rounds[start].voting_id, opener)
        if time.monotonic() >= deadline:
            states = {s: STATUS[voting.roundState(rounds[s].voting_id).status] for s in undecided}
            log = procs[0].output()[-2000:]
            raise AssertionError(f"not all decided in time: {states}\n{log}")
        time.sleep(0.05)

    assert opened == set(starts) and finalized == 0
    events = voting.RoundDescribed.range(0, chain.blocks.height + 1)
    described = {bytes(e.votingId): e for e in events}
    eth = chain.provider.web3.eth
    for i, start in enumerate(starts):
        vid = rounds[start].voting_id
        event = described[vid]  # the opener opened it, with the descriptor the workers derive
        assert eth.get_transaction(event.transaction_hash)["from"] == opener.address
        assert (event.windowStart, event.windowEnd) == (start, start + PERIOD)
        st = voting.roundState(vid)
        assert (STATUS[st.status], st.attempt) == ("Consensus", 1)
        assert voting.resultOf(vid) == expected_root(start, 100 + i)
        opener_bit = 1 << int(voting.workerInfo(opener).index)
        assert st.voted & opener_bit and st.dissent & opener_bit  # counted, and dissenting
    _head, length = voting.chainHead()
    kinds = [STATUS[voting.chainEntry(i).kind] for i in range(int(length))]
    assert "Failed" not in kinds and kinds.count("Consensus") == WINDOWS
    for proc in procs:
        assert proc.stop() == 0, proc.output()[-3000:]
