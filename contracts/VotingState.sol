// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IWorkerVoting} from "./interfaces/IWorkerVoting.sol";
import {Bitmask} from "./libraries/Bitmask.sol";
import {WorkerPool} from "./WorkerPool.sol";

/// @title VotingState
/// @notice Round storage of WorkerVoting and every view over it: rounds, the result chain and its
/// epochs, and the audit check.
abstract contract VotingState is WorkerPool {
    using Bitmask for uint64;

    /// @notice First link of the result chain: binds the chain to this contract on this chain.
    bytes32 public immutable genesis;
    /// @inheritdoc IWorkerVoting
    uint256 public immutable epochStart;
    /// @inheritdoc IWorkerVoting
    uint256 public immutable epochLength;

    constructor(
        address initialOwner,
        Config memory config,
        uint256 epochLength_,
        uint256 maxWindow_,
        address admin_
    ) WorkerPool(initialOwner, config, maxWindow_, admin_) {
        if (epochLength_ < 1 hours || epochLength_ > 365 days) revert VotingInvalidParameter("epochLength");
        epochLength = epochLength_;
        genesis = keccak256(abi.encode(block.chainid, address(this)));
        _head = genesis;
        epochStart = block.timestamp;
    }

    /// @dev Appends a settled round to the chain and to the epoch of this block:
    /// head' = keccak256(abi.encode(head, index, votingId, result, attempt, votes, kind)).
    // slither-disable-next-line incorrect-equality -- chain indices and epoch numbers compare exactly
    function _append(bytes32 votingId, Round memory r, bytes32 result, Status kind)
        internal
        returns (uint32 index, bytes32 head)
    {
        Pool memory p = _pool;
        index = p.chainLength;
        head = keccak256(abi.encode(_head, index, votingId, result, r.attempt, r.leaderVotes, kind));
        _head = head;
        _chain[index] = votingId;
        // The epoch count stays far below 2^32 (epochs last at least an hour).
        uint32 epoch = uint32((block.timestamp - epochStart) / epochLength);
        if (index == 0 || epoch != p.lastEpoch) {
            if (index != 0) _epochEntries[p.lastEpoch].end = index;
            _epochEntries[epoch] = EpochEntries({first: index, end: 0, used: true});
            p.lastEpoch = epoch;
        }
        p.chainLength = index + 1;
        _pool = p;
        r.status = kind;
    }

    // ---------------------------------------------------------------------------------------------
    // Views: rounds, result chain, epochs, audit
    // ---------------------------------------------------------------------------------------------

    /// @notice The votingId of a round about `d`: keccak256(abi.encode(d)).
    function descriptorId(Descriptor calldata d) public pure returns (bytes32) {
        return keccak256(abi.encode(d));
    }

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
            deadline: _viewDeadline(r),
            seq: r.seq,
            configVersion: r.configVersion,
            voted: r.voted,
            early: r.early,
            committed: x.committed,
            dissent: x.dissent,
            result: _recorded(r.status) ? _leader[votingId] : bytes32(0)
        });
    }

    /// @dev Consensus: the block time late votes end; a running phase or a failover wait: its end
    /// in block time; other settled rounds: 0 (no deadline applies).
    // slither-disable-next-line incorrect-equality -- exact status checks; only Round.deadline comes from block.timestamp
    function _viewDeadline(Round memory r) private view returns (uint32) {
        if (r.status == Status.Consensus) return r.deadline;
        if (r.status == Status.Plurality || r.status == Status.FailoverResolved || r.status == Status.Failed) return 0;
        return _blockTime(_pool, r.deadline);
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
    function chainEntry(uint256 index) external view returns (ChainEntry memory) {
        bytes32 votingId = _entry(index);
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
    function settledRound(uint256 index) external view returns (SettledRound memory) {
        return _settled(_entry(index));
    }

    /// @inheritdoc IWorkerVoting
    function settledRounds(uint256 from, uint256 count) external view returns (SettledRound[] memory list) {
        uint256 length = _pool.chainLength;
        if (from > length) revert VotingNoSuchEntry(from, length);
        if (count > length - from) count = length - from;
        list = new SettledRound[](count);
        for (uint256 i; i < count; ++i) {
            list[i] = _settled(_chain[from + i]);
        }
    }

    /// @inheritdoc IWorkerVoting
    // slither-disable-next-line incorrect-equality -- epoch numbers compare exactly
    function epochEntries(uint256 epoch) external view returns (uint256 first, uint256 end) {
        EpochEntries memory e = _epochEntries[epoch];
        if (!e.used) return (0, 0);
        Pool memory p = _pool;
        return (e.first, epoch == p.lastEpoch ? p.chainLength : e.end);
    }

    function _entry(uint256 index) private view returns (bytes32) {
        uint256 length = _pool.chainLength;
        if (index >= length) revert VotingNoSuchEntry(index, length);
        return _chain[index];
    }

    // slither-disable-next-line incorrect-equality -- exact status checks; only Round.deadline comes from block.timestamp
    function _settled(bytes32 votingId) private view returns (SettledRound memory) {
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
    /// @dev Reverts with VotingNotRecorded when the round has no recorded result.
    function verifyRecord(bytes32 votingId, bytes32[] calldata proof, bytes calldata encodedRecord)
        external
        view
        returns (bool)
    {
        bytes32 leaf = keccak256(bytes.concat(keccak256(encodedRecord)));
        return MerkleProof.verifyCalldata(proof, _recordedRoot(votingId), leaf);
    }

    /// @notice Whether every one of `encodedRecords` belongs to the recorded result of `votingId`,
    /// in one call: `proofs[i]` is the proof of `encodedRecords[i]` (as for verifyRecord). False
    /// when the lengths differ or there are no records.
    /// @dev Reverts with VotingNotRecorded when the round has no recorded result. A view whose
    /// work the caller sizes: one proof check per record. (An OpenZeppelin multiproof, as the
    /// worker's `proof --multi` writes, verifies against `resultOf` with MerkleProof.multiProofVerify
    /// off chain or in the caller's contract; it does not fit this contract's code size.)
    function verifyRecords(bytes32 votingId, bytes32[][] calldata proofs, bytes[] calldata encodedRecords)
        external
        view
        returns (bool)
    {
        bytes32 root = _recordedRoot(votingId);
        uint256 n = encodedRecords.length;
        if (n == 0 || proofs.length != n) return false;
        for (uint256 i; i < n; ++i) {
            bytes32 leaf = keccak256(bytes.concat(keccak256(encodedRecords[i])));
            if (!MerkleProof.verifyCalldata(proofs[i], root, leaf)) return false;
        }
        return true;
    }

    function _recordedRoot(bytes32 votingId) private view returns (bytes32) {
        Status status = _rounds[votingId].status;
        if (!_recorded(status)) revert VotingNotRecorded(votingId, status);
        return _leader[votingId];
    }
}
