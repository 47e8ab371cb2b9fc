"""Data in: the sink every source hands its batches to.

`Intake.validate` is the sources' payload check (the workflow's input model and window), run while
the payload is decoded, so an invalid payload is refused before anything is stored. `Intake.store`
is the sink: it refuses a payload that contradicts one stored before (the workflow's `facts_of`;
the first copy is kept) and stores the others with their window. A refused payload raises
`SourcePayloadError`, which the sources count, log once and never deliver again (a NATS message is
terminated), so hostile or contradictory data never blocks a window that also has valid data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from worker.errors import InputError, SourceConflictError
from worker.sources import SourceBatch
from worker.state import StateStore
from worker.workflow import Workflow


class Intake:
    """Checks and stores the payloads of the sources.

    Args:
        workflow: The loaded workflow (its input model, `window_of` and `facts_of`).
        store: The state store.
        metrics: Optional `worker.metrics.Metrics` (counts stored inputs).
        health: Optional `worker.health.Health` (shows when the last input arrived).
    """

    def __init__(self, workflow: Workflow, store: StateStore, metrics: Any = None,
                 health: Any = None) -> None:  # fmt: skip
        self.workflow, self.store, self.metrics, self.health = workflow, store, metrics, health

    def validate(self, payload: Any) -> None:
        """The sources' check of a decoded payload.

        Raises:
            ValueError: the payload does not match the input model or names no window.
        """
        try:
            self.workflow.window_of(payload)
        except InputError as exc:
            raise ValueError(str(exc)) from exc

    def validator(self, source: str, delivers: Sequence[str] | None) -> Callable[[Any], None]:
        """The check of the payloads of one source: `validate`, and that it holds only the kinds
        of input (`workflow.inputs`) the source delivers (None: any of them)."""
        others = sorted(
            set(self.workflow.inputs or ()) - set(delivers or self.workflow.inputs or ())
        )

        def check(payload: Any) -> None:
            self.validate(payload)
            if held := [name for name in others if payload.get(name)]:
                raise ValueError(f"source {source!r} delivers {', '.join(delivers or [])}, but "
                                 f"the payload holds {', '.join(held)}")  # fmt: skip

        return check

    async def receive(self, batch: SourceBatch) -> None:
        """Stores one validated payload with its window; the source acks it afterwards.

        Raises:
            SourceConflictError: the payload contradicts one stored before.
        """
        start, end = self.workflow.window_of(batch.payload)
        earlier = [i["payload"] for i in self.store.inputs_overlapping(start, end)]
        conflicts = self.workflow.conflicts(batch.payload, earlier)
        if conflicts:
            raise SourceConflictError(batch.source, batch.key, conflicts)
        stored = self.store.put_input(batch.source, batch.key, start, end, batch.payload)
        if stored and self.metrics is not None:
            self.metrics.inputs_stored()
        if self.health is not None:
            self.health.set_info("last_input", batch.received_at)
