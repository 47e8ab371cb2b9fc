"""worker.state: the SQLite store, its vote state machine and its crash safety (kill -9)."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.errors import (
    LeafIndexError,
    RoundNotFoundError,
    SaltConflictError,
    StateError,
    StateOpenError,
    StateValueError,
    VoteStateError,
)
from worker.merkle import StandardMerkleTree
from worker.state import FILE_NAME, SCHEMA_VERSION, StateStore

ROOT_DIR = Path(__file__).resolve().parents[2]
TYPES = ["string", "string", "uint64", "uint256"]
HOUR = 1_750_464_000
VID = bytes.fromhex("ab" * 32)
OTHER = "0x" + "cd" * 32
RESULT = b"\x11" * 32
RESULT_2 = b"\x22" * 32


@pytest.fixture
def store(tmp_path):
    with StateStore(tmp_path / "state") as opened:
        yield opened


def tree_of(count: int = 5, wh: int = 1000) -> StandardMerkleTree:
    records = [(f"consumer-{i}", "solar-1", HOUR, wh + i) for i in range(count)]
    return StandardMerkleTree.of(records, TYPES)


# -------------------------------------------------------------------------------------------------
# Opening, schema
# -------------------------------------------------------------------------------------------------


def test_open__creates_directory_file_schema_and_wal(tmp_path):
    with StateStore(tmp_path / "a" / "b") as store:
        assert store.path == tmp_path / "a" / "b" / FILE_NAME
        assert store.schema_version == SCHEMA_VERSION

    db = sqlite3.connect(tmp_path / "a" / "b" / FILE_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_open__reopen_keeps_data(tmp_path):
    with StateStore(tmp_path) as store:
        store.put_input("api", "k", 0, 10, {"a": 1})
    with StateStore(tmp_path) as store:
        assert [row["payload"] for row in store.inputs_for_window(0, 10)] == [{"a": 1}]


def test_open__version_1_file_is_migrated(tmp_path):
    with StateStore(tmp_path) as store:
        store.put_input("api", "k", 0, 10, {"a": 1})
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute("DROP TABLE meta")
    db.execute("DROP TABLE round_records")
    db.execute("ALTER TABLE rounds DROP COLUMN nodes")
    db.execute("UPDATE schema_version SET version = 1")
    db.commit()
    db.close()

    with StateStore(tmp_path) as store:
        assert store.schema_version == SCHEMA_VERSION == 3
        store.set_meta("watch.block", 12)
        assert store.meta("watch.block") == 12
        assert len(store.inputs_for_window(0, 10)) == 1


def test_meta__set_replaces_and_survives_reopen(tmp_path):
    with StateStore(tmp_path) as store:
        assert store.meta("cursor", "none") == "none"
        store.set_meta("cursor", {"block": 1})
        store.set_meta("cursor", {"block": 2})
    with StateStore(tmp_path) as store:
        assert store.meta("cursor") == {"block": 2}


@pytest.mark.parametrize("key, value", [("", 1), ("k", float("nan")), ("k", object())])
def test_meta__bad_key_or_value_is_refused(tmp_path, key, value):
    with StateStore(tmp_path) as store, pytest.raises(StateValueError):
        store.set_meta(key, value)


def test_open__newer_schema_is_refused(tmp_path):
    StateStore(tmp_path).close()
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()

    with pytest.raises(StateOpenError, match="newer than this worker's"):
        StateStore(tmp_path)


def test_open__other_sqlite_database_is_refused(tmp_path):
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.commit()
    db.close()

    with pytest.raises(StateOpenError, match="not a worker state database"):
        StateStore(tmp_path)


def test_open__file_that_is_not_sqlite_is_refused(tmp_path):
    (tmp_path / FILE_NAME).write_bytes(b"this is not a database" * 100)

    with pytest.raises(StateOpenError, match="not a usable SQLite database"):
        StateStore(tmp_path)


def test_open__directory_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "state").write_text("")

    with pytest.raises(StateOpenError, match="cannot open") as info:
        StateStore(tmp_path / "state")

    assert isinstance(info.value, StateError)


# -------------------------------------------------------------------------------------------------
# Inputs
# -------------------------------------------------------------------------------------------------


def test_put_input__idempotent_per_source_and_key(store):
    assert store.put_input("meters", "msg-1", 0, 3600, {"wh": 1}) is True
    assert store.put_input("meters", "msg-1", 0, 3600, {"wh": 2}) is False
    assert store.put_input("prices", "msg-1", 0, 3600, [1, 2]) is True

    rows = store.inputs_for_window(0, 3600)
    assert [(r["source"], r["key"], r["payload"]) for r in rows] == [
        ("meters", "msg-1", {"wh": 1}),
        ("prices", "msg-1", [1, 2]),
    ]


def test_inputs_for_window__inputs_inside_the_window_sorted(store):
    store.put_input("b", "2", 3600, 7200, {"n": 2})
    store.put_input("a", "1", 0, 3600, {"n": 1})
    store.put_input("a", "0", 3600, 5400, {"n": 0})
    store.put_input("a", "x", 7200, 10800, {"n": 3})

    assert [r["key"] for r in store.inputs_for_window(3600, 7200)] == ["0", "2"]
    assert [r["key"] for r in store.inputs_for_window(0, 7200)] == ["0", "1", "2"]
    row = store.inputs_for_window(0, 3600)[0]
    assert set(row) == {"source", "key", "window_start", "window_end", "payload", "received_at"}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", "k", 0, 1, {}), "source"),
        (("s", "", 0, 1, {}), "key"),
        (("s", "k", 5, 5, {}), "window"),
        (("s", "k", -1, 5, {}), "window_start"),
        (("s", "k", 0, 1, "text"), "payload"),
        (("s", "k", 0, 1, {"x": float("nan")}), "payload"),
        (("s", "k", 0, 1, {"x": {1, 2}}), "payload"),
    ],
)
def test_put_input__invalid_values_rejected(store, args, field):
    with pytest.raises(StateValueError) as info:
        store.put_input(*args)

    assert info.value.field == field
    assert store.inputs_for_window(0, 2**40) == []


# -------------------------------------------------------------------------------------------------
# Rounds, proofs, outcomes
# -------------------------------------------------------------------------------------------------


def test_put_round__stores_result_and_serves_proofs_after_reopen(tmp_path):
    tree = tree_of(7)
    with StateStore(tmp_path) as store:
        store.put_round(VID, 1, tree, window=(HOUR, HOUR + 3600))
    with StateStore(tmp_path) as store:
        stored = store.round(VID)
        proof = store.proof_for(VID, 3)

    assert (stored.attempt, stored.status, stored.result) == (1, "computed", tree.root)
    assert (stored.window_start, stored.window_end, stored.record_count) == (HOUR, HOUR + 3600, 7)
    assert stored.leaf_encoding == TYPES
    assert proof.record == tree.at(3)
    assert proof.root == tree.root and proof.attempt == 1
    assert proof.encoded == "0x" + tree.encode(3).hex()
    assert StandardMerkleTree.verify(proof.root, proof.leaf_hash, proof.proof)


def test_proof_for__attempt_of_the_outcome_by_default(store):
    first, second = tree_of(4, wh=1), tree_of(4, wh=2)
    store.put_round(VID, 1, first)
    store.put_round(VID, 2, second)

    assert store.proof_for(VID, 0).root == second.root  # latest attempt
    store.record_outcome(VID, "Consensus", attempt=1, result=first.root, agreed=True)
    assert store.proof_for(VID, 0).root == first.root
    assert store.proof_for(VID, 0, attempt=2).root == second.root


def test_proof_for__unknown_round_or_index(store):
    store.put_round(VID, 1, None, event_key="settle-1", status="skipped")

    with pytest.raises(RoundNotFoundError, match="no records tree"):
        store.proof_for(VID, 0)
    store.put_round(VID, 1, tree_of(2))
    with pytest.raises(LeafIndexError):
        store.proof_for(VID, 2)


def test_put_round__records_fixed_once_a_vote_is_planned(store):
    tree = tree_of(3)
    store.put_round(VID, 1, tree_of(3, wh=5))
    store.put_round(VID, 1, tree)  # recomputed before voting: replaced
    store.plan_vote(VID, 1, "vote", tree.root)

    store.put_round(VID, 1, tree, status="voted")  # same records: fine
    with pytest.raises(VoteStateError, match="records cannot change after the vote"):
        store.put_round(VID, 1, tree_of(3, wh=6))
    assert store.round(VID, 1).result == tree.root
    assert store.round(VID, 1).status == "voted"


def test_rounds__listing_and_status(store):
    store.put_round(VID, 1, tree_of(2))
    store.put_round(OTHER, 1, None, status="skipped")
    store.set_round_status(VID, 1, "closed")

    assert [(r.voting_id, r.status) for r in store.rounds()] == [
        ("0x" + VID.hex(), "closed"),
        (OTHER, "skipped"),
    ]
    assert [r.voting_id for r in store.rounds("skipped")] == [OTHER]
    assert store.round(VID, 2) is None
    with pytest.raises(RoundNotFoundError):
        store.set_round_status(VID, 2, "closed")
    with pytest.raises(StateValueError, match="status"):
        store.set_round_status(VID, 1, "done")


def test_record_outcome__stored_and_replaced(store):
    store.record_outcome(VID, "Consensus", attempt=1, result=RESULT, agreed=False, chain_index=4)
    outcome = store.outcome(VID)

    assert (outcome.kind, outcome.attempt, outcome.agreed, outcome.chain_index) == (
        "Consensus", 1, False, 4,
    )  # fmt: skip
    assert outcome.result == "0x" + RESULT.hex()
    store.record_outcome(VID, "Failed", attempt=2, fallback="AlertOnly")
    assert (store.outcome(VID).kind, store.outcome(VID).agreed) == ("Failed", None)
    assert store.outcome(OTHER) is None


# -------------------------------------------------------------------------------------------------
# Votes and salts
# -------------------------------------------------------------------------------------------------


def test_plan_vote__once_then_sent_then_confirmed(store):
    assert store.plan_vote(VID, 1, "vote", RESULT) is True
    assert store.plan_vote(VID, 1, "vote", RESULT) is False
    assert store.pending_votes()[0].state == "planned"

    store.set_vote_state(VID, 1, "vote", "sent", tx_hash="0xaa", nonce=7)
    store.set_vote_state(VID, 1, "vote", "sent", tx_hash="0xbb")  # a replacement transaction
    assert store.plan_vote(VID, 1, "vote", RESULT) is False
    store.set_vote_state(VID, 1, "vote", "confirmed")

    vote = store.vote(VID, 1, "vote")
    assert (vote.state, vote.tx_hash, vote.nonce, vote.tries) == ("confirmed", "0xbb", 7, 1)
    assert vote.result == "0x" + RESULT.hex()
    assert store.pending_votes() == []
    with pytest.raises(VoteStateError, match="cannot go from confirmed to sent"):
        store.set_vote_state(VID, 1, "vote", "sent", tx_hash="0xcc")


def test_plan_vote__again_after_a_failure_only(store):
    store.plan_vote(VID, 1, "vote", RESULT)
    store.set_vote_state(VID, 1, "vote", "failed")

    assert store.plan_vote(VID, 1, "vote", RESULT) is True
    assert (store.vote(VID, 1, "vote").state, store.vote(VID, 1, "vote").tries) == ("planned", 2)
    assert store.plan_vote(VID, 2, "vote", RESULT) is True  # attempt 2 is another vote


def test_set_vote_state__never_planned_or_invalid(store):
    with pytest.raises(VoteStateError, match="was never planned"):
        store.set_vote_state(VID, 1, "vote", "sent", tx_hash="0xaa")
    with pytest.raises(StateValueError, match="kind"):
        store.plan_vote(VID, 1, "ballot", RESULT)
    with pytest.raises(StateValueError, match="attempt"):
        store.plan_vote(VID, 0, "vote", RESULT)
    with pytest.raises(StateValueError, match="voting_id"):
        store.plan_vote("0x1234", 1, "vote", RESULT)
    store.plan_vote(VID, 1, "vote", RESULT)
    with pytest.raises(StateValueError, match="tx_hash"):
        store.set_vote_state(VID, 1, "vote", "sent", tx_hash="aa")


def test_sealed_mode__salt_before_commit_and_reveal(store):
    with pytest.raises(VoteStateError, match="no salt stored"):
        store.plan_vote(VID, 1, "commit", RESULT)

    salt = store.ensure_salt(VID, 1, RESULT)
    assert store.ensure_salt(VID, 1, RESULT) == salt and len(salt) == 32
    assert store.salt(VID, 1) == (salt, "0x" + RESULT.hex())
    assert store.plan_vote(VID, 1, "commit", RESULT) is True
    with pytest.raises(SaltConflictError, match="reveal 0x1111"):
        store.ensure_salt(VID, 1, RESULT_2)
    with pytest.raises(VoteStateError, match="the salt is for 0x1111"):
        store.plan_vote(VID, 1, "reveal", RESULT_2)
    assert store.plan_vote(VID, 1, "reveal", RESULT) is True
    assert store.ensure_salt(VID, 2, RESULT_2) != salt
    assert store.salt(VID, 3) is None


NEXT = {"planned": {"sent", "confirmed", "failed"}, "sent": {"sent", "confirmed", "failed"}}
NEXT |= {"confirmed": {"confirmed"}, "failed": set()}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 2),
            st.sampled_from(["vote", "commit", "reveal"]),
            st.sampled_from(["plan", "sent", "confirmed", "failed"]),
        ),
        max_size=25,
    )
)
def test_votes__random_actions_follow_the_state_machine(actions):
    model: dict[tuple, str] = {}
    with tempfile.TemporaryDirectory() as directory, StateStore(directory) as store:
        for attempt in (1, 2):
            store.ensure_salt(VID, attempt, RESULT)
        for attempt, kind, action in actions:
            key = (attempt, kind)
            if action == "plan":
                may_send = model.get(key) in (None, "failed")
                assert store.plan_vote(VID, attempt, kind, RESULT) is may_send
                model[key] = "planned" if may_send else model[key]
            elif action in NEXT.get(model.get(key), ()):
                store.set_vote_state(VID, attempt, kind, action, tx_hash="0x01")
                model[key] = action
            else:
                with pytest.raises(VoteStateError):
                    store.set_vote_state(VID, attempt, kind, action, tx_hash="0x01")
            for (a, k), state in model.items():
                assert store.vote(VID, a, k).state == state
        pending = {(v.attempt, v.kind) for v in store.pending_votes()}
        assert pending == {key for key, state in model.items() if state in ("planned", "sent")}


# -------------------------------------------------------------------------------------------------
# Crash safety
# -------------------------------------------------------------------------------------------------

WRITER = """
import sys
from worker.state import StateStore

