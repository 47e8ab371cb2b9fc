"""The worker's local state: one SQLite file, written before the worker acts on it.

Tables: `inputs` (data received, idempotent per source and key), `rounds` (each attempt's result
and records tree), `votes` (each vote, commit and reveal: planned -> sent -> confirmed | failed),
`salts` (sealed mode), `outcomes` (what the contract decided), and `schema_version`.

Crash safety. Every write is committed before its method returns (WAL journal, `synchronous=FULL`),
so a caller may act afterwards: ack a broker message after `put_input`, send a transaction after
`plan_vote`, send a commit after `ensure_salt`. After `kill -9` at any moment, the store holds each
write entirely or not at all. A vote has one row per (votingId, attempt, kind), so it can never be
recorded as sent twice; a `planned` row found at restart means "the transaction may have been sent:
check the chain before sending again". A round's records can be replaced only until a vote or
commit of that attempt is planned, so proofs always match the result voted for.

The records of a round are kept inside its tree dump (`standard-v1`, zlib-compressed JSON), one
copy from which `proof_for` serves proofs and records later.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from worker.errors import (
    RoundNotFoundError,
    SaltConflictError,
    StateOpenError,
    StateValueError,
    VoteStateError,
)
from worker.merkle import StandardMerkleTree

SCHEMA_VERSION = 1
FILE_NAME = "worker-state.sqlite3"
VOTE_KINDS = ("vote", "commit", "reveal")
VOTE_STATES = ("planned", "sent", "confirmed", "failed")
ROUND_STATUSES = ("computed", "voted", "committed", "revealed", "closed", "skipped")
# Allowed vote transitions. sent -> sent records a replacement transaction (same nonce), and
# planned -> confirmed a vote found on chain after a restart. failed -> planned is `plan_vote`.
_NEXT_STATES = {
    "planned": {"sent", "confirmed", "failed"},
    "sent": {"sent", "confirmed", "failed"},
    "confirmed": {"confirmed"},
    "failed": set(),
}

_SCHEMA = f"""
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE inputs (
    source TEXT NOT NULL, key TEXT NOT NULL, window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL, payload TEXT NOT NULL, received_at REAL NOT NULL,
    PRIMARY KEY (source, key));
CREATE INDEX inputs_by_window ON inputs (window_start, window_end);
CREATE TABLE rounds (
    voting_id BLOB NOT NULL, attempt INTEGER NOT NULL CHECK (attempt >= 1),
    window_start INTEGER, window_end INTEGER, event_key TEXT,
    status TEXT NOT NULL CHECK (status IN {ROUND_STATUSES}), result BLOB, leaf_encoding TEXT,
    record_count INTEGER, tree BLOB, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (voting_id, attempt));
CREATE TABLE votes (
    voting_id BLOB NOT NULL, attempt INTEGER NOT NULL, kind TEXT NOT NULL
    CHECK (kind IN {VOTE_KINDS}), result BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN {VOTE_STATES}), tx_hash TEXT, nonce INTEGER,
    tries INTEGER NOT NULL, planned_at REAL NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (voting_id, attempt, kind));
CREATE TABLE salts (
    voting_id BLOB NOT NULL, attempt INTEGER NOT NULL, salt BLOB NOT NULL, result BLOB NOT NULL,
    created_at REAL NOT NULL, PRIMARY KEY (voting_id, attempt));
CREATE TABLE outcomes (
    voting_id BLOB PRIMARY KEY, kind TEXT NOT NULL, attempt INTEGER, result BLOB, agreed INTEGER,
    fallback TEXT, chain_index INTEGER, block_number INTEGER, recorded_at REAL NOT NULL);
