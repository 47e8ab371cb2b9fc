"""worker.logs: JSON and human log lines of the `worker` loggers, with secrets masked."""

import io
import json
import logging
import re

import pytest

from worker.errors import LoggingSetupError
from worker.logs import add_secret, clear_secrets, setup_logging

log = logging.getLogger("worker.node")

HUMAN_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (?P<level>[A-Z]+) +(?P<logger>[\w.]+): (?P<rest>.*)$"
)


@pytest.fixture(autouse=True)
def worker_logger():
    """The `worker` logger, put back as it was (handlers, level, propagation) after the test."""
    logger = logging.getLogger("worker")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handlers, level, propagate = saved
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate
    clear_secrets()


@pytest.fixture
def stream():
    return io.StringIO()


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# -------------------------------------------------------------------------------------------------
# JSON
# -------------------------------------------------------------------------------------------------


def test_setup_logging__json_lines_carry_extras(stream):
    setup_logging("json", "INFO", stream=stream)

    log.info("voted %s", "0xabc", extra={"round": 7, "kinds": ["commit"], "ok": True})
    log.warning("late")

    first, second = json_lines(stream)
    assert first["level"] == "INFO"
    assert first["logger"] == "worker.node"
    assert first["message"] == "voted 0xabc"
    assert (first["round"], first["kinds"], first["ok"]) == (7, ["commit"], True)
    assert "exc" not in first
    assert (second["level"], second["message"]) == ("WARNING", "late")


def test_setup_logging__json_time_is_utc_with_milliseconds(stream):
    setup_logging("json", "INFO", stream=stream)

    log.info("tick")

    (line,) = json_lines(stream)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_setup_logging__json_unserialisable_extras_as_str(stream):
    class Point:
        def __str__(self) -> str:
            return "Point(1, 2)"

    setup_logging("json", "INFO", stream=stream)

    log.info("x", extra={"point": Point(), "ratio": float("nan"), "ids": {3}})

    (line,) = json_lines(stream)
    assert (line["point"], line["ratio"], line["ids"]) == ("Point(1, 2)", "nan", "{3}")


def test_setup_logging__json_extras_do_not_overwrite_fields(stream):
    setup_logging("json", "INFO", stream=stream)

    log.info("real", extra={"level": "fake", "time": 0})

    (line,) = json_lines(stream)
    assert line["level"] == "INFO"
    assert (line["extra_level"], line["extra_time"]) == ("fake", 0)


def test_setup_logging__json_exc_holds_the_traceback(stream):
    setup_logging("json", "INFO", stream=stream)

    try:
        raise RuntimeError("node gone")
    except RuntimeError:
        log.exception("send failed")

    (line,) = json_lines(stream)
    assert line["message"] == "send failed"
    assert line["exc"].startswith("Traceback (most recent call last):")
    assert line["exc"].endswith("RuntimeError: node gone")


# -------------------------------------------------------------------------------------------------
# Human
# -------------------------------------------------------------------------------------------------


def test_setup_logging__human_line_shape(stream):
    setup_logging("human", "INFO", stream=stream)

    log.info("round %d closed", 7, extra={"agreed": "yes", "votes": 4})

    line = stream.getvalue()
    assert line.endswith("\n")
    match = HUMAN_LINE.match(line.rstrip("\n"))
    assert match, line
    assert (match["level"], match["logger"]) == ("INFO", "worker.node")
    assert match["rest"] == "round 7 closed agreed=yes votes=4"
    assert " INFO  worker.node: " in line


def test_setup_logging__human_quotes_values_with_spaces(stream):
    setup_logging("human", "INFO", stream=stream)

    log.info("source failed", extra={"reason": "connection refused", "empty": ""})

    assert stream.getvalue().rstrip("\n").endswith('reason="connection refused" empty=""')


def test_setup_logging__human_traceback_on_following_lines(stream):
    setup_logging("human", "INFO", stream=stream)

    try:
        raise KeyError("votingId")
    except KeyError:
        log.exception("lookup failed")

    first, *rest = stream.getvalue().rstrip("\n").split("\n")
    assert first.endswith("ERROR worker.node: lookup failed")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "KeyError: 'votingId'"


