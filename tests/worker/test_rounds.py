"""Driving rounds: when a round may be finalized, and `RoundDriver.drive` with real stores,
workflow and contract for a pool of three workers."""

import itertools
import time
from contextlib import ExitStack
from dataclasses import dataclass
from types import SimpleNamespace

import ape
import pytest
from eth_utils import keccak

from tests.conftest import HOUR, make_config
from tests.worker import localnet as ln
from tests.worker.chainutil import connection_for
from worker.metrics import Metrics
from worker.rounds import STATUS, RoundDriver
from worker.state import StateStore
from worker.submit import Submitter
from worker.workflow import load_workflow, output_root, run_workflow

REF = "worker.workflows.matching:run"
VID = keccak(text="settle hour")
WINDOW_START = 1_750_464_000  # an hour (UTC epoch seconds)
WINDOW = (WINDOW_START, WINDOW_START + HOUR)
DEADLINE, REVEAL = 10_000, 600
EXTRA = {"generation": [{"site": "gen-hydro", "hour": WINDOW_START, "wh": 300_000}]}


# -------------------------------------------------------------------------------------------------
# _finalizable: the contract's `_failed`, in Python
# -------------------------------------------------------------------------------------------------


def offline_driver() -> RoundDriver:
    configs = {1: make_config(threshold=2, sealed=True, reveal_duration=REVEAL)}
    conn = SimpleNamespace(voting=SimpleNamespace(configAt=configs.__getitem__))
    return RoundDriver(conn, None, None, None, None)


def state(voted=0, committed=0, leader=0, threshold=2, eligible=3) -> SimpleNamespace:
    return SimpleNamespace(deadline=DEADLINE, voted=voted, committed=committed,
                           leaderVotes=leader, threshold=threshold, eligibleCount=eligible,
                           configVersion=1)  # fmt: skip


@pytest.mark.parametrize(
    ("status", "st", "now", "expected"),
    [
        ("Voting", state(voted=0b001, leader=1), DEADLINE, False),  # votes may still come
        ("Voting", state(voted=0b001, leader=1), DEADLINE + 1, True),  # deadline passed
        ("Voting", state(voted=0b011, leader=1, threshold=3), 0, True),  # split: out of reach
        ("Voting", state(voted=0b011, leader=2, threshold=3), 0, False),  # the third may agree
        ("Voting", state(voted=0b101, leader=1, threshold=2, eligible=2), 0, True),
        ("Committing", state(committed=0b001), DEADLINE, False),  # commit phase open
        ("Committing", state(committed=0b001), DEADLINE + 1, True),  # one commit: 1 < 2
        ("Committing", state(committed=0b011), DEADLINE + 1, False),  # reveal phase runs
        ("Committing", state(committed=0b011), DEADLINE + REVEAL, False),
        ("Committing", state(committed=0b011), DEADLINE + REVEAL + 1, True),  # reveals over
        ("Revealing", state(committed=0b111, voted=0b001, leader=1), DEADLINE, False),
        ("Revealing", state(committed=0b111, voted=0b011, leader=1, threshold=3), 0, True),
        ("Revealing", state(committed=0b011, voted=0b001, leader=1, threshold=3), 0, True),
        ("Revealing", state(committed=0b111, voted=0b001, leader=1), DEADLINE + 1, True),
    ],
)
def test_finalizable__mirrors_contract_rule(status, st, now, expected):
    assert offline_driver()._finalizable(st, status, now) is expected


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("sealed", "votes", "late", "expected"),
    [
        (False, [b"A"], False, False),
        (False, [b"A"], True, True),
        (False, [b"A", b"B", b"C"], False, True),
        (True, [b"A"], True, True),
        (True, [b"A", b"A"], True, False),
    ],
)
def test_finalizable__agrees_with_contract_finalize(create_voting, chain, sealed, votes, late,
                                                    expected):  # fmt: skip
    net = create_voting("2/3", sealed=sealed)
    for worker, result in zip(net.workers, votes):
        value = keccak(result)
        if sealed:
            value = net.voting.commitmentOf(value, keccak(b"salt"), worker, VID, 1)
        getattr(net.voting, "commit" if sealed else "vote")(VID, value, sender=worker)
    if late:
        chain.pending_timestamp = int(net.voting.roundState(VID).deadline) + 60
        chain.mine()
    st = net.voting.roundState(VID)
    driver = RoundDriver(connection_for(net.workers[0], net.voting), None, None, None, None)
    assert driver._finalizable(st, STATUS[st.status], chain.blocks.head.timestamp) is expected
    if expected:
        net.voting.finalize(VID, sender=net.workers[0])
    else:
        with ape.reverts(net.voting.VotingNothingToFinalize, votingId=VID):
            net.voting.finalize(VID, sender=net.workers[0])


