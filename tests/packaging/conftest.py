"""Fixtures of the packaging tests: the worker tests' broker and deployment."""

from tests.worker.conftest import broker, deploy  # noqa: F401
