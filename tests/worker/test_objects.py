"""worker.objects.gc_paused: the collector is off inside the block and as it was after it."""

import gc

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
