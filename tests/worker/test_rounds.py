"""Driving rounds: `RoundDriver.drive` with real stores, workflow and contract for a pool of
three workers (when a round may be finalized: test_finalize.py)."""

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from eth_utils import keccak

from tests.conftest import HOUR
from tests.worker import localnet as ln
from tests.worker.chainutil import connection_for
from worker.metrics import Metrics
from worker.rounds import STATUS, RoundDriver
from worker.state import StateStore
from worker.submit import Submitter
from worker.workflow import load_workflow, output_root, run_workflow

REF = "worker.workflows.matching:run"
WINDOW_START = 1_750_464_000  # an hour (UTC epoch seconds)
WINDOW = (WINDOW_START, WINDOW_START + HOUR)
DESC = ln.NAMING.window(*WINDOW)
VID = DESC.voting_id
EXTRA = {"generation": [{"site": "gen-hydro", "hour": WINDOW_START, "wh": 300_000}]}


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
                                     clock=lambda: chain.pending_timestamp, naming=ln.NAMING,
                                     **(driver or {}))  # fmt: skip
                assert rounds.track(VID, WINDOW, None, "test") is True
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
        assert member.driver.track(VID, WINDOW, None, "test") is False
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
def test_drive__before_quorum_no_clock_nothing_finalized_nothing_given_up(team, chain):
    net, members = team("3/3")
    payload = ln.hour_payload(WINDOW_START)
    for member in members[:2]:
        give(member, "h1", payload)
    idle = members[2]  # no data for the window yet
    since_end = chain.pending_timestamp - WINDOW[1]
    idle.driver.horizon = since_end + 2 * 86_400  # a window it may still get data for
    idle_nonce = idle.nonce()
    # NOTE: a round without data is "Waiting": no call to the node until its data arrives.
    assert [m.drive() for m in members] == ["None", "Voting", "Waiting"]
    st = net.voting.roundState(VID)
    assert (st.attempt, st.voted, st.deadline) == (1, 0b011, 0)  # 2 of 3: no quorum, no clock
    nonces = [m.nonce() for m in members]
    chain.pending_timestamp += 86_400
    chain.mine()
    assert [m.drive() for m in reversed(members)] == ["Waiting", "Voting", "Voting"]
    assert [m.nonce() for m in members] == nonces  # nothing to finalize, ever, before the quorum
    assert idle.driver.active() == [VID]
    give(idle, "h1", payload)  # the data comes a day later: its vote still counts
    assert idle.drive() == "Voting"
    assert settled(net) == ("Consensus", 1, root(payload))
    assert idle.nonce() == idle_nonce + 1


@pytest.mark.anvil
def test_drive__unclocked_round_without_data_given_up_after_horizon(team, chain):
    net, members = team("3/3")
    for member in members[:2]:
        give(member, "h1", ln.hour_payload(WINDOW_START))
    idle = members[2]
    since_end = chain.pending_timestamp - WINDOW[1]
    idle.driver.horizon = since_end + 600
    assert [m.drive() for m in members] == ["None", "Voting", "Waiting"]
    assert idle.drive() == "Waiting"
    assert idle.driver.active() == [VID]
    idle.driver.horizon = since_end - 600  # its window ended longer ago than the horizon
    assert idle.drive() == "Voting"
    assert idle.driver.active() == []
    assert idle.store.round(VID).status == "closed"
    assert int(net.voting.roundState(VID).deadline) == 0


@pytest.mark.anvil
def test_drive__split_past_deadline_finalized_by_index_0_idle_sends_nothing(team, chain):
    net, members = team("2/3")
    give(members[0], "h1", ln.hour_payload(WINDOW_START))
    give(members[1], "h1", ln.hour_payload(WINDOW_START, scale=2))
    idle = members[2]  # no data: the third vote never comes
    idle.driver.horizon = 10**10
    idle_nonce = idle.nonce()
    assert [m.drive() for m in members] == ["None", "Voting", "Waiting"]
    nonces = [m.nonce() for m in members]
    # deadline ahead: nothing to finalize
    assert [m.drive() for m in members] == ["Voting", "Voting", "Waiting"]
    assert [m.nonce() for m in members] == nonces
    chain.pending_timestamp = int(net.voting.roundState(VID).deadline) + 1
    chain.mine()
    assert [m.drive() for m in reversed(members)] == ["Waiting", "Voting", "Voting"]
    assert [m.nonce() for m in members] == [nonces[0] + 1, *nonces[1:]]  # index 0 finalized
    st = net.voting.roundState(VID)
    assert (STATUS[st.status], st.attempt, st.voted) == ("Voting", 2, 0)
    assert [m.drive() for m in members] == ["Voting", "Voting", "Waiting"]
    assert net.voting.roundState(VID).voted == 0b011
    assert [idle.store.vote(VID, a, "vote") for a in (1, 2)] == [None, None]
    assert idle.store.round(VID).status == "skipped"
    assert idle.nonce() == idle_nonce


