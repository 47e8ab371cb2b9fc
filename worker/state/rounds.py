"""The `rounds` and `outcomes` tables: each attempt's result and records tree, the proofs served
from that tree, and what the contract decided."""

from __future__ import annotations

import json
import zlib

from worker.errors import RoundNotFoundError, StateValueError, VoteStateError
from worker.merkle import StandardMerkleTree
from worker.state.base import StoreBase
from worker.state.records import (
    Bytes32,
    Outcome,
    Proof,
    RoundRecord,
    b32,
    check_choice,
    check_int,
    from_row,
    to_hex,
)
from worker.state.schema import ROUND_STATUSES


class RoundsMixin(StoreBase):
    """Rounds, records, proofs and outcomes of `StateStore`."""

    # ---------------------------------------------------------------------------------------------
    # Rounds, records and proofs
    # ---------------------------------------------------------------------------------------------

    def put_round(
        self,
        voting_id: Bytes32,
        attempt: int,
        tree: StandardMerkleTree | None,
        *,
        window: tuple[int, int] | None = None,
        event_key: str | None = None,
        status: str = "computed",
    ) -> None:
        """Stores a round attempt and its records' tree (None: nothing to vote on), or replaces
        them as long as no vote or commit of the attempt is planned.

        Raises:
            VoteStateError: a vote or commit of this attempt is planned for another result.
        """
        vid, attempt = b32("voting_id", voting_id), check_int("attempt", attempt, 1)
        start, end = window if window is not None else (None, None)
        root, count, encoding, blob = None, None, None, None
        if tree is not None:
            root, count = bytes.fromhex(tree.root[2:]), len(tree)
            encoding = ",".join(tree.leaf_encoding)
            blob = zlib.compress(json.dumps(tree.dump(), separators=(",", ":")).encode())
        with self._tx() as db:
            for row in db.execute(
                "SELECT kind, result FROM votes WHERE voting_id = ? AND attempt = ? "
                "AND kind IN ('vote', 'commit')",
                (vid, attempt),
            ):
                if row["result"] != root:
                    why = f"its records cannot change after the {row[0]} for {to_hex(row[1])}"
                    raise VoteStateError(to_hex(vid), attempt, row[0], why)
            now = self._clock()
            status = check_choice("status", status, ROUND_STATUSES)
            db.execute(
                "INSERT OR REPLACE INTO rounds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE("
                "(SELECT created_at FROM rounds WHERE voting_id = ? AND attempt = ?), ?), ?)",
                (vid, attempt, start, end, event_key, status, root, encoding, count, blob,
                 vid, attempt, now, now),
            )  # fmt: skip
            self._trees.pop((vid, attempt), None)

    def set_round_status(self, voting_id: Bytes32, attempt: int, status: str) -> None:
        """Sets the status of a stored round attempt.

        Raises:
            RoundNotFoundError: the attempt is not stored.
        """
        vid = b32("voting_id", voting_id)
        with self._tx() as db:
            if not db.execute(
                "UPDATE rounds SET status = ?, updated_at = ? WHERE voting_id = ? AND attempt = ?",
                (check_choice("status", status, ROUND_STATUSES), self._clock(), vid, attempt),
            ).rowcount:
                raise RoundNotFoundError(to_hex(vid), attempt)

    def round(self, voting_id: Bytes32, attempt: int | None = None) -> RoundRecord | None:
        """A stored round attempt (the latest attempt if `attempt` is None), or None."""
        rows = self._rounds(
            "voting_id = ? AND (? IS NULL OR attempt = ?) ORDER BY attempt DESC LIMIT 1",
            (b32("voting_id", voting_id), attempt, attempt),
        )
        return rows[0] if rows else None

    def rounds(self, status: str | None = None) -> list[RoundRecord]:
        """The stored round attempts (with `status` if given), oldest first."""
        return self._rounds(
            "? IS NULL OR status = ? ORDER BY created_at, voting_id, attempt", (status, status)
        )

    def _rounds(self, where: str, args: tuple) -> list[RoundRecord]:
        columns = ", ".join(RoundRecord.__dataclass_fields__)
        return [
            from_row(RoundRecord, r)
            for r in self._rows(f"SELECT {columns} FROM rounds WHERE {where}", args)
        ]

    def round_tree(self, voting_id: Bytes32, attempt: int | None = None) -> StandardMerkleTree:
        """The records tree of a round attempt: by default the attempt of the recorded outcome if
        there is one, else the latest attempt that has a tree.

        Raises:
            RoundNotFoundError: no tree is stored for the round (attempt).
        """
        return self._tree(b32("voting_id", voting_id), attempt)[1]

    def _tree(self, vid: bytes, attempt: int | None) -> tuple[int, StandardMerkleTree]:
        if attempt is None and (outcome := self.outcome(vid)) is not None:
            attempt = outcome.attempt
        with self._lock:
            rows = self._rows(
                "SELECT attempt, tree FROM rounds WHERE voting_id = ? AND tree IS NOT NULL "
                "AND (? IS NULL OR attempt = ?) ORDER BY attempt DESC LIMIT 1",
                (vid, attempt, attempt),
            )
            if not rows:
                raise RoundNotFoundError(to_hex(vid), attempt, "no records tree")
            key = (vid, rows[0]["attempt"])
            if key not in self._trees:
                # NOTE: loading re-hashes the whole tree, so a few recent trees stay in memory.
                dump = json.loads(zlib.decompress(rows[0]["tree"]))
                self._trees[key] = StandardMerkleTree.load(dump)
                while len(self._trees) > 4:
                    self._trees.popitem(last=False)
            return key[1], self._trees[key]

    def proof_for(self, voting_id: Bytes32, record_index: int, attempt: int | None = None) -> Proof:
        """The record at `record_index` of a round's result with its Merkle proof.

        Raises:
            RoundNotFoundError: no tree is stored for the round (attempt).
            LeafIndexError: `record_index` is out of range.
        """
        vid = b32("voting_id", voting_id)
        attempt, tree = self._tree(vid, attempt)
        record = tree.at(record_index)
        return Proof(
            voting_id=to_hex(vid),
            attempt=attempt,
            index=record_index,
            record=record,
            leaf_encoding=tree.leaf_encoding,
            encoded="0x" + tree.encode(record_index).hex(),
            leaf_hash=tree.leaf_hash(record_index),
            proof=tree.get_proof(record_index),
            root=tree.root,
        )

    # ---------------------------------------------------------------------------------------------
    # Outcomes
    # ---------------------------------------------------------------------------------------------

    def record_outcome(
        self,
        voting_id: Bytes32,
        kind: str,
        *,
        attempt: int | None = None,
        result: Bytes32 | None = None,
        agreed: bool | None = None,
        fallback: str | None = None,
        chain_index: int | None = None,
        block_number: int | None = None,
    ) -> None:
        """Records (or, e.g. after a reorg, replaces) what the contract decided for a round.

        Args:
            voting_id: The round.
            kind: The settled status, e.g. "Consensus", "Plurality", "Failed", "AwaitingFailover".
            attempt: The deciding attempt.
            result: The recorded result, if any.
            agreed: Whether this worker's vote equals the recorded result (None: it did not vote).
            fallback: The fallback policy applied, if any.
            chain_index: Index of the round in the contract's result chain.
            block_number: Block of the deciding event.
        """
        if not isinstance(kind, str) or not kind:
            raise StateValueError("kind", f"expected a non-empty string, got {kind!r}")
        value = None if result is None else b32("result", result)
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (b32("voting_id", voting_id), kind, attempt, value, agreed, fallback,
                 chain_index, block_number, self._clock()),
            )  # fmt: skip

    def outcome(self, voting_id: Bytes32) -> Outcome | None:
        """The recorded outcome of a round, or None."""
        rows = self._rows(
            "SELECT * FROM outcomes WHERE voting_id = ?", (b32("voting_id", voting_id),)
        )
        return from_row(Outcome, rows[0]) if rows else None
