"""Allocation of one interval: tiers in order, proportional within a tier, one sorted walk.

For each tier, parties are grouped by the tier's key (a group tier: the group and the deliverable
area; a zone tier: the zone; an area tier: the cross-zone area). In each group, with S the
group's remaining supply and D its remaining demand, M = min(S, D) Wh are matched:

1. Each consumer's total m_i is M split in proportion to its remaining demand, each device's total
   n_j is M split in proportion to its remaining supply (`apportion`: largest remainder, ties to
   the lower id). So every consumer of a group gets the same share of its demand, and every device
   sells the same share of its supply.
2. Consumers and devices in ascending id order are paired along one walk: the first consumer
   takes from the first device until one of their totals is used up, then the walk moves on past
   whichever is done. Each allocation uses up a consumer or a device, so a group of c consumers
   and d devices gets at most c + d - 1 allocations.

After a tier, each of its groups has no supply or no demand left, so a lower tier only gets what
no higher tier could use.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from worker.workflows.cfe.records import ALLOCATION, EXCESS, LEFTOVER, PPM, SCORE, id_bytes
from worker.workflows.cfe.records import pack_info as info
from worker.workflows.cfe.schema import CfeParams

Key = Callable[[str, str], Hashable | None]  # (party, zone) -> group key in a tier, None: not in it
Record = tuple[bytes, bytes, int, int]


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Splits `total` in proportion to `weights` by the largest-remainder method.

    Each weight gets floor(total * w / W) (W the sum of weights); the units left over go one each
    to the largest remainders, ties to the lower index. If total <= W, no share exceeds its
    weight (the leftover is smaller than the number of positive remainders).

    Args:
        total: The amount to split, >= 0.
        weights: Weights >= 0, in the order ties are broken (ascending id); W > 0 unless total = 0.

    Returns:
        The shares, in the order of `weights`, summing to `total` exactly.
    """
    if total == 0:
        return [0] * len(weights)
    weight_sum = sum(weights)
    shares, remainders = [], []
    for weight in weights:
        share, remainder = divmod(total * weight, weight_sum)
        shares.append(share)
        remainders.append(remainder)
    left = total - sum(shares)
    if left:
        # NOTE: sorted() is stable, so equal remainders keep ascending index (id) order.
        for i in sorted(range(len(weights)), key=remainders.__getitem__, reverse=True)[:left]:
            shares[i] += 1
    return shares


def tier_keys(params: CfeParams) -> list[Key | tuple[Key, Key]]:
    """The grouping key of each tier of `params`, in tier order: one function for both sides, or
    (device key, consumer key) for a group tier."""
    area_of = {zone: area for area, zones in params.areas.items() for zone in zones}

    def deliverable(zone: str) -> tuple[str, str]:
        return ("area", area_of[zone]) if zone in area_of else ("zone", zone)

    keys: list[Key | tuple[Key, Key]] = []
    for tier in params.tiers:
        if tier.scope == "zone":
            keys.append(lambda _, zone: zone)
        elif tier.scope == "area":
            keys.append(lambda _, zone: deliverable(zone))
        else:
            member = {
                (side, party): group
                for group, members in tier.groups.items()
                for side in ("device", "consumer")
                for party in getattr(members, side + "s")
            }
            keys.append(_group_key(member, deliverable))
    return keys


def _group_key(member: dict[tuple[str, str], str], deliverable: Callable) -> tuple[Key, Key]:
    def device(party: str, zone: str) -> Hashable | None:
        group = member.get(("device", party))
        return None if group is None else (group, deliverable(zone))

    def consumer(party: str, zone: str) -> Hashable | None:
        group = member.get(("consumer", party))
        return None if group is None else (group, deliverable(zone))

    return device, consumer


@dataclass
class Interval:
    """The readings of one interval: {id: (zone, Wh, first certificate or 0)} per side."""

    start: int
    end: int
    devices: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    consumers: dict[str, tuple[str, int]] = field(default_factory=dict)


def match_interval(interval: Interval, keys: list[Key | tuple[Key, Key]]) -> list[Record]:
    """The records of one interval (unsorted): allocations, leftovers, excesses and CFE scores."""
    start, end = interval.start, interval.end
    devices = sorted(interval.devices)
    consumers = sorted(interval.consumers)
    supply = {d: interval.devices[d][1] for d in devices}
    demand = {c: interval.consumers[c][1] for c in consumers}
    certificate = {d: interval.devices[d][2] for d in devices}
    device_ids = {d: id_bytes(d) for d in devices}
    consumer_ids = {c: id_bytes(c) for c in consumers}
    records: list[Record] = []
    for tier, key in enumerate(keys, start=1):
        device_key, consumer_key = key if isinstance(key, tuple) else (key, key)
        groups: dict[Hashable, tuple[list[str], list[str]]] = {}
        for c in consumers:
            k = consumer_key(c, interval.consumers[c][0]) if demand[c] else None
            if k is not None:
                groups.setdefault(k, ([], []))[0].append(c)
        for d in devices:
            k = device_key(d, interval.devices[d][0]) if supply[d] else None
            if k is not None and k in groups:
                groups[k][1].append(d)
        for group_consumers, group_devices in groups.values():
            if not group_devices:
                continue
            needs = [demand[c] for c in group_consumers]
            offers = [supply[d] for d in group_devices]
            matched = min(sum(needs), sum(offers))
            taken = apportion(matched, needs)
            given = apportion(matched, offers)
            i = j = 0
            while i < len(taken) and j < len(given):
                wh = min(taken[i], given[j])
                if wh:
                    c, d = group_consumers[i], group_devices[j]
                    cert = certificate[d]
                    where = info(start, end, ALLOCATION, tier, cert)
                    records.append((consumer_ids[c], device_ids[d], where, wh))
                    if cert:
                        certificate[d] = cert + wh
                    demand[c] -= wh
                    supply[d] -= wh
                    taken[i] -= wh
                    given[j] -= wh
                if not taken[i]:
                    i += 1
                if not given[j]:
                    j += 1
    nobody = bytes(32)
    for c in consumers:
        wh = interval.consumers[c][1]
        score = PPM if wh == 0 else (wh - demand[c]) * PPM // wh
        records.append((consumer_ids[c], nobody, info(start, end, LEFTOVER), demand[c]))
        records.append((consumer_ids[c], nobody, info(start, end, SCORE), score))
    for d in devices:
        cert = certificate[d] if supply[d] else 0
        records.append((nobody, device_ids[d], info(start, end, EXCESS, 0, cert), supply[d]))
    return records