store = StateStore(sys.argv[1])
i = 0
while True:
    store.put_input("nats", f"msg-{i}", 0, 3600, {"i": i, "pad": "x" * 3000})
    store.plan_vote(i.to_bytes(32, "big"), 1, "vote", b"\\x11" * 32)
    print(i, flush=True)  # acknowledged: both writes returned
    i += 1
"""


def test_crash__kill_9_loses_nothing_acknowledged_and_duplicates_nothing(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT_DIR)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        acked = [int(writer.stdout.readline()) for _ in range(150)]
    finally:
        writer.send_signal(signal.SIGKILL)  # in the middle of the next writes
        writer.wait(timeout=10)
    acked += [int(line) for line in writer.stdout.read().split()]  # acknowledged meanwhile
    writer.stdout.close()

    with StateStore(tmp_path) as store:
        keys = [row["key"] for row in store.inputs_for_window(0, 3600)]
        check = sqlite3.connect(store.path)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()
        # Everything acknowledged is there once; at most the write in flight is there too.
        assert len(keys) == len(set(keys)) and len(keys) in (len(acked), len(acked) + 1)
        assert {f"msg-{i}" for i in acked} <= set(keys)
        assert not any(store.put_input("nats", f"msg-{i}", 0, 3600, {}) for i in acked)
        # A vote planned before the crash is reported for a chain check, never planned again.
        planned = store.pending_votes()
        assert {v.voting_id for v in planned} >= {"0x" + i.to_bytes(32, "big").hex() for i in acked}
        assert all(v.state == "planned" for v in planned)
        assert not any(store.plan_vote(i.to_bytes(32, "big"), 1, "vote", RESULT) for i in acked)


def test_crash__files_copied_while_open_hold_every_committed_write(tmp_path):
    store = StateStore(tmp_path / "live")  # never closed: the process "dies" with it open
    store.put_input("api", "k1", 0, 3600, {"n": 1})
    salt = store.ensure_salt(VID, 1, RESULT)
    store.plan_vote(VID, 1, "commit", RESULT)
    store.set_vote_state(VID, 1, "commit", "sent", tx_hash="0xaa")
    # A snapshot of the files as they are on disk now (database and write-ahead log).
    (tmp_path / "copy").mkdir()
    for name in (FILE_NAME, FILE_NAME + "-wal"):
        shutil.copy(tmp_path / "live" / name, tmp_path / "copy" / name)

    for directory in ("copy", "live"):
        with StateStore(tmp_path / directory) as reopened:
            assert reopened.salt(VID, 1) == (salt, "0x" + RESULT.hex())
            assert reopened.vote(VID, 1, "commit").state == "sent"
            assert reopened.put_input("api", "k1", 0, 3600, {"n": 1}) is False
    store.close()
