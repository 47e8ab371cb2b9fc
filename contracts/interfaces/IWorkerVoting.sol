// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IWorkerVotingTypes
/// @notice Types, errors and events of WorkerVoting: threshold voting of a worker pool on workflow
/// results, with one re-run, a configured fallback, an optional commit-reveal (sealed) mode and a
/// hash chain over every recorded result.
interface IWorkerVotingTypes {
    // ---------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------

    /// @notice Lifecycle of a round. Recorded states (Consensus, Plurality, FailoverResolved) and
    /// Failed are final; AwaitingFailover ends when the failover address records a result or, after
    /// the failover timeout, as Failed.
    /// @custom:value None 0: no such round.
    /// @custom:value Voting 1: open mode, taking votes (deadline 0: waiting for the quorum).
    /// @custom:value Committing 2: sealed mode, taking commitments (deadline 0: waiting for the quorum).
    /// @custom:value Revealing 3: sealed mode, taking reveals.
    /// @custom:value Consensus 4: a result reached the threshold (late votes until the deadline).
    /// @custom:value Plurality 5: recorded by the AcceptPlurality fallback.
    /// @custom:value FailoverResolved 6: recorded by the failover address.
    /// @custom:value Failed 7: both attempts failed and nothing was recorded (chained, zero result).
    /// @custom:value AwaitingFailover 8: handed to the failover address until the deadline.
    enum Status {
        None,
        Voting,
        Committing,
        Revealing,
        Consensus,
        Plurality,
        FailoverResolved,
        Failed,
        AwaitingFailover
    }

    /// @notice What a round is about; its votingId is keccak256(abi.encode(descriptor)).
    /// @param schedule Id of what the network computes (workflow, its version and parameters).
    /// @param windowStart Window rounds: start of the time window (unix seconds); event rounds: 0.
    /// @param windowEnd Window rounds: end of the window; the round cannot open before it; events: 0.
    /// @param eventKey Event rounds: hash of the event key; window rounds: 0.
    /// @param encoding Id of the records' leaf encoding (the ABI types of a record).
    struct Descriptor {
        bytes32 schedule;
        uint64 windowStart;
        uint64 windowEnd;
        bytes32 eventKey;
        bytes32 encoding;
    }

    /// @notice What happens when the second attempt of a round fails too.
    enum Fallback {
        AlertOnly,
        AcceptPlurality,
        Failover
    }

    /// @notice Round parameters; a change applies to rounds opened afterwards.
    /// @param threshold Votes needed for consensus; 0 means a simple majority of the eligible set.
    /// @param sealedMode Sealed (commit-reveal) mode: commit a hash first, reveal after the commit phase.
    /// @param voteDuration Seconds an attempt accepts votes (sealed mode: commits).
    /// @param revealDuration Sealed mode: seconds the reveal phase lasts.
    /// @param fallbackPolicy Applied when the second attempt fails.
    /// @param pluralityMinVotes AcceptPlurality: least votes the plurality result needs.
    /// @param speedRank How many of the first votes (sealed mode: commits) of an attempt count as fast.
    /// @param failover Failover: the address that may record a result for a round handed to it.
    /// @param failoverTimeout Failover: seconds a handed-over round waits before anyone may fail it.
    struct Config {
        uint8 threshold;
        bool sealedMode;
        uint32 voteDuration;
        uint32 revealDuration;
        Fallback fallbackPolicy;
        uint8 pluralityMinVotes;
        uint8 speedRank;
        address failover;
        uint32 failoverTimeout;
    }

    /// @notice A round as the views report it.
    /// @param leaderVotes Votes for the leading (at the end: the recorded) result in the final attempt,
    /// late votes excluded. `voted` and `dissent` include late votes.
    /// @param deadline End of the current phase in block time (a pause moves it on); 0: the attempt
    /// waits for its participation quorum (`threshold` distinct workers) and has no clock yet.
    struct RoundView {
        Status status;
        uint8 attempt;
        uint8 threshold;
        uint8 eligibleCount;
        uint8 leaderVotes;
        bool tied;
        bool sealedMode;
        uint32 deadline;
        uint32 seq;
        uint16 configVersion;
        uint64 voted;
        uint64 early;
        uint64 committed;
        uint64 dissent;
        bytes32 result;
    }

    /// @notice One entry of the result chain: a settled round (kind Failed: zero result).
    /// @param votes Votes for `result` in the final attempt when it was recorded (late votes excluded).
    struct ChainEntry {
        bytes32 votingId;
        bytes32 result;
        uint8 attempt;
        uint8 votes;
        Status kind;
    }

