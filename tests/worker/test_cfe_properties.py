"""Properties of worker.workflows.cfe on random networks and readings (hypothesis).

A plain model of the rules (zones, areas, tier keys) is written out here independently of the
workflow, and every output is checked against it: conservation, deliverability, tier priority,
proportional shares, sparseness, CFE scores, certificate ranges and independence of input order.
"""

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.worker.cfe_data import CFE, H, by_kind
from worker.workflow import output_root, run_workflow

ZONES = ["A", "B", "C"]
HOURS = 3


@st.composite
def networks(draw):
    """(params, production readings, consumption readings) of a small random network."""
    devices = {f"d{i}": draw(st.sampled_from(ZONES)) for i in range(draw(st.integers(0, 5)))}
    consumers = {f"c{i}": draw(st.sampled_from(ZONES)) for i in range(draw(st.integers(0, 6)))}
    areas = draw(st.sampled_from([{}, {"ab": ["A", "B"]}, {"abc": ZONES}, {"bc": ["B", "C"]}]))
    scopes = draw(st.lists(st.sampled_from(["group", "zone", "area"]), min_size=1, unique=True))
    tiers = []
    for scope in scopes:
        tier = {"name": scope, "scope": scope}
        if scope == "group":
            groups = {
                "g0": {"devices": [], "consumers": []},
                "g1": {"devices": [], "consumers": []},
            }
            for side, parties in (("devices", devices), ("consumers", consumers)):
                for party in parties:
                    group = draw(st.sampled_from([None, "g0", "g1"]))
                    if group:
                        groups[group][side].append(party)
            tier["groups"] = groups
        tiers.append(tier)
    wh = st.one_of(st.none(), st.integers(0, 10), st.integers(0, 10**12))
    production, consumption, next_certificate = [], [], 1
    for hour in range(HOURS):
        start = H + 3600 * hour
        for device, zone in devices.items():
            if (energy := draw(wh)) is not None:
                reading = {"device": device, "zone": zone, "source": "wind", "start": start,
                           "end": start + 3600, "wh": energy}  # fmt: skip
                if energy and draw(st.booleans()):
                    next_certificate += draw(st.integers(0, 3))
                    last = next_certificate + energy - 1
                    reading["certificates"] = {"first": next_certificate, "last": last}
                    next_certificate = last + 1
                production.append(reading)
        for consumer, zone in consumers.items():
            if (energy := draw(wh)) is not None:
                consumption.append({"consumer": consumer, "zone": zone, "start": start,
                                    "end": start + 3600, "wh": energy})  # fmt: skip
    return {"zones": ZONES, "areas": areas, "tiers": tiers}, production, consumption


def tier_key(params, tier, side, party, zone):
    """The group a party is in for a tier (None: not in the tier), by the documented rules."""
    area = next((name for name, zones in params["areas"].items() if zone in zones), None)
    deliverable = ("area", area) if area else ("zone", zone)
    if tier["scope"] == "zone":
        return zone
    if tier["scope"] == "area":
        return deliverable
    group = next((g for g, m in tier["groups"].items() if party in m[side]), None)
    return None if group is None else (group, deliverable)


