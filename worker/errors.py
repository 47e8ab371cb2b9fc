"""Exceptions of the worker package: one base; each subclass builds its message in `__init__`."""

from collections.abc import Sequence
from typing import Any


class WorkerError(Exception):
    """Base of every exception the worker package raises on purpose."""


# -------------------------------------------------------------------------------------------------
# Merkle trees of records
# -------------------------------------------------------------------------------------------------


class MerkleError(WorkerError):
    """Base of the errors of `worker.merkle`."""


class EmptyTreeError(MerkleError):
    """A tree was asked for with no records."""

    def __init__(self) -> None:
        super().__init__("cannot build a Merkle tree from zero records")


class LeafEncodingError(MerkleError):
    """A leaf encoding (ABI type list) is invalid, or a record does not match it."""

    def __init__(self, types: Sequence[str], reason: str) -> None:
        self.types = list(types)
        self.reason = reason
        super().__init__(f"leaf encoding {self.types}: {reason}")


class LeafNotFoundError(MerkleError):
    """A record was looked up that is not a leaf of the tree."""

    def __init__(self, value: Any) -> None:
        self.value = value
        super().__init__(f"record {value!r} is not in the tree")


class LeafIndexError(MerkleError):
    """A record index is out of range."""

    def __init__(self, index: int, length: int) -> None:
        self.index = index
        self.length = length
        super().__init__(f"record index {index} is out of range for a tree of {length} records")


class InvalidNodeError(MerkleError):
    """A root, leaf hash or proof element is not 32 bytes."""

    def __init__(self, node: Any) -> None:
        self.node = node
        super().__init__(f"a Merkle node must be 32 bytes (bytes or 0x-hex), got {node!r}")


class InvalidDumpError(MerkleError):
    """A tree dump is malformed or inconsistent."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"cannot load Merkle tree dump: {reason}")


# -------------------------------------------------------------------------------------------------
# Data sources (HTTP JSON APIs, NATS JetStream)
# -------------------------------------------------------------------------------------------------


class SourceError(WorkerError):
    """Base of the errors of `worker.sources`; `source` is the configured name of the source."""

    source: str


class SourceConfigError(SourceError):
    """A source was constructed with an invalid setting."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source = source
        self.field = field
        self.reason = reason
        super().__init__(f"source {source!r}: invalid setting {field}: {reason}")


class SourceUnavailableError(SourceError):
    """A source could not be reached, or kept failing, for all the attempts it was allowed."""

    def __init__(self, source: str, target: str, attempts: int, reason: str) -> None:
        self.source = source
        self.target = target
        self.attempts = attempts
        self.reason = reason
        super().__init__(
            f"source {source!r}: {target} unavailable after {attempts} attempt(s): {reason}"
        )


class SourceHttpError(SourceError):
    """An HTTP API answered with a status that retrying cannot fix (for example 404 or 401)."""

    def __init__(self, source: str, url: str, status: int, reason: str = "") -> None:
        self.source = source
        self.url = url
        self.status = status
        self.reason = reason
        detail = f" {reason}" if reason else ""
        super().__init__(f"source {source!r}: GET {url} answered HTTP {status}{detail}")


class SourcePayloadError(SourceError):
    """A payload is not JSON, has the wrong top-level shape, or failed validation."""

    def __init__(self, source: str, reason: str, key: str | None = None) -> None:
        self.source = source
        self.reason = reason
        self.key = key
        where = f" (key {key})" if key else ""
        super().__init__(f"source {source!r}: invalid payload{where}: {reason}")


class SourceConflictError(SourcePayloadError):
    """A valid payload contradicts data stored before; the first one is kept, this one refused."""

    def __init__(self, source: str, key: str, conflicts: Sequence[str]) -> None:
        self.conflicts = list(conflicts)
        shown = "; ".join(self.conflicts[:3]) + ("; ..." if len(self.conflicts) > 3 else "")
        super().__init__(source, f"contradicts stored data, the first copy is kept: {shown}", key)


