"""The `inputs` table: data received from the sources, stored once per source and key."""

from __future__ import annotations

import json
from typing import Any

from worker.errors import StateValueError
from worker.state.base import StoreBase
from worker.state.records import check_int


class InputsMixin(StoreBase):
    """Inputs of `StateStore`."""

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
        if check_int("window_start", window_start) >= check_int("window_end", window_end):
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
            (check_int("start", start), check_int("end", end)),
        )
        return [{**dict(row), "payload": json.loads(row["payload"])} for row in rows]

    def sources_for_window(self, start: int, end: int) -> set[str]:
        """The sources that stored an input whose window lies within [start, end)."""
        rows = self._rows(
            "SELECT DISTINCT source FROM inputs WHERE window_start >= ? AND window_end <= ?",
            (check_int("start", start), check_int("end", end)),
        )
        return {row[0] for row in rows}

    def inputs_overlapping(self, start: int, end: int) -> list[dict[str, Any]]:
        """Inputs whose window overlaps [start, end), in the order they were stored.

        Returns:
            Dicts as `inputs_for_window` returns them.
        """
        rows = self._rows(
            "SELECT * FROM inputs WHERE window_start < ? AND window_end > ? ORDER BY rowid",
            (check_int("end", end), check_int("start", start)),
        )
        return [{**dict(row), "payload": json.loads(row["payload"])} for row in rows]