    /// @notice What reward accounting reads of one chain entry, in one call.
    /// @param voted Workers that voted (sealed: revealed) in the final attempt, late votes included.
    /// @param early The first `speedRank` votes (sealed: commits) of the final attempt.
    /// @param agreed Voters of the recorded result (zero for a failed round).
    struct SettledRound {
        bytes32 votingId;
        Status kind;
        uint32 seq;
        uint32 lateUntil;
        uint64 voted;
        uint64 early;
        uint64 agreed;
    }

    /// @notice A worker's pool membership: eligible for rounds with joinedSeq <= seq < leftSeq (no
    /// upper bound while active).
    /// @param late Votes it cast after their round had reached consensus (counted when cast).
    /// @param joinedIndex Chain length when it joined: no earlier chain entry concerns it.
    struct WorkerInfo {
        bool active;
        bool retired;
        uint8 index;
        uint32 joinedSeq;
        uint32 leftSeq;
        uint32 late;
        uint32 joinedIndex;
    }

    // ---------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------

    /// @notice Thrown when a worker address is zero.
    error VotingZeroAddress();
    /// @notice Thrown when the pool already holds `max` workers.
    error VotingPoolFull(uint256 max);
    /// @notice Thrown when adding a worker that is already in the pool.
    error VotingWorkerExists(address worker);
    /// @notice Thrown when adding a worker that was removed before: removal is final.
    error VotingWorkerRetired(address worker);
    /// @notice Thrown when the caller or subject is not an active worker.
    error VotingNotWorker(address account);
    /// @notice Thrown when the eligibility gate does not grant `worker` the configured role.
    error VotingWorkerNotEligible(address worker);
    /// @notice Thrown when asking to remove a worker that still holds its role (or no gate is set).
    error VotingWorkerStillEligible(address worker);
    /// @notice Thrown when a configuration field is out of range; `field` names it.
    error VotingInvalidConfig(string field);
    /// @notice Thrown when a round would open with a threshold the eligible set cannot reach.
    error VotingThresholdUnreachable(uint256 threshold, uint256 eligible);
    /// @notice Thrown when voting or opening rounds while paused.
    error VotingPaused();
    /// @notice Thrown when pausing while paused or unpausing while not paused.
    error VotingPauseUnchanged(bool paused);
    /// @notice Thrown when a worker was not in the pool when the round opened.
    error VotingNotEligible(bytes32 votingId, address worker);
    /// @notice Thrown when a worker votes (or commits, or reveals) twice in one attempt.
    error VotingAlreadyVoted(bytes32 votingId, address worker);
    /// @notice Thrown when a result or commitment is zero.
    error VotingZeroResult();
    /// @notice Thrown when the round is in `status`, which does not allow the call.
    error VotingWrongStatus(bytes32 votingId, Status status);
    /// @notice Thrown when the voting window of the attempt closed at `deadline`.
    error VotingDeadlinePassed(bytes32 votingId, uint256 deadline);
    /// @notice Thrown when a plain vote is sent to a sealed round or a commit to an open one.
    error VotingWrongMode(bytes32 votingId, bool sealedMode);
    /// @notice Thrown when revealing before the commit phase ended.
    error VotingRevealNotOpen(bytes32 votingId, uint256 opensAt);
    /// @notice Thrown when revealing without a commitment in this attempt.
    error VotingNotCommitted(bytes32 votingId, address worker);
    /// @notice Thrown when a reveal does not match the worker's commitment.
    error VotingCommitmentMismatch(bytes32 votingId, address worker);
    /// @notice Thrown when finalize is called but the round is neither past its deadline nor stuck.
    error VotingNothingToFinalize(bytes32 votingId);
    /// @notice Thrown when someone other than the failover address resolves a round.
    error VotingNotFailover(address account);
    /// @notice Thrown when reading a chain entry past the end of the chain.
    error VotingNoSuchEntry(uint256 index, uint256 length);
    /// @notice Thrown when voting in a round that was never opened (open it with its descriptor).
    error VotingUnknownRound(bytes32 votingId);
    /// @notice Thrown when checking records of a round that has no recorded result: never opened
    /// (status None), still open, failed or awaiting failover. A proof check that returns false
    /// therefore always means a wrong record or proof, never a wrong round.
    error VotingNotRecorded(bytes32 votingId, Status status);
    /// @notice Thrown when a descriptor is malformed: zero schedule or encoding, an empty window, or
    /// both a window and an event key.
    error VotingInvalidDescriptor(bytes32 votingId);
    /// @notice Thrown when opening a window round before its window ended at `windowEnd`.
    error VotingWindowNotEnded(bytes32 votingId, uint256 windowEnd);
    /// @notice Thrown on `renounceOwnership`: a pool without an owner could never be managed again.
    error VotingRenounceDisabled();
    /// @notice Thrown when a constructor argument is out of range; `field` names it.
    error VotingInvalidParameter(string field);

