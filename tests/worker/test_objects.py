"""worker.objects.gc_paused: the collector is off inside the block and as it was after it."""

import gc
import sys
import threading

import pytest

from worker.objects import gc_paused


def test_gc_paused__off_inside_back_on_after_an_error():
    assert gc.isenabled()

    with pytest.raises(ZeroDivisionError), gc_paused():
        assert not gc.isenabled()
        _ = 1 / 0

    assert gc.isenabled()


def test_gc_paused__leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_paused__stays_paused_until_the_last_of_two_threads_blocks_ends():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        with gc_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with gc_paused():
            second_in.set()
            first_out.wait(5)
            seen.append(gc.isenabled())  # the first block ended, this one has not

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert seen == [False]
    assert gc.isenabled()


def test_gc_paused__many_racing_blocks_end_with_the_collector_on():
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # NOTE: switch threads as often as possible inside the blocks
    try:
        threads = [threading.Thread(target=_pause_often) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        sys.setswitchinterval(interval)

    assert gc.isenabled()


def _pause_often():
    for _ in range(5_000):
        with gc_paused():
            pass