@settings(max_examples=200, deadline=None)
@given(network=networks(), data=st.data())
def test_cfe__matching_properties(network, data):
    params, production, consumption = network
    readings = [("production", r) for r in production] + [("consumption", r) for r in consumption]
    if not readings:
        return
    shuffled = data.draw(st.permutations(readings))
    cut = data.draw(st.integers(0, len(shuffled)))
    payloads = [{"production": [r for s, r in part if s == "production"],
                 "consumption": [r for s, r in part if s == "consumption"]}
                for part in (shuffled[:cut], shuffled[cut:])]  # fmt: skip

    output = run_workflow(CFE, payloads, params)

    # Any order and split of the readings: the same records, so the same bytes and root.
    canonical = run_workflow(CFE, {"production": production, "consumption": consumption}, params)
    assert output == canonical and output_root(output) == output_root(canonical)
    kinds = by_kind(output.records)
    allocations = kinds[1]
    supply = {(r["device"], r["start"]): r for r in production}
    demand = {(r["consumer"], r["start"]): r for r in consumption}
    zone_of = {r["device"]: r["zone"] for r in production} | {
        r["consumer"]: r["zone"] for r in consumption
    }

    # Conservation per consumer-interval and per device-interval (so per interval too).
    taken, given_ = defaultdict(int), defaultdict(int)
    for consumer, device, start, _, _, wh in allocations:
        assert wh > 0
        taken[consumer, start] += wh
        given_[device, start] += wh
    assert len(kinds[2]) == len(demand) and len(kinds[3]) == len(supply)
    for consumer, _, start, _, _, left in kinds[2]:
        assert taken[consumer, start] + left == demand[consumer, start]["wh"]
    for _, device, start, _, _, excess in kinds[3]:
        assert given_[device, start] + excess == supply[device, start]["wh"]
    # The CFE score of each consumer-interval: floor(matched * 10^6 / consumed), 10^6 if none.
    for consumer, _, start, _, _, ppm in kinds[4]:
        wh = demand[consumer, start]["wh"]
        assert ppm == (taken[consumer, start] * 10**6 // wh if wh else 10**6)

    # The round score of each consumer: the same rule on its sums over the round's intervals.
    assert len(kinds[5]) == len({c for c, _ in demand})
    for consumer, _, _, _, _, ppm in kinds[5]:
        wh = sum(r["wh"] for (c, _), r in demand.items() if c == consumer)
        got = sum(taken[c, s] for c, s in demand if c == consumer)
        assert ppm == (got * 10**6 // wh if wh else 10**6)

    # Every allocation is deliverable: in its tier's group, so in one zone or one area.
    tiers = params["tiers"]
    for consumer, device, _, tier, _, _ in allocations:
        t = tiers[tier - 1]
        key = tier_key(params, t, "consumers", consumer, zone_of[consumer])
        assert key is not None
        assert key == tier_key(params, t, "devices", device, zone_of[device])
        same_area = any({zone_of[consumer], zone_of[device]} <= set(zones)
                        for zones in params["areas"].values())  # fmt: skip
        assert zone_of[consumer] == zone_of[device] or same_area

    for start in {s for _, s in (*supply, *demand)}:
        need = {c: r["wh"] for (c, s), r in demand.items() if s == start}
        offer = {d: r["wh"] for (d, s), r in supply.items() if s == start}
        for number, tier in enumerate(tiers, start=1):
            mine = [a for a in allocations if a[2] == start and a[3] == number]
            # Sparse: at most G + C - 1 allocations per tier and interval.
            assert len(mine) <= max(0, len(need) + len(offer) - 1)
            groups = defaultdict(lambda: (set(), set()))
            for c in need:
                if (k := tier_key(params, tier, "consumers", c, zone_of[c])) is not None:
                    groups[k][0].add(c)
            for d in offer:
                if (k := tier_key(params, tier, "devices", d, zone_of[d])) is not None:
                    groups[k][1].add(d)
            for group_consumers, group_devices in groups.values():
                demand_sum = sum(need[c] for c in group_consumers)
                supply_sum = sum(offer[d] for d in group_devices)
                matched = sum(a[-1] for a in mine if a[0] in group_consumers)
                assert matched == min(demand_sum, supply_sum) if group_devices else matched == 0
                # Proportional: each share within 1 Wh of matched * need / total need.
                sides = (
                    (group_consumers, need, demand_sum, 0),
                    (group_devices, offer, supply_sum, 1),
                )
                for parties, weights, total, side in sides:
                    for p in parties:
                        share = sum(a[-1] for a in mine if a[side] == p)
                        assert abs(share * total - matched * weights[p]) < total or not total
            for consumer, device, _, _, _, wh in mine:
                need[consumer] -= wh
                offer[device] -= wh
            # After a tier, none of its groups has both supply and demand left.
            for group_consumers, group_devices in groups.values():
                left_demand = sum(need[c] for c in group_consumers)
                assert left_demand == 0 or sum(offer[d] for d in group_devices) == 0

    # Certificates: a bundle's ids are split without gaps or overlaps over the device's records.
    for (device, start), reading in supply.items():
        if "certificates" not in reading:
            continue
        ranges = sorted((a[4], a[-1]) for a in allocations if a[1:3] == (device, start))
        ranges += [(r[4], r[-1]) for r in kinds[3] if r[1:3] == (device, start) and r[-1]]
        ranges.sort()
        assert ranges[0][0] == reading["certificates"]["first"]
        for (first, wh), (after, _) in zip(ranges, [*ranges[1:], (None, 0)]):
            assert after is None or after == first + wh
        assert ranges[-1][0] + ranges[-1][1] - 1 == reading["certificates"]["last"]
