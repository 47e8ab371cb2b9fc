"""Logging of the worker: JSON lines or human-readable lines, with secrets masked.

`setup_logging` gives the `worker` logger hierarchy one handler of its own; the root logger and the
loggers of other libraries are left as they are. Every record that handler writes passes through
a `Redactor`, which masks the secrets registered with `add_secret` in the message, the `extra=`
fields and the traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, Literal, TextIO

from worker.errors import LoggingSetupError

LogFormat = Literal["json", "human"]

FORMATS = ("json", "human")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MASK = "***"
# Shorter secrets are ignored: masking every "ab" or "0x" would hide most of a log.
MIN_SECRET_LENGTH = 4

# Attributes every LogRecord has; any other attribute came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Fields of round and transaction lines: JSON lines carry them, the human message says them already.
ROUND_FIELDS = frozenset({"voting_id", "attempt", "window", "tx_hash", "nonce", "gas"})
# Keys of a JSON line that `extra=` fields may not overwrite.
_JSON_KEYS = frozenset({"time", "level", "logger", "message", "exc", "stack"})

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_secrets_pattern: re.Pattern[str] | None = None


# -------------------------------------------------------------------------------------------------
# Secrets
# -------------------------------------------------------------------------------------------------


def add_secret(value: str | None) -> bool:
    """Mask `value` wherever it appears in the worker's logs from now on.

    Args:
        value: A passphrase, token or header value. Values shorter than 4 characters (and None)
            are ignored.

    Returns:
        Whether the value is now masked.
    """
    global _secrets_pattern
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return False
    with _secrets_lock:
        if value not in _secrets:
            _secrets.add(value)
            # NOTE: longest first, so a secret that contains another is masked whole.
            ordered = sorted(_secrets, key=len, reverse=True)
            _secrets_pattern = re.compile("|".join(re.escape(secret) for secret in ordered))
    return True


def clear_secrets() -> None:
    """Forget every registered secret."""
    global _secrets_pattern
    with _secrets_lock:
        _secrets.clear()
        _secrets_pattern = None


class Redactor(logging.Filter):
    """Masks the registered secrets in a record's message, `extra=` fields and traceback."""

    @staticmethod
    def redact(text: str) -> str:
        """`text` with every registered secret replaced by `***`."""
        pattern = _secrets_pattern
        return text if pattern is None else pattern.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets_pattern is None:
            return True
        # NOTE: the record is rewritten in place (message formatted, arguments dropped), so every
        # handler that sees it after this filter sees the masked text.
        record.msg = self.redact(record.getMessage())
        record.args = None
        for key, value in _extras(record):
            setattr(record, key, self._redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self._redact_value(k): self._redact_value(v) for k, v in value.items()}
        if type(value) in (list, tuple, set, frozenset):
            return type(value)(self._redact_value(item) for item in value)
        if isinstance(value, (bool, int, float)) or value is None:
            return value
        # NOTE: any other object is written through `str`; mask that text if it holds a secret.
        text = str(value)
        redacted = self.redact(text)
        return value if redacted == text else redacted


# -------------------------------------------------------------------------------------------------
# Formats
# -------------------------------------------------------------------------------------------------


def _extras(record: logging.LogRecord) -> Iterator[tuple[str, Any]]:
    """The `extra=` fields of a record, in the order given."""
    for key, value in list(record.__dict__.items()):
        if key not in _RECORD_ATTRIBUTES:
            yield key, value


def _timestamp(record: logging.LogRecord) -> datetime:
    return datetime.fromtimestamp(record.created, tz=timezone.utc)


def _traceback(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the `extra=` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record):
            entry[f"extra_{key}" if key in _JSON_KEYS else key] = _jsonable(value)
        exc = _traceback(self, record)
        if exc:
            entry["exc"] = exc
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    """`value` itself if it encodes as strict JSON, else its `str`."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return str(value)
    return value


class HumanFormatter(logging.Formatter):
    """`2026-11-23 10:00:00.123 INFO  worker.node: message key=value`, times in UTC."""

    def format(self, record: logging.LogRecord) -> str:
        when = _timestamp(record).isoformat(sep=" ", timespec="milliseconds")[:23]
        parts = [f"{when} {record.levelname:<5} {record.name}: {record.getMessage()}"]
        parts.extend(f"{key}={_human_value(value)}" for key, value in _extras(record)
                     if key not in ROUND_FIELDS)  # fmt: skip
        text = " ".join(parts)
        exc = _traceback(self, record)
        if exc:
            text += "\n" + exc
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text


def _human_value(value: Any) -> str:
    """A value of `key=value`: quoted (as JSON) when empty or holding spaces, quotes or `=`."""
    text = value if isinstance(value, str) else str(value)
    if not text or any(c.isspace() or c in "\"'=" for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


# -------------------------------------------------------------------------------------------------
# Setup
# -------------------------------------------------------------------------------------------------


class _WorkerHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `setup_logging` installs; marked by its class so a second call replaces it."""


def setup_logging(
    format: LogFormat = "human", level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Send the logs of the `worker` logger hierarchy to `stream`, in `format`, from `level` up.

    Calling it again replaces the handler it installed before, so lines are never duplicated.

    Args:
        format: "json" (one object per line, for log collectors) or "human".
        level: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case).
        stream: Where to write; standard error when omitted.

    Raises:
        LoggingSetupError: The format or the level is unknown.
    """
    if format not in FORMATS:
        raise LoggingSetupError("format", format, FORMATS)
    name = level.upper() if isinstance(level, str) else level
    if name not in LEVELS:
        raise LoggingSetupError("level", level, LEVELS)
    handler = _WorkerHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if format == "json" else HumanFormatter())
    # NOTE: on the handler, not the logger: a logger's filters skip records of its children.
    handler.addFilter(Redactor())
    logger = logging.getLogger("worker")
    for old in [h for h in logger.handlers if isinstance(h, _WorkerHandler)]:
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    logger.setLevel(name)
    # NOTE: not passed on to the root logger, where a handler set up by another library would
    # write every line a second time, in its own format.
    logger.propagate = False


# -------------------------------------------------------------------------------------------------
# Ape's own log lines
# -------------------------------------------------------------------------------------------------

# NOTE: what Ape's keystore account says when it is unlocked for signing and before every
# signature; the worker says the former itself ("account ... unlocked"), the latter is noise.
APE_QUIET = ("Danger! This account will now sign", "Using cached key for")


class _ApeBridge(logging.Handler):
    """Hands Ape's records to the `worker.ape` logger (the worker's format, standard error)."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        level = logging.DEBUG if message.startswith(APE_QUIET) else record.levelno
        target = logging.getLogger("worker.ape")
        if target.isEnabledFor(level):
            target.log(level, "%s", message, exc_info=record.exc_info)


def route_ape_logs() -> None:
    """Sends Ape's log lines through the worker's logger instead of Ape's own handler.

    Ape's handler writes every level to standard output, where it pollutes a command's
    `--json` document; its account warnings (unlock for signing, cached key before each
    signature) are logged at DEBUG. Idempotent.
    """
    ape_logger = logging.getLogger("ape")
    for handler in list(ape_logger.handlers):
        if not isinstance(handler, _ApeBridge):
            ape_logger.removeHandler(handler)
    if not any(isinstance(h, _ApeBridge) for h in ape_logger.handlers):
        ape_logger.addHandler(_ApeBridge())
    ape_logger.propagate = False
