"""The layout of the state file: its tables, their allowed values and the schema migrations."""

from __future__ import annotations

import sqlite3

from worker.errors import StateOpenError

SCHEMA_VERSION = 3
FILE_NAME = "worker-state.sqlite3"
VOTE_KINDS = ("vote", "commit", "reveal")
VOTE_STATES = ("planned", "sent", "confirmed", "failed")
ROUND_STATUSES = ("computed", "voted", "committed", "revealed", "closed", "skipped")

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
    nodes BLOB, PRIMARY KEY (voting_id, attempt));
CREATE TABLE round_records (
    voting_id BLOB NOT NULL, attempt INTEGER NOT NULL, block INTEGER NOT NULL,
    records TEXT NOT NULL, tree_indices BLOB NOT NULL,
    PRIMARY KEY (voting_id, attempt, block)) WITHOUT ROWID;
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
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL);
"""
# Migrations from version v to v + 1, applied in order when an older file is opened.
_MIGRATIONS: dict[int, str] = {
    # 2: `meta`, small named values such as the watcher's block cursor.
    1: "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)",
    # 3: a round's tree as its nodes (`rounds.nodes`) and its records in blocks, so one proof
    # reads one block; rounds stored before keep their dump in `rounds.tree`.
    2: "ALTER TABLE rounds ADD COLUMN nodes BLOB;"
    "CREATE TABLE round_records (voting_id BLOB NOT NULL, attempt INTEGER NOT NULL, "
    "block INTEGER NOT NULL, records TEXT NOT NULL, tree_indices BLOB NOT NULL, "
    "PRIMARY KEY (voting_id, attempt, block)) WITHOUT ROWID",
}


def migrate(db: sqlite3.Connection, path: str) -> None:
    """Creates the tables in an empty database, or brings an older one to `SCHEMA_VERSION`.

    Runs inside the caller's write transaction.

    Args:
        db: The open database, in a write transaction.
        path: The file's path, for error messages.

    Raises:
        StateOpenError: the database is not a worker state database, or was written by a newer
            worker (a higher schema version).
    """
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        _run_script(db, _SCHEMA)
        db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        return
    if "schema_version" not in tables:
        raise StateOpenError(path, "not a worker state database")
    (version,) = db.execute("SELECT version FROM schema_version").fetchone()
    if version > SCHEMA_VERSION:
        reason = f"schema version {version} is newer than this worker's {SCHEMA_VERSION}"
        raise StateOpenError(path, reason + "; upgrade the worker")
    for v in range(version, SCHEMA_VERSION):
        _run_script(db, _MIGRATIONS[v])
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # NOTE: not `executescript`, which would commit the open transaction first.
    for statement in filter(str.strip, script.split(";")):
        db.execute(statement)
