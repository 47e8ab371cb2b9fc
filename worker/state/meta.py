"""The `meta` table: small named values, e.g. the watcher's block cursor or the last window."""

from __future__ import annotations

import json
from typing import Any

from worker.errors import StateValueError
from worker.state.base import StoreBase


class MetaMixin(StoreBase):
    """Named values of `StateStore`, stored as JSON."""

    def set_meta(self, key: str, value: Any) -> None:
        """Stores `value` (JSON-serialisable) under `key`, replacing the previous one.

        Raises:
            StateValueError: an empty key or a value that is not JSON-serialisable.
        """
        if not isinstance(key, str) or not key:
            raise StateValueError("key", f"expected a non-empty string, got {key!r}")
        try:
            text = json.dumps(value, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StateValueError("value", f"not JSON-serialisable: {exc}") from exc
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?, ?)", (key, text, self._clock()))

    def meta(self, key: str, default: Any = None) -> Any:
        """The value stored under `key`, or `default`."""
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default
