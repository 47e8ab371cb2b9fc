// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Bitmask} from "./libraries/Bitmask.sol";
import {VotingState} from "./VotingState.sol";

/// @title WorkerVoting
/// @notice Rounds of threshold voting on result hashes (Merkle roots of workflow records).
/// @dev Gas shape: a round is one packed slot plus the leading result. Votes for the leading result
/// touch only those two slots; other results keep a voter mask each. Nothing loops over the pool.
/// Trust rule: a round opens only from a descriptor (a window round once its window ended), and
/// its first attempt has no clock until `threshold` distinct eligible workers joined, so fewer
/// than `threshold` workers can neither fail, re-run nor settle a round, and a round they open
/// alone never reaches the result chain (nor anybody's rewards).
contract WorkerVoting is VotingState {
    using Bitmask for uint64;

    /// @param initialOwner Owner of the pool (adds and removes workers, sets the config, pauses).
    /// @param config Round parameters of version 0.
    /// @param epochLength_ Length of a reward epoch in seconds (1 hour to 365 days).
    /// @param maxWindow_ Longest vote or reveal duration a config may set, in seconds.
    /// @param admin_ The WorkerPoolAdmin module (checked by code hash).
    constructor(
        address initialOwner,
        Config memory config,
        uint256 epochLength_,
        uint256 maxWindow_,
        address admin_
    ) VotingState(initialOwner, config, epochLength_, maxWindow_, admin_) {}

    // ---------------------------------------------------------------------------------------------
    // Voting
    // ---------------------------------------------------------------------------------------------

    /// @notice Votes `result` in the round about `d` (open mode), opening it if nobody did yet.
    function openAndVote(Descriptor calldata d, bytes32 result) external {
        _vote(_describe(d), result, true);
    }

    /// @notice Votes `result` in the open round `votingId` (open mode).
    function vote(bytes32 votingId, bytes32 result) external {
        _vote(votingId, result, false);
    }

    /// @notice Commits in the round about `d` (sealed mode), opening it if nobody did yet.
    function openAndCommit(Descriptor calldata d, bytes32 commitment) external {
        _commit(_describe(d), commitment, true);
    }

    /// @notice Commits `commitment` in the open round `votingId` (sealed mode).
    /// @param commitment keccak256(abi.encode(result, salt, worker, votingId, attempt, chainid, this)).
    function commit(bytes32 votingId, bytes32 commitment) external {
        _commit(votingId, commitment, false);
    }

    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function _vote(bytes32 votingId, bytes32 result, bool mayOpen) private {
        (Round memory r, uint8 index, Pool memory p) = _enter(votingId, result, mayOpen);
        uint64 bit = Bitmask.bit(index);
        if (r.status == Status.Voting) {
            uint32 clock = _clock(p);
            if (r.deadline != 0 && clock > r.deadline) {
                revert VotingDeadlinePassed(votingId, _blockTime(p, r.deadline));
            }
            if (r.voted.count() < r.speedRank) r.early |= bit;
            r.voted |= bit;
            emit VoteCast(votingId, msg.sender, r.attempt, result, false);
            _count(votingId, r, bit, result, p, clock);
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

    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function _commit(bytes32 votingId, bytes32 commitment, bool mayOpen) private {
        (Round memory r, uint8 index, Pool memory p) = _enter(votingId, commitment, mayOpen);
        if (r.status != Status.Committing) {
            if (r.status == Status.Voting) revert VotingWrongMode(votingId, false);
            revert VotingWrongStatus(votingId, r.status);
        }
        uint32 clock = _clock(p);
        if (r.deadline != 0 && clock > r.deadline) revert VotingDeadlinePassed(votingId, _blockTime(p, r.deadline));
        Extra memory x = _extra[votingId];
        uint64 bit = Bitmask.bit(index);
        if (x.committed & bit != 0) revert VotingAlreadyVoted(votingId, msg.sender);
        uint256 commits = x.committed.count() + 1;
        // Only attempt 1 ranks speed: attempt 1's reveals are public in attempt 2.
        if (r.attempt == 1 && commits <= r.speedRank) r.early |= bit;
        x.committed |= bit;
        bool starts = r.deadline == 0;
        if (commits == r.eligible) {
            // Every eligible worker committed: the reveal phase starts now.
            r.status = Status.Revealing;
            r.deadline = clock + _configs[r.configVersion].revealDuration;
        } else if (starts && commits >= r.threshold) {
            r.deadline = clock + _configs[r.configVersion].voteDuration;
        }
        _commitments[votingId][msg.sender] = commitment;
        _extra[votingId] = x;
        _rounds[votingId] = r;
        emit VoteCommitted(votingId, msg.sender, r.attempt);
        if (starts && r.deadline != 0) emit RoundStarted(votingId, r.attempt, _blockTime(p, r.deadline));
    }

    /// @notice Reveals the committed `result` with its `salt` (sealed mode).
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function reveal(bytes32 votingId, bytes32 result, bytes32 salt) external {
        if (result == bytes32(0)) revert VotingZeroResult();
        Pool memory p = _pool;
        Round memory r = _rounds[votingId];
        if (p.paused && r.status != Status.Consensus) revert VotingPaused();
        uint32 clock = _clock(p);
        if (r.status == Status.Consensus) {
            if (block.timestamp > r.deadline) revert VotingDeadlinePassed(votingId, r.deadline);
        } else {
            if (r.status == Status.Committing) {
                if (r.deadline == 0) revert VotingRevealNotOpen(votingId, 0);
                if (clock <= r.deadline) revert VotingRevealNotOpen(votingId, _blockTime(p, r.deadline) + 1);
                r.status = Status.Revealing;
                r.deadline += _configs[r.configVersion].revealDuration;
            } else if (r.status != Status.Revealing) {
                revert VotingWrongStatus(votingId, r.status);
            }
            if (clock > r.deadline) revert VotingDeadlinePassed(votingId, _blockTime(p, r.deadline));
        }
        Worker memory w = _workers[msg.sender];
        if (!w.active) revert VotingNotWorker(msg.sender);
        if (w.joinedSeq > r.seq) revert VotingNotEligible(votingId, msg.sender);
        uint64 bit = Bitmask.bit(w.index);
        if (_extra[votingId].committed & bit == 0) revert VotingNotCommitted(votingId, msg.sender);
        if (r.voted & bit != 0) revert VotingAlreadyVoted(votingId, msg.sender);
        bytes32 expected = commitmentOf(result, salt, msg.sender, votingId, r.attempt);
        if (_commitments[votingId][msg.sender] != expected) revert VotingCommitmentMismatch(votingId, msg.sender);
        delete _commitments[votingId][msg.sender];
        if (r.status == Status.Consensus) {
            _lateVote(votingId, r, bit, result);
        } else {
            r.voted |= bit;
            emit VoteCast(votingId, msg.sender, r.attempt, result, false);
            _count(votingId, r, bit, result, p, clock);
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

    /// @dev Checks a descriptor of a round that is not open yet and announces it.
    function _describe(Descriptor calldata d) private returns (bytes32 votingId) {
        votingId = descriptorId(d);
        if (_rounds[votingId].status != Status.None) return votingId;
        if (d.schedule == bytes32(0) || d.encoding == bytes32(0)) revert VotingInvalidDescriptor(votingId);
        if (d.eventKey == bytes32(0)) {
            if (d.windowEnd <= d.windowStart) revert VotingInvalidDescriptor(votingId);
            if (d.windowEnd > block.timestamp) revert VotingWindowNotEnded(votingId, d.windowEnd);
        } else if (d.windowStart != 0 || d.windowEnd != 0) {
            revert VotingInvalidDescriptor(votingId);
        }
        emit RoundDescribed(votingId, d.schedule, d.windowStart, d.windowEnd, d.eventKey, d.encoding);
    }

    /// @dev Common checks of vote and commit; opens the round on its first vote or commit.
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function _enter(bytes32 votingId, bytes32 value, bool mayOpen)
        private
        returns (Round memory r, uint8 index, Pool memory p)
    {
        if (value == bytes32(0)) revert VotingZeroResult();
        p = _pool;
        Worker memory w = _workers[msg.sender];
        if (!w.active) revert VotingNotWorker(msg.sender);
        r = _rounds[votingId];
        // A pause stops rounds, not late votes: those change no result and end in block time.
        if (p.paused && r.status != Status.Consensus) revert VotingPaused();
        if (r.status == Status.None) {
            if (!mayOpen) revert VotingUnknownRound(votingId);
            r = _open(votingId, p);
        }
        if (w.joinedSeq > r.seq) revert VotingNotEligible(votingId, msg.sender);
        if (r.voted.has(w.index)) revert VotingAlreadyVoted(votingId, msg.sender);
        index = w.index;
    }

    /// @dev Fixes the eligible set (active now) and the threshold for the whole round. The clock
    /// of attempt 1 starts only once `threshold` distinct workers joined (deadline 0 until then).
    function _open(bytes32 votingId, Pool memory p) private returns (Round memory r) {
        Config memory c = _configs[p.configVersion];
        uint8 threshold = c.threshold == 0 ? p.activeCount / 2 + 1 : c.threshold;
        if (threshold > p.activeCount) revert VotingThresholdUnreachable(threshold, p.activeCount);
        r.seq = p.generation;
        r.configVersion = p.configVersion;
        r.status = c.sealedMode ? Status.Committing : Status.Voting;
        if (c.sealedMode) r.flags = SEALED;
        r.attempt = 1;
        r.threshold = threshold;
        r.eligible = p.activeCount;
        r.speedRank = c.speedRank;
        emit RoundOpened(votingId, 1, r.seq, threshold, r.eligible, 0);
    }

    /// @dev Counts a vote for `result`; starts the clock at the quorum and records the result once
    /// it reaches the threshold. `p` is not paused here (only late votes are taken while paused).
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function _count(bytes32 votingId, Round memory r, uint64 bit, bytes32 result, Pool memory p, uint32 clock)
        private
    {
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
        bool starts = r.deadline == 0 && r.voted.count() >= r.threshold;
        if (starts) r.deadline = clock + _configs[r.configVersion].voteDuration;
        if (r.leaderVotes >= r.threshold) {
            // From here on the deadline ends the late votes, in block time.
            r.deadline += p.pausedTotal;
            _record(votingId, r, _leader[votingId], Status.Consensus);
        } else if (starts) {
            emit RoundStarted(votingId, r.attempt, r.deadline + p.pausedTotal);
        }
    }

    /// @dev A vote after consensus: recorded for the worker's counters, never changes the result.
    function _lateVote(bytes32 votingId, Round memory r, uint64 bit, bytes32 result) private {
        r.voted |= bit;
        if (result != _leader[votingId]) _extra[votingId].dissent |= bit;
        ++_workers[msg.sender].late;
        emit VoteCast(votingId, msg.sender, r.attempt, result, true);
    }

    function _record(bytes32 votingId, Round memory r, bytes32 result, Status kind) private {
        (uint32 index, bytes32 head) = _append(votingId, r, result, kind);
        emit ResultRecorded(votingId, result, kind, r.attempt, r.leaderVotes, index, head);
    }

    // ---------------------------------------------------------------------------------------------
    // No consensus: re-run, then fallback
    // ---------------------------------------------------------------------------------------------

    /// @notice Ends an attempt that can no longer reach consensus (deadline passed, or too few votes
    /// left). Attempt 1 re-opens as attempt 2; a failed attempt 2 applies the fallback. A round
    /// awaiting failover past its timeout is chained as Failed. Anyone may call.
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function finalize(bytes32 votingId) external {
        Round memory r = _rounds[votingId];
        Pool memory p = _pool;
        uint32 clock = _clock(p);
        Config memory c = _configs[r.configVersion];
        if (r.status == Status.AwaitingFailover) {
            if (clock <= r.deadline) revert VotingNothingToFinalize(votingId);
            _fail(votingId, r, c);
        } else {
            if (r.status != Status.Voting && r.status != Status.Committing && r.status != Status.Revealing) {
                revert VotingWrongStatus(votingId, r.status);
            }
            if (!_failed(votingId, r, c, clock)) revert VotingNothingToFinalize(votingId);
            if (r.attempt == 1) {
                _rerun(votingId, r, c, p, clock);
            } else if (c.fallbackPolicy == Fallback.Failover) {
                r.status = Status.AwaitingFailover;
                r.deadline = clock + c.failoverTimeout;
                emit FailoverRequested(votingId, c.failover, _blockTime(p, r.deadline));
            } else if (
                // A plurality needs its minimum, no tie, and attempt 2's quorum of distinct voters.
                c.fallbackPolicy == Fallback.AcceptPlurality && r.flags & TIED == 0
                    && r.leaderVotes >= c.pluralityMinVotes && r.voted.count() >= r.threshold
            ) {
                _record(votingId, r, _leader[votingId], Status.Plurality);
            } else {
                _fail(votingId, r, c);
            }
        }
        _rounds[votingId] = r;
    }

    /// @dev Attempt 2: fresh tallies, a full window from now. In sealed mode it ranks no speed:
    /// attempt 1's reveals are public by now, so commit order there could be copied.
    function _rerun(bytes32 votingId, Round memory r, Config memory c, Pool memory p, uint32 clock) private {
        r.attempt = 2;
        r.voted = 0;
        r.early = 0;
        r.leaderVotes = 0;
        r.flags &= ~TIED;
        r.status = c.sealedMode ? Status.Committing : Status.Voting;
        r.deadline = clock + c.voteDuration;
        delete _leader[votingId];
        delete _extra[votingId];
        uint32 deadline = _blockTime(p, r.deadline);
        emit RoundReopened(votingId, deadline);
        emit RoundOpened(votingId, 2, r.seq, r.threshold, r.eligible, deadline);
    }

    function _fail(bytes32 votingId, Round memory r, Config memory c) private {
        (uint32 index, bytes32 head) = _append(votingId, r, bytes32(0), Status.Failed);
        emit RoundFailed(votingId, c.fallbackPolicy, index, head);
    }

    /// @dev Whether the current attempt can no longer reach the threshold. Attempt 1 before its
    /// quorum has no clock and cannot fail.
    // slither-disable-next-line incorrect-equality -- exact status, flag and count checks; only Round.deadline comes from block.timestamp
    function _failed(bytes32 votingId, Round memory r, Config memory c, uint32 clock) private view returns (bool) {
        if (r.deadline == 0) return false;
        uint256 deadline = r.deadline;
        uint256 left; // votes that may still arrive
        if (r.status == Status.Voting) {
            left = r.eligible - r.voted.count();
        } else {
            uint64 committed = _extra[votingId].committed;
            if (r.status == Status.Committing && clock > deadline) deadline += c.revealDuration;
            bool commitsOpen = r.status == Status.Committing && clock <= r.deadline;
            left = (commitsOpen ? r.eligible : committed.count()) - r.voted.count();
        }
        // Attempt 2 before a plurality ends only when its window closed or everybody voted: the votes
        // still to come can tie or overtake the leader even when none can reach the threshold.
        if (r.attempt == 2 && c.fallbackPolicy == Fallback.AcceptPlurality) return clock > deadline || left == 0;
        return clock > deadline || uint256(r.leaderVotes) + left < r.threshold;
    }

    /// @notice Records `result` for a round handed to failover, before its timeout. The failover
    /// address of the round's config or of the current config may call.
    function resolveByFailover(bytes32 votingId, bytes32 result) external {
        if (result == bytes32(0)) revert VotingZeroResult();
        Round memory r = _rounds[votingId];
        if (r.status != Status.AwaitingFailover) revert VotingWrongStatus(votingId, r.status);
        Pool memory p = _pool;
        if (_clock(p) > r.deadline) revert VotingDeadlinePassed(votingId, _blockTime(p, r.deadline));
        if (msg.sender != _configs[r.configVersion].failover && msg.sender != _configs[p.configVersion].failover) {
            revert VotingNotFailover(msg.sender);
        }
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
