// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IWorkerVoting} from "./interfaces/IWorkerVoting.sol";
import {Bitmask} from "./libraries/Bitmask.sol";
import {WorkerPool} from "./WorkerPool.sol";

/// @title VotingState
/// @notice Round storage of WorkerVoting and every view over it: rounds, the result chain, the
/// audit check and the per-worker counters.
abstract contract VotingState is WorkerPool {
    using Bitmask for uint64;

    /// @dev One slot: everything a vote reads and writes.
    struct Round {
        uint64 voted; // workers that voted (sealed mode: revealed) in the current attempt
        uint64 early; // the first `speedRank` votes (sealed mode: commits) of the current attempt
        uint32 deadline; // end of the current phase
        uint24 seq; // position in the round log
        uint16 configVersion;
        Status status;
        uint8 attempt;
        uint8 threshold;
        uint8 eligible;
        uint8 leaderVotes; // votes for the leading result before the round was recorded
        uint8 flags; // TIED | SEALED, bits packed into one byte to keep the round in one slot
        uint8 speedRank;
    }

    /// @dev Round flag: another result has as many votes as the leading one.
    uint8 internal constant TIED = 1;
    /// @dev Round flag: the round runs in sealed (commit-reveal) mode.
    uint8 internal constant SEALED = 2;

    /// @dev Written only by dissenting votes and in sealed mode.
    struct Extra {
        uint64 dissent; // voters of any result other than the leading one
        uint64 committed; // sealed mode: workers that committed in the current attempt
    }

    mapping(bytes32 votingId => Round) internal _rounds;
    mapping(bytes32 votingId => bytes32) internal _leader; // leading result; the recorded one at the end
    mapping(bytes32 votingId => Extra) internal _extra;
    mapping(bytes32 tallyKey => uint64 voters) internal _tally; // results other than the leading one
    mapping(bytes32 votingId => mapping(address worker => bytes32)) internal _commitments;
    mapping(uint256 index => bytes32 votingId) internal _chain;
    mapping(address worker => WorkerStats) internal _stats;

    /// @notice First link of the result chain: binds the chain to this contract on this chain.
    bytes32 public immutable genesis;
    bytes32 internal _head;


    constructor(address initialOwner, Config memory config) WorkerPool(initialOwner, config) {
        genesis = keccak256(abi.encode(block.chainid, address(this)));
        _head = genesis;
    }

    function _tallyKey(bytes32 votingId, uint8 attempt, bytes32 result) internal pure returns (bytes32) {
        return keccak256(abi.encode(votingId, attempt, result));
    }

    // ---------------------------------------------------------------------------------------------
    // Per-worker counters
    // ---------------------------------------------------------------------------------------------

    /// @notice Adds up to `maxRounds` chain entries to `worker`'s stored counters; anyone may call.
    /// @dev Walks the result chain (every settled round, in settlement order) from the worker's
    /// cursor and stops at a consensus round whose late-vote window is still open.
    function syncStats(address worker, uint256 maxRounds) external returns (WorkerStats memory stats) {
        if (!_workers[worker].active && !_workers[worker].retired) revert VotingNotWorker(worker);
        stats = _accumulate(worker, _stats[worker], maxRounds);
        _stats[worker] = stats;
        stats.late = _workers[worker].late;
        emit StatsSynced(worker, stats.syncedIndex);
    }

    /// @notice `worker`'s counters: stored ones plus up to `maxRounds` chain entries not yet synced.
    function workerStats(address worker, uint256 maxRounds) external view returns (WorkerStats memory stats) {
        stats = _accumulate(worker, _stats[worker], maxRounds);
        stats.late = _workers[worker].late;
    }

    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function _accumulate(address worker, WorkerStats memory s, uint256 maxRounds)
        private
        view
        returns (WorkerStats memory)
    {
        Worker memory w = _workers[worker];
        uint256 i = s.syncedIndex > w.joinedIndex ? s.syncedIndex : w.joinedIndex;
        uint256 end = _pool.chainLength;
        if (end > i + maxRounds) end = i + maxRounds;
        for (; i < end; ++i) {
            bytes32 votingId = _chain[i];
            Round memory r = _rounds[votingId];
            if (r.status == Status.Consensus && block.timestamp <= r.deadline) break;
            if (r.seq < w.joinedSeq || (!w.active && r.seq >= w.leftSeq)) continue;
            ++s.eligible;
            if (!r.voted.has(w.index)) {
                ++s.missed;
            } else {
                ++s.cast;
                if (r.status != Status.Failed && !_extra[votingId].dissent.has(w.index)) ++s.inConsensus;
                else ++s.dissenting;
            }
        }
        s.syncedIndex = uint32(i);
        return s;
    }

    // slither-disable-next-line incorrect-equality -- an enum comparison; the timestamp taint comes from the callers' Round
    function _recorded(Status s) internal pure returns (bool) {
        return s == Status.Consensus || s == Status.Plurality || s == Status.FailoverResolved;
    }

    // ---------------------------------------------------------------------------------------------
    // Views: rounds, result chain, audit
    // ---------------------------------------------------------------------------------------------

    /// @notice State of round `votingId`; `result` is the recorded result once there is one.
    function roundState(bytes32 votingId) external view returns (RoundView memory v) {
        Round memory r = _rounds[votingId];
        Extra memory x = _extra[votingId];
        v = RoundView({
            status: r.status,
            attempt: r.attempt,
            threshold: r.threshold,
            eligibleCount: r.eligible,
            leaderVotes: r.leaderVotes,
            tied: r.flags & TIED != 0,
            sealedMode: r.flags & SEALED != 0,
            deadline: r.deadline,
            seq: r.seq,
            configVersion: r.configVersion,
            voted: r.voted,
            early: r.early,
            committed: x.committed,
            dissent: x.dissent,
            result: _recorded(r.status) ? _leader[votingId] : bytes32(0)
        });
    }

    /// @notice The recorded result of `votingId`, or zero while there is none.
    function resultOf(bytes32 votingId) external view returns (bytes32) {
        return _recorded(_rounds[votingId].status) ? _leader[votingId] : bytes32(0);
    }

    /// @notice Voters of `result` in the current attempt of `votingId`, as a pool-index mask.
    function votersOf(bytes32 votingId, bytes32 result) external view returns (uint64) {
        Round memory r = _rounds[votingId];
        if (result != bytes32(0) && result == _leader[votingId]) return r.voted & ~_extra[votingId].dissent;
        return _tally[_tallyKey(votingId, r.attempt, result)];
    }

    /// @inheritdoc IWorkerVoting
    function chainHead() external view returns (bytes32 head, uint256 length) {
        return (_head, _pool.chainLength);
    }

    /// @notice Entry `index` of the result chain. Recompute the heads from `genesis` with
    /// keccak256(abi.encode(prevHead, index, votingId, result, attempt, votes, kind)) to verify it.
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function chainEntry(uint256 index) external view returns (ChainEntry memory) {
        uint256 length = _pool.chainLength;
        if (index >= length) revert VotingNoSuchEntry(index, length);
        bytes32 votingId = _chain[index];
        Round memory r = _rounds[votingId];
        return ChainEntry({
            votingId: votingId,
            result: r.status == Status.Failed ? bytes32(0) : _leader[votingId],
            attempt: r.attempt,
            votes: r.leaderVotes,
            kind: r.status
        });
    }

    /// @inheritdoc IWorkerVoting
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function settledRound(uint256 index) external view returns (SettledRound memory) {
        uint256 length = _pool.chainLength;
        if (index >= length) revert VotingNoSuchEntry(index, length);
        bytes32 votingId = _chain[index];
        Round memory r = _rounds[votingId];
        uint64 agreed = r.status == Status.Failed ? 0 : r.voted & ~_extra[votingId].dissent;
        return SettledRound({
            votingId: votingId,
            kind: r.status,
            seq: r.seq,
            lateUntil: r.status == Status.Consensus ? r.deadline : 0,
            voted: r.voted,
            early: r.early,
            agreed: agreed
        });
    }

    /// @notice Whether a record belongs to the recorded result of `votingId`. The leaf is the
    /// OpenZeppelin standard Merkle tree leaf: keccak256(bytes.concat(keccak256(encodedRecord))),
    /// where `encodedRecord` is the ABI encoding of the record's fields.
    function verifyRecord(bytes32 votingId, bytes32[] calldata proof, bytes calldata encodedRecord)
        external
        view
        returns (bool)
    {
        if (!_recorded(_rounds[votingId].status)) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(encodedRecord)));
        return MerkleProof.verifyCalldata(proof, _leader[votingId], leaf);
    }
}