@pytest.mark.anvil
def test_drive__first_vote_opens_with_descriptor_later_ones_plain(team, chain):
    net, members = team("2/3")
    for member in members:
        give(member, "h1", ln.hour_payload(WINDOW_START))
    assert [m.drive() for m in members[:2]] == ["None", "Voting"]
    (described,) = net.voting.RoundDescribed.range(0, chain.blocks.height + 1)
    assert (described.votingId, described.windowStart, described.windowEnd) == (VID, *WINDOW)
    assert (described.schedule, described.encoding) == (ln.NAMING.schedule, ln.NAMING.encoding)
    inputs = [m.conn.web3.eth.get_transaction(m.store.vote(VID, 1, "vote").tx_hash)["input"]
              for m in members[:2]]  # fmt: skip
    opening = net.voting.openAndVote.encode_input(DESC, VID)[:4]
    assert [bytes(i)[:4] for i in inputs] == [opening, net.voting.vote.encode_input(VID, VID)[:4]]


@pytest.mark.anvil
def test_drive__round_whose_descriptor_is_not_its_id_never_opened(team, caplog):
    _net, (member,) = team("1/1")
    wrong = keccak(text="not a descriptor id")
    member.driver.track(wrong, WINDOW, None, "test")
    member.store.put_input("grid", "h1", *WINDOW, ln.hour_payload(WINDOW_START))
    nonce = member.nonce()
    with caplog.at_level(logging.ERROR, logger="worker.rounds"):
        assert member.driver.drive(wrong) == "None"
    assert f"its descriptor has the id 0x{VID.hex()}" in caplog.text
    assert member.nonce() == nonce
    assert member.store.vote(wrong, 1, "vote") is None


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
@pytest.mark.parametrize("ending", ["resolved", "timed out"])
def test_drive__awaiting_failover_kept_quiet_then_settled(team, chain, failover_account, ending):
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
    if ending == "timed out":  # the failover key is lost: past the timeout index 0 fails it
        chain.pending_timestamp = int(net.voting.roundState(VID).deadline) + 1
        chain.mine()
        nonces = [m.nonce() for m in members]
        assert [m.drive() for m in reversed(members)] == ["AwaitingFailover"] * 3
        assert [m.nonce() for m in members] == [nonces[0] + 1, *nonces[1:]]
        expected = ("Failed", 2, None)
    else:
        net.voting.resolveByFailover(VID, bytes.fromhex(mine[2:]), sender=failover_account)
        expected = ("FailoverResolved", 2, mine)
    kind = expected[0]
    assert settled(net) == (*expected[:2], expected[2] or "0x" + "00" * 32)
    for member, agreed in zip(members, (True, True, False)):
        agreed = agreed if kind == "FailoverResolved" else None
        assert member.drive() == kind
        assert outcome_of(member) == (*expected, agreed, "failover")
        assert member.driver.active() == []
        assert [member.store.round(VID, a).status for a in (1, 2)] == ["closed", "closed"]
        count = member.driver.metrics.registry.get_sample_value
        assert count("worker_round_failures_total", {"kind": "failover"}) == 1
        assert count("worker_round_failures_total", {"kind": "awaitingfailover"}) is None
        assert count("worker_round_failures_total", {"kind": "failed"}) == 0
        consensus = 1 if kind == "FailoverResolved" else 0  # a failed round has no result
        assert count("worker_consensus_total", {"agreed": "yes" if agreed else "no"}) == consensus
    assert recorded == ["AwaitingFailover"] * 3 + [kind] * 3


@pytest.mark.anvil
def test_drive__vote_log_line_carries_round_and_transaction_fields(team, caplog):
    _, members = team("2/3")
    give(members[0], "h1", ln.hour_payload(WINDOW_START))

    with caplog.at_level(logging.INFO, logger="worker"):
        assert members[0].drive() == "None"

    (sent,) = [r for r in caplog.records if r.getMessage().startswith("vote sent: ")]
    vote = members[0].store.vote(VID, 1, "vote")
    assert (sent.voting_id, sent.attempt, sent.window) == ("0x" + VID.hex(), 1, list(WINDOW))
    assert (sent.tx_hash, sent.nonce) == (vote.tx_hash, vote.nonce)
    assert sent.gas >= 200_000  # the vote's gas floor