"""
# Migrations from version v to v + 1, applied in order when an older file is opened.
_MIGRATIONS: dict[int, str] = {}

Bytes32 = bytes | str  # 32 bytes, or 0x-hex
_T = TypeVar("_T")


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # NOTE: not `executescript`, which would commit the open transaction first.
    for statement in filter(str.strip, script.split(";")):
        db.execute(statement)


def _b32(field: str, value: Bytes32) -> bytes:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    if isinstance(value, bytes | bytearray) and len(value) == 32:
        return bytes(value)
    raise StateValueError(field, f"expected 32 bytes or 0x-hex of 32 bytes, got {value!r}")


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def _int(field: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise StateValueError(field, f"expected an integer >= {low}, got {value!r}")
    return value


def _choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise StateValueError(field, f"expected one of {choices}, got {value!r}")
    return value


def _record(cls: type[_T], row: sqlite3.Row) -> _T:
    """A dataclass from a row: blobs as 0x-hex, `agreed` as bool, `leaf_encoding` as a list."""
    values = {k: _hex(v) if isinstance(v, bytes) else v for k, v in zip(row.keys(), row)}
    if values.get("agreed") is not None:
        values["agreed"] = bool(values["agreed"])
    if values.get("leaf_encoding") is not None:
        values["leaf_encoding"] = values["leaf_encoding"].split(",")
    return cls(**values)


@dataclass(frozen=True)
class VoteRecord:
    """A vote, commit or reveal as stored; `result` is the round result it is for."""

    voting_id: str
    attempt: int
    kind: str
    result: str
    state: str
    tx_hash: str | None
    nonce: int | None
    tries: int
    updated_at: float


@dataclass(frozen=True)
class RoundRecord:
    """One attempt of a round as stored (its tree: `StateStore.round_tree`)."""

    voting_id: str
    attempt: int
    window_start: int | None
    window_end: int | None
    event_key: str | None
    status: str
    result: str | None
    leaf_encoding: list[str] | None
    record_count: int | None
    updated_at: float


@dataclass(frozen=True)
class Outcome:
    """What the contract decided for a round, and whether this worker agreed."""

    voting_id: str
    kind: str
    attempt: int | None
    result: str | None
    agreed: bool | None
    fallback: str | None
    chain_index: int | None
    block_number: int | None
    recorded_at: float


@dataclass(frozen=True)
class Proof:
    """What an auditor needs to check that a record is part of a round's result."""

    voting_id: str
    attempt: int
    index: int
    record: tuple[Any, ...]
    leaf_encoding: list[str]
    encoded: str  # abi.encode(leaf_encoding, record): the argument of `verifyRecord`
    leaf_hash: str
    proof: list[str]
    root: str


