"""`StateStore`: the worker's state store, one mixin per group of tables."""

from __future__ import annotations

from worker.state.inputs import InputsMixin
from worker.state.meta import MetaMixin
from worker.state.rounds import RoundsMixin
from worker.state.votes import VotesMixin


class StateStore(InputsMixin, RoundsMixin, VotesMixin, MetaMixin):
    """The SQLite state of one worker. Safe to share between threads; one writer at a time.

    Args:
        directory: The state directory (created if missing); the file is `FILE_NAME` in it.
        clock: Source of timestamps (epoch seconds), replaceable in tests.

    Raises:
        StateOpenError: the directory or file cannot be created or opened, is not a worker
            state database, or was written by a newer worker (a higher schema version).
    """
