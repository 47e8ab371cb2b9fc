// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IWorkerVotingTypes} from "./interfaces/IWorkerVoting.sol";
import {Bitmask} from "./libraries/Bitmask.sol";

/// @title RewardsAccounting
/// @notice The state of WorkerRewards and its arithmetic: epochs, registrations, weights, how a walk
/// counts a worker's rounds and how a pot splits into shares (cumulative offsets, see WorkerRewards).
/// It moves no funds and calls no other contract.
abstract contract RewardsAccounting {
    using Bitmask for uint64;

    uint256 internal constant BPS = 10_000;
    uint256 internal constant CATEGORIES = 4;

    struct Epoch {
        uint128 pot;
        uint128 paid;
        uint128 movedOut;
        bool settled;
        bool swept;
        uint16[4] weights; // fixed when the epoch settles
        uint64[4] totals;
    }

    /// @dev Two slots: the walk and its points, then the offsets.
    struct Registration {
        bool registered; // walk complete, points added to the totals
        bool claimed;
        bool started;
        uint32 cursor; // next chain entry to count
        uint32 eligible;
        uint32 tookPart;
        uint32[4] points;
        uint64[4] offsets;
    }

    /// @dev What a walk over chain entries counts for one worker.
    struct Tally {
        uint32 eligible;
        uint32 tookPart;
        uint32 accuracy;
        uint32 speed;
    }

    /// @dev Weights that apply from epoch `fromEpoch` on.
    struct WeightsChange {
        uint64 fromEpoch;
        uint16[4] weights;
    }

    mapping(uint256 epoch => Epoch) internal _epochs;
    mapping(uint256 epoch => mapping(address worker => Registration)) internal _registrations;
    WeightsChange[] internal _weightChanges; // fromEpoch strictly increasing

    /// @dev The weights of `epoch`: the last change from that epoch or before (binary search).
    function _weightsOf(uint256 epoch) internal view returns (uint16[4] memory) {
        uint256 low = 0;
        uint256 high = _weightChanges.length; // the answer lies in [low, high)
        while (high - low > 1) {
            uint256 mid = (low + high) / 2;
            if (_weightChanges[mid].fromEpoch <= epoch) low = mid;
            else high = mid;
        }
        return _weightChanges[low].weights;
    }

    /// @dev Counts the rounds that concern `w`; with `stopAtLate`, stops before the first round
    /// still taking late votes. Returns how many rounds it went through, and the counts.
    function _count(
        IWorkerVotingTypes.SettledRound[] memory rounds,
        IWorkerVotingTypes.WorkerInfo memory w,
        bool stopAtLate
    ) internal view returns (uint256 i, Tally memory t) {
        uint32 eligible = 0;
        uint32 tookPart = 0;
        uint32 accuracy = 0;
        uint32 speed = 0;
        for (; i < rounds.length; ++i) {
            IWorkerVotingTypes.SettledRound memory r = rounds[i];
            if (stopAtLate && r.lateUntil >= block.timestamp) break;
            if (r.seq < w.joinedSeq || (!w.active && r.seq >= w.leftSeq)) continue;
            ++eligible;
            if (!r.voted.has(w.index)) continue;
            ++tookPart;
            if (r.agreed.has(w.index)) {
                ++accuracy;
                if (r.early.has(w.index)) ++speed;
            }
        }
        t = Tally(eligible, tookPart, accuracy, speed);
    }

    /// @dev Availability (took part at least once) and consistency (in every round it was
    /// eligible for), each 0 or 1.
    function _flags(uint32 eligible, uint32 tookPart) internal pure returns (uint32 available, uint32 consistent) {
        available = tookPart != 0 ? 1 : 0;
        consistent = tookPart != 0 && tookPart == eligible ? 1 : 0;
    }

    function _categoryPots(Epoch storage ep) internal view returns (uint256[4] memory) {
        return _potsFor(ep.pot, ep.weights);
    }

    function _potsFor(uint256 pot, uint16[4] memory w) internal pure returns (uint256[4] memory pots) {
        uint256 rest = pot;
        for (uint256 c; c < CATEGORIES - 1; ++c) {
            pots[c] = (pot * w[c]) / BPS;
            rest -= pots[c];
        }
        pots[CATEGORIES - 1] = rest; // the split's rounding remainder goes to the last category
    }

    function _shares(Epoch storage ep, Registration storage reg) internal view returns (uint256[4] memory) {
        return _sharesWith(_categoryPots(ep), ep, reg);
    }

    function _sharesWith(uint256[4] memory pots, Epoch storage ep, Registration storage reg)
        internal
        view
        returns (uint256[4] memory s)
    {
        for (uint256 c; c < CATEGORIES; ++c) {
            uint256 total = ep.totals[c];
            if (total == 0) continue;
            uint256 offset = reg.offsets[c];
            s[c] = (pots[c] * (offset + reg.points[c])) / total - (pots[c] * offset) / total;
        }
    }

    function _sum(uint256[4] memory s) internal pure returns (uint256) {
        return s[0] + s[1] + s[2] + s[3];
    }
}