# -------------------------------------------------------------------------------------------------
# Configuration
# -------------------------------------------------------------------------------------------------


class ConfigError(WorkerError):
    """The worker configuration is missing, unreadable or invalid; names each field at fault."""

    def __init__(self, problems: Sequence[tuple[str, str]], path: str | None = None) -> None:
        self.problems = list(problems)
        self.path = path
        self.field, self.reason = self.problems[0] if self.problems else ("", "invalid")
        where = f"invalid config {path}: " if path else "invalid config: "
        super().__init__(where + "; ".join(f"{f}: {r}" if f else r for f, r in self.problems))


class SourceInputsError(ConfigError):
    """The sources do not fit the workflow's inputs: an input no source delivers, or a source
    delivering an input the workflow does not declare."""

    def __init__(self, reason: str) -> None:
        super().__init__([("sources", reason)])


# -------------------------------------------------------------------------------------------------
# Triggers
# -------------------------------------------------------------------------------------------------


class TriggerError(WorkerError):
    """A trigger was given an invalid schedule, window, time or event."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"trigger: {reason}")


# -------------------------------------------------------------------------------------------------
# Workflows
# -------------------------------------------------------------------------------------------------


class WorkflowError(WorkerError):
    """Base of the errors of `worker.workflow`; `workflow` names the workflow (its reference)."""

    workflow: str


class WorkflowRefError(WorkflowError):
    """A workflow reference ("module:function") cannot be resolved to a usable workflow."""

    def __init__(self, ref: str, reason: str) -> None:
        self.workflow = ref
        self.reason = reason
        super().__init__(f"workflow {ref!r}: {reason}")


class WorkflowParamsError(WorkflowError):
    """The configured parameters do not match the workflow's parameter schema."""

    def __init__(self, workflow: str, problems: Sequence[str]) -> None:
        self.workflow = workflow
        self.problems = list(problems)
        super().__init__(f"workflow {workflow!r}: invalid params: " + "; ".join(self.problems))


class InputError(WorkflowError):
    """Input data do not match the workflow's input schema or cannot be processed by it."""

    def __init__(self, workflow: str, problems: Sequence[str]) -> None:
        self.workflow = workflow
        self.problems = list(problems)
        super().__init__(f"workflow {workflow!r}: invalid input: " + "; ".join(self.problems))


class WorkflowOutputError(WorkflowError):
    """A workflow returned output that breaks the output or determinism rules."""

    def __init__(self, workflow: str, reason: str) -> None:
        self.workflow = workflow
        self.reason = reason
        super().__init__(f"workflow {workflow!r}: invalid output: {reason}")


class WorkflowFailedError(WorkflowError):
    """A workflow raised an unexpected exception (a bug in the workflow, not bad input)."""

    def __init__(self, workflow: str, error: BaseException) -> None:
        self.workflow = workflow
        self.error = error
        super().__init__(f"workflow {workflow!r} failed: {type(error).__name__}: {error}")


# -------------------------------------------------------------------------------------------------
# Local state store
# -------------------------------------------------------------------------------------------------


class StateError(WorkerError):
    """Base of the errors of `worker.state`."""


class StateOpenError(StateError):
    """The state database cannot be opened, created or migrated."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"state store {path}: {reason}")


class StateValueError(StateError):
    """A value given to the state store is invalid (bad id, window, payload or kind)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"state store: invalid {field}: {reason}")


class VoteStateError(StateError):
    """A vote transition is not allowed, e.g. recording a vote as sent that was never planned."""

    def __init__(self, voting_id: str, attempt: int, kind: str, reason: str) -> None:
        self.voting_id = voting_id
        self.attempt = attempt
        self.kind = kind
        self.reason = reason
        super().__init__(f"{kind} of round {voting_id} attempt {attempt}: {reason}")


