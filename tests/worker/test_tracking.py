"""Which rounds a driver keeps: awaiting failover last, and when a round without data is stale."""

import itertools
import time
from types import SimpleNamespace

from eth_utils import keccak

from worker.rounds import RoundDriver
from worker.state import StateStore

WINDOW = (1_750_464_000, 1_750_467_600)


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