# -------------------------------------------------------------------------------------------------
# drive(): three workers, each with its own store, submitter and driver (anvil)
# -------------------------------------------------------------------------------------------------


@dataclass
class Member:
    conn: object
    store: StateStore
    submitter: Submitter
    driver: RoundDriver

    def nonce(self) -> int:
        return self.conn.web3.eth.get_transaction_count(self.conn.address, "pending")

    def drive(self) -> str:
        """One tick for the round; waits until anvil mined what it sent."""
        status = self.driver.drive(VID)
        eth, deadline = self.conn.web3.eth, time.monotonic() + 5
        while eth.get_transaction_count(self.conn.address, "latest") < self.nonce():
            assert time.monotonic() < deadline, "a sent transaction was not mined"
            time.sleep(0.02)
        self.submitter.poll()
        return status


@pytest.fixture
def team(create_voting, chain, tmp_path):
    """Three workers of a pool `create_voting(threshold, **config)`, tracking the round VID."""
    workflow = load_workflow(REF)
    with ExitStack() as stack:

        def create(threshold: str, driver=None, store_clock=time.time, **config):
            net = create_voting(threshold, **config)
            members = []
            for i, worker in enumerate(net.workers):
                conn = connection_for(worker, net.voting)
                store = stack.enter_context(StateStore(tmp_path / f"w{i}", clock=store_clock))
                submitter = Submitter(conn, store)
                rounds = RoundDriver(conn, store, submitter, workflow, None,
                                     clock=lambda: chain.pending_timestamp,
                                     **(driver or {}))  # fmt: skip
                assert rounds.track(VID, WINDOW, "settle", "test") is True
                members.append(Member(conn, store, submitter, rounds))
            return net, members

        yield create


def give(member: Member, key: str, payload: dict) -> None:
    member.store.put_input("grid", key, WINDOW[0], WINDOW[1], payload)


def root(*payloads) -> str:
    return output_root(run_workflow(REF, list(payloads), None))


def outcome_of(member: Member) -> tuple:
    o = member.store.outcome(VID)
    return (o.kind, o.attempt, o.result, o.agreed, o.fallback)


def settled(net) -> tuple[str, int, str]:
    st = net.voting.roundState(VID)
    return STATUS[st.status], int(st.attempt), "0x" + bytes(st.result).hex()


def spy_on_outcomes(member: Member, kinds: list[str]) -> None:
    """Appends the kind of each outcome `member` records to `kinds`."""
    record = member.store.record_outcome

    def spy(voting_id, kind, **fields):
        kinds.append(kind)
        record(voting_id, kind, **fields)

    member.store.record_outcome = spy


def voted_events(net, chain) -> list[tuple]:
    return [(e.worker, e.attempt, "0x" + bytes(e.result).hex(), e.late)
            for e in net.voting.VoteCast.range(0, chain.blocks.height + 1)]  # fmt: skip


