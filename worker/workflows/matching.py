"""24/7 matching of renewable generation against consumption, hour by hour (reference workflow).

Config: `workflow: {ref: "worker.workflows.matching:run", name: matching-24-7, params: {}}`.

Input: one or more JSON payloads (`MatchingInput`), for example one from the generation meters and
one from the consumption meters. Energy is an integer number of watt-hours (Wh) per site and hour;
an hour is the UTC epoch second at which it starts (a multiple of 3600):

    {
      "generation":  [{"site": "solar-park-1", "hour": 1750464000, "wh": 1250000}, ...],
      "consumption": [{"site": "office-berlin", "hour": 1750464000, "wh": 410000}, ...]
    }

A site id is 1-64 characters of letters, digits and `. _ : / -`, starting with a letter or digit.
Either list may be left out. A (site, hour) given twice with the same value counts once (for example
a message delivered twice); with different values the payload is refused, within one payload and
against a payload stored before (`facts_of`: the first value is kept). Example: examples/matching/.

Output records, ABI types `["string", "string", "uint64", "uint256"]`:

    (consumer, generator, hour, wh)  matched: energy of `generator` matched to `consumer`
    (consumer, "", hour, wh)         deficit: consumption of `consumer` left unmatched
    ("", generator, hour, wh)        surplus: generation of `generator` left unmatched

Matched records are made for positive volumes only; every consumer-hour of the input gets a deficit
record and every generator-hour a surplus record, even when zero, so that "fully matched" is
provable with one record. Records are sorted (so surplus records come first).

Allocation rule, per hour, with G the total generation, C the total consumption, M = min(G, C):

1. Each consumer's matched total m_i is M split in proportion to its consumption c_i; each
   generator's n_j is M split in proportion to its generation g_j. So when generation is short,
   every consumer gets the same share of its consumption matched, and when it is abundant, every
   generator sells the same share of its output.
2. Generators in ascending id order: generator j's n_j is split among the consumers in proportion
   to their still unmatched totals (m_i minus what earlier generators gave them). So consumer i
   receives from generator j its proportional share m_i * n_j / M, less than k Wh off for the k-th
   generator in id order (rounding carries over, shrinking), and the last generator exactly
   closes every consumer's total.
3. Every split is integer: the floor of each exact share, then the Wh left over one each to the
   largest remainders, ties to the lower site id (largest-remainder method). A share never exceeds
   its weight's capacity, so nothing is over-allocated.

Hence, exactly, per hour: sum(matched) + sum(deficit) = C and sum(matched) + sum(surplus) = G; per
consumer-hour matched + deficit = consumption; per generator-hour matched + surplus = generation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from worker.errors import InputError
from worker.workflow import WorkflowOutput

TYPES = ("string", "string", "uint64", "uint256")
FIELDS = ("consumer", "generator", "hour", "wh")  # names of the record's values (`proof --find`)
HOUR = 3600
WINDOW = HOUR  # a payload spans whole hours, aligned to the hour: a round's window must, too
MAX_WH = 10**15  # 1 TWh in one hour at one site: far above any real site, far below uint256
REF = f"{__name__}:run"  # how the config refers to this workflow
NONE = ""  # the generator of a deficit record and the consumer of a surplus record

SiteId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")]
HourStart = Annotated[int, Field(strict=True, ge=0, lt=1 << 63, multiple_of=HOUR)]
WattHours = Annotated[int, Field(strict=True, ge=0, le=MAX_WH)]


class Reading(BaseModel):
    """Energy of one site in one hour."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: SiteId
    hour: HourStart
    wh: WattHours


class MatchingInput(BaseModel):
    """One input payload: generation and consumption readings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generation: list[Reading] = []
    consumption: list[Reading] = []

    @model_validator(mode="after")
    def _no_conflicting_readings(self) -> MatchingInput:
        seen: dict[str, int] = {}
        for key, wh in facts_of(self):
            if seen.setdefault(key, wh) != wh:
                raise ValueError(f"{key} is both {seen[key]} and {wh}")
        return self


class MatchingParams(BaseModel):
    """The matching workflow has no parameters yet; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


