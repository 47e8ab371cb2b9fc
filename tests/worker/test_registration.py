"""worker.registration without a chain: epoch times, open windows, and the chunk in flight."""

import time
from types import SimpleNamespace

from worker.registration import IN_FLIGHT_MAX, Registrar, Schedule

SCHEDULE = Schedule(start=1_000, length=100, window=150)  # windows longer than an epoch


def test_schedule__epochs_and_open_registration_windows():
    assert [SCHEDULE.epoch_at(t) for t in (999, 1_000, 1_099, 1_100)] == [-1, 0, 0, 1]
    assert SCHEDULE.times(2) == (1_200, 1_300, 1_450)
    assert SCHEDULE.open_registrations(1_099) == []  # epoch 0 has not ended
    assert SCHEDULE.open_registrations(1_100) == [0]  # from the moment it ends
    assert SCHEDULE.open_registrations(1_250) == [0, 1]  # both windows open, oldest first
    assert SCHEDULE.open_registrations(1_251) == [1]
    assert SCHEDULE.open_registrations(1_250, limit=1) == [1]


def test_registrar__no_call_before_the_epoch_ends():
    calls = []
    rewards = SimpleNamespace(epochTimes=lambda e: calls.append(e) or (1_000, 1_100, 1_250))
    voting = SimpleNamespace(maxWindow=lambda: calls.append("maxWindow") or 60)
    registrar = Registrar(SimpleNamespace(rewards=rewards, voting=voting), None)
    assert registrar.tick(1_050) is None
    assert (calls, registrar._next) == ([0, "maxWindow"], 1_100)  # read once: immutable
    assert registrar.tick(1_099) is None
    assert calls == [0, "maxWindow"]  # nothing read until the epoch's end


def test_registrar__waits_for_its_chunk_then_stops_waiting_for_a_lost_one():
    def no_receipt(tx_hash):
        raise LookupError(tx_hash)  # as web3's TransactionNotFound

    conn = SimpleNamespace(rewards=object(), web3=SimpleNamespace(
        eth=SimpleNamespace(get_transaction_receipt=no_receipt)))  # fmt: skip
    registrar = Registrar(conn, None)
    registrar._schedule, registrar._max_window = SCHEDULE, 60
    registrar._in_flight, registrar._sent_at = "0xab", time.monotonic()
    assert registrar.tick(1_050) is None
    assert registrar._in_flight == "0xab"  # mined yet? not before the next chunk
    registrar._sent_at -= IN_FLIGHT_MAX + 1
    assert registrar.tick(1_050) is None
    assert (registrar._in_flight, registrar._next) == (None, 1_100)


def test_next_claim__oldest_epoch_whose_registration_window_is_open():
    from worker.rewards import next_claim

    assert next_claim(SCHEDULE, 1_050) == {"epoch": 0, "opens": 1_251}  # the current epoch's
    assert next_claim(SCHEDULE, 1_240) == {"epoch": 0, "opens": 1_251}  # ended, window open
    assert next_claim(SCHEDULE, 1_251) == {"epoch": 1, "opens": 1_351}
