"""The `votes` and `salts` tables: each vote, commit and reveal (planned -> sent -> confirmed |
failed) and the salts of sealed mode."""

from __future__ import annotations

import os

from worker.errors import SaltConflictError, StateValueError, VoteStateError
from worker.state.base import StoreBase
from worker.state.records import (
    Bytes32,
    VoteRecord,
    b32,
    check_choice,
    check_int,
    from_row,
    to_hex,
)
from worker.state.schema import VOTE_KINDS, VOTE_STATES

# Allowed vote transitions. sent -> sent records a replacement transaction (same nonce), and
# planned -> confirmed a vote found on chain after a restart. failed -> planned is `plan_vote`.
_NEXT_STATES = {
    "planned": {"sent", "confirmed", "failed"},
    "sent": {"sent", "confirmed", "failed"},
    "confirmed": {"confirmed"},
    "failed": set(),
}
_VOTE_KEY = "voting_id = ? AND attempt = ? AND kind = ?"
_SALT_SQL = "SELECT salt, result FROM salts WHERE voting_id = ? AND attempt = ?"


class VotesMixin(StoreBase):
    """Votes and salts of `StateStore`."""

    def plan_vote(self, voting_id: Bytes32, attempt: int, kind: str, result: Bytes32) -> bool:
        """Records the intent to send a vote, commit or reveal. Call it, then send.

        `result` is the round result (the Merkle root) the vote, commit or reveal is for; a commit
        and a reveal need the salt of that result stored first (`ensure_salt`).

        Returns:
            True if the caller may send now (new, or the previous try failed); False if a row
            exists already: then inspect `vote()` (planned: check the chain before resending).

        Raises:
            VoteStateError: a commit or reveal without the salt of `result`.
        """
        key = _vote_key(voting_id, attempt, kind)
        value = b32("result", result)
        with self._tx() as db:
            if kind != "vote":
                salt = db.execute(_SALT_SQL, key[:2]).fetchone()
                if salt is None or salt["result"] != value:
                    why = "no salt stored" if salt is None else f"the salt is for {to_hex(salt[1])}"
                    raise VoteStateError(to_hex(key[0]), key[1], kind, why)
            row = db.execute(f"SELECT state FROM votes WHERE {_VOTE_KEY}", key).fetchone()
            now = self._clock()
            if row is None:
                db.execute(
                    "INSERT INTO votes VALUES (?, ?, ?, ?, 'planned', NULL, NULL, 1, ?, ?)",
                    (*key, value, now, now),
                )
            elif row["state"] == "failed":
                db.execute(
                    "UPDATE votes SET state = 'planned', result = ?, tx_hash = NULL, nonce = NULL,"
                    f" tries = tries + 1, updated_at = ? WHERE {_VOTE_KEY}",
                    (value, now, *key),
                )
            return row is None or row["state"] == "failed"

    def set_vote_state(
        self,
        voting_id: Bytes32,
        attempt: int,
        kind: str,
        state: str,
        *,
        tx_hash: str | None = None,
        nonce: int | None = None,
    ) -> None:
        """Moves a planned vote on: `sent` (with its transaction; again for a replacement),
        `confirmed` (on chain under enough confirmations) or `failed` (reverted or dropped: then
        `plan_vote` may try again).

        Raises:
            VoteStateError: the vote was never planned, or the move is not allowed
                (e.g. confirmed -> sent).
        """
        key = _vote_key(voting_id, attempt, kind)
        check_choice("state", state, VOTE_STATES)
        if tx_hash is not None and not (isinstance(tx_hash, str) and tx_hash.startswith("0x")):
            raise StateValueError("tx_hash", f"expected 0x-hex, got {tx_hash!r}")
        with self._tx() as db:
            row = db.execute(f"SELECT state FROM votes WHERE {_VOTE_KEY}", key).fetchone()
            if row is None:
                raise VoteStateError(to_hex(key[0]), key[1], kind, "was never planned")
            if state not in _NEXT_STATES[row["state"]]:
                why = f"cannot go from {row['state']} to {state}"
                raise VoteStateError(to_hex(key[0]), key[1], kind, why)
            db.execute(
                "UPDATE votes SET state = ?, tx_hash = COALESCE(?, tx_hash), "
                f"nonce = COALESCE(?, nonce), updated_at = ? WHERE {_VOTE_KEY}",
                (state, tx_hash, nonce, self._clock(), *key),
            )

    def vote(self, voting_id: Bytes32, attempt: int, kind: str) -> VoteRecord | None:
        """The stored vote, commit or reveal, or None."""
        rows = self._votes(_VOTE_KEY, _vote_key(voting_id, attempt, kind))
        return rows[0] if rows else None

    def pending_votes(self) -> list[VoteRecord]:
        """Votes planned or sent, not yet confirmed or failed: what to check after a restart."""
        return self._votes("state IN ('planned', 'sent')", ())

    def _votes(self, where: str, args: tuple) -> list[VoteRecord]:
        columns = ", ".join(VoteRecord.__dataclass_fields__)
        sql = f"SELECT {columns} FROM votes WHERE {where} ORDER BY planned_at, voting_id, attempt"
        return [from_row(VoteRecord, row) for row in self._rows(sql, args)]

    def ensure_salt(self, voting_id: Bytes32, attempt: int, result: Bytes32) -> bytes:
        """The salt of a sealed-mode attempt: the stored one, or a new random one stored now.

        Raises:
            SaltConflictError: a salt is stored for a different result (reveal that one).
        """
        vid, value = b32("voting_id", voting_id), b32("result", result)
        with self._tx() as db:
            row = db.execute(_SALT_SQL, (vid, check_int("attempt", attempt, 1))).fetchone()
            if row is not None and row["result"] != value:
                raise SaltConflictError(to_hex(vid), attempt, to_hex(row["result"]), to_hex(value))
            if row is not None:
                return row["salt"]
            salt = os.urandom(32)
            db.execute(
                "INSERT INTO salts VALUES (?, ?, ?, ?, ?)",
                (vid, attempt, salt, value, self._clock()),
            )
            return salt

    def salt(self, voting_id: Bytes32, attempt: int) -> tuple[bytes, str] | None:
        """(salt, result as 0x-hex) stored for a sealed-mode attempt, or None."""
        rows = self._rows(_SALT_SQL, (b32("voting_id", voting_id), attempt))
        return (rows[0]["salt"], to_hex(rows[0]["result"])) if rows else None


def _vote_key(voting_id: Bytes32, attempt: int, kind: str) -> tuple[bytes, int, str]:
    return (
        b32("voting_id", voting_id),
        check_int("attempt", attempt, 1),
        check_choice("kind", kind, VOTE_KINDS),
    )
