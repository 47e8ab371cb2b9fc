"""The workflow plugin interface: validated inputs -> deterministic records -> Merkle root.

A workflow is a Python callable referenced in the config as `"module:function"`
(`worker.workflows.matching:run`). Its module declares the schema of one input payload as a pydantic
model, `INPUT = MatchingInput`, and optionally the schema of its parameters, `PARAMS = ...`
(the same names may instead be attributes of the function, for modules with several workflows),
`TYPES = ("string", "uint64", ...)`, the ABI types of its records (the leaf encoding, part of
every round's descriptor: `worker run` needs it), optionally `window_of(input) -> (start, end)`,
the time window a payload's data belongs to (without it, a payload names its window in
`window_start` and `window_end`), optionally `INPUTS = ("production", "consumption")`, the kinds of
input a round needs, each a field of the payload (a window waits for every source that delivers
one: docs/DATA-SOURCES.md), and optionally `facts_of(input) -> iterable of (key, value)`,
what a payload states keyed by what it is about: a payload stating another value for a key than a
payload stored before is refused at arrival (the first one is kept), so a contradiction never
reaches a round.
The callable is called as `function(inputs, params)`:

- `inputs`: a list of `INPUT` instances, one per payload received for the round (in an order
  that may differ between workers, so the result must not depend on it);
- `params`: a `PARAMS` instance, or a dict when the workflow declares no `PARAMS`;

and returns a `WorkflowOutput`: the ABI types of its records (the leaf encoding, e.g.
`["string", "string", "uint64", "uint256"]`) and the records.

Determinism rules. Every honest worker must produce the same bytes from the same inputs, so:

1. No floats in outputs: quantities are integers in a stated unit (energy in Wh), rounded by an
   exact, documented rule that conserves totals. Declare input quantities as strict integers
   (`Field(strict=True)`) too, so that 1.5 or "15" is refused instead of silently converted.
2. Sorted output: records in ascending order (tuple order of their canonical values), without
   duplicates. The order fixes each record's index, which proofs refer to.
3. No wall clock, no randomness, no environment: the result is a function of inputs and params.
   The round's window arrives in the inputs or params if a workflow needs it.
4. No dependence on input order, set or dict iteration order, or the platform (locale, hash seed).
5. A failure is an exception: `InputError` for inputs the workflow cannot use; anything else is a
   bug, reported as `WorkflowFailedError`.

`run_workflow` enforces what it can (input schema, output types, floats, order, non-empty) and turns
every failure into a `WorkflowError`, so a bad payload or a broken workflow never crashes the
worker. `output_tree` / `output_root` build the records' standard Merkle tree and its root.
"""

from __future__ import annotations

import importlib
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from eth_abi.grammar import normalize
from pydantic import BaseModel, ValidationError

from worker.config import validation_problems
from worker.encoding import Record, leaf_codec
from worker.errors import (
    InputError,
    LeafEncodingError,
    WorkflowError,
    WorkflowFailedError,
    WorkflowOutputError,
    WorkflowParamsError,
    WorkflowRefError,
)
from worker.merkle import StandardMerkleTree
from worker.objects import gc_paused

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_REF = re.compile(rf"(?P<module>{_IDENT}(?:\.{_IDENT})*):(?P<attr>{_IDENT}(?:\.{_IDENT})*)")


