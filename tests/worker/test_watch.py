"""Following the voting contract's round events: decoded in order, a cursor that survives restarts,
confirmation depth, and re-reading after a reorganised cursor block."""

import logging

import pytest
from eth_utils import keccak

from tests.worker.chainutil import connection_for
from worker.descriptor import RoundNaming
from worker.state import StateStore
from worker.watch import REWIND, Watcher

DESC = RoundNaming.of("watch-test", {}, ["uint256"]).event("round 1")
VID = DESC.voting_id
RESULT, OTHER = keccak(text="root A"), keccak(text="root B")
pytestmark = pytest.mark.smoke


@pytest.fixture
def pool(create_voting, chain):
    """A 2-of-3 pool and the first block to watch: its last enrolment, without round events."""
    net = create_voting("2/3")
    return net, chain.blocks.height


@pytest.fixture
def store(tmp_path):
    with StateStore(tmp_path / "state") as opened:
        yield opened


def watcher_for(pool, store, **kwargs) -> Watcher:
    net, start = pool
    return Watcher(connection_for(net.workers[0], net.voting), store, start_block=start, **kwargs)


def vote(net, worker: int, result: bytes = RESULT):
    """A vote in the round VID, opening it if it is not open yet."""
    return net.voting.openAndVote(DESC, result, sender=net.workers[worker])


def test_poll__decodes_round_events_in_chain_order(pool, store, chain):
    net, start = pool
    first, second = vote(net, 0), vote(net, 1)
    watcher = watcher_for(pool, store)
    assert watcher.cursor == start - 1
    events, to_block = watcher.poll()
    assert to_block == chain.blocks.height == second.block_number
    state = net.voting.roundState(VID)
    head, length = net.voting.chainHead()
    w0, w1 = (w.address for w in net.workers[:2])
    assert state.deadline != 0  # the quorum vote also decided it: no RoundStarted
    assert [(e.name, e.voting_id, e.args) for e in events] == [
        ("RoundDescribed", VID, {"votingId": VID, "schedule": DESC.schedule, "windowStart": 0,
                                 "windowEnd": 0, "eventKey": DESC.eventKey,
                                 "encoding": DESC.encoding}),
        ("RoundOpened", VID, {"votingId": VID, "attempt": 1, "seq": 3, "threshold": 2,
                              "eligible": 3, "deadline": 0}),
        ("VoteCast", VID, {"votingId": VID, "worker": w0, "attempt": 1, "result": RESULT,
                           "late": False}),
        ("VoteCast", VID, {"votingId": VID, "worker": w1, "attempt": 1, "result": RESULT,
                           "late": False}),
        ("ResultRecorded", VID, {"votingId": VID, "result": RESULT, "kind": 4, "attempt": 1,
                                 "votes": 2, "chainIndex": 0, "head": bytes(head)}),
    ]  # fmt: skip
    assert length == 1
    one, two = (first.block_number, first.txn_hash), (second.block_number, second.txn_hash)
    assert [(e.block, e.tx_hash, e.log_index) for e in events] == [
        (*one, 0), (*one, 1), (*one, 2), (*two, 0), (*two, 1)
    ]  # fmt: skip


def test_advance__next_poll_returns_only_new_events(pool, store):
    net, _start = pool
    vote(net, 0)
    vote(net, 1)
    watcher = watcher_for(pool, store)
    events, to_block = watcher.poll()
    assert len(events) == 5
    assert watcher.poll() == (events, to_block)  # not handled yet: read again
    watcher.advance(to_block)
    assert watcher.cursor == to_block
    assert watcher.poll() == ([], to_block)
    late = vote(net, 2, OTHER)
    events, last = watcher.poll()
    assert last == late.block_number
    assert [(e.name, e.args["worker"], e.args["result"], e.args["late"]) for e in events] == [
        ("VoteCast", net.workers[2].address, OTHER, True)
    ]
    watcher.advance(to_block - 1)  # never moves back
    assert watcher.cursor == to_block


