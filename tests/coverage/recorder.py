"""Records what the embedded EVM (py-evm) executes: program counters and conditional-jump outcomes.

py-evm runs every message (transaction, call, estimate, contract creation) by iterating over a
`CodeStream` of the code being executed. `install()` swaps that iterator for one that records, per
distinct code, the set of program counters reached and the set of `(JUMPI pc, next pc)` edges. Keys
are the code bytes themselves, so a contract deployed many times (or with other immutables or
constructor arguments) is told apart later by `analysis`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eth.vm.code_stream import CodeStream
from eth.vm.opcode_values import JUMPI, STOP

# code bytes -> (program counters executed, (JUMPI pc, next pc) edges taken)
Records = dict[bytes, tuple[set[int], set[tuple[int, int]]]]

_records: Records = {}
_original_iter = CodeStream.__iter__


def _recording_iter(self: CodeStream) -> Iterator[int]:
    code = self._raw_code_bytes
    entry = _records.get(code)
    if entry is None:
        entry = _records[code] = (set(), set())
    hit, edges = entry
    while True:
        pc = self.program_counter
        try:
            opcode = code[pc]
        except IndexError:
            break
        hit.add(pc)
        self.program_counter = pc + 1
        yield opcode
        # NOTE: the opcode has run by now: for JUMPI the counter is the target or pc + 1.
        if opcode == JUMPI:
            edges.add((pc, self.program_counter))
    yield STOP


def install() -> None:
    """Starts recording (idempotent)."""
    CodeStream.__iter__ = _recording_iter  # type: ignore[method-assign]


def uninstall() -> None:
    """Stops recording; what was recorded stays available."""
    CodeStream.__iter__ = _original_iter  # type: ignore[method-assign]


@contextmanager
def separate() -> Iterator[Records]:
    """Records into a fresh set while active; afterwards it joins the session's records if the
    session records (`--contract-coverage`), else recording stops again."""
    global _records
    outer, was_on = _records, CodeStream.__iter__ is _recording_iter
    _records = {}
    install()
    try:
        yield _records
    finally:
        inner, _records = _records, outer
        if was_on:
            for code, (hit, edges) in inner.items():
                entry = _records.setdefault(code, (set(), set()))
                entry[0].update(hit)
                entry[1].update(edges)
        else:
            uninstall()


def records() -> Records:
    """Everything recorded since the process started."""
    return _records
