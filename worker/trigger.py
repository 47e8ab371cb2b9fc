"""When rounds start and over which data.

Interval trigger: time is cut into windows `[offset + k * period, offset + (k + 1) * period)` of UTC
epoch seconds, for example hours (`period=3600`). A window is *due* `lag` seconds after it ends,
so late data can still arrive; "every hour for the previous hour" is `period=3600, lag=300`: at
10:05 the window 09:00-10:00 is computed.

Event trigger: a round per external event, a message that carries an event key (and optionally the
window of data it is about).

What a round is about on chain (its descriptor) and its id are derived in `worker.descriptor`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.config import EventTriggerConfig, IntervalTriggerConfig
from worker.errors import TriggerError

MAX_UINT64 = (1 << 64) - 1


def to_epoch(moment: int | float | datetime) -> int:
    """UTC epoch seconds (rounded down) of a timestamp or a timezone-aware datetime.

    Raises:
        TriggerError: a naive datetime, a bool, or something else that is no point in time.
    """
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise TriggerError("a datetime must be timezone-aware (UTC), got a naive one")
        moment = moment.timestamp()
    if isinstance(moment, bool) or not isinstance(moment, int | float) or not math.isfinite(moment):
        raise TriggerError(f"expected epoch seconds or an aware datetime, got {moment!r}")
    return int(moment // 1)


@dataclass(frozen=True, order=True)
class Window:
    """A half-open time window `[start, end)` in UTC epoch seconds."""

    start: int
    end: int

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TriggerError(f"window bounds must be integers, got {value!r}")
        if not 0 <= self.start < self.end <= MAX_UINT64:
            raise TriggerError(f"window [{self.start}, {self.end}) must have 0 <= start < end")

    @property
    def duration(self) -> int:
        """Length in seconds."""
        return self.end - self.start

    def contains(self, moment: int | float | datetime) -> bool:
        """Whether `moment` lies in the window (start included, end excluded)."""
        return self.start <= to_epoch(moment) < self.end

    def __str__(self) -> str:
        return f"[{self.start}, {self.end})"


# -------------------------------------------------------------------------------------------------
# Interval trigger
# -------------------------------------------------------------------------------------------------


class IntervalTrigger:
    """Fixed, aligned windows of `period` seconds, each due `lag` seconds after it ends.

    Args:
        period: Window length in seconds.
        offset: Windows start at `offset + k * period`; 0 aligns hours to UTC.
        lag: Seconds after the end of a window before it is due.
        catch_up: The most windows `windows_due` returns (after a downtime).
    """

    def __init__(self, period: int, offset: int = 0, lag: int = 0, catch_up: int = 24) -> None:
        for name, value, low in (("period", period, 1), ("lag", lag, 0), ("catch_up", catch_up, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise TriggerError(f"{name} must be an integer >= {low}, got {value!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < period:
            raise TriggerError(f"offset must be an integer in [0, period), got {offset!r}")
        self.period, self.offset, self.lag, self.catch_up = period, offset, lag, catch_up

    @classmethod
    def from_config(cls, config: IntervalTriggerConfig) -> IntervalTrigger:
        """The trigger of a `trigger: {kind: interval}` config section."""
        return cls(config.period, config.offset, config.lag, config.catch_up)

    def window_at(self, moment: int | float | datetime) -> Window:
        """The window that `moment` (e.g. a reading's timestamp) belongs to.

        Raises:
            TriggerError: `moment` is before the first window.
        """
        ts = to_epoch(moment)
        start = (ts - self.offset) // self.period * self.period + self.offset
        return self._window(start)

    def current_window(self, now: int | float | datetime) -> Window:
        """The latest window that is due at `now`: at 10:05 with hours and a 5 minute lag, 09-10.

        Raises:
            TriggerError: no window is due yet at `now`.
        """
        ts = to_epoch(now)
        end = (ts - self.lag - self.offset) // self.period * self.period + self.offset
        return self._window(end - self.period)

    def windows_due(self, now: int | float | datetime, after: int | None = None) -> list[Window]:
        """The windows due at `now`, oldest first, at most `catch_up` of them.

        Args:
            now: The current time.
            after: The end of the last window already computed; only later windows are returned.

        Returns:
            The windows to compute now, possibly none.
        """
        try:
            window = self.current_window(now)
        except TriggerError:
            return []  # NOTE: before the first window is due, nothing is
        due: list[Window] = []
        while len(due) < self.catch_up and (after is None or window.end > after):
            due.append(window)
            if window.start < self.period:
                break
            window = Window(window.start - self.period, window.start)
        return due[::-1]

    def due_at(self, window: Window) -> int:
        """When `window` becomes due, in epoch seconds."""
        return window.end + self.lag

    def next_due(self, now: int | float | datetime) -> int:
        """When the next window becomes due after `now` (a time to sleep until), epoch seconds."""
        ts = to_epoch(now)
        end = (ts - self.lag - self.offset) // self.period * self.period + self.offset
        return end + self.period + self.lag

    def _window(self, start: int) -> Window:
        if start < 0:
            raise TriggerError(f"the window starting at {start} is before epoch 0")
        return Window(start, start + self.period)


# -------------------------------------------------------------------------------------------------
# Event trigger
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """An external event: its key, and the window of data it is about if the message names one."""

    key: str
    window: Window | None = None


class EventTrigger:
    """A round per message on a NATS subject.

    A message is a JSON object with the event key in `key_field` and, optionally, the window of
    input data it is about in `window_start` and `window_end` (epoch seconds):
    `{"key": "settlement-2025-11-23", "window_start": 1763856000, "window_end": 1763942400}`.
    """

    def __init__(self, subject: str, key_field: str = "key") -> None:
        if not subject or not key_field:
            raise TriggerError("an event trigger needs a subject and a key field")
        self.subject, self.key_field = subject, key_field

    @classmethod
    def from_config(cls, config: EventTriggerConfig) -> EventTrigger:
        """The trigger of a `trigger: {kind: event}` config section."""
        return cls(config.subject, config.key_field)

    def event_of(self, message: Mapping[str, Any]) -> Event:
        """The event a decoded message announces.

        Raises:
            TriggerError: the message is not an object, lacks the key, or has a bad window.
        """
        if not isinstance(message, Mapping):
            raise TriggerError(f"an event message must be a JSON object, got {message!r}")
        key = message.get(self.key_field)
        if not isinstance(key, str) or not key:
            raise TriggerError(f"an event message needs a non-empty string {self.key_field!r}")
        start, end = message.get("window_start"), message.get("window_end")
        if start is None and end is None:
            return Event(key)
        return Event(key, Window(start, end))


def trigger_from_config(
    config: IntervalTriggerConfig | EventTriggerConfig,
) -> IntervalTrigger | EventTrigger:
    """The trigger described by the `trigger` section of the config."""
    if isinstance(config, IntervalTriggerConfig):
        return IntervalTrigger.from_config(config)
    return EventTrigger.from_config(config)
