"""Making many Python objects at once: tree builds, the JSON forms of records, parsed payloads."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # blocks inside `gc_paused` now, in every thread
_was_enabled = False  # whether the collector ran when the first of them began


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector for a block that makes many objects and no cycles.

    A tree build, the JSON forms of its records or a day of parsed readings make up to millions
    of objects while others are alive; the collector's passes meanwhile would cost from ~15% of
    a build to over half of the time of the others, and find nothing. Reference counting still
    frees everything as usual; only cycles wait until the block ends.

    Blocks may overlap (nested, or in several threads: the node parses payloads on its event
    loop while the chain thread builds a tree): the collector is paused when the first begins
    and runs again, if it ran before, when the last ends.
    """
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