@pytest.mark.anvil
def test_drive__consensus_recorded_as_agreed_and_round_closed(team, chain):
    net, members = team("2/3")
    payload = ln.hour_payload(WINDOW_START)
    expected = root(payload)
    for member in members:
        give(member, "h1", payload)
        assert member.driver.track(VID, WINDOW, "settle", "test") is False
    assert [m.drive() for m in members] == ["None", "Voting", "Consensus"]
    assert settled(net) == ("Consensus", 1, expected)
    w = [m.conn.address for m in members]
    assert voted_events(net, chain) == [(w[0], 1, expected, False), (w[1], 1, expected, False),
                                        (w[2], 1, expected, True)]  # fmt: skip
    for member in members:
        assert member.store.round(VID, 1).result == expected
        assert member.drive() == "Consensus"
        assert outcome_of(member) == ("Consensus", 1, expected, True, None)
        assert member.store.round(VID, 1).status == "closed"
        assert member.driver.active() == []
        before = member.nonce()
        assert member.drive() == "Consensus"
        assert member.nonce() == before


@pytest.mark.anvil
def test_drive__late_dissenting_vote_recorded_as_disagreed(team):
    _net, members = team("2/3")
    for member in members[:2]:
        give(member, "h1", ln.hour_payload(WINDOW_START))
    give(members[2], "h1", ln.hour_payload(WINDOW_START, scale=2))
    for member in members * 2:
        member.drive()
    agreed, other = root(ln.hour_payload(WINDOW_START)), root(ln.hour_payload(WINDOW_START, 2))
    assert [outcome_of(m) for m in members] == [
        ("Consensus", 1, agreed, True, None),
        ("Consensus", 1, agreed, True, None),
        ("Consensus", 1, agreed, False, None),
    ]
    assert members[2].store.vote(VID, 1, "vote").result == other


@pytest.mark.anvil
def test_drive__split_finalized_once_by_index_0_then_attempt_2_recomputed(team, chain):
    net, members = team("3/3")
    payload = ln.hour_payload(WINDOW_START)
    for member in members:
        give(member, "h1", payload)
    for member in members[:2]:
        give(member, "h2", EXTRA)  # the third worker lacks this input in attempt 1
    assert [m.drive() for m in members] == ["None", "Voting", "Voting"]
    st = net.voting.roundState(VID)
    assert (STATUS[st.status], st.voted, st.leaderVotes) == ("Voting", 0b111, 2)  # out of reach
    nonces = [m.nonce() for m in members]
    assert [m.drive() for m in reversed(members)] == ["Voting"] * 3  # index 2, 1 wait their turn
    assert [m.nonce() for m in members] == [nonces[0] + 1, *nonces[1:]]
    st = net.voting.roundState(VID)
    assert (STATUS[st.status], st.attempt, st.voted) == ("Voting", 2, 0)
    assert len(list(net.voting.RoundReopened.range(0, chain.blocks.height + 1))) == 1
    give(members[2], "h2", EXTRA)  # arrived late: attempt 2 computes from it
    assert [m.drive() for m in members] == ["Voting"] * 3
    expected = root(payload, EXTRA)
    assert settled(net) == ("Consensus", 2, expected)
    assert members[2].store.round(VID, 1).result == root(payload)
    for member in members:
        assert member.store.round(VID, 2).result == expected
        assert member.drive() == "Consensus"
        assert outcome_of(member) == ("Consensus", 2, expected, True, None)
        assert [member.store.round(VID, a).status for a in (1, 2)] == ["closed", "closed"]


@pytest.mark.anvil
def test_drive__no_data_sends_nothing_and_deadline_finalizes(team, chain):
    net, members = team("3/3")
    payload = ln.hour_payload(WINDOW_START)
    for member in members[:2]:
        give(member, "h1", payload)
    idle = members[2]  # no data for the window
    idle_nonce = idle.nonce()
    assert [m.drive() for m in members] == ["None", "Voting", "Voting"]
    nonces = [m.nonce() for m in members]
    assert [m.drive() for m in members] == ["Voting"] * 3  # deadline ahead: nothing to finalize
    assert [m.nonce() for m in members] == nonces
    deadline = int(net.voting.roundState(VID).deadline)
    chain.pending_timestamp = deadline + 1
    chain.mine()
    assert [m.drive() for m in reversed(members)] == ["Voting"] * 3
    assert [m.nonce() for m in members] == [nonces[0] + 1, *nonces[1:]]  # index 0 finalized
    st = net.voting.roundState(VID)
    assert (STATUS[st.status], st.attempt, st.voted) == ("Voting", 2, 0)
    assert [m.drive() for m in members] == ["Voting"] * 3
    st = net.voting.roundState(VID)
    assert (st.attempt, st.voted) == (2, 1 << 0 | 1 << 1)
    for member in members[:2]:
        assert member.store.round(VID, 2).result == root(payload)
        assert member.store.vote(VID, 2, "vote").state == "confirmed"
    assert [idle.store.vote(VID, a, "vote") for a in (1, 2)] == [None, None]
    assert idle.store.round(VID).status == "skipped"
    assert idle.driver.active() == [VID]
    assert idle.nonce() == idle_nonce


