"""Builders of 24/7 CFE matching payloads and readers of its records, shared by its tests."""

from __future__ import annotations

from collections import defaultdict

from worker.workflows.cfe.records import (
    ALLOCATION,
    EXCESS,
    LEFTOVER,
    ROUND_SCORE,
    SCORE,
    id_text,
    unpack_info,
)

CFE = "worker.workflows.cfe:run"
H = 1_750_464_000  # 2025-06-21T00:00:00Z


def production(device, hour, wh, zone="A", source="solar", certificates=None, length=3600):
    """A production reading of `device` in the hour `hour` of the day starting at H."""
    start = H + 3600 * hour
    entry = {"device": device, "zone": zone, "source": source, "start": start,
             "end": start + length, "wh": wh}  # fmt: skip
    if certificates is not None:
        entry["certificates"] = {"first": certificates[0], "last": certificates[1]}
    return entry


def consumption(consumer, hour, wh, zone="A", length=3600):
    """A consumption reading of `consumer` in the hour `hour` of the day starting at H."""
    start = H + 3600 * hour
    return {"consumer": consumer, "zone": zone, "start": start, "end": start + length, "wh": wh}


def readable(records) -> list[tuple]:
    """(kind, consumer, device, start, tier, certificate, amount) of each record."""
    out = []
    for consumer, device, info, amount in records:
        f = unpack_info(info)
        out.append((f.kind, id_text(consumer), id_text(device), f.start, f.tier, f.certificate,
                    amount))  # fmt: skip
    return out


def by_kind(records) -> dict[int, list[tuple]]:
    """Readable records grouped by kind: ALLOCATION, LEFTOVER, EXCESS, SCORE, ROUND_SCORE."""
    kinds: dict[int, list[tuple]] = defaultdict(list)
    for r in readable(records):
        kinds[r[0]].append(r[1:])
    return {k: kinds[k] for k in (ALLOCATION, LEFTOVER, EXCESS, SCORE, ROUND_SCORE)}
