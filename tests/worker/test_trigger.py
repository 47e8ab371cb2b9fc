"""worker.trigger: aligned windows, due windows after a lag, and event messages."""

from datetime import datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.config import EventTriggerConfig, IntervalTriggerConfig
from worker.errors import TriggerError
from worker.trigger import (
    Event,
    EventTrigger,
    IntervalTrigger,
    Window,
    to_epoch,
    trigger_from_config,
)

HOUR = 3600
DAY_START = 1_750_464_000  # 2025-06-21T00:00:00Z
NAME = "matching-24-7"


def at(hour: int, minute: int = 0, second: int = 0) -> int:
    """Epoch seconds of hh:mm:ss on the example day."""
    return DAY_START + hour * HOUR + minute * 60 + second


hourly = IntervalTrigger(HOUR, lag=300, catch_up=3)


def test_window_at__hour_of_a_timestamp():
    assert hourly.window_at(at(9, 59, 59)) == Window(at(9), at(10))
    assert hourly.window_at(at(10)) == Window(at(10), at(11))


def test_window_at__offset_shifts_the_alignment():
    trigger = IntervalTrigger(86_400, offset=22 * HOUR)  # days from 22:00 UTC (midnight in CEST)

    assert trigger.window_at(at(23)) == Window(at(22), at(22) + 86_400)
    assert trigger.window_at(at(21)) == Window(at(22) - 86_400, at(22))


@given(
    period=st.integers(1, 7 * 86_400),
    offset_share=st.floats(0, 1, exclude_max=True),
    ts=st.integers(7 * 86_400, 2**40),
)
def test_window_at__contains_the_moment_and_is_aligned(period, offset_share, ts):
    offset = int(period * offset_share)
    window = IntervalTrigger(period, offset=offset).window_at(ts)

    assert window.contains(ts)
    assert window.duration == period
    assert window.start % period == offset % period


def test_current_window__previous_hour_once_the_lag_passed():
    assert hourly.current_window(at(10, 5)) == Window(at(9), at(10))
    assert hourly.current_window(at(10, 4, 59)) == Window(at(8), at(9))


def test_windows_due__oldest_first_at_most_catch_up():
    assert hourly.windows_due(at(10, 5)) == [
        Window(at(7), at(8)),
        Window(at(8), at(9)),
        Window(at(9), at(10)),
    ]


def test_windows_due__only_after_the_last_window_done():
    assert hourly.windows_due(at(10, 5), after=at(9)) == [Window(at(9), at(10))]
    assert hourly.windows_due(at(10, 5), after=at(10)) == []
    assert hourly.windows_due(at(10, 30), after=at(10)) == []


def test_windows_due__nothing_before_the_first_window():
    assert IntervalTrigger(HOUR, lag=300).windows_due(HOUR + 299) == []
    assert IntervalTrigger(HOUR, lag=300).windows_due(HOUR + 300) == [Window(0, HOUR)]
    assert IntervalTrigger(HOUR, catch_up=5).windows_due(2 * HOUR) == [
        Window(0, HOUR),
        Window(HOUR, 2 * HOUR),
    ]


@given(now=st.integers(0, 2**40), after=st.none() | st.integers(0, 2**40))
def test_windows_due__contiguous_due_and_new(now, after):
    due = hourly.windows_due(now, after)

    assert len(due) <= hourly.catch_up
    assert all(hourly.due_at(w) <= now and (after is None or w.end > after) for w in due)
    assert all(a.end == b.start for a, b in pairwise(due))
    if due:
        assert due[-1] == hourly.current_window(now)


def test_next_due__when_the_next_window_is_due():
    assert hourly.next_due(at(10, 5)) == at(11, 5)
    assert hourly.next_due(at(10, 4, 59)) == at(10, 5)


def test_to_epoch__accepts_seconds_and_aware_datetimes():
    aware = datetime(2025, 6, 21, 2, tzinfo=timezone(timedelta(hours=2)))

    assert to_epoch(aware) == DAY_START
    assert to_epoch(DAY_START + 0.999) == DAY_START
    assert hourly.window_at(aware) == Window(DAY_START, DAY_START + HOUR)


@pytest.mark.parametrize("moment", [datetime(2025, 6, 21), True, "1750464000", float("nan")])
def test_to_epoch__rejects_other_values(moment):
    with pytest.raises(TriggerError):
        to_epoch(moment)


@pytest.mark.parametrize(("start", "end"), [(10, 10), (10, 5), (-1, 5), (0, 2**64), (0.5, 9)])
def test_window__invalid_bounds_rejected(start, end):
    with pytest.raises(TriggerError, match="window"):
        Window(start, end)


@pytest.mark.parametrize(
    "kwargs",
    [{"period": 0}, {"period": HOUR, "offset": HOUR}, {"period": HOUR, "lag": -1}, {"period": 1.5}],
)
def test_interval_trigger__invalid_schedule_rejected(kwargs):
    with pytest.raises(TriggerError):
        IntervalTrigger(**kwargs)


def test_event_trigger__event_of_a_message():
    trigger = EventTrigger("settlement.requests")
    message = {"key": "settle-2025-06-21", "window_start": at(0), "window_end": at(24)}

    assert trigger.event_of({"key": "k-1"}) == Event("k-1")
    assert trigger.event_of(message) == Event("settle-2025-06-21", Window(at(0), at(24)))


@pytest.mark.parametrize(
    "message",
    [
        {"id": "k-1"},
        {"key": ""},
        {"key": 5},
        ["key", "k-1"],
        {"key": "k-1", "window_start": at(1), "window_end": at(0)},
        {"key": "k-1", "window_start": at(1)},
    ],
)
def test_event_trigger__bad_message_rejected(message):
    with pytest.raises(TriggerError):
        EventTrigger("settlement.requests").event_of(message)


def test_trigger_from_config__builds_the_configured_kind():
    interval = trigger_from_config(
        IntervalTriggerConfig(kind="interval", period=900, offset=60, lag=30, catch_up=4)
    )
    event = trigger_from_config(EventTriggerConfig(kind="event", subject="a.b", key_field="id"))

    assert isinstance(interval, IntervalTrigger)
    assert (interval.period, interval.offset, interval.lag, interval.catch_up) == (900, 60, 30, 4)
    assert isinstance(event, EventTrigger)
    assert (event.subject, event.key_field) == ("a.b", "id")
