"""The connection under the state store: opening the file, write transactions and reads."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from worker.errors import StateOpenError
from worker.merkle import StandardMerkleTree
from worker.state.schema import FILE_NAME, migrate

_Store = TypeVar("_Store", bound="StoreBase")


class StoreBase:
    """The open SQLite file of a worker's state, shared by the table mixins of `StateStore`
    (which documents the arguments and errors)."""

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
            with self._tx() as db:
                migrate(db, str(self.path))
        except (sqlite3.DatabaseError, StateOpenError) as exc:
            self._db.close()
            if isinstance(exc, StateOpenError):
                raise
            raise StateOpenError(str(self.path), f"not a usable SQLite database: {exc}") from exc

    def now(self) -> float:
        """The store's clock: the time it stamps rows with (`received_at`, `updated_at`, ...)."""
        return self._clock()

    def close(self) -> None:
        """Closes the database (everything is committed already)."""
        with self._lock:
            self._db.close()

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        return self._rows("SELECT version FROM schema_version")[0][0]

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