INPUT = MatchingInput
PARAMS = MatchingParams


def facts_of(payload: MatchingInput) -> Iterator[tuple[str, int]]:
    """What a payload states, keyed by what it is about: a payload that gives another value for
    a (side, site, hour) stated before is refused when it arrives (the first one is kept)."""
    for side in ("generation", "consumption"):
        for r in getattr(payload, side):
            yield f"{side}: {r.site} at hour {r.hour}", r.wh


def window_of(payload: MatchingInput) -> tuple[int, int] | None:
    """The span of hours a payload holds readings for: [first hour, last hour + 1 h), or None."""
    hours = [r.hour for r in (*payload.generation, *payload.consumption)]
    return (min(hours), max(hours) + HOUR) if hours else None


def apportion(total: int, weights: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Splits `total` Wh in proportion to `weights` by the largest-remainder method.

    Each id gets floor(total * w / W) (W the sum of weights); the Wh left over go one each to the
    largest remainders, ties to the lower id. If total <= W, no share exceeds its weight.

    Args:
        total: The amount to split, >= 0.
        weights: (id, weight >= 0) pairs with distinct ids; W > 0 unless total is 0.

    Returns:
        The share of every id, summing to `total` exactly.
    """
    weights = sorted(weights)
    weight_sum = sum(w for _, w in weights)
    if total == 0:
        return dict.fromkeys((i for i, _ in weights), 0)
    shares: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    for site, weight in weights:
        shares[site], remainder = divmod(total * weight, weight_sum)
        remainders.append((-remainder, site))
    # NOTE: the leftover is sum(remainders) / W, fewer than the ids with a positive remainder,
    # so only those get one more Wh and a share stays <= its weight when total <= W.
    for _, site in sorted(remainders)[: total - sum(shares.values())]:
        shares[site] += 1
    return shares


def _readings(inputs: Iterable[MatchingInput], side: str) -> dict[int, dict[str, int]]:
    """{hour: {site: wh}} of one side, merged over all payloads; conflicting duplicates refused."""
    hours: dict[int, dict[str, int]] = {}
    conflicts = []
    for payload in inputs:
        for r in getattr(payload, side):
            sites = hours.setdefault(r.hour, {})
            if sites.setdefault(r.site, r.wh) != r.wh:
                conflicts.append(
                    f"{side}: {r.site} at hour {r.hour} is both {sites[r.site]} and {r.wh}"
                )
    if conflicts:
        raise InputError(REF, sorted(set(conflicts)))
    return hours


def match_hour(hour: int, generation: dict[str, int], consumption: dict[str, int]) -> list[tuple]:
    """The records of one hour (unsorted), by the allocation rule of this module."""
    total = min(sum(generation.values()), sum(consumption.values()))
    consumer_matched = apportion(total, consumption.items())
    generator_matched = apportion(total, generation.items())
    need = dict(consumer_matched)
    records: list[tuple] = []
    for generator in sorted(generation):
        # The needs sum to at least this generator's share: later generators cover the rest.
        for consumer, wh in apportion(generator_matched[generator], need.items()).items():
            if wh:
                records.append((consumer, generator, hour, wh))
                need[consumer] -= wh
    records += [(c, NONE, hour, wh - consumer_matched[c]) for c, wh in consumption.items()]
    records += [(NONE, g, hour, wh - generator_matched[g]) for g, wh in generation.items()]
    return records


def run(inputs: list[MatchingInput], params: MatchingParams) -> WorkflowOutput:
    """Matches generation against consumption for every hour in the inputs.

    Raises:
        InputError: there are no readings, or a (site, hour) has two different values.
    """
    generation = _readings(inputs, "generation")
    consumption = _readings(inputs, "consumption")
    if not generation and not consumption:
        raise InputError(REF, ["no readings: generation and consumption are both empty"])
    records = []
    for hour in sorted(generation.keys() | consumption.keys()):
        records += match_hour(hour, generation.get(hour, {}), consumption.get(hour, {}))
    records.sort()
    return WorkflowOutput(TYPES, records)
