"""From recorded executions to covered functions, statements and branches.

- A recorded code is identified as a compiled contract's runtime code (equal once the immutable
  slots are blanked) or creation code (a prefix: constructor arguments follow).
- An executed instruction covers the source range its source-map entry names. A function or a
  statement is covered when an executed instruction's range lies inside it; one that no
  instruction of any compiled code maps into was compiled away and is counted apart, not as missed.
- A branch side is covered when its body ran (`else` body, either `?:` operand) or when a
  conditional jump of the decision went the way that leads to it. The way a jump leads is found
  by walking the code from the jump's successor until an instruction lands in the true body, the
  false body, or outside the decision (which, for an `if` without `else`, is the false side);
  jump destinations are passed over (they carry the location of the code before them). A
  successor that only reaches the function's exit is the side opposite to its sibling's.
- Limits: hit counts are not kept (sets of program counters); where the optimizer merges equal
  code of two places, the source map names one of them, so the other one's run may be credited
  to it. An item or side with no instruction of its own is reported as compiled away.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field

from tests.coverage.build import JUMP, JUMPDEST, JUMPI, Branch, Code, Item, Range, Source
from tests.coverage.recorder import Records

HALTS = {0x00, 0xF3, 0xFD, 0xFE, 0xFF}  # STOP, RETURN, REVERT, INVALID, SELFDESTRUCT
WALK_LIMIT = 64  # instructions followed from a jump's successor before giving up


def _inside(span: Range, outer: Range) -> bool:
    return outer[0] <= span[0] and span[1] <= outer[1]


class Ranges:
    """Source ranges of one file, searchable for 'any range inside this span'."""

    def __init__(self, ranges: set[Range]) -> None:
        self.items = sorted(ranges)
        self.starts = [r[0] for r in self.items]

    def any_inside(self, span: Range) -> bool:
        i = bisect_left(self.starts, span[0])
        while i < len(self.items) and self.starts[i] < span[1]:
            if self.items[i][1] <= span[1]:
                return True
            i += 1
        return False


@dataclass
class Side:
    branch: Branch
    side: str  # "true" | "false"
    covered: bool


@dataclass
class FileCoverage:
    source: Source
    functions: list[tuple[Item, bool]] = field(default_factory=list)
    statements: list[tuple[Item, bool]] = field(default_factory=list)
    branches: list[Side] = field(default_factory=list)
    compiled_away: list[Item | Side] = field(default_factory=list)


@dataclass
class Coverage:
    files: list[FileCoverage]
    codes_matched: int
    codes_other: int  # recorded code that is none of the project's (e.g. a test double's)


def match(records: Records, codes: list[Code]) -> list[tuple[Code, set[int], set[tuple[int, int]]]]:
    """Pairs every recorded code with the compiled code it is."""
    runtime: dict[int, list[Code]] = defaultdict(list)
    for c in codes:
        if c.kind == "runtime":
            runtime[len(c.code)].append(c)
    creation = sorted((c for c in codes if c.kind == "creation"), key=lambda c: -len(c.code))
    found = []
    for raw, (hit, edges) in records.items():
        code = next((c for c in runtime.get(len(raw), ()) if _same_runtime(raw, c)), None)
        if code is None:
            code = next((c for c in creation if raw.startswith(c.code)), None)
        if code is not None:
            found.append((code, hit, edges))
    return found


def _same_runtime(raw: bytes, code: Code) -> bool:
    if not code.immutables:
        return raw == code.code
    blanked = bytearray(raw)
    for start, end in code.immutables:
        blanked[start:end] = bytes(end - start)
    return bytes(blanked) == code.code


def _ranges(code: Code, instructions: object, files: dict[int, Source]) -> dict[int, set[Range]]:
    out: dict[int, set[Range]] = defaultdict(set)
    for i in instructions:  # type: ignore[attr-defined]
        if i is None or i >= len(code.src):
            continue
        s, length, f = code.src[i]
        if length > 0 and f in files:
            out[f].add((s, s + length))
    return out


def classify(code: Code, pc: int, b: Branch) -> str | None:
    """Which side of `b` execution reaches from `pc` (a conditional jump's successor)."""
    i = code.index.get(pc)
    for _ in range(WALK_LIMIT):
        if i is None or i >= len(code.src):
            return None
        s, length, f = code.src[i]
        op = code.op(i)
        # NOTE: a jump destination carries the location of the code before it (the end of a body).
        if f == b.file and length > 0 and op != JUMPDEST:
            span = (s, s + length)
            if _inside(span, b.true):
                return "true"
            if b.false is not None and _inside(span, b.false):
                return "false"
            if span[1] <= b.scope[0] or span[0] >= b.scope[1]:
                return "false"  # left the decision without entering a body
        if op == JUMP:
            target = code.push_value(i - 1) if i > 0 else None
            if target is None:
                return "exit"  # a computed jump: the return from the enclosing function
            i = code.index.get(target)
            continue
        if op in HALTS:
            return "exit"
        if op == JUMPI:
            return None
        i += 1
    return None


def _sides(code: Code, i: int, b: Branch) -> dict[int, str]:
    """Successor program counter -> side of `b`, for the conditional jump at instruction `i`.

    A successor that only reaches the function's exit is the other side of a successor whose side
    is known (`if (c) return;`, or an `if` without `else` that ends its function).
    """
    target = code.push_value(i - 1) if i > 0 else None
    nexts = [code.pcs[i] + 1] + ([target] if target is not None else [])
    found = {nxt: classify(code, nxt, b) for nxt in nexts}
    kinds = sorted(map(str, found.values()))
    if len(found) == 2 and kinds in (["exit", "false"], ["exit", "true"]):
        known = next(v for v in found.values() if v != "exit")
        other = "false" if known == "true" else "true"
        found = {k: known if v == known else other for k, v in found.items()}
    return {k: v for k, v in found.items() if v in ("true", "false")}


def _jumps(code: Code, files: dict[int, Source]) -> list[tuple[int, int, int, int]]:
    """(instruction, start, end, file) of every conditional jump mapped into a measured file."""
    found = []
    for i, (s, length, f) in enumerate(code.src[: len(code.pcs)]):
        if length > 0 and f in files and code.op(i) == JUMPI:
            found.append((i, s, s + length, f))
    return found


def _decides(span: Range, b: Branch) -> bool:
    """Whether a conditional jump mapped to `span` is part of deciding `b`."""
    in_body = _inside(span, b.true) or (b.false is not None and _inside(span, b.false))
    return _inside(span, b.scope) and not in_body


def analyse(records: Records, codes: list[Code], files: dict[int, Source]) -> Coverage:
    matched = match(records, codes)
    # NOTE: a contract deployed many times is one code here: its executions are merged.
    hits: dict[int, set[int]] = defaultdict(set)
    taken: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for code, hit, edges in matched:
        hits[id(code)] |= hit
        taken[id(code)] |= edges
    executed: dict[int, set[Range]] = defaultdict(set)
    mapped: dict[int, set[Range]] = defaultdict(set)
    for code in codes:
        pcs = hits.get(id(code), set())
        for f, ranges in _ranges(code, (code.index.get(pc) for pc in pcs), files).items():
            executed[f] |= ranges
        for f, ranges in _ranges(code, range(len(code.pcs)), files).items():
            mapped[f] |= ranges
    jumps = {id(code): _jumps(code, files) for code in codes}

    result = []
    for fid, source in sorted(files.items(), key=lambda kv: kv[1].path):
        done, known = Ranges(executed[fid]), Ranges(mapped[fid])
        fc = FileCoverage(source)
        for item in source.functions + source.statements:
            bucket = fc.functions if item.kind == "function" else fc.statements
            if known.any_inside(item.span):
                bucket.append((item, done.any_inside(item.span)))
            else:
                fc.compiled_away.append(item)
        for b in source.branches:
            possible, reached = _jump_sides(b, codes, jumps, taken)
            bodies = {"true": b.true, "false": b.false}
            for side in ("true", "false"):
                body = bodies[side]
                body_known = body is not None and known.any_inside(body)
                covered = (body_known and done.any_inside(body)) or side in reached
                entry = Side(b, side, covered)
                if body_known or side in possible:
                    fc.branches.append(entry)
                else:
                    fc.compiled_away.append(entry)
        result.append(fc)
    return Coverage(result, len(matched), len(records) - len(matched))


def _jump_sides(b: Branch, codes: list[Code], jumps: dict, taken: dict) -> tuple[set, set]:
    """Sides of `b` some conditional jump can lead to (statically), and those it did lead to."""
    possible: set[str] = set()
    reached: set[str] = set()
    for code in codes:
        sides = {
            code.pcs[i]: _sides(code, i, b)
            for i, s, e, f in jumps[id(code)]
            if f == b.file and _decides((s, e), b)
        }
        for found in sides.values():
            possible |= set(found.values())
        for jpc, nxt in taken.get(id(code), ()):
            if (side := sides.get(jpc, {}).get(nxt)) is not None:
                reached.add(side)
    return possible, reached
