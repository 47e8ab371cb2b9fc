// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IEligibility} from "./interfaces/IEligibility.sol";
import {IWorkerVotingTypes} from "./interfaces/IWorkerVoting.sol";

/// @title VotingStorage
/// @notice Every state variable of a voting contract, in one place: WorkerVoting and the
/// WorkerPoolAdmin module it delegates pool administration to share this layout, and nothing else
/// in either declares state.
/// @dev Every worker holds a pool index (0..63); round bitmasks address workers by that index. An index
/// freed by a removal can be reused, but a bit of a round always names one worker: the one whose
/// membership `[joinedSeq, leftSeq)` contains the round's sequence number.
abstract contract VotingStorage is IWorkerVotingTypes, Ownable2Step {
    /// @notice Most workers the pool can hold (one bit each in a 64-bit round mask).
    uint256 public constant MAX_WORKERS = 64;

    /// @notice Longest voting, commit, reveal or failover window, in seconds.
    uint32 public constant MAX_DURATION = 30 days;

    /// @notice Least votes the AcceptPlurality fallback may require: one worker alone never decides.
    uint8 public constant MIN_PLURALITY_VOTES = 2;

    /// @dev Round flag: another result has as many votes as the leading one.
    uint8 internal constant TIED = 1;
    /// @dev Round flag: the round runs in sealed (commit-reveal) mode.
    uint8 internal constant SEALED = 2;

    /// @dev Global counters read by every vote: packed in one slot so a vote pays for a single load.
    struct Pool {
        uint64 activeMask; // bit i set: pool index i is held by an active worker
        uint8 activeCount;
        // Membership generation: +1 at every addition and removal; a round opening now gets it as
        // its seq, so eligibility is joinedSeq <= seq < leftSeq. Opening rounds never moves it.
        uint24 generation;
        uint32 chainLength; // entries in the result chain
        uint16 configVersion; // version of `_configs` that new rounds use
        bool paused;
        uint32 pausedAt; // block time the current pause began
        uint32 pausedTotal; // seconds paused before the current pause: the round clock lags by this
        uint32 lastEpoch; // epoch of the last chain entry
    }

    /// @dev A worker's membership; `late` counts its late votes as they are cast.
    struct Worker {
        bool active;
        bool retired;
        uint8 index;
        uint24 joinedSeq;
        uint24 leftSeq;
        uint32 late;
        uint32 joinedIndex; // chain length when it joined: no earlier entry concerns it
    }

    /// @dev One slot: everything a vote reads and writes.
    struct Round {
        uint64 voted; // workers that voted (sealed mode: revealed) in the current attempt
        uint64 early; // the first `speedRank` votes (sealed mode: attempt 1's commits)
        // End of the current phase on the round clock (see `_clock`); 0 while attempt 1 waits for
        // its quorum. Once the round reached consensus: the block time its late votes end.
        uint32 deadline;
        uint24 seq; // membership generation the round opened in (see Pool.generation)
        uint16 configVersion;
        Status status;
        uint8 attempt;
        uint8 threshold;
        uint8 eligible;
        uint8 leaderVotes; // votes for the leading result before the round was recorded
        uint8 flags; // TIED | SEALED, bits packed into one byte to keep the round in one slot
        uint8 speedRank;
    }

    /// @dev Written only by dissenting votes and in sealed mode.
    struct Extra {
        uint64 dissent; // voters of any result other than the leading one
        uint64 committed; // sealed mode: workers that committed in the current attempt
    }

    /// @dev Chain entries appended during one epoch: [first, end); `end` is set when a later epoch
    /// gets its first entry (for the last epoch with entries, the chain length is the end).
    struct EpochEntries {
        uint32 first;
        uint32 end;
        bool used;
    }

    Pool internal _pool;
    mapping(address worker => Worker) internal _workers;
    mapping(uint16 version => Config) internal _configs;
    // slither-disable-next-line uninitialized-state -- written by WorkerPoolAdmin, which runs on this storage through delegatecall
    address[MAX_WORKERS] internal _holders;
    // slither-disable-next-line uninitialized-state,constable-states -- written by WorkerPoolAdmin, which runs on this storage through delegatecall
    IEligibility internal _gate;
    // slither-disable-next-line uninitialized-state,constable-states -- written by WorkerPoolAdmin, which runs on this storage through delegatecall
    bytes32 internal _role;
    // slither-disable-next-line uninitialized-state,constable-states -- written by WorkerPoolAdmin, which runs on this storage through delegatecall
    uint256 internal _roleVersion;

    mapping(bytes32 votingId => Round) internal _rounds;
    mapping(bytes32 votingId => bytes32) internal _leader; // leading result; the recorded one at the end
    mapping(bytes32 votingId => Extra) internal _extra;
    mapping(bytes32 tallyKey => uint64 voters) internal _tally; // results other than the leading one
    mapping(bytes32 votingId => mapping(address worker => bytes32)) internal _commitments;
    mapping(uint256 index => bytes32 votingId) internal _chain;
    mapping(uint256 epoch => EpochEntries) internal _epochEntries;
    // slither-disable-next-line constable-states -- set by WorkerVoting's constructor, moved by every chain entry
    bytes32 internal _head;

    /// @dev Longest round duration a config may set; fixed by WorkerVoting's constructor.
    // slither-disable-next-line uninitialized-state,constable-states -- set by WorkerVoting's constructor; WorkerPoolAdmin reads it through delegatecall
    uint256 internal _maxWindow;

    constructor(address initialOwner) Ownable(initialOwner) {}

    /// @dev The round clock: block time minus the time spent paused; it stands still while paused.
    function _clock(Pool memory p) internal view returns (uint32) {
        return (p.paused ? p.pausedAt : uint32(block.timestamp)) - p.pausedTotal;
    }

    /// @dev Block time at which the round clock reads `at` (while paused: as if unpaused now).
    // slither-disable-next-line incorrect-equality -- 0 is the "no clock yet" marker, not a time
    function _blockTime(Pool memory p, uint32 at) internal view returns (uint32) {
        if (at == 0) return 0;
        return at + p.pausedTotal + (p.paused ? uint32(block.timestamp) - p.pausedAt : 0);
    }

    function _tallyKey(bytes32 votingId, uint8 attempt, bytes32 result) internal pure returns (bytes32) {
        return keccak256(abi.encode(votingId, attempt, result));
    }

    // slither-disable-next-line incorrect-equality -- an enum comparison; the timestamp taint comes from the callers' Round
    function _recorded(Status s) internal pure returns (bool) {
        return s == Status.Consensus || s == Status.Plurality || s == Status.FailoverResolved;
    }

    function _validate(Config memory c) internal view {
        if (c.threshold > MAX_WORKERS) revert VotingInvalidConfig("threshold");
        if (c.voteDuration == 0 || c.voteDuration > _maxWindow) revert VotingInvalidConfig("voteDuration");
        if (c.sealedMode ? (c.revealDuration == 0 || c.revealDuration > _maxWindow) : c.revealDuration != 0) {
            revert VotingInvalidConfig("revealDuration");
        }
        if (c.speedRank > MAX_WORKERS) revert VotingInvalidConfig("speedRank");
        bool plurality = c.fallbackPolicy == Fallback.AcceptPlurality;
        if (plurality ? c.pluralityMinVotes < MIN_PLURALITY_VOTES : c.pluralityMinVotes != 0) {
            revert VotingInvalidConfig("pluralityMinVotes");
        }
        bool failover = c.fallbackPolicy == Fallback.Failover;
        if (failover ? c.failover == address(0) : c.failover != address(0)) revert VotingInvalidConfig("failover");
        if (failover ? (c.failoverTimeout == 0 || c.failoverTimeout > MAX_DURATION) : c.failoverTimeout != 0) {
            revert VotingInvalidConfig("failoverTimeout");
        }
    }

    function _store(uint16 version, Config memory c) internal {
        _configs[version] = c;
        emit ConfigUpdated(
            version,
            c.threshold,
            c.sealedMode,
            c.voteDuration,
            c.revealDuration,
            c.fallbackPolicy,
            c.pluralityMinVotes,
            c.speedRank,
            c.failover,
            c.failoverTimeout
        );
    }
}
