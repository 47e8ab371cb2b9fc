"""The `rounds` and `outcomes` tables: each attempt's result and records tree, the proofs served
from that tree, and what the contract decided."""

from __future__ import annotations

import json
import zlib

from worker.encoding import leaf_codec
from worker.errors import (
    InvalidDumpError,
    LeafIndexError,
    RoundNotFoundError,
    StateValueError,
    VoteStateError,
)
from worker.merkle import StandardMerkleTree, proof_of
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
from worker.state.trees import BLOCK, blocks, entry, whole


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
        root, count, encoding, nodes, rows = None, None, None, None, []
        if tree is not None:
            root, count = bytes.fromhex(tree.root[2:]), len(tree)
            encoding, nodes = ",".join(tree.leaf_encoding), tree.nodes()
            rows = [(vid, attempt, *block) for block in blocks(tree)]
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
                "INSERT OR REPLACE INTO rounds (voting_id, attempt, window_start, window_end, "
                "event_key, status, result, leaf_encoding, record_count, tree, nodes, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, COALESCE("
                "(SELECT created_at FROM rounds WHERE voting_id = ? AND attempt = ?), ?), ?)",
                (vid, attempt, start, end, event_key, status, root, encoding, count, nodes,
                 vid, attempt, now, now),
            )  # fmt: skip
            db.execute(
                "DELETE FROM round_records WHERE voting_id = ? AND attempt = ?", (vid, attempt)
            )
            db.executemany("INSERT INTO round_records VALUES (?, ?, ?, ?, ?)", rows)
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

    def _tree_row(self, vid: bytes, attempt: int | None):
        """The stored row of the attempt whose tree is asked for (see `round_tree`)."""
        if attempt is None and (outcome := self.outcome(vid)) is not None:
            attempt = outcome.attempt
        rows = self._rows(
            "SELECT attempt, tree, nodes, leaf_encoding, record_count FROM rounds WHERE "
            "voting_id = ? AND (tree IS NOT NULL OR nodes IS NOT NULL) "
            "AND (? IS NULL OR attempt = ?) ORDER BY attempt DESC LIMIT 1",
            (vid, attempt, attempt),
        )
        if not rows:
            raise RoundNotFoundError(to_hex(vid), attempt, "no records tree")
        return rows[0]

    def _tree(self, vid: bytes, attempt: int | None) -> tuple[int, StandardMerkleTree]:
        with self._lock:
            row = self._tree_row(vid, attempt)
            key = (vid, row["attempt"])
            if key not in self._trees:
                if row["nodes"] is None:
                    # NOTE: an older worker's dump: loading re-hashes the whole tree.
                    tree = StandardMerkleTree.load(json.loads(zlib.decompress(row["tree"])))
                else:
                    parts = self._rows(
                        "SELECT records, tree_indices FROM round_records WHERE voting_id = ? "
                        "AND attempt = ? ORDER BY block",
                        key,
                    )
                    tree = whole(row["nodes"], parts, row["leaf_encoding"].split(","))
                self._trees[key] = tree
                while len(self._trees) > 4:
                    self._trees.popitem(last=False)
            return key[1], self._trees[key]

    def proof_for(self, voting_id: Bytes32, record_index: int, attempt: int | None = None) -> Proof:
        """The record at `record_index` of a round's result with its Merkle proof: one block of
        records and the tree's nodes are read, and the record's leaf hashed (`worker.state.trees`).

        Raises:
            RoundNotFoundError: no tree is stored for the round (attempt).
            LeafIndexError: `record_index` is out of range.
            InvalidDumpError: the stored record does not hash to its leaf (a damaged file).
        """
        vid = b32("voting_id", voting_id)
        row = self._tree_row(vid, attempt)
        if row["nodes"] is None:
            attempt, tree = self._tree(vid, row["attempt"])
            record = tree.at(record_index)
            return Proof(voting_id=to_hex(vid), attempt=attempt, index=record_index,
                         record=record, leaf_encoding=tree.leaf_encoding,
                         encoded="0x" + tree.encode(record_index).hex(),
                         leaf_hash=tree.leaf_hash(record_index),
                         proof=tree.get_proof(record_index), root=tree.root)  # fmt: skip
        count, types = row["record_count"], row["leaf_encoding"].split(",")
        if isinstance(record_index, bool) or not 0 <= record_index < count:
            raise LeafIndexError(record_index, count)
        block = self._rows(
            "SELECT records, tree_indices FROM round_records WHERE voting_id = ? AND attempt = ? "
            "AND block = ?",
            (vid, row["attempt"], record_index // BLOCK),
        )
        if not block:
            raise InvalidDumpError(f"the stored block of record {record_index} is missing")
        value, tree_index = entry(block[0]["records"], block[0]["tree_indices"], record_index)
        record, encoded, leaf = leaf_codec(types).one(value)
        nodes = row["nodes"]
        if nodes[32 * tree_index : 32 * tree_index + 32] != leaf:
            raise InvalidDumpError(f"stored record {record_index} does not hash to its leaf")
        return Proof(voting_id=to_hex(vid), attempt=row["attempt"], index=record_index,
                     record=record, leaf_encoding=types, encoded="0x" + encoded.hex(),
                     leaf_hash="0x" + leaf.hex(), proof=proof_of(nodes, tree_index),
                     root="0x" + nodes[:32].hex())  # fmt: skip

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