@dataclass(frozen=True, init=False)
class WorkflowOutput:
    """What a workflow returns: the ABI types of its records and the records (tuples)."""

    types: tuple[str, ...]
    records: tuple[Record, ...]

    def __init__(self, types: Sequence[str], records: Iterable[Sequence[Any]]) -> None:
        object.__setattr__(self, "types", tuple(types))
        object.__setattr__(self, "records", tuple(map(tuple, records)))

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class Workflow:
    """A loaded workflow: its callable and the models of its inputs and params."""

    ref: str
    function: Callable[..., WorkflowOutput]
    input_model: type[BaseModel]
    params_model: type[BaseModel] | None = None
    window_function: Callable[[Any], tuple[int, int] | None] | None = None
    types: tuple[str, ...] | None = None  # declared leaf ABI types (`TYPES`): the round encoding
    facts_function: Callable[[Any], Iterable[tuple[Any, Any]]] | None = None
    inputs: tuple[str, ...] | None = None  # declared kinds of input (`INPUTS`), payload fields

    def window_of(self, payload: Mapping[str, Any]) -> tuple[int, int]:
        """Validates a payload and returns the time window `[start, end)` its data belongs to.

        The workflow module's `window_of(parsed_input)` decides; without one, the payload's own
        `window_start` and `window_end` fields. A round computes the payloads whose window lies
        within the round's window.

        Raises:
            InputError: the payload is invalid or has no window.
        """
        (parsed,) = self.parse_inputs(payload)
        if self.window_function is not None:
            span = self.window_function(parsed)
        else:
            span = (payload.get("window_start"), payload.get("window_end"))
        ok = span is not None and all(isinstance(v, int) and not isinstance(v, bool) for v in span)
        if not ok or not 0 <= span[0] < span[1]:
            raise InputError(self.ref, [f"the payload names no data window (got {span!r})"])
        return int(span[0]), int(span[1])

    def conflicts(self, payload: Mapping[str, Any], earlier: Iterable[Any]) -> list[str]:
        """The facts of a valid `payload` that contradict each other or the `earlier` payloads'.

        Returns:
            One text per contradiction (empty without a `facts_of` or without contradictions).
        """
        if self.facts_function is None:
            return []
        known: dict[Any, Any] = {}
        for other in earlier:
            try:
                (parsed,) = self.parse_inputs(other)
            except InputError:
                continue  # NOTE: stored under an older schema: it states nothing now
            for key, value in self.facts_function(parsed):
                known.setdefault(key, value)
        (parsed,) = self.parse_inputs(payload)
        problems = []
        for key, value in self.facts_function(parsed):
            first = known.setdefault(key, value)
            if first != value:
                problems.append(f"{key} is {value}, {first} was stored first")
        return problems

    def parse_params(self, params: Mapping[str, Any] | None) -> BaseModel | dict[str, Any]:
        """Validates params (call it at start, so bad params fail there).

        Raises:
            WorkflowParamsError: naming each field at fault.
        """
        params = {} if params is None else params
        if not isinstance(params, Mapping):
            raise WorkflowParamsError(
                self.ref, [f"expected a mapping, got {type(params).__name__}"]
            )
        if self.params_model is None:
            return dict(params)
        try:
            return self.params_model.model_validate(dict(params))
        except ValidationError as exc:
            problems = validation_problems(exc)
            raise WorkflowParamsError(
                self.ref, [f"{f or 'params'}: {r}" for f, r in problems]
            ) from exc

    def parse_inputs(self, raw_inputs: Mapping[str, Any] | Sequence[Any]) -> list[BaseModel]:
        """Validates each payload against the workflow's input model.

        Args:
            raw_inputs: One payload (a mapping) or a list of payloads.

        Raises:
            InputError: naming the payload, each field at fault and the reason.
        """
        payloads = [raw_inputs] if isinstance(raw_inputs, Mapping) else raw_inputs
        if isinstance(payloads, str | bytes) or not isinstance(payloads, Sequence):
            raise InputError(self.ref, [f"expected payloads, got {type(raw_inputs).__name__}"])
        parsed, problems = [], []
        with gc_paused():  # NOTE: a day of readings is a million small objects
            for i, payload in enumerate(payloads):
                try:
                    parsed.append(self.input_model.model_validate(payload))
                except ValidationError as exc:
                    problems += [
                        f"input[{i}]{'.' if f else ''}{f}: {r}" for f, r in validation_problems(exc)
                    ]
        if problems:
            raise InputError(self.ref, problems)
        return parsed


def load_workflow(ref: str) -> Workflow:
    """Imports the workflow `ref` ("module:function") and finds its input and params models.

    Raises:
        WorkflowRefError: the reference is malformed, the module cannot be imported, the attribute
            is missing or not callable, or no `INPUT` model is declared.
    """
    match = _REF.fullmatch(ref) if isinstance(ref, str) else None
    if match is None:
        raise WorkflowRefError(str(ref), "expected 'module:function', e.g. 'pkg.module:run'")
    module_name, attr = match["module"], match["attr"]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise WorkflowRefError(ref, f"module {module_name!r} not found") from exc
        raise WorkflowRefError(ref, f"importing {module_name!r} failed: {exc}") from exc
    except Exception as exc:  # NOTE: any error raised while the plugin module runs its top level
        reason = f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        raise WorkflowRefError(ref, reason) from exc
    function: Any = module
    for part in attr.split("."):
        if not hasattr(function, part):
            raise WorkflowRefError(ref, f"{module_name!r} has no attribute {attr!r}")
        function = getattr(function, part)
    if not callable(function):
        raise WorkflowRefError(ref, f"{attr!r} is a {type(function).__name__}, not a callable")
    input_model = _model(ref, function, module, "INPUT")
    if input_model is None:
        reason = "declares no INPUT model (a pydantic BaseModel for one input payload)"
        raise WorkflowRefError(ref, reason)
    window_function = getattr(function, "window_of", None) or getattr(module, "window_of", None)
    facts_function = getattr(function, "facts_of", None) or getattr(module, "facts_of", None)
    for name, hook in (("window_of", window_function), ("facts_of", facts_function)):
        if hook is not None and not callable(hook):
            raise WorkflowRefError(ref, f"{name} must be a callable")
    params = _model(ref, function, module, "PARAMS")
    types = _types(ref, function, module)
    inputs = getattr(function, "INPUTS", None) or getattr(module, "INPUTS", None)
    if inputs is not None and not (
        isinstance(inputs, tuple | list) and inputs and all(isinstance(i, str) for i in inputs)
    ):
        raise WorkflowRefError(ref, f"INPUTS must be a list of payload field names, got {inputs!r}")
    inputs = tuple(inputs) if inputs is not None else None
    return Workflow(ref, function, input_model, params, window_function, types, facts_function,
                    inputs)  # fmt: skip