    // ---------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------

    /// @notice Emitted when a worker joins the pool at pool index `index`.
    event WorkerAdded(address indexed worker, uint8 index, uint32 joinedSeq);
    /// @notice Emitted when a worker leaves the pool for good.
    event WorkerRemoved(address indexed worker, address indexed by, uint32 leftSeq);
    /// @notice Emitted when the round parameters change; rounds opened later use `version`.
    /// @dev Flat fields (not the struct) so every client library decodes it.
    event ConfigUpdated(
        uint16 indexed version,
        uint8 threshold,
        bool sealedMode,
        uint32 voteDuration,
        uint32 revealDuration,
        Fallback fallbackPolicy,
        uint8 pluralityMinVotes,
        uint8 speedRank,
        address failover,
        uint32 failoverTimeout
    );
    /// @notice Emitted when the eligibility gate changes (zero address: no gate).
    event EligibilityGateUpdated(address gate, bytes32 role, uint256 roleVersion);
    /// @notice Emitted when votes and new rounds are paused.
    event Paused(address account);
    /// @notice Emitted when votes and new rounds are allowed again.
    event Unpaused(address account);
    /// @notice Emitted when a round opens, with what it is about (see `Descriptor`).
    event RoundDescribed(
        bytes32 indexed votingId,
        bytes32 indexed schedule,
        uint64 windowStart,
        uint64 windowEnd,
        bytes32 eventKey,
        bytes32 encoding
    );
    /// @notice Emitted when an attempt of a round opens (attempt 2 after a failed first attempt);
    /// `deadline` 0: attempt 1 waits for its participation quorum.
    event RoundOpened(
        bytes32 indexed votingId, uint8 attempt, uint32 seq, uint8 threshold, uint8 eligible, uint32 deadline
    );
    /// @notice Emitted when `threshold` distinct workers joined attempt 1 and its clock starts.
    event RoundStarted(bytes32 indexed votingId, uint8 attempt, uint32 deadline);
    /// @notice Emitted for each vote (sealed mode: each reveal), late votes included.
    event VoteCast(bytes32 indexed votingId, address indexed worker, uint8 attempt, bytes32 result, bool late);
    /// @notice Emitted for each commitment in sealed mode.
    event VoteCommitted(bytes32 indexed votingId, address indexed worker, uint8 attempt);
    /// @notice Emitted when a result is recorded and appended to the result chain.
    event ResultRecorded(
        bytes32 indexed votingId,
        bytes32 indexed result,
        Status kind,
        uint8 attempt,
        uint8 votes,
        uint256 chainIndex,
        bytes32 head
    );
    /// @notice Emitted when an attempt fails and the round opens again as attempt 2.
    event RoundReopened(bytes32 indexed votingId, uint32 deadline);
    /// @notice Emitted when the second attempt fails and no result is recorded; the failure is
    /// still appended to the chain (with a zero result) so the history shows it.
    event RoundFailed(bytes32 indexed votingId, Fallback fallbackPolicy, uint256 chainIndex, bytes32 head);
    /// @notice Emitted when the second attempt fails and the round is handed to `failover`, which
    /// (or the failover of the current config) may record a result until `timeoutAt`.
    event FailoverRequested(bytes32 indexed votingId, address failover, uint32 timeoutAt);
}

/// @title IWorkerVoting
/// @notice What other contracts (reward accounting) read of a WorkerVoting contract.
interface IWorkerVoting is IWorkerVotingTypes {
    // ---------------------------------------------------------------------------------------------
    // Views used by reward accounting
    // ---------------------------------------------------------------------------------------------

    /// @notice Chain entry `index` as masks of pool indices; see `SettledRound`.
    function settledRound(uint256 index) external view returns (SettledRound memory);

    /// @notice Up to `count` chain entries from `from` (fewer at the end of the chain).
    function settledRounds(uint256 from, uint256 count) external view returns (SettledRound[] memory);

    /// @notice Chain entries [first, end) appended (settled) during `epoch`, by block time; for the
    /// current epoch `end` still grows.
    function epochEntries(uint256 epoch) external view returns (uint256 first, uint256 end);

    /// @notice Start of epoch 0 (deployment time).
    function epochStart() external view returns (uint256);

    /// @notice Length of an epoch in seconds.
    function epochLength() external view returns (uint256);

    /// @notice Longest vote or reveal window any config may set; a round's late votes end at most
    /// this long after it settled.
    function maxWindow() external view returns (uint256);

    /// @notice Membership of `worker`.
    function workerInfo(address worker) external view returns (WorkerInfo memory);

    /// @notice Current head of the result chain and its length.
    function chainHead() external view returns (bytes32 head, uint256 length);
}