def test_poll__skips_events_of_other_contracts_and_non_round_events(pool, store, create_voting,
                                                                    owner):  # fmt: skip
    net, _start = pool
    other = create_voting("2/3").voting
    other.openAndVote(DESC, RESULT, sender=net.workers[0])
    net.voting.pause(sender=owner)
    net.voting.unpause(sender=owner)
    assert watcher_for(pool, store).poll()[0] == []


def test_poll__confirmations_hide_the_newest_blocks(pool, store, chain):
    net, _start = pool
    first, second = vote(net, 0), vote(net, 1)
    watcher = watcher_for(pool, store, confirmations=2)
    events, to_block = watcher.poll()
    assert (events, to_block) == ([], second.block_number - 2)
    chain.mine()
    events, to_block = watcher.poll()
    assert [e.name for e in events] == ["RoundDescribed", "RoundOpened", "VoteCast"]
    assert to_block == first.block_number
    watcher.advance(to_block)
    chain.mine()
    events, to_block = watcher.poll()
    assert [(e.name, e.args.get("worker")) for e in events] == [
        ("VoteCast", net.workers[1].address), ("ResultRecorded", None)
    ]  # fmt: skip
    assert to_block == second.block_number


def test_poll__batch_limits_blocks_per_call(pool, store):
    net, start = pool
    first, second = vote(net, 0), vote(net, 1)
    watcher = watcher_for(pool, store, batch=1)
    for block, names in ((start, []),  # the last enrolment: no round events
                         (first.block_number, ["RoundDescribed", "RoundOpened", "VoteCast"]),
                         (second.block_number, ["VoteCast", "ResultRecorded"])):  # fmt: skip
        events, to_block = watcher.poll()
        assert (to_block, [e.name for e in events]) == (block, names)
        watcher.advance(to_block)
    assert watcher.poll() == ([], second.block_number)


def test_cursor__survives_a_new_watcher_on_the_reopened_store(pool, tmp_path):
    net, _start = pool
    vote(net, 0)
    with StateStore(tmp_path / "state") as store:
        watcher = watcher_for(pool, store)
        _events, to_block = watcher.poll()
        watcher.advance(to_block)
    vote(net, 1)
    with StateStore(tmp_path / "state") as store:
        restarted = watcher_for(pool, store)
        assert restarted.cursor == to_block
        events, _last = restarted.poll()
    assert [(e.name, e.args.get("worker")) for e in events] == [
        ("VoteCast", net.workers[1].address), ("ResultRecorded", None)
    ]  # fmt: skip


def test_poll__reorganised_cursor_block_rewinds_and_reads_again(pool, store, caplog):
    net, start = pool
    vote(net, 0)
    vote(net, 1)
    watcher = watcher_for(pool, store)
    events, to_block = watcher.poll()
    watcher.advance(to_block)
    store.set_meta("watch.cursor", {"block": to_block, "hash": "0x" + "ee" * 32})
    with caplog.at_level(logging.WARNING, logger="worker.watch"):
        again, last = watcher.poll()
    assert (again, last) == (events, to_block)
    assert watcher.cursor == start - 1  # rewound to before the start block
    assert caplog.messages == [
        f"block {to_block} was reorganised away: reading again from block {start}"
    ]
    watcher.advance(last)
    assert watcher.poll() == ([], to_block)  # the cursor's hash is the real one again


def test_poll__rewind_goes_back_at_most_rewind_blocks(pool, store, chain):
    net, _start = pool
    vote(net, 0)
    chain.mine(REWIND + 6)
    watcher = watcher_for(pool, store)
    _events, to_block = watcher.poll()
    watcher.advance(to_block)
    vote(net, 1)  # one block after the cursor
    store.set_meta("watch.cursor", {"block": to_block, "hash": "0x" + "ee" * 32})
    events, last = watcher.poll()
    assert watcher.cursor == to_block - REWIND
    assert [e.name for e in events] == ["VoteCast", "ResultRecorded"]
    assert last == to_block + 1