@pytest.mark.anvil
def test_drive__computes_only_once_the_window_has_its_inputs_and_they_rested(team):
    clock = [1_000.0]
    driver = {"min_inputs": 2, "settle": 30}
    net, (member,) = team("1/1", driver=driver, store_clock=lambda: clock[0])
    payload = ln.hour_payload(WINDOW_START)
    nonce = member.nonce()
    give(member, "h1", payload)
    assert member.drive() == "None"  # 1 of 2 inputs
    give(member, "h2", EXTRA)
    clock[0] += 29
    assert member.drive() == "None"  # the newest input rested 29 of 30 s
    assert member.nonce() == nonce
    assert member.store.round(VID, 1).result is None
    clock[0] += 1
    assert member.drive() == "None"  # status read before this tick's vote
    expected = root(payload, EXTRA)
    assert member.store.round(VID, 1).result == expected
    assert settled(net) == ("Consensus", 1, expected)
    assert member.nonce() == nonce + 1


@pytest.mark.anvil
def test_drive__sealed_commit_then_reveal_also_after_consensus(team, chain):
    net, members = team("2/3", sealed=True, reveal_duration=HOUR)
    payload = ln.hour_payload(WINDOW_START)
    for member in members:
        give(member, "h1", payload)
    assert [m.drive() for m in members] == ["None", "Committing", "Committing"]
    st = net.voting.roundState(VID)
    assert (STATUS[st.status], st.committed, st.voted) == ("Revealing", 0b111, 0)
    assert [m.store.round(VID, 1).status for m in members] == ["committed"] * 3
    assert [m.drive() for m in members] == ["Revealing", "Revealing", "Consensus"]
    expected = root(payload)
    assert net.voting.resultOf(VID) == bytes.fromhex(expected[2:])
    w = [m.conn.address for m in members]
    assert voted_events(net, chain) == [(w[0], 1, expected, False), (w[1], 1, expected, False),
                                        (w[2], 1, expected, True)]  # fmt: skip
    for member in members:
        assert member.store.salt(VID, 1)[1] == expected
        assert member.store.vote(VID, 1, "reveal").state == "confirmed"
        assert member.drive() == "Consensus"
        assert outcome_of(member) == ("Consensus", 1, expected, True, None)


@pytest.mark.anvil
def test_drive__sealed_without_commit_sends_nothing_after_consensus(team, chain):
    net, members = team("2/3", sealed=True, reveal_duration=HOUR)
    payload = ln.hour_payload(WINDOW_START)
    for member in members[:2]:
        give(member, "h1", payload)
    late = members[2]  # its data comes after the commit phase
    late_nonce = late.nonce()
    assert [m.drive() for m in members] == ["None", "Committing", "Committing"]
    chain.pending_timestamp = int(net.voting.roundState(VID).deadline) + 1
    chain.mine()
    give(late, "h1", payload)
    assert [m.drive() for m in members] == ["Committing", "Revealing", "Consensus"]
    expected = root(payload)
    assert settled(net) == ("Consensus", 1, expected)
    assert outcome_of(late) == ("Consensus", 1, expected, None, None)
    assert late.store.round(VID, 1).status == "closed"
    assert [late.store.vote(VID, 1, kind) for kind in ("commit", "reveal", "vote")] == [None] * 3
    assert late.nonce() == late_nonce


