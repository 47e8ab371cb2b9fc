"""Named input errors of the 24/7 CFE matching workflow: each an `InputError` of the worker.

Each subclass names what is at fault in its attributes and builds its message in `__init__`, so an
operator reads one line (`workflow 'worker.workflows.cfe:run': invalid input: ...`) and a caller
can tell the cases apart by type.
"""

from __future__ import annotations

from worker.errors import InputError

REF = "worker.workflows.cfe:run"  # how a config refers to this workflow


class UnknownZoneError(InputError):
    """A reading names a market zone that is not in the network's `zones`."""

    def __init__(self, side: str, party: str, zone: str) -> None:
        self.side, self.party, self.zone = side, party, zone
        super().__init__(REF, [f"{side}: {party} is in zone {zone!r}, not one of params.zones"])


class IntervalTooLongError(InputError):
    """An interval is longer than one hour (EnergyTag granular certificates are <= 1 h)."""

    def __init__(self, side: str, party: str, start: int, end: int) -> None:
        self.side, self.party, self.start, self.end = side, party, start, end
        super().__init__(
            REF, [f"{side}: {party} interval [{start}, {end}) is {end - start} s, longer than 3600"]
        )


class OverlappingIntervalsError(InputError):
    """Two different intervals of one round overlap: intervals must be equal or disjoint."""

    def __init__(self, first: tuple[int, int], second: tuple[int, int]) -> None:
        self.first, self.second = first, second
        super().__init__(
            REF,
            [
                f"intervals [{first[0]}, {first[1]}) and [{second[0]}, {second[1]}) overlap; "
                "every reading of a round must use the same interval grid"
            ],
        )


class ConflictingDuplicateError(InputError):
    """A device or consumer is given twice for one interval with different values, or in two
    zones (or with two energy sources) in one round."""

    def __init__(self, side: str, party: str, what: str, first: object, second: object) -> None:
        self.side, self.party, self.what = side, party, what
        self.values = (first, second)
        super().__init__(REF, [f"{side}: {party} {what} is both {first!r} and {second!r}"])


class CertificateBundleError(InputError):
    """A certificate bundle does not hold exactly the reading's Wh, or two bundles overlap."""

    def __init__(self, device: str, start: int, reason: str) -> None:
        self.device, self.start, self.reason = device, start, reason
        super().__init__(REF, [f"production: {device} at {start}: certificates {reason}"])


class NoReadingsError(InputError):
    """The round's payloads hold no production and no consumption at all."""

    def __init__(self) -> None:
        super().__init__(REF, ["no readings: production and consumption are both empty"])
