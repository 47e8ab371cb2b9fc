"""A tiny workflow for integration tests with windows of seconds: the sum of a window's values.

Input payload: `{"window_start": 1764000000, "window_end": 1764000010, "value": 7}`. One record
per round: (window start, window end, sum of the values).
"""

from pydantic import BaseModel, ConfigDict, Field

from worker.workflow import WorkflowOutput

TYPES = ("uint64", "uint64", "uint256")
REF = f"{__name__}:run"


class Reading(BaseModel):
    """One value for a window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_start: int = Field(strict=True, ge=0)
    window_end: int = Field(strict=True, gt=0)
    value: int = Field(strict=True, ge=0)


INPUT = Reading


def run(inputs: list[Reading], params: dict) -> WorkflowOutput:
    """(start, end, total) of the round's window: the inputs all lie inside it."""
    start = min(i.window_start for i in inputs)
    end = max(i.window_end for i in inputs)
    return WorkflowOutput(TYPES, [(start, end, sum(i.value for i in inputs))])