class StateStore:
    """The SQLite state of one worker. Safe to share between threads; one writer at a time.

    Args:
        directory: The state directory (created if missing); the file is `FILE_NAME` in it.
        clock: Source of timestamps (epoch seconds), replaceable in tests.

    Raises:
        StateOpenError: the directory or file cannot be created or opened, is not a worker
            state database, or was written by a newer worker (a higher schema version).
    """

    def __init__(self, directory: str | os.PathLike[str], clock: Callable[[], float] = time.time):
        self.path = Path(directory) / FILE_NAME
        self._clock = clock
        self._lock = threading.RLock()
        self._trees: OrderedDict[tuple[bytes, int], StandardMerkleTree] = OrderedDict()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
        except (OSError, sqlite3.Error) as exc:
            raise StateOpenError(str(self.path), f"cannot open: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StateOpenError(str(self.path), f"cannot use WAL journal mode (got {mode})")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except (sqlite3.DatabaseError, StateOpenError) as exc:
            self._db.close()
            if isinstance(exc, StateOpenError):
                raise
            raise StateOpenError(str(self.path), f"not a usable SQLite database: {exc}") from exc

    def close(self) -> None:
        """Closes the database (everything is committed already)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (durably) on exit, rolled back on error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _migrate(self) -> None:
        with self._tx() as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:
                _run_script(db, _SCHEMA)
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                return
            if "schema_version" not in tables:
                raise StateOpenError(str(self.path), "not a worker state database")
            (version,) = db.execute("SELECT version FROM schema_version").fetchone()
            if version > SCHEMA_VERSION:
                reason = f"schema version {version} is newer than this worker's {SCHEMA_VERSION}"
                raise StateOpenError(str(self.path), reason + "; upgrade the worker")
            for v in range(version, SCHEMA_VERSION):
                _run_script(db, _MIGRATIONS[v])
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        return self._rows("SELECT version FROM schema_version")[0][0]

    # ---------------------------------------------------------------------------------------------
    # Inputs
    # ---------------------------------------------------------------------------------------------

    def put_input(
        self, source: str, key: str, window_start: int, window_end: int, payload: dict | list
    ) -> bool:
        """Stores an input once per (source, key); committed when it returns (then ack it).

        Returns:
            True if stored now, False if (source, key) was stored before (the first copy stays).

        Raises:
            StateValueError: an empty source or key, a bad window, or a payload that is not JSON.
        """
        for field, value in (("source", source), ("key", key)):
            if not isinstance(value, str) or not value:
                raise StateValueError(field, f"expected a non-empty string, got {value!r}")
        if _int("window_start", window_start) >= _int("window_end", window_end):
            raise StateValueError("window", f"[{window_start}, {window_end}) is empty")
        if not isinstance(payload, dict | list):
            raise StateValueError("payload", f"expected a JSON object or array, got {payload!r}")
        try:
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StateValueError("payload", f"not JSON-serialisable: {exc}") from exc
        with self._tx() as db:
            stored = db.execute(
                "INSERT OR IGNORE INTO inputs VALUES (?, ?, ?, ?, ?, ?)",
                (source, key, window_start, window_end, text, self._clock()),
            ).rowcount
        return stored == 1

    def inputs_for_window(self, start: int, end: int) -> list[dict[str, Any]]:
        """Inputs whose window lies within [start, end), ordered by (source, key).

        Returns:
            Dicts with source, key, window_start, window_end, payload (decoded), received_at.
        """
        rows = self._rows(
            "SELECT * FROM inputs WHERE window_start >= ? AND window_end <= ? ORDER BY source, key",
            (_int("start", start), _int("end", end)),
        )
        return [{**dict(row), "payload": json.loads(row["payload"])} for row in rows]

    # ---------------------------------------------------------------------------------------------
    # Rounds, records and proofs
    # ---------------------------------------------------------------------------------------------

    def put_round(
        self,
        voting_id: Bytes32,
        attempt: int,
        tree: StandardMerkleTree | None,
        *,
        window: tuple[int, int] | None = None,
        event_key: str | None = None,
        status: str = "computed",
    ) -> None:
        """Stores a round attempt and its records' tree (None: nothing to vote on), or replaces
        them as long as no vote or commit of the attempt is planned.

        Raises:
            VoteStateError: a vote or commit of this attempt is planned for another result.
        """
        vid, attempt = _b32("voting_id", voting_id), _int("attempt", attempt, 1)
        start, end = window if window is not None else (None, None)
        root, count, encoding, blob = None, None, None, None
        if tree is not None:
            root, count = bytes.fromhex(tree.root[2:]), len(tree)
            encoding = ",".join(tree.leaf_encoding)
            blob = zlib.compress(json.dumps(tree.dump(), separators=(",", ":")).encode())
        with self._tx() as db:
            for row in db.execute(
                "SELECT kind, result FROM votes WHERE voting_id = ? AND attempt = ? "
                "AND kind IN ('vote', 'commit')",
                (vid, attempt),
            ):
                if row["result"] != root:
                    why = f"its records cannot change after the {row[0]} for {_hex(row[1])}"
                    raise VoteStateError(_hex(vid), attempt, row[0], why)
            now = self._clock()
            db.execute(
                "INSERT OR REPLACE INTO rounds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE("
                "(SELECT created_at FROM rounds WHERE voting_id = ? AND attempt = ?), ?), ?)",
                (vid, attempt, start, end, event_key, _choice("status", status, ROUND_STATUSES),
                 root, encoding, count, blob, vid, attempt, now, now),
            )  # fmt: skip
            self._trees.pop((vid, attempt), None)

    def set_round_status(self, voting_id: Bytes32, attempt: int, status: str) -> None:
        """Sets the status of a stored round attempt.

        Raises:
            RoundNotFoundError: the attempt is not stored.
        """
        vid = _b32("voting_id", voting_id)
        with self._tx() as db:
            if not db.execute(
                "UPDATE rounds SET status = ?, updated_at = ? WHERE voting_id = ? AND attempt = ?",
                (_choice("status", status, ROUND_STATUSES), self._clock(), vid, attempt),
            ).rowcount:
                raise RoundNotFoundError(_hex(vid), attempt)

    def round(self, voting_id: Bytes32, attempt: int | None = None) -> RoundRecord | None:
        """A stored round attempt (the latest attempt if `attempt` is None), or None."""
        rows = self._rounds(
            "voting_id = ? AND (? IS NULL OR attempt = ?) ORDER BY attempt DESC LIMIT 1",
            (_b32("voting_id", voting_id), attempt, attempt),
        )
        return rows[0] if rows else None

    def rounds(self, status: str | None = None) -> list[RoundRecord]:
        """The stored round attempts (with `status` if given), oldest first."""
        return self._rounds(
            "? IS NULL OR status = ? ORDER BY created_at, voting_id, attempt", (status, status)
        )

    def _rounds(self, where: str, args: tuple) -> list[RoundRecord]:
        columns = ", ".join(RoundRecord.__dataclass_fields__)
        return [
            _record(RoundRecord, r)
            for r in self._rows(f"SELECT {columns} FROM rounds WHERE {where}", args)
        ]

    def round_tree(self, voting_id: Bytes32, attempt: int | None = None) -> StandardMerkleTree:
        """The records tree of a round attempt: by default the attempt of the recorded outcome if
        there is one, else the latest attempt that has a tree.

        Raises:
            RoundNotFoundError: no tree is stored for the round (attempt).
        """
        return self._tree(_b32("voting_id", voting_id), attempt)[1]

    def _tree(self, vid: bytes, attempt: int | None) -> tuple[int, StandardMerkleTree]:
        if attempt is None and (outcome := self.outcome(vid)) is not None:
            attempt = outcome.attempt
        with self._lock:
            rows = self._rows(
                "SELECT attempt, tree FROM rounds WHERE voting_id = ? AND tree IS NOT NULL "
                "AND (? IS NULL OR attempt = ?) ORDER BY attempt DESC LIMIT 1",
                (vid, attempt, attempt),
            )
            if not rows:
                raise RoundNotFoundError(_hex(vid), attempt, "no records tree")
            key = (vid, rows[0]["attempt"])
            if key not in self._trees:
                # NOTE: loading re-hashes the whole tree, so a few recent trees stay in memory.
                dump = json.loads(zlib.decompress(rows[0]["tree"]))
                self._trees[key] = StandardMerkleTree.load(dump)
                while len(self._trees) > 4:
                    self._trees.popitem(last=False)
            return key[1], self._trees[key]

    def proof_for(self, voting_id: Bytes32, record_index: int, attempt: int | None = None) -> Proof:
        """The record at `record_index` of a round's result with its Merkle proof.

        Raises:
            RoundNotFoundError: no tree is stored for the round (attempt).
            LeafIndexError: `record_index` is out of range.
        """
        vid = _b32("voting_id", voting_id)
        attempt, tree = self._tree(vid, attempt)
        record = tree.at(record_index)
        return Proof(
            voting_id=_hex(vid),
            attempt=attempt,
            index=record_index,
            record=record,
            leaf_encoding=tree.leaf_encoding,
            encoded="0x" + tree.encode(record_index).hex(),
            leaf_hash=tree.leaf_hash(record_index),
            proof=tree.get_proof(record_index),
            root=tree.root,
        )

    # ---------------------------------------------------------------------------------------------
    # Votes and salts
    # ---------------------------------------------------------------------------------------------

    def plan_vote(self, voting_id: Bytes32, attempt: int, kind: str, result: Bytes32) -> bool:
        """Records the intent to send a vote, commit or reveal. Call it, then send.

        `result` is the round result (the Merkle root) the vote, commit or reveal is for; a commit
        and a reveal need the salt of that result stored first (`ensure_salt`).

        Returns:
            True if the caller may send now (new, or the previous try failed); False if a row
            exists already: then inspect `vote()` (planned: check the chain before resending).

        Raises:
            VoteStateError: a commit or reveal without the salt of `result`.
        """
        key = _vote_key(voting_id, attempt, kind)
        value = _b32("result", result)
        with self._tx() as db:
            if kind != "vote":
                salt = db.execute(_SALT_SQL, key[:2]).fetchone()
                if salt is None or salt["result"] != value:
                    why = "no salt stored" if salt is None else f"the salt is for {_hex(salt[1])}"
                    raise VoteStateError(_hex(key[0]), key[1], kind, why)
            row = db.execute(f"SELECT state FROM votes WHERE {_VOTE_KEY}", key).fetchone()
            now = self._clock()
            if row is None:
                db.execute(
                    "INSERT INTO votes VALUES (?, ?, ?, ?, 'planned', NULL, NULL, 1, ?, ?)",
                    (*key, value, now, now),
                )
            elif row["state"] == "failed":
                db.execute(
                    "UPDATE votes SET state = 'planned', result = ?, tx_hash = NULL, nonce = NULL,"
                    f" tries = tries + 1, updated_at = ? WHERE {_VOTE_KEY}",
                    (value, now, *key),
                )
            return row is None or row["state"] == "failed"

    def set_vote_state(
        self,
        voting_id: Bytes32,
        attempt: int,
        kind: str,
        state: str,
        *,
        tx_hash: str | None = None,
        nonce: int | None = None,
    ) -> None:
        """Moves a planned vote on: `sent` (with its transaction; again for a replacement),
        `confirmed` (on chain under enough confirmations) or `failed` (reverted or dropped: then
        `plan_vote` may try again).

        Raises:
            VoteStateError: the vote was never planned, or the move is not allowed
                (e.g. confirmed -> sent).
        """
        key = _vote_key(voting_id, attempt, kind)
        _choice("state", state, VOTE_STATES)
        if tx_hash is not None and not (isinstance(tx_hash, str) and tx_hash.startswith("0x")):
            raise StateValueError("tx_hash", f"expected 0x-hex, got {tx_hash!r}")
        with self._tx() as db:
            row = db.execute(f"SELECT state FROM votes WHERE {_VOTE_KEY}", key).fetchone()
            if row is None:
                raise VoteStateError(_hex(key[0]), key[1], kind, "was never planned")
            if state not in _NEXT_STATES[row["state"]]:
                why = f"cannot go from {row['state']} to {state}"
                raise VoteStateError(_hex(key[0]), key[1], kind, why)
            db.execute(
                "UPDATE votes SET state = ?, tx_hash = COALESCE(?, tx_hash), "
                f"nonce = COALESCE(?, nonce), updated_at = ? WHERE {_VOTE_KEY}",
                (state, tx_hash, nonce, self._clock(), *key),
            )

    def vote(self, voting_id: Bytes32, attempt: int, kind: str) -> VoteRecord | None:
        """The stored vote, commit or reveal, or None."""
        rows = self._votes(_VOTE_KEY, _vote_key(voting_id, attempt, kind))
        return rows[0] if rows else None

    def pending_votes(self) -> list[VoteRecord]:
        """Votes planned or sent, not yet confirmed or failed: what to check after a restart."""
        return self._votes("state IN ('planned', 'sent')", ())

    def _votes(self, where: str, args: tuple) -> list[VoteRecord]:
        columns = ", ".join(VoteRecord.__dataclass_fields__)
        sql = f"SELECT {columns} FROM votes WHERE {where} ORDER BY planned_at, voting_id, attempt"
        return [_record(VoteRecord, row) for row in self._rows(sql, args)]

    def ensure_salt(self, voting_id: Bytes32, attempt: int, result: Bytes32) -> bytes:
        """The salt of a sealed-mode attempt: the stored one, or a new random one stored now.

        Raises:
            SaltConflictError: a salt is stored for a different result (reveal that one).
        """
        vid, value = _b32("voting_id", voting_id), _b32("result", result)
        with self._tx() as db:
            row = db.execute(_SALT_SQL, (vid, _int("attempt", attempt, 1))).fetchone()
            if row is not None and row["result"] != value:
                raise SaltConflictError(_hex(vid), attempt, _hex(row["result"]), _hex(value))
            if row is not None:
                return row["salt"]
            salt = os.urandom(32)
            db.execute(
                "INSERT INTO salts VALUES (?, ?, ?, ?, ?)",
                (vid, attempt, salt, value, self._clock()),
            )
            return salt

    def salt(self, voting_id: Bytes32, attempt: int) -> tuple[bytes, str] | None:
        """(salt, result as 0x-hex) stored for a sealed-mode attempt, or None."""
        rows = self._rows(_SALT_SQL, (_b32("voting_id", voting_id), attempt))
        return (rows[0]["salt"], _hex(rows[0]["result"])) if rows else None

    # ---------------------------------------------------------------------------------------------
    # Outcomes
    # ---------------------------------------------------------------------------------------------

    def record_outcome(
        self,
        voting_id: Bytes32,
        kind: str,
        *,
        attempt: int | None = None,
        result: Bytes32 | None = None,
        agreed: bool | None = None,
        fallback: str | None = None,
        chain_index: int | None = None,
        block_number: int | None = None,
    ) -> None:
        """Records (or, e.g. after a reorg, replaces) what the contract decided for a round.

        Args:
            voting_id: The round.
            kind: The settled status, e.g. "Consensus", "Plurality", "Failed", "AwaitingFailover".
            attempt: The deciding attempt.
            result: The recorded result, if any.
            agreed: Whether this worker's vote equals the recorded result (None: it did not vote).
            fallback: The fallback policy applied, if any.
            chain_index: Index of the round in the contract's result chain.
            block_number: Block of the deciding event.
        """
        if not isinstance(kind, str) or not kind:
            raise StateValueError("kind", f"expected a non-empty string, got {kind!r}")
        value = None if result is None else _b32("result", result)
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_b32("voting_id", voting_id), kind, attempt, value, agreed, fallback,
                 chain_index, block_number, self._clock()),
            )  # fmt: skip

    def outcome(self, voting_id: Bytes32) -> Outcome | None:
        """The recorded outcome of a round, or None."""
        rows = self._rows(
            "SELECT * FROM outcomes WHERE voting_id = ?", (_b32("voting_id", voting_id),)
        )
        return _record(Outcome, rows[0]) if rows else None


_VOTE_KEY = "voting_id = ? AND attempt = ? AND kind = ?"
_SALT_SQL = "SELECT salt, result FROM salts WHERE voting_id = ? AND attempt = ?"


def _vote_key(voting_id: Bytes32, attempt: int, kind: str) -> tuple[bytes, int, str]:
    return (
        _b32("voting_id", voting_id),
        _int("attempt", attempt, 1),
        _choice("kind", kind, VOTE_KINDS),
    )
