"""Generates the bundled 24/7 CFE matching data set (one day) and its expected result.

Usage: .venv/bin/python examples/cfe/generate.py

Three market zones, 30 devices (solar, wind, hydro), 200 consumers (offices, households,
factories), hourly readings for 2025-06-21 (UTC), certificate bundles for every device-hour with
output, and the network's params: a contracted tier (three PPAs), then same zone, then the
cross-zone area DE-LU + NL. Deterministic (fixed seed): a re-run writes the same files.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # NOTE: a plain script; the worker is the checkout's

from worker.workflow import output_root, run_workflow  # noqa: E402
from worker.workflows.cfe.records import ALLOCATION, EXCESS, LEFTOVER, unpack_info  # noqa: E402

DAY = 1_750_464_000  # 2025-06-21T00:00:00Z
ZONES = ["DE-LU", "FR", "NL"]
SOURCES = ["solar", "wind", "hydro"]
KINDS = ["office", "household", "factory"]
# Device ratings per zone: DE-LU has a surplus at noon, NL is short and buys from DE-LU.
SCALE = {"DE-LU": 1_500_000, "FR": 900_000, "NL": 200_000}
PARAMS = {
    "zones": ZONES,
    "areas": {"cwe-north": ["DE-LU", "NL"]},
    "tiers": [
        {"name": "contracted", "scope": "group", "groups": {
            "ppa-berlin": {"devices": ["de-wind-01"],
                           "consumers": ["de-factory-002", "de-office-000"]},
            "ppa-lyon": {"devices": ["fr-hydro-02", "fr-solar-00"],
                         "consumers": ["fr-factory-002"]},
            "ppa-rotterdam": {"devices": ["nl-wind-01"], "consumers": ["nl-office-000"]},
        }},
        {"name": "zone", "scope": "zone"},
        {"name": "cwe-north", "scope": "area"},
    ],
}  # fmt: skip


def output_wh(source: str, hour: int, rating: int, rng: random.Random) -> int:
    """A device's output in one hour: a solar bell, gusty wind, steady hydro."""
    if source == "solar":
        shape = max(0.0, math.sin(math.pi * (hour - 5) / 16)) if 5 <= hour <= 21 else 0.0
    elif source == "wind":
        shape = 0.2 + 0.8 * rng.random() * (1.2 if hour < 7 or hour > 20 else 0.8)
    else:
        shape = 0.85 + 0.1 * rng.random()
    return int(rating * min(shape, 1.0))


def use_wh(kind: str, hour: int, size: int, rng: random.Random) -> int:
    """A consumer's use in one hour: offices by day, households mornings and evenings."""
    if kind == "office":
        shape = 1.0 if 8 <= hour < 18 else 0.25
    elif kind == "household":
        shape = 0.3 + (0.7 if 6 <= hour < 9 or 17 <= hour < 22 else 0.0)
    else:
        shape = 0.9
    return int(size * shape * (0.9 + 0.2 * rng.random()))


def generate() -> tuple[dict, dict]:
    rng = random.Random(20250621)
    devices = [(f"{zone.split('-')[0].lower()}-{source}-{i:02d}", zone, source,
                rng.randint(2, 12) * SCALE[zone])
               for zone in ZONES for source in SOURCES for i in range(3)]  # fmt: skip
    devices.append(("nl-solar-03", "NL", "solar", 4_000_000))  # 30 devices
    consumers = [(f"{zone.split('-')[0].lower()}-{KINDS[i % 3]}-{i:03d}", zone, KINDS[i % 3],
                  {"office": 400_000, "household": 6_000, "factory": 1_500_000}[KINDS[i % 3]]
                  * rng.randint(5, 15) // 10)
                 for zone in ZONES for i in range(67 if zone != "NL" else 66)]  # fmt: skip
    production, consumption, certificate = [], [], 10_000_000_001
    for hour in range(24):
        start = DAY + 3600 * hour
        for device, zone, source, rating in devices:
            wh = output_wh(source, hour, rating, rng)
            entry = {"device": device, "zone": zone, "source": source, "start": start,
                     "end": start + 3600, "wh": wh}  # fmt: skip
            if wh:
                entry["certificates"] = {"first": certificate, "last": certificate + wh - 1}
                certificate += wh
            production.append(entry)
        for consumer, zone, kind, size in consumers:
            wh = use_wh(kind, hour, size, rng)
            consumption.append({"consumer": consumer, "zone": zone, "start": start,
                                "end": start + 3600, "wh": wh})  # fmt: skip
    return {"production": production}, {"consumption": consumption}


def dump(data: dict) -> str:
    """JSON with one reading per line: diffable and small."""
    ((key, entries),) = data.items()
    lines = ",\n".join("  " + json.dumps(e, separators=(", ", ": ")) for e in entries)
    return f'{{"{key}": [\n{lines}\n]}}\n'


def main() -> None:
    production, consumption = generate()
    (HERE / "production.json").write_text(dump(production))
    (HERE / "consumption.json").write_text(dump(consumption))
    (HERE / "params.json").write_text(json.dumps(PARAMS, indent=2) + "\n")
    output = run_workflow("worker.workflows.cfe:run", [production, consumption], PARAMS)
    totals = {ALLOCATION: 0, LEFTOVER: 0, EXCESS: 0}
    tiers = [0] * len(PARAMS["tiers"])
    for _, _, info, amount in output.records:
        fields = unpack_info(info)
        if fields.kind in totals:
            totals[fields.kind] += amount
        if fields.kind == ALLOCATION:
            tiers[fields.tier - 1] += amount
    expected = {
        "workflow": "worker.workflows.cfe:run",
        "inputs": ["production.json", "consumption.json"],
        "params": "params.json",
        "leaf_encoding": list(output.types),
        "records": len(output),
        "root": output_root(output),
        "production_wh": sum(r["wh"] for r in production["production"]),
        "consumption_wh": sum(r["wh"] for r in consumption["consumption"]),
        "matched_wh": totals[ALLOCATION],
        "matched_wh_by_tier": dict(zip([t["name"] for t in PARAMS["tiers"]], tiers, strict=True)),
        "leftover_wh": totals[LEFTOVER],
        "excess_wh": totals[EXCESS],
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(f"{len(output)} records, root {expected['root']}")


if __name__ == "__main__":
    main()