@pytest.mark.anvil
def test_drive__awaiting_failover_kept_quiet_then_resolved_and_closed(team, failover_account):
    net, members = team("3/3", fallback="failover", failover=failover_account.address)
    payload = ln.hour_payload(WINDOW_START)
    for member in members:
        member.driver.metrics = Metrics()
        give(member, "h1", payload)
    for member in members[:2]:
        give(member, "h2", EXTRA)  # the third worker never gets it: both attempts split
    for first in ("None", "Voting"):  # attempts 1 and 2 split; index 0 finalizes each
        assert [m.drive() for m in members] == [first, "Voting", "Voting"]
        assert [m.drive() for m in reversed(members)] == ["Voting"] * 3
    st = net.voting.roundState(VID)
    assert (STATUS[st.status], st.attempt) == ("AwaitingFailover", 2)
    mine, other = root(payload, EXTRA), root(payload)
    recorded = []
    for member in members:
        assert member.store.vote(VID, 2, "vote").result == (other if member is members[2] else mine)
        spy_on_outcomes(member, recorded)
        nonce = member.nonce()
        for _ in range(3):  # waiting: the same outcome, recorded once; nothing sent
            assert member.drive() == "AwaitingFailover"
            assert outcome_of(member) == ("AwaitingFailover", 2, None, None, "failover")
            assert member.driver.active() == [VID]
        assert member.nonce() == nonce
        assert [member.store.round(VID, a).status for a in (1, 2)] == ["voted", "voted"]
    assert recorded == ["AwaitingFailover"] * 3  # at the first drive above of each worker
    net.voting.resolveByFailover(VID, bytes.fromhex(mine[2:]), sender=failover_account)
    assert settled(net) == ("FailoverResolved", 2, mine)
    for member, agreed in zip(members, (True, True, False)):
        assert member.drive() == "FailoverResolved"
        assert outcome_of(member) == ("FailoverResolved", 2, mine, agreed, "failover")
        assert member.driver.active() == []
        assert [member.store.round(VID, a).status for a in (1, 2)] == ["closed", "closed"]
        count = member.driver.metrics.registry.get_sample_value
        assert count("worker_round_failures_total", {"kind": "failover"}) == 1
        assert count("worker_round_failures_total", {"kind": "awaitingfailover"}) is None
        assert count("worker_consensus_total", {"agreed": "yes" if agreed else "no"}) == 1
        assert count("worker_consensus_total", {"agreed": "absent"}) == 0
    assert recorded == ["AwaitingFailover"] * 3 + ["FailoverResolved"] * 3


def test_active__rounds_awaiting_failover_come_last(tmp_path):
    vids = [keccak(text=f"round {i}") for i in range(3)]
    with StateStore(tmp_path, clock=itertools.count().__next__) as store:  # created in order
        driver = RoundDriver(None, store, None, None, None)
        for vid in vids:
            driver.track(vid, WINDOW, None, "test")
        store.record_outcome(vids[0], "AwaitingFailover", attempt=2, fallback="failover")
        assert driver.active() == [vids[1], vids[2], vids[0]]
        store.record_outcome(vids[0], "FailoverResolved", attempt=2, result=keccak(b"A"))
        assert driver.active() == vids


def test_stale__window_round_after_horizon_but_event_round_by_its_own_age():
    from types import SimpleNamespace

    driver = RoundDriver(None, None, None, None, {}, clock=lambda: 100_000.0)
    driver.horizon = 3_600
    old_window = SimpleNamespace(event_key=None, window_end=100_000 - 3_601)
    fresh_window = SimpleNamespace(event_key=None, window_end=100_000 - 3_599)
    assert (driver._stale(b"a" * 32, old_window), driver._stale(b"b" * 32, fresh_window)) == (
        True, False)  # fmt: skip
    # An event about a window long past is not stale while this worker has just taken it up.
    event = SimpleNamespace(event_key="settle-1", window_end=10)
    driver.known_at[b"c" * 32] = time.monotonic()
    driver.known_at[b"d" * 32] = time.monotonic() - 3_601
    assert (driver._stale(b"c" * 32, event), driver._stale(b"d" * 32, event)) == (False, True)
