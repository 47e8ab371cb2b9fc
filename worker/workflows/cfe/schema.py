"""Input and parameter schemas of the 24/7 CFE matching workflow (pydantic, strict).

Inputs follow the shape of EnergyTag granular certificate (GC) data: production per device and
interval, consumption per consumer and interval, energy in integer Wh. The network's matching
rules (market zones, cross-zone areas, priority tiers) are the workflow's params.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

HOUR = 3600
MAX_WH = 10**15  # 1 TWh in one interval at one site: far above any real site, far below uint256
MAX_CERTIFICATE = (1 << 112) - 1  # certificate ids fit the 112 bits the leaf gives them
MAX_TIERS = 255  # a tier's number is one byte of the leaf

# An id is 1-32 bytes (it becomes the bytes32 of a leaf): letters, digits and `. _ : / -`.
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,31}$")]
Seconds = Annotated[int, Field(strict=True, ge=0, lt=1 << 63)]
WattHours = Annotated[int, Field(strict=True, ge=0, le=MAX_WH)]
CertificateId = Annotated[int, Field(strict=True, ge=1, le=MAX_CERTIFICATE)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Certificates(BaseModel):
    """A bundle of granular certificates, one per Wh: ids `first` to `last`, both included."""

    model_config = _STRICT

    first: CertificateId
    last: CertificateId


class _Interval(BaseModel):
    model_config = _STRICT

    start: Seconds
    end: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> _Interval:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class Production(_Interval):
    """Energy produced by one device in one interval `[start, end)` (UTC epoch seconds)."""

    device: Id
    zone: Id
    source: Id  # energy source, e.g. "solar", "wind", "hydro" (as the registry names it)
    wh: WattHours
    certificates: Certificates | None = None


class Consumption(_Interval):
    """Energy consumed by one consumer (a meter) in one interval `[start, end)`."""

    consumer: Id
    zone: Id
    wh: WattHours


class CfeInput(BaseModel):
    """One input payload: production and/or consumption readings (either list may be empty)."""

    model_config = _STRICT

    production: list[Production] = []
    consumption: list[Consumption] = []


# -------------------------------------------------------------------------------------------------
# Params: zones, cross-zone areas, tiers
# -------------------------------------------------------------------------------------------------


class Members(BaseModel):
    """The devices and consumers of one group of a `group` tier (a contract, a site, a region)."""

    model_config = _STRICT

    devices: list[Id] = []
    consumers: list[Id] = []


class Tier(BaseModel):
    """One priority tier: which device-consumer pairs may match in it.

    `scope` is `group` (same group of `groups`, and deliverable), `zone` (same market zone) or
    `area` (same cross-zone area, or same zone).
    """

    model_config = _STRICT

    name: Name
    scope: Literal["group", "zone", "area"]
    groups: dict[Name, Members] = {}

    @model_validator(mode="after")
    def _groups(self) -> Tier:
        if self.scope != "group":
            if self.groups:
                raise ValueError(f"tier {self.name}: only a group tier has groups")
            return self
        if not self.groups:
            raise ValueError(f"tier {self.name}: a group tier needs at least one group")
        for side in ("devices", "consumers"):
            seen: dict[str, str] = {}
            for group, members in sorted(self.groups.items()):
                for party in getattr(members, side):
                    if seen.setdefault(party, group) != group:
                        raise ValueError(
                            f"tier {self.name}: {party} is in groups {seen[party]} and {group}"
                        )
        return self


class CfeParams(BaseModel):
    """The network's matching rules."""

    model_config = _STRICT

    zones: list[Id] = Field(min_length=1)
    areas: dict[Name, list[Id]] = {}
    tiers: list[Tier] = Field(
        default=[Tier(name="zone", scope="zone")], min_length=1, max_length=MAX_TIERS
    )

    @model_validator(mode="after")
    def _consistent(self) -> CfeParams:
        if len(set(self.zones)) != len(self.zones):
            raise ValueError("zones: a zone is listed twice")
        area_of: dict[str, str] = {}
        for area, zones in sorted(self.areas.items()):
            for zone in zones:
                if zone not in self.zones:
                    raise ValueError(f"areas: {area} names zone {zone!r}, not one of zones")
                if area_of.setdefault(zone, area) != area:
                    raise ValueError(f"areas: zone {zone} is in areas {area_of[zone]} and {area}")
        names = [tier.name for tier in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tiers: two tiers have the same name")
        return self