class SaltConflictError(StateError):
    """A salt is already stored for a sealed-mode round attempt, for a different result."""

    def __init__(self, voting_id: str, attempt: int, stored: str, requested: str) -> None:
        self.voting_id = voting_id
        self.attempt = attempt
        super().__init__(
            f"round {voting_id} attempt {attempt}: a salt is stored for result {stored}, "
            f"not {requested}; the commitment may already be on chain, so reveal {stored}"
        )


class RoundNotFoundError(StateError):
    """A round, or the tree of its records, is not in the state store."""

    def __init__(self, voting_id: str, attempt: int | None = None, reason: str = "") -> None:
        self.voting_id = voting_id
        self.attempt = attempt
        which = f" attempt {attempt}" if attempt is not None else ""
        detail = f": {reason}" if reason else ""
        super().__init__(f"round {voting_id}{which} is not in the state store{detail}")


# -------------------------------------------------------------------------------------------------
# Chain: connection, start-up checks, transactions
# -------------------------------------------------------------------------------------------------


class ChainError(WorkerError):
    """Base of the errors of `worker.chain`, `worker.submit` and `worker.watch`."""


# Exit codes of `worker run` (docs/WORKER.md): a supervisor can tell why a worker stopped.
EXIT_STOPPED = 0  # stopped on request (SIGTERM, Ctrl-C)
EXIT_FATAL = 1  # invalid config, unreachable node, wrong chain, locked account, ...
EXIT_CHAIN_GONE = 3  # no contract code at the manifest's address: the chain was reset, redeploy
EXIT_NOT_ENROLLED = 4  # the account is not (or no longer) an active worker of the pool
EXIT_LOCKED = 5  # another worker process runs with this account or state directory


class StartupError(ChainError):
    """A fatal problem, found at start or while running: the worker stops until the operator
    fixes it, with `exit_code`."""

    exit_code = EXIT_FATAL

    def __init__(self, what: str, reason: str, hint: str | None = None) -> None:
        self.what, self.reason, self.hint = what, reason, hint
        super().__init__(f"{what}: {reason}" + (f" ({hint})" if hint else ""))


class ChainGoneError(StartupError):
    """A contract of the manifest has no code on the node's chain (reset chain, wrong node)."""

    exit_code = EXIT_CHAIN_GONE


class NotEnrolledError(StartupError):
    """The account is not an active worker of the pool (never added, or removed)."""

    exit_code = EXIT_NOT_ENROLLED


class LockedError(StartupError):
    """Another worker process holds the lock of this account or state directory."""

    exit_code = EXIT_LOCKED


class ManifestError(StartupError):
    """The deployment manifest is missing or malformed."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"deployment manifest {path}", reason, "deploy with `ape run deploy`")


class TransactionError(ChainError):
    """A transaction could not be sent or was reverted."""

    def __init__(self, action: str, reason: str, error: str | None = None) -> None:
        self.action, self.reason, self.error = action, reason, error
        super().__init__(f"{action}: {reason}")


class ChainUnavailableError(ChainError):
    """The node did not answer after the retries; the caller tries again on its next tick."""

    def __init__(self, what: str, error: BaseException) -> None:
        self.what = what
        super().__init__(f"{what}: node unavailable ({type(error).__name__}: {error})")


# -------------------------------------------------------------------------------------------------
# Operator surface (metrics and health endpoint, logging)
# -------------------------------------------------------------------------------------------------


class MetricsPortError(WorkerError):
    """The metrics and health endpoint cannot listen on the configured host and port."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"metrics endpoint cannot listen on {host}:{port}: {reason}")


class LoggingSetupError(WorkerError):
    """Logging was set up with an unknown format or level."""

    def __init__(self, field: str, value: Any, choices: Sequence[str]) -> None:
        self.field = field
        self.value = value
        self.choices = list(choices)
        super().__init__(
            f"logging: unknown {field} {value!r}; use one of {', '.join(self.choices)}"
        )