def _types(ref: str, function: Any, module: Any) -> tuple[str, ...] | None:
    types = getattr(function, "TYPES", None) or getattr(module, "TYPES", None)
    if types is None:
        return None
    try:
        leaf_codec(types)
    except LeafEncodingError as exc:
        raise WorkflowRefError(ref, f"TYPES must be the records' leaf ABI types: {exc}") from exc
    return tuple(types)


def _model(ref: str, function: Any, module: Any, name: str) -> type[BaseModel] | None:
    model = getattr(function, name, None) or getattr(module, name, None)
    if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise WorkflowRefError(ref, f"{name} must be a pydantic BaseModel subclass, got {model!r}")
    return model


def run_workflow(
    workflow: Workflow | str,
    raw_inputs: Mapping[str, Any] | Sequence[Any],
    params: Mapping[str, Any] | None = None,
) -> WorkflowOutput:
    """Validates the inputs, runs the workflow and checks its output against the rules above.

    Args:
        workflow: A loaded workflow, or its reference.
        raw_inputs: One payload (a mapping) or a list of payloads, as received.
        params: The workflow's params from the config.

    Returns:
        The output with records in canonical form.

    Raises:
        InputError: an input does not match the schema, or the workflow rejected it.
        WorkflowError: any other failure (bad reference, params or output, or a workflow bug);
            the caller reports it and carries on.
    """
    if not isinstance(workflow, Workflow):
        workflow = load_workflow(workflow)
    parsed_params = workflow.parse_params(params)
    inputs = workflow.parse_inputs(raw_inputs)
    try:
        output = workflow.function(inputs, parsed_params)
    except WorkflowError:
        raise
    except Exception as exc:  # NOTE: a workflow bug must not take the worker down
        raise WorkflowFailedError(workflow.ref, exc) from exc
    checked = check_output(workflow.ref, output)
    if workflow.types is not None and _normal(checked.types) != _normal(workflow.types):
        # NOTE: the round descriptor names the declared encoding; a root of other leaves
        # would be a vote about records nobody could verify against it.
        declared = list(workflow.types)
        raise WorkflowOutputError(workflow.ref, f"records of types {list(checked.types)}, but "
                                  f"the workflow declares TYPES {declared}")  # fmt: skip
    return checked


def _normal(types: Sequence[str]) -> tuple[str, ...]:
    return tuple(normalize(t) for t in types)


def check_output(name: str, output: Any) -> WorkflowOutput:
    """Checks a workflow's output and returns it with records in canonical form.

    Raises:
        WorkflowOutputError: not a `WorkflowOutput`, no records, bad types, a float, a record
            that does not match the types, or records not in strictly ascending order.
    """
    if not isinstance(output, WorkflowOutput):
        raise WorkflowOutputError(name, f"expected a WorkflowOutput, got {type(output).__name__}")
    if not output.records:
        raise WorkflowOutputError(name, "no records: there is nothing to vote on")
    # NOTE: tuples of exact ints and bytes (what workflows return) are checked a column at a time
    # and kept as they are; only other records are converted, and a float is named first.
    try:
        codec = leaf_codec(output.types)
        if codec.is_static(output.records):
            records = output.records
        else:
            _refuse_floats(name, output.records)
            records, _ = codec.prepare(output.records)
    except LeafEncodingError as exc:
        raise WorkflowOutputError(name, str(exc)) from exc
    if not all(map(operator.lt, records, islice(records, 1, None))):
        i = next(i for i in range(1, len(records)) if not records[i - 1] < records[i])
        what = "a duplicate of" if records[i - 1] == records[i] else "out of order after"
        raise WorkflowOutputError(name, f"record {i} is {what} record {i - 1}; sort them")
    return WorkflowOutput(output.types, records)


def _refuse_floats(name: str, records: Sequence[Record]) -> None:
    for i, record in enumerate(records):
        for j, value in enumerate(record):
            if isinstance(value, float):
                raise WorkflowOutputError(
                    name, f"record {i} field {j} is a float ({value!r}); use integers"
                )


def output_tree(output: WorkflowOutput) -> StandardMerkleTree:
    """The OpenZeppelin-standard Merkle tree of the output's records (record i = leaf value i).

    Raises:
        EmptyTreeError: the output has no records.
        LeafEncodingError: a record does not match the types.
    """
    return StandardMerkleTree.of(output.records, output.types)


def output_root(output: WorkflowOutput) -> str:
    """The Merkle root of the output's records as 0x-hex: the result a worker votes for."""
    return output_tree(output).root
