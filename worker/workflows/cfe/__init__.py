"""24/7 carbon-free energy (CFE) matching in the shape of EnergyTag granular certificates.

Config: `workflow: {ref: "worker.workflows.cfe:run", name: cfe-24-7, params: {zones: [...], ...}}`.
The rules in plain words, a worked example and how a network picks its tiers: docs/MATCHING.md.

Input: one or more JSON payloads (`CfeInput`), e.g. production certificates from a registry and
consumption from meters. An interval is `[start, end)` in UTC epoch seconds, at most one hour;
energy is an integer number of Wh:

    {
      "production": [{"device": "solar-1", "zone": "DE-LU", "source": "solar",
                      "start": 1750464000, "end": 1750467600, "wh": 1250000,
                      "certificates": {"first": 1000001, "last": 2250000}}, ...],
      "consumption": [{"consumer": "office-berlin", "zone": "DE-LU",
                       "start": 1750464000, "end": 1750467600, "wh": 410000}, ...]
    }

Params (`CfeParams`): `zones` (the market zones the network knows), `areas` (cross-zone rules:
named sets of zones that may deliver to each other), `tiers` (in priority order; each `group`,
`zone` or `area` scoped; default one `zone` tier).

Refused, with a named `InputError`: a zone not in `zones` (`UnknownZoneError`), an interval
longer than 1 h (`IntervalTooLongError`), two different intervals that overlap
(`OverlappingIntervalsError`), a reading given twice with different values or a party in two
zones (`ConflictingDuplicateError`), a bundle whose certificate count is not its Wh or that
overlaps another (`CertificateBundleError`), no readings (`NoReadingsError`); negative,
fractional or non-integer Wh are refused by the schema. A reading given twice with the same
values counts once (a redelivered message).

Output: records with the leaf encoding of `worker.workflows.cfe.records` (TYPES): allocations
per (consumer, device, interval, tier), leftover consumption per consumer-interval, excess
generation per device-interval (both even when 0), each consumer-interval's CFE score in ppm,
floor(matched * 10^6 / consumed) (10^6 when nothing was consumed), and each consumer's score over
the whole round, by the same rule on its sums. The allocation rule: `worker.workflows.cfe.allocate`.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from worker.objects import gc_paused
from worker.workflow import WorkflowOutput
from worker.workflows.cfe.allocate import Interval, match_interval, tier_keys
from worker.workflows.cfe.errors import (
    REF,
    CertificateBundleError,
    ConflictingDuplicateError,
    IntervalTooLongError,
    NoReadingsError,
    OverlappingIntervalsError,
    UnknownZoneError,
)
from worker.workflows.cfe.records import LEFTOVER, PPM, ROUND_SCORE, TYPES, id_bytes, pack_info
from worker.workflows.cfe.schema import HOUR, CfeInput, CfeParams, Consumption, Production

INPUT = CfeInput
PARAMS = CfeParams
INPUTS = ("production", "consumption")  # the kinds of input a round needs (payload fields)

__all__ = ["INPUT", "INPUTS", "PARAMS", "REF", "TYPES", "CfeInput", "CfeParams", "run", "window_of"]


def window_of(payload: CfeInput) -> tuple[int, int] | None:
    """The span a payload holds readings for: [first start, last end), or None when empty."""
    readings = [*payload.production, *payload.consumption]
    if not readings:
        return None
    return min(r.start for r in readings), max(r.end for r in readings)


def _merge(
    inputs: Iterable[CfeInput], side: str, party: str
) -> dict[tuple[str, int, int], Production | Consumption]:
    """{(party, start, end): reading} of one side over all payloads; conflicting duplicates and
    parties in two zones (or of two sources) refused."""
    readings: dict[tuple[str, int, int], Production | Consumption] = {}
    attributes: dict[str, tuple[str, ...]] = {}
    for payload in inputs:
        for r in getattr(payload, side):
            name = getattr(r, party)
            first = readings.setdefault((name, r.start, r.end), r)
            if first != r:
                a, b = sorted((first.model_dump_json(), r.model_dump_json()))
                raise ConflictingDuplicateError(side, name, f"at {r.start}", a, b)
            attrs = (r.zone, r.source) if side == "production" else (r.zone,)
            known = attributes.setdefault(name, attrs)
            if known != attrs:
                what = "zone" if known[0] != attrs[0] else "source"
                a, b = sorted((known, attrs))
                raise ConflictingDuplicateError(side, name, what, "/".join(a), "/".join(b))
    return readings


def _check(production: dict, consumption: dict, params: CfeParams) -> None:
    """Zones, interval lengths, the interval grid and certificate bundles."""
    zones = set(params.zones)
    for side, readings in (("production", production), ("consumption", consumption)):
        for (party, start, end), r in sorted(readings.items()):
            if r.zone not in zones:
                raise UnknownZoneError(side, party, r.zone)
            if end - start > HOUR:
                raise IntervalTooLongError(side, party, start, end)
    intervals = sorted({(s, e) for _, s, e in (*production, *consumption)})
    for before, after in pairwise(intervals):
        if after[0] < before[1]:
            raise OverlappingIntervalsError(before, after)
    bundles = []
    for (device, start, _), r in sorted(production.items()):
        if r.certificates is not None:
            first, last = r.certificates.first, r.certificates.last
            if last - first + 1 != r.wh:
                count = max(0, last - first + 1)
                raise CertificateBundleError(device, start, f"{first}..{last} hold {count}, "
                                             f"not the {r.wh} Wh produced")  # fmt: skip
            bundles.append((first, last, device, start))
    bundles.sort()
    for (_, last, *_), (first, _, device, start) in pairwise(bundles):
        if first <= last:
            raise CertificateBundleError(device, start, f"from {first} overlap another bundle")


def run(inputs: list[CfeInput], params: CfeParams) -> WorkflowOutput:
    """Matches production against consumption per interval, by the network's tiers.

    Raises:
        InputError: one of the named subclasses in the module docstring.
    """
    with gc_paused():  # NOTE: records and intervals are many small objects, never cycles
        production = _merge(inputs, "production", "device")
        consumption = _merge(inputs, "consumption", "consumer")
        if not production and not consumption:
            raise NoReadingsError()
        _check(production, consumption, params)
        intervals: dict[tuple[int, int], Interval] = {}
        for (device, start, end), r in production.items():
            interval = intervals.setdefault((start, end), Interval(start, end))
            cert = r.certificates.first if r.certificates is not None and r.wh else 0
            interval.devices[device] = (r.zone, r.wh, cert)
        for (consumer, start, end), r in consumption.items():
            interval = intervals.setdefault((start, end), Interval(start, end))
            interval.consumers[consumer] = (r.zone, r.wh)
        keys = tier_keys(params)
        records = []
        for span in sorted(intervals):
            records += match_interval(intervals[span], keys)
        first, last = min(intervals)[0], max(e for _, e in intervals)
        records += _round_scores(records, consumption, first, last)
        records.sort()
    return WorkflowOutput(TYPES, records)


def _round_scores(records: list, consumption: dict, start: int, end: int) -> list:
    """Each consumer's CFE score over the round: floor(sum matched * 10^6 / sum consumed)."""
    consumed: dict[bytes, int] = {}
    for (consumer, _, _), r in consumption.items():
        key = id_bytes(consumer)
        consumed[key] = consumed.get(key, 0) + r.wh
    left = dict.fromkeys(consumed, 0)
    for consumer, _, info, amount in records:
        if info >> 120 & 0xFF == LEFTOVER:
            left[consumer] += amount
    where = pack_info(start, end, ROUND_SCORE)
    return [
        (key, bytes(32), where, PPM if not wh else (wh - left[key]) * PPM // wh)
        for key, wh in consumed.items()
    ]
