// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Bitmask} from "./libraries/Bitmask.sol";
import {VotingState} from "./VotingState.sol";

/// @title WorkerVoting
/// @notice Rounds of threshold voting on result hashes (Merkle roots of workflow records).
/// @dev Gas shape: a round is one packed slot plus the leading result. Votes for the leading result
/// touch only those two slots; other results keep a voter mask each. Nothing loops over the pool.
contract WorkerVoting is VotingState {
    using Bitmask for uint64;

    constructor(address initialOwner, Config memory config) VotingState(initialOwner, config) {}

    // ---------------------------------------------------------------------------------------------
    // Voting
    // ---------------------------------------------------------------------------------------------

    /// @notice Votes `result` in round `votingId` (open mode); the first vote opens the round.
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function vote(bytes32 votingId, bytes32 result) external {
        (Round memory r, uint8 index) = _enter(votingId, result);
        uint64 bit = Bitmask.bit(index);
        if (r.status == Status.Voting) {
            if (block.timestamp > r.deadline) revert VotingDeadlinePassed(votingId, r.deadline);
            if (r.voted.count() < r.speedRank) r.early |= bit;
            r.voted |= bit;
            emit VoteCast(votingId, msg.sender, r.attempt, result, false);
            _count(votingId, r, bit, result);
        } else if (r.status == Status.Consensus && r.flags & SEALED == 0) {
            // Late votes are taken until the deadline; after it the round's counters are final.
            if (block.timestamp > r.deadline) revert VotingDeadlinePassed(votingId, r.deadline);
            _lateVote(votingId, r, bit, result);
        } else if (r.status == Status.Committing || r.status == Status.Revealing) {
            revert VotingWrongMode(votingId, true);
        } else {
            revert VotingWrongStatus(votingId, r.status);
        }
        _rounds[votingId] = r;
    }

    /// @notice Commits `commitment` in round `votingId` (sealed mode); the first commit opens it.
    /// @param commitment keccak256(abi.encode(result, salt, worker, votingId, attempt, chainid, this)).
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function commit(bytes32 votingId, bytes32 commitment) external {
        (Round memory r, uint8 index) = _enter(votingId, commitment);
        if (r.status != Status.Committing) {
            if (r.status == Status.Voting) revert VotingWrongMode(votingId, false);
            revert VotingWrongStatus(votingId, r.status);
        }
        if (block.timestamp > r.deadline) revert VotingDeadlinePassed(votingId, r.deadline);
        Extra memory x = _extra[votingId];
        uint64 bit = Bitmask.bit(index);
        if (x.committed & bit != 0) revert VotingAlreadyVoted(votingId, msg.sender);
        uint256 commits = x.committed.count();
        if (commits < r.speedRank) r.early |= bit;
        x.committed |= bit;
        if (commits + 1 == r.eligible) {
            // Every eligible worker committed: the reveal phase starts now.
            r.status = Status.Revealing;
            r.deadline = uint32(block.timestamp) + _configs[r.configVersion].revealDuration;
        }
        _commitments[votingId][msg.sender] = commitment;
        _extra[votingId] = x;
        _rounds[votingId] = r;
        emit VoteCommitted(votingId, msg.sender, r.attempt);
    }

    /// @notice Reveals the committed `result` with its `salt` (sealed mode).
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function reveal(bytes32 votingId, bytes32 result, bytes32 salt) external {
        if (result == bytes32(0)) revert VotingZeroResult();
        if (_pool.paused) revert VotingPaused();
        Round memory r = _rounds[votingId];
        if (r.status == Status.Committing) {
            if (block.timestamp <= r.deadline) revert VotingRevealNotOpen(votingId, uint256(r.deadline) + 1);
            r.status = Status.Revealing;
            r.deadline += _configs[r.configVersion].revealDuration;
        } else if (r.status != Status.Revealing && r.status != Status.Consensus) {
            revert VotingWrongStatus(votingId, r.status);
        }
        if (block.timestamp > r.deadline) revert VotingDeadlinePassed(votingId, r.deadline);
        Worker memory w = _workers[msg.sender];
        uint64 bit = Bitmask.bit(w.index);
        if (!w.active || _extra[votingId].committed & bit == 0) revert VotingNotCommitted(votingId, msg.sender);
        if (r.voted & bit != 0) revert VotingAlreadyVoted(votingId, msg.sender);
        bytes32 expected = commitmentOf(result, salt, msg.sender, votingId, r.attempt);
        if (_commitments[votingId][msg.sender] != expected) revert VotingCommitmentMismatch(votingId, msg.sender);
        delete _commitments[votingId][msg.sender];
        if (r.status == Status.Consensus) {
            _lateVote(votingId, r, bit, result);
        } else {
            r.voted |= bit;
            emit VoteCast(votingId, msg.sender, r.attempt, result, false);
            _count(votingId, r, bit, result);
        }
        _rounds[votingId] = r;
    }

    /// @notice The commitment a worker sends in sealed mode for `result` and `salt`.
    function commitmentOf(bytes32 result, bytes32 salt, address worker, bytes32 votingId, uint8 attempt)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(result, salt, worker, votingId, attempt, block.chainid, address(this)));
    }

    /// @dev Common checks of vote and commit; opens the round on its first vote or commit.
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function _enter(bytes32 votingId, bytes32 value) private returns (Round memory r, uint8 index) {
        if (value == bytes32(0)) revert VotingZeroResult();
        Pool memory p = _pool;
        if (p.paused) revert VotingPaused();
        Worker memory w = _workers[msg.sender];
        if (!w.active) revert VotingNotWorker(msg.sender);
        r = _rounds[votingId];
        if (r.status == Status.None) r = _open(votingId, p);
        if (w.joinedSeq > r.seq) revert VotingNotEligible(votingId, msg.sender);
        if (r.voted.has(w.index)) revert VotingAlreadyVoted(votingId, msg.sender);
        index = w.index;
    }

    /// @dev Fixes the eligible set (active now) and the threshold for the whole round.
    function _open(bytes32 votingId, Pool memory p) private returns (Round memory r) {
        Config memory c = _configs[p.configVersion];
        uint8 threshold = c.threshold == 0 ? p.activeCount / 2 + 1 : c.threshold;
        if (threshold > p.activeCount) revert VotingThresholdUnreachable(threshold, p.activeCount);
        r.seq = p.roundCount;
        r.configVersion = p.configVersion;
        r.status = c.sealedMode ? Status.Committing : Status.Voting;
        if (c.sealedMode) r.flags = SEALED;
        r.attempt = 1;
        r.threshold = threshold;
        r.eligible = p.activeCount;
        r.speedRank = c.speedRank;
        r.deadline = uint32(block.timestamp) + c.voteDuration;
        ++_pool.roundCount;
        emit RoundOpened(votingId, 1, r.seq, threshold, r.eligible, r.deadline);
    }

    /// @dev Counts a vote for `result`; records the result once it reaches the threshold.
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function _count(bytes32 votingId, Round memory r, uint64 bit, bytes32 result) private {
        bytes32 leader = _leader[votingId];
        if (leader == bytes32(0)) {
            _leader[votingId] = result;
            r.leaderVotes = 1;
        } else if (result == leader) {
            ++r.leaderVotes;
            r.flags &= ~TIED;
        } else {
            Extra memory x = _extra[votingId];
            bytes32 key = _tallyKey(votingId, r.attempt, result);
            uint64 voters = _tally[key] | bit;
            uint256 votes = voters.count();
            if (votes > r.leaderVotes) {
                // `result` overtakes the leader: the old leader's voters become a tallied result.
                uint64 leaderVoters = (r.voted & ~bit) & ~x.dissent;
                _tally[_tallyKey(votingId, r.attempt, leader)] = leaderVoters;
                x.dissent = (x.dissent | leaderVoters) & ~voters;
                _leader[votingId] = result;
                r.leaderVotes = uint8(votes);
                r.flags &= ~TIED;
            } else {
                _tally[key] = voters;
                x.dissent |= bit;
                // Only a result level with the leader makes a tie; a smaller one leaves it as it was.
                if (votes == r.leaderVotes) r.flags |= TIED;
            }
            _extra[votingId] = x;
        }
        if (r.leaderVotes >= r.threshold) _record(votingId, r, _leader[votingId], Status.Consensus);
    }

    /// @dev A vote after consensus: recorded for the worker's counters, never changes the result.
    function _lateVote(bytes32 votingId, Round memory r, uint64 bit, bytes32 result) private {
        r.voted |= bit;
        if (result != _leader[votingId]) _extra[votingId].dissent |= bit;
        ++_workers[msg.sender].late;
        emit VoteCast(votingId, msg.sender, r.attempt, result, true);
    }

    /// @dev Appends a settled round to the chain:
    /// head' = keccak256(abi.encode(head, index, votingId, result, attempt, votes, kind)).
    function _append(bytes32 votingId, Round memory r, bytes32 result, Status kind)
        private
        returns (uint32 index, bytes32 head)
    {
        index = _pool.chainLength;
        head = keccak256(abi.encode(_head, index, votingId, result, r.attempt, r.leaderVotes, kind));
        _head = head;
        _chain[index] = votingId;
        _pool.chainLength = index + 1;
        r.status = kind;
    }

    function _record(bytes32 votingId, Round memory r, bytes32 result, Status kind) private {
        (uint32 index, bytes32 head) = _append(votingId, r, result, kind);
        emit ResultRecorded(votingId, result, kind, r.attempt, r.leaderVotes, index, head);
    }

    // ---------------------------------------------------------------------------------------------
    // No consensus: re-run, then fallback
    // ---------------------------------------------------------------------------------------------

    /// @notice Ends an attempt that can no longer reach consensus (deadline passed, or too few votes
    /// left). Attempt 1 re-opens as attempt 2; a failed attempt 2 applies the fallback. Anyone may call.
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function finalize(bytes32 votingId) external {
        Round memory r = _rounds[votingId];
        if (r.status != Status.Voting && r.status != Status.Committing && r.status != Status.Revealing) {
            revert VotingWrongStatus(votingId, r.status);
        }
        Config memory c = _configs[r.configVersion];
        if (!_failed(votingId, r, c)) revert VotingNothingToFinalize(votingId);
        if (r.attempt == 1) {
            r.attempt = 2;
            r.voted = 0;
            r.early = 0;
            r.leaderVotes = 0;
            r.flags &= ~TIED;
            r.status = c.sealedMode ? Status.Committing : Status.Voting;
            r.deadline = uint32(block.timestamp) + c.voteDuration;
            delete _leader[votingId];
            delete _extra[votingId];
            emit RoundReopened(votingId, r.deadline);
            emit RoundOpened(votingId, 2, r.seq, r.threshold, r.eligible, r.deadline);
        } else if (c.fallbackPolicy == Fallback.Failover) {
            r.status = Status.AwaitingFailover;
            emit FailoverRequested(votingId, c.failover);
        } else if (
            c.fallbackPolicy == Fallback.AcceptPlurality && r.flags & TIED == 0
                && r.leaderVotes >= c.pluralityMinVotes
        ) {
            _record(votingId, r, _leader[votingId], Status.Plurality);
        } else {
            (uint32 index, bytes32 head) = _append(votingId, r, bytes32(0), Status.Failed);
            emit RoundFailed(votingId, c.fallbackPolicy, index, head);
        }
        _rounds[votingId] = r;
    }

    /// @dev Whether the current attempt can no longer reach the threshold.
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function _failed(bytes32 votingId, Round memory r, Config memory c) private view returns (bool) {
        uint256 deadline = r.deadline;
        uint256 left; // votes that may still arrive
        if (r.status == Status.Voting) {
            left = r.eligible - r.voted.count();
        } else {
            uint64 committed = _extra[votingId].committed;
            if (r.status == Status.Committing && block.timestamp > deadline) deadline += c.revealDuration;
            bool commitsOpen = r.status == Status.Committing && block.timestamp <= r.deadline;
            left = (commitsOpen ? r.eligible : committed.count()) - r.voted.count();
        }
        return block.timestamp > deadline || uint256(r.leaderVotes) + left < r.threshold;
    }

    /// @notice Records `result` for a round handed to the failover address after two failed attempts.
    function resolveByFailover(bytes32 votingId, bytes32 result) external {
        if (result == bytes32(0)) revert VotingZeroResult();
        Round memory r = _rounds[votingId];
        if (r.status != Status.AwaitingFailover) revert VotingWrongStatus(votingId, r.status);
        if (msg.sender != _configs[r.configVersion].failover) revert VotingNotFailover(msg.sender);
        if (result != _leader[votingId]) {
            // Keep "voters of the recorded result = voted & ~dissent" true for the counters.
            uint64 voters = _tally[_tallyKey(votingId, r.attempt, result)];
            _extra[votingId].dissent = r.voted & ~voters;
            _leader[votingId] = result;
            r.leaderVotes = uint8(voters.count());
        }
        _record(votingId, r, result, Status.FailoverResolved);
        _rounds[votingId] = r;
    }
}
