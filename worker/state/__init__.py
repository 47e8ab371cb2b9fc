"""The worker's local state: one SQLite file, written before the worker acts on it.

Tables: `inputs` (data received, idempotent per source and key), `rounds` (each attempt's result
and records tree) with `round_records`, `votes` (each vote, commit and reveal: planned -> sent
-> confirmed | failed), `salts` (sealed mode), `outcomes` (what the contract decided), and
`schema_version`.

Crash safety. Every write is committed before its method returns (WAL journal, `synchronous=FULL`),
so a caller may act afterwards: ack a broker message after `put_input`, send a transaction after
`plan_vote`, send a commit after `ensure_salt`. After `kill -9` at any moment, the store holds each
write entirely or not at all. A vote has one row per (votingId, attempt, kind), so it can never be
recorded as sent twice; a `planned` row found at restart means "the transaction may have been sent:
check the chain before sending again". A round's records can be replaced only until a vote or
commit of that attempt is planned, so proofs always match the result voted for.

The records tree of a round is kept as its nodes and its records in blocks (`trees`), one copy
from which `proof_for` serves a proof reading one block, whatever the size of the round.

Modules: `schema` (tables and migrations), `records` (stored records and argument checks),
`trees` (how a records tree is kept), `base`
(connection and transactions), `inputs`, `rounds` (with outcomes) and `votes` (with salts), the
table mixins, and `store` (`StateStore`, which joins them).
"""

from worker.state.records import Bytes32, Outcome, Proof, RoundRecord, VoteRecord
from worker.state.schema import (
    FILE_NAME,
    ROUND_STATUSES,
    SCHEMA_VERSION,
    VOTE_KINDS,
    VOTE_STATES,
)
from worker.state.store import StateStore

__all__ = [
    "FILE_NAME",
    "ROUND_STATUSES",
    "SCHEMA_VERSION",
    "VOTE_KINDS",
    "VOTE_STATES",
    "Bytes32",
    "Outcome",
    "Proof",
    "RoundRecord",
    "StateStore",
    "VoteRecord",
]