# -------------------------------------------------------------------------------------------------
# Secrets
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["json", "human"])
def test_add_secret__masked_in_message_and_extras(stream, format):
    add_secret("correct-horse-battery")
    add_secret("Bearer tok3n-xyz")
    setup_logging(format, "INFO", stream=stream)

    extra = {"headers": {"Authorization": "Bearer tok3n-xyz"}, "note": "pw=correct-horse-battery"}

    log.info("unlocking with %s", "correct-horse-battery", extra=extra)

    text = stream.getvalue()
    assert "correct-horse-battery" not in text
    assert "tok3n-xyz" not in text
    assert "unlocking with ***" in text
    if format == "json":
        (line,) = json_lines(stream)
        assert line["headers"] == {"Authorization": "***"}
        assert line["note"] == "pw=***"


def test_add_secret__masked_in_traceback(stream):
    add_secret("s3cr3t-passphrase")
    setup_logging("json", "INFO", stream=stream)

    try:
        raise ValueError("bad passphrase s3cr3t-passphrase")
    except ValueError:
        log.exception("unlock failed")

    (line,) = json_lines(stream)
    assert "s3cr3t-passphrase" not in line["exc"]
    assert line["exc"].endswith("ValueError: bad passphrase ***")


def test_add_secret__masked_in_str_of_an_object(stream):
    class Url:
        def __str__(self) -> str:
            return "https://user:pa55word@api.example.org"

    add_secret("pa55word")
    setup_logging("json", "INFO", stream=stream)

    log.info("poll", extra={"url": Url()})

    (line,) = json_lines(stream)
    assert line["url"] == "https://user:***@api.example.org"


def test_add_secret__short_values_are_ignored(stream):
    assert not add_secret("abc")
    assert not add_secret("")
    assert not add_secret(None)
    assert add_secret("abcd")
    setup_logging("json", "INFO", stream=stream)

    log.info("abc abcd")

    (line,) = json_lines(stream)
    assert line["message"] == "abc ***"


def test_add_secret__secret_inside_a_longer_one_masks_the_longer_whole(stream):
    add_secret("token")
    add_secret("token-with-suffix")
    setup_logging("json", "INFO", stream=stream)

    log.info("token-with-suffix")

    (line,) = json_lines(stream)
    assert line["message"] == "***"


def test_add_secret__applies_to_handlers_set_up_before(stream):
    setup_logging("json", "INFO", stream=stream)
    add_secret("late-secret")

    log.info("late-secret")

    assert json_lines(stream)[0]["message"] == "***"


# -------------------------------------------------------------------------------------------------
# Setup
# -------------------------------------------------------------------------------------------------


def test_setup_logging__twice_does_not_duplicate(stream, worker_logger):
    setup_logging("human", "INFO", stream=stream)
    setup_logging("json", "INFO", stream=stream)

    log.info("once")

    assert [line["message"] for line in json_lines(stream)] == ["once"]
    assert len(worker_logger.handlers) == 1


def test_setup_logging__level_filters_lower_records(stream):
    setup_logging("json", "warning", stream=stream)

    log.info("hidden")
    log.debug("hidden")
    log.warning("shown")

    assert [line["message"] for line in json_lines(stream)] == ["shown"]


def test_setup_logging__defaults_to_stderr(capsys):
    setup_logging("human", "INFO")

    log.info("to stderr")

    captured = capsys.readouterr()
    assert captured.err.rstrip("\n").endswith("INFO  worker.node: to stderr")
    assert captured.out == ""


def test_setup_logging__leaves_other_loggers_alone(stream):
    root = logging.getLogger()
    root_handlers = list(root.handlers)
    setup_logging("json", "DEBUG", stream=stream)

    logging.getLogger("web3.providers").warning("not ours")
    log.warning("ours")

    assert root.handlers == root_handlers
    assert [line["message"] for line in json_lines(stream)] == ["ours"]


@pytest.mark.parametrize(
    ("format", "level", "field"), [("xml", "INFO", "format"), ("json", "VERBOSE", "level")]
)
def test_setup_logging__unknown_format_or_level_raises(stream, format, level, field):
    with pytest.raises(LoggingSetupError, match=f"unknown {field}") as caught:
        setup_logging(format, level, stream=stream)

    assert caught.value.field == field
