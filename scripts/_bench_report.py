"""Output helpers shared by the gas benchmarks (`ape run` skips this file: its name starts with _).

Each benchmark owns one key of bench/results.json and one marked section of bench/REPORT.md
(`<!-- KEY:start -->` ... `<!-- KEY:end -->`), so sections such as "voting" and "rewards" can be
refreshed one at a time without losing the others.
"""

import hashlib
import json
import re
from pathlib import Path
from typing import Any

Table = tuple[str, list[str], list[list[str]]]


def fmt_gas(value: int | None, star: bool = False) -> str:
    """Gas with thousands separators, starred on request; n/a when there is no such operation."""
    return "n/a" if value is None else f"{value:,}{'*' if star else ''}"


def check(
    name: str, value: float, limit: float, unit: str, at_least: bool = False
) -> dict[str, Any]:
    """One target (value <= limit, or >= with `at_least`): whether it is met and the margin in
    percent of the limit.

    Args:
        name: The target as a sentence, e.g. "plain vote <= 50k".
        value: The measured value.
        limit: The largest value that meets the target.
        unit: How to show the value: "gas", "x" (a ratio), "%" (a fraction shown in percent),
            "s" (seconds), "MiB", "blocks", "req/s", "tx" (a count of transactions) or
            "leaves/s".
        at_least: the target is a floor (a rate): met when value >= limit.
    """
    shown_limit = limit or 1  # NOTE: a zero limit ("none may ..."): the margin in units of 1
    margin = (value - limit) / shown_limit * 100
    shown = {
        "gas": f"{value:,.0f}",
        "x": f"{value:.2f}x",
        "%": f"{value * 100:.1f}%",
        "s": f"{value:.2f} s",
        "MiB": f"{value:.0f} MiB",
        "blocks": f"{value:g} blocks",
        "req/s": f"{value:.3f} req/s",
        "tx": f"{value:g} tx",
        "leaves/s": f"{value:,.0f} leaves/s",
    }[unit]
    met = value >= limit if at_least else value <= limit
    side = ("above" if met else "below") if at_least else ("under" if met else "over")
    result = {"target": name, "measured": shown, "value": value, "limit": limit}
    return result | {"met": met, "margin": f"{abs(margin):.1f}% {side} the limit"}


def target_rows(checked: list[dict[str, Any]]) -> Table:
    """The targets as a table."""
    status = {True: "met", False: "MISSED"}
    rows = [[t["target"], t["measured"], status[t["met"]], t["margin"]] for t in checked]
    return ("Targets", ["target", "measured", "status", "margin"], rows)


def code_fingerprint(bytecode: str) -> dict[str, Any]:
    """Size and sha256 (first 16 hex digits) of deployed bytecode: which code was measured."""
    code = bytes.fromhex(bytecode.removeprefix("0x"))
    return {"runtime_bytes": len(code), "sha256": hashlib.sha256(code).hexdigest()[:16]}


def text_table(title: str, head: list[str], rows: list[list[str]]) -> str:
    """A fixed-width table for the terminal: first column left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

    def line(row: list[str]) -> str:
        first = [row[0].ljust(widths[0])]
        return "  ".join(first + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([title, line(head), rule, *(line(row) for row in rows)])


def markdown_table(title: str, head: list[str], rows: list[list[str]]) -> str:
    """A Markdown table under a level-3 heading."""
    align = ["---"] + ["---:"] * (len(head) - 1)
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(path: Path, key: str, section: dict[str, Any]) -> None:
    """Replaces only `key` of the JSON file at `path`, keeping the other benchmark sections."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = section
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_report(
    path: Path, key: str, heading: str, intro: str, tables: list[Table], notes: list[str]
) -> None:
    """Replaces only the `key` section of the Markdown report at `path`, keeping the others.

    Args:
        path: The report file; created with a title when missing.
        key: Section name used in the markers.
        heading: Level-2 heading of the section.
        intro: One paragraph under the heading.
        tables: (title, header, rows) of each table, in order.
        notes: Bullet points after the tables.
    """
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    parts = [start, f"## {heading}", "", intro, ""]
    parts += [markdown_table(*table) + "\n" for table in tables]
    parts += ["Notes:", "", *(f"- {note}" for note in notes), end]
    block = "\n".join(parts)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
