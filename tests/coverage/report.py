"""Coverage output: a table with what is not covered (printed), lcov and JSON files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.coverage.analysis import Coverage, FileCoverage, Side


def _ratio(flags: list[bool]) -> tuple[int, int]:
    return sum(flags), len(flags)


def counts(fc: FileCoverage) -> dict[str, tuple[int, int]]:
    return {
        "statements": _ratio([c for _, c in fc.statements]),
        "branches": _ratio([s.covered for s in fc.branches]),
        "functions": _ratio([c for _, c in fc.functions]),
    }


def totals(cov: Coverage) -> dict[str, tuple[int, int]]:
    out = {"statements": (0, 0), "branches": (0, 0), "functions": (0, 0)}
    for fc in cov.files:
        for key, (hit, total) in counts(fc).items():
            out[key] = (out[key][0] + hit, out[key][1] + total)
    return out


def uncovered(fc: FileCoverage) -> list[dict]:
    """Every measured item of a file that the tests never reached, by line."""
    out = [{"line": i.line, "kind": "statement", "name": i.name} for i, c in fc.statements if not c]
    out += [_side(s) for s in fc.branches if not s.covered]
    out += [{"line": i.line, "kind": "function", "name": i.name} for i, c in fc.functions if not c]
    return sorted(out, key=lambda d: d["line"])


def compiled_away(fc: FileCoverage) -> list[dict]:
    """Items no instruction maps to (not counted)."""
    out = [_side(x) if isinstance(x, Side) else {"line": x.line, "kind": x.kind, "name": x.name}
           for x in fc.compiled_away]  # fmt: skip
    return sorted(out, key=lambda d: d["line"])


def _side(s: Side) -> dict:
    what = "condition" if s.branch.kind == "?:" else "if"
    return {"line": s.branch.line, "kind": "branch", "name": f"{what} {s.side}"}


def table(cov: Coverage) -> list[str]:
    """The printed report: one row per file, a total, then every uncovered item by line."""
    width = max([len(fc.source.path) for fc in cov.files] + [5])

    def row(name: str, cells: list[tuple[int, int]]) -> str:
        text = [f"{h}/{n} {100 * h / n:5.1f}%" if n else "-" for h, n in cells]
        return f"{name:<{width}}  {text[0]:>15}  {text[1]:>15}  {text[2]:>15}"

    head = f"{'file':<{width}}  {'statements':>15}  {'branches':>15}  {'functions':>15}"
    lines = [head, "-" * len(head)]
    lines += [row(fc.source.path, list(counts(fc).values())) for fc in cov.files]
    lines += ["-" * len(head), row("total", list(totals(cov).values()))]
    for fc in cov.files:
        for d in uncovered(fc):
            lines.append(f"  not covered: {fc.source.path}:{d['line']} {d['kind']} {d['name']}")
    away = sum(len(fc.compiled_away) for fc in cov.files)
    if away:
        lines.append(f"  ({away} items compiled away by the optimizer, not counted: see the JSON)")
    return lines


def write_lcov(cov: Coverage, path: Path) -> None:
    """lcov tracefile (hit counts are 0/1: executions are recorded as sets)."""
    out: list[str] = []
    for fc in cov.files:
        out += ["TN:", f"SF:{fc.source.path}"]
        for item, covered in fc.functions:
            out += [f"FN:{item.line},{item.name}", f"FNDA:{int(covered)},{item.name}"]
        hit, total = _ratio([c for _, c in fc.functions])
        out += [f"FNF:{total}", f"FNH:{hit}"]
        blocks: dict[int, int] = {}  # one lcov block per decision, sides 0 (true) and 1 (false)
        for s in fc.branches:
            block = blocks.setdefault(id(s.branch), len(blocks))
            side = 0 if s.side == "true" else 1
            out.append(f"BRDA:{s.branch.line},{block},{side},{int(s.covered)}")
        hit, total = _ratio([s.covered for s in fc.branches])
        out += [f"BRF:{total}", f"BRH:{hit}"]
        lines: dict[int, bool] = {}
        for item, covered in fc.statements:
            lines[item.line] = lines.get(item.line, False) or covered
        out += [f"DA:{line},{int(c)}" for line, c in sorted(lines.items())]
        out += [f"LF:{len(lines)}", f"LH:{sum(lines.values())}", "end_of_record"]
    path.write_text("\n".join(out) + "\n")


def write_json(cov: Coverage, path: Path) -> None:
    """Per-file and total counts, every uncovered and every compiled-away item."""
    data = {
        "files": {
            fc.source.path: {
                **{k: {"covered": h, "total": n} for k, (h, n) in counts(fc).items()},
                "uncovered": uncovered(fc),
                "compiled_away": compiled_away(fc),
            }
            for fc in cov.files
        },
        "total": {k: {"covered": h, "total": n} for k, (h, n) in totals(cov).items()},
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
