// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IWorkerRewards} from "./interfaces/IWorkerRewards.sol";
import {RewardsAccounting} from "./RewardsAccounting.sol";
import {IWorkerVoting, IWorkerVotingTypes} from "./interfaces/IWorkerVoting.sol";

/// @title WorkerRewards
/// @notice Pays workers per epoch for availability, consistency, accuracy and speed, from a pot
/// funded in the native coin (EWT) or in one ERC-20 token chosen at deployment.
/// @dev Nothing here runs in the vote path. Epochs are the voting contract's: an epoch owns the
/// chain entries appended (rounds settled) during it, by block time, so no call order can move a
/// round between epochs. Registration counts a worker's points in resumable chunks of at most
/// `maxRounds` entries; it never reverts on a round still taking late votes, it stops before it.
/// Payouts use cumulative offsets, floor(pot * (offset + points) / total) - floor(pot * offset / total),
/// so the shares of a category add up to its pot exactly: no rounding dust is left behind.
contract WorkerRewards is IWorkerRewards, Ownable2Step, ReentrancyGuard, RewardsAccounting {
    using SafeERC20 for IERC20;

    /// @notice Least time the registration window lasts beyond the voting contract's `maxWindow`:
    /// after an epoch's last late vote, time to walk its last rounds on a chain with slow blocks.
    uint256 public constant REGISTRATION_MARGIN = 1 hours;

    /// @notice The voting contract whose settled rounds earn rewards.
    IWorkerVoting public immutable voting;
    /// @notice The reward token; zero means the chain's native coin.
    IERC20 public immutable token;
    /// @notice Start of epoch 0 (the voting contract's).
    uint256 public immutable start;
    /// @notice Length of an epoch in seconds (the voting contract's).
    uint256 public immutable epochLength;
    /// @notice Seconds after an epoch ends during which workers' points are registered; at least the
    /// voting contract's `maxWindow` plus `REGISTRATION_MARGIN`, so every late vote of the epoch is
    /// in well before it closes.
    uint256 public immutable registrationWindow;
    /// @notice Seconds after the registration window after which unclaimed funds roll over.
    uint256 public immutable claimExpiry;

    constructor(
        address initialOwner,
        IWorkerVoting voting_,
        IERC20 token_,
        uint256 registrationWindow_,
        uint256 claimExpiry_,
        uint16[4] memory initialWeights
    ) Ownable(initialOwner) {
        if (address(voting_) == address(0)) revert RewardsInvalidParameter("voting");
        uint256 maxWindow = voting_.maxWindow();
        if (registrationWindow_ < maxWindow + REGISTRATION_MARGIN || registrationWindow_ > 90 days) {
            revert RewardsInvalidParameter("registrationWindow");
        }
        if (claimExpiry_ < 30 days || claimExpiry_ > 3650 days) revert RewardsInvalidParameter("claimExpiry");
        _checkWeights(initialWeights);
        voting = voting_;
        token = token_;
        start = voting_.epochStart();
        epochLength = voting_.epochLength();
        registrationWindow = registrationWindow_;
        claimExpiry = claimExpiry_;
        _weightChanges.push(WeightsChange({fromEpoch: 0, weights: initialWeights}));
        emit WeightsUpdated(initialWeights, 0);
    }

    /// @notice Disabled: ownership moves only in two steps (`transferOwnership`, `acceptOwnership`).
    function renounceOwnership() public pure override {
        revert RewardsRenounceDisabled();
    }

    // ---------------------------------------------------------------------------------------------
    // Funding and parameters
    // ---------------------------------------------------------------------------------------------

    /// @notice Adds `amount` to the pot of `epoch` (the current one or a later one). Native coin:
    /// send `amount` as value; token: approve this contract for `amount` first. A token that takes a
    /// fee on transfer is credited with what arrived.
    // slither-disable-next-line incorrect-equality -- zero received is refused, not compared as a balance
    function fund(uint256 epoch, uint256 amount) external payable nonReentrant {
        uint256 current = currentEpoch();
        if (epoch < current) revert RewardsEpochEnded(epoch, current);
        bool native = address(token) == address(0);
        bool wrong = native ? msg.value != amount : msg.value != 0;
        if (amount == 0 || amount > type(uint128).max || wrong) revert RewardsWrongFunding(msg.value, amount);
        uint256 received = amount;
        if (!native) {
            uint256 before = token.balanceOf(address(this));
            token.safeTransferFrom(msg.sender, address(this), amount);
            received = token.balanceOf(address(this)) - before;
            if (received == 0 || received > amount) revert RewardsWrongFunding(received, amount);
        }
        _epochs[epoch].pot += uint128(received);
        emit Funded(epoch, msg.sender, received);
    }

    /// @notice Sets the category weights (basis points, summing to 10000) from the next epoch on.
    // slither-disable-next-line incorrect-equality -- epoch numbers compare exactly
    function setWeights(uint16[4] calldata newWeights) external onlyOwner {
        _checkWeights(newWeights);
        uint64 from = uint64(currentEpoch() + 1);
        uint256 last = _weightChanges.length - 1;
        if (_weightChanges[last].fromEpoch == from) _weightChanges[last].weights = newWeights;
        else _weightChanges.push(WeightsChange({fromEpoch: from, weights: newWeights}));
        emit WeightsUpdated(newWeights, from);
    }

    function _checkWeights(uint16[4] memory w) private pure {
        if (uint256(w[0]) + w[1] + w[2] + w[3] != BPS) revert RewardsInvalidParameter("weights");
    }

    // ---------------------------------------------------------------------------------------------
    // Registration and claims
    // ---------------------------------------------------------------------------------------------

    /// @notice Counts up to `maxRounds` more of the epoch's chain entries for `worker`; once all are
    /// counted, adds its points to the epoch's totals. Anyone may call, after the epoch ended and
    /// within its registration window. Stops (without reverting) before a round still taking late
    /// votes; call again later. Returns whether the registration is complete.
    function register(uint256 epoch, address worker, uint256 maxRounds) external returns (bool done) {
        uint256 current = currentEpoch();
        if (epoch >= current) revert RewardsEpochNotEnded(epoch);
        uint256 closesAt = _registrationEnd(epoch);
        if (block.timestamp > closesAt) revert RewardsRegistrationClosed(epoch, closesAt);
        if (maxRounds == 0) revert RewardsInvalidParameter("maxRounds");
        Registration storage reg = _registrations[epoch][worker];
        if (reg.registered) revert RewardsAlreadyRegistered(epoch, worker);
        IWorkerVotingTypes.WorkerInfo memory w = voting.workerInfo(worker);
        if (!w.active && !w.retired) revert RewardsUnknownWorker(worker);
        (uint256 first, uint256 end) = voting.epochEntries(epoch);
        // Entries before the worker joined all settled before it joined: none concerns it.
        uint256 cursor = reg.started ? reg.cursor : (first > w.joinedIndex ? first : w.joinedIndex);
        if (cursor > end) cursor = end;
        cursor = _walk(reg, w, cursor, maxRounds < end - cursor ? cursor + maxRounds : end);
        reg.started = true;
        reg.cursor = uint32(cursor);
        if (cursor < end) {
            emit RegistrationProgressed(epoch, worker, cursor, end);
            return false;
        }
        _complete(_epochs[epoch], reg);
        uint32[4] memory p = reg.points;
        emit PointsRegistered(epoch, worker, Points(p[0], p[1], p[2], p[3]));
        return true;
    }

    /// @dev Counts entries [from, to) into `reg`; returns where it stopped (before a round whose
    /// late votes are still open, or `to`).
    function _walk(
        Registration storage reg,
        IWorkerVotingTypes.WorkerInfo memory w,
        uint256 from,
        uint256 to
    ) private returns (uint256) {
        if (from == to) return from;
        (uint256 counted, Tally memory t) = _count(voting.settledRounds(from, to - from), w, true);
        reg.eligible += t.eligible;
        reg.tookPart += t.tookPart;
        reg.points[2] += t.accuracy;
        reg.points[3] += t.speed;
        return from + counted;
    }

    /// @dev Availability and consistency from the walk; the points join the epoch's totals.
    function _complete(Epoch storage ep, Registration storage reg) private {
        (reg.points[0], reg.points[1]) = _flags(reg.eligible, reg.tookPart);
        for (uint256 c; c < CATEGORIES; ++c) {
            reg.offsets[c] = ep.totals[c];
            ep.totals[c] += reg.points[c];
        }
        reg.registered = true;
    }

    /// @notice Pays `worker` its rewards for `epoch`; anyone may call, the worker is paid.
    function claim(uint256 epoch, address worker) external nonReentrant returns (uint256 amount) {
        _requireClaimable(epoch);
        Registration storage reg = _registrations[epoch][worker];
        if (!reg.registered) revert RewardsNotRegistered(epoch, worker);
        if (reg.claimed) revert RewardsAlreadyClaimed(epoch, worker);
        amount = _sum(_shares(_epochs[epoch], reg));
        reg.claimed = true;
        _epochs[epoch].paid += uint128(amount);
        emit Claimed(epoch, worker, msg.sender, amount);
        _pay(worker, amount);
    }

    /// @notice Makes `epoch`'s totals final and rolls the pots of categories nobody earned over to
    /// the current epoch. Runs on the first claim; anyone may call it earlier.
    function settle(uint256 epoch) external {
        _requireClaimable(epoch);
    }

    /// @notice Rolls what is still unclaimed in `epoch` over to the current epoch, once the claim
    /// expiry has passed; anyone may call. Nothing goes to the owner.
    function sweep(uint256 epoch) external nonReentrant returns (uint256 amount) {
        _requireClaimable(epoch);
        uint256 expiresAt = _registrationEnd(epoch) + claimExpiry;
        if (block.timestamp <= expiresAt) revert RewardsNotExpired(epoch, expiresAt);
        Epoch storage ep = _epochs[epoch];
        amount = ep.pot - ep.paid - ep.movedOut;
        ep.movedOut += uint128(amount);
        ep.swept = true;
        uint256 current = currentEpoch();
        _epochs[current].pot += uint128(amount);
        emit Swept(epoch, amount, current);
    }

    /// @dev Ended, registration closed, not swept; settles the epoch on first use.
    // slither-disable-next-line incorrect-equality -- a category total of exactly zero means nobody earned it
    function _requireClaimable(uint256 epoch) private {
        uint256 current = currentEpoch();
        if (epoch >= current) revert RewardsEpochNotEnded(epoch);
        uint256 closesAt = _registrationEnd(epoch);
        if (block.timestamp <= closesAt) revert RewardsRegistrationOpen(epoch, closesAt);
        Epoch storage ep = _epochs[epoch];
        if (ep.swept) revert RewardsClaimExpired(epoch);
        if (ep.settled) return;
        ep.weights = _weightsOf(epoch);
        uint256[4] memory pots = _categoryPots(ep);
        uint256 rolled = 0;
        for (uint256 c; c < CATEGORIES; ++c) {
            if (ep.totals[c] == 0) rolled += pots[c];
        }
        ep.settled = true;
        ep.movedOut += uint128(rolled);
        _epochs[current].pot += uint128(rolled);
        emit EpochSettled(epoch, ep.pot, ep.totals, rolled, current);
    }

    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        if (address(token) != address(0)) {
            token.safeTransfer(to, amount);
            return;
        }
        // slither-disable-next-line arbitrary-send-eth,low-level-calls -- pays the registered worker its own share, after the state change (nonReentrant)
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert RewardsPaymentFailed(to, amount);
    }

    function _registrationEnd(uint256 epoch) private view returns (uint256) {
        return start + (epoch + 1) * epochLength + registrationWindow;
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice The epoch that contains the current block time.
    function currentEpoch() public view returns (uint256) {
        return (block.timestamp - start) / epochLength;
    }

    /// @notice Start and end time of `epoch`, and when its registration window closes.
    function epochTimes(uint256 epoch) external view returns (uint256 begins, uint256 ends, uint256 registrationEnds) {
        begins = start + epoch * epochLength;
        ends = begins + epochLength;
        registrationEnds = ends + registrationWindow;
    }

    /// @notice State of `epoch`.
    function epochInfo(uint256 epoch) external view returns (EpochView memory v) {
        Epoch storage ep = _epochs[epoch];
        v.pot = ep.pot;
        v.paid = ep.paid;
        v.movedOut = ep.movedOut;
        (uint256 first, uint256 end) = voting.epochEntries(epoch);
        v.firstIndex = uint32(first);
        v.endIndex = uint32(end);
        v.ended = epoch < currentEpoch();
        v.settled = ep.settled;
        v.swept = ep.swept;
        v.weights = ep.settled ? ep.weights : _weightsOf(epoch);
        v.totals = ep.totals;
    }

    /// @notice `worker`'s registration in `epoch`: complete, claimed, the points (availability and
    /// consistency are set once complete), and where its walk stands (next entry, epoch end).
    function registration(uint256 epoch, address worker)
        external
        view
        returns (bool registered, bool claimed, Points memory points, uint256 cursor, uint256 end)
    {
        Registration storage reg = _registrations[epoch][worker];
        uint32[4] memory p = reg.points;
        (uint256 first, uint256 last) = voting.epochEntries(epoch);
        if (reg.started) {
            cursor = reg.cursor;
        } else {
            uint256 joinedIndex = voting.workerInfo(worker).joinedIndex;
            cursor = first > joinedIndex ? first : (joinedIndex < last ? joinedIndex : last);
        }
        return (reg.registered, reg.claimed, Points(p[0], p[1], p[2], p[3]), cursor, last);
    }

    /// @notice Points `worker` would register for an ended `epoch` now (a view over the whole
    /// epoch, for eth_call; rounds still taking late votes are counted as they stand).
    function previewPoints(uint256 epoch, address worker) external view returns (Points memory p) {
        IWorkerVotingTypes.WorkerInfo memory w = voting.workerInfo(worker);
        if (!w.active && !w.retired) revert RewardsUnknownWorker(worker);
        (uint256 first, uint256 end) = voting.epochEntries(epoch);
        if (first < w.joinedIndex) first = w.joinedIndex;
        if (first >= end) return p;
        (, Tally memory t) = _count(voting.settledRounds(first, end - first), w, false);
        (p.availability, p.consistency) = _flags(t.eligible, t.tookPart);
        (p.accuracy, p.speed) = (t.accuracy, t.speed);
    }

    /// @notice What `worker` can claim for `epoch` now, per category (availability, consistency,
    /// accuracy, speed); zero when not registered, already claimed, swept or not claimable yet.
    function claimable(uint256 epoch, address worker) external view returns (uint256[4] memory shares) {
        Registration storage reg = _registrations[epoch][worker];
        Epoch storage ep = _epochs[epoch];
        bool open = epoch < currentEpoch() && block.timestamp > _registrationEnd(epoch);
        if (!open || !reg.registered || reg.claimed || ep.swept) return shares;
        if (!ep.settled) {
            // Not settled yet: the shares the first claim will pay, with the epoch's weights.
            return _sharesWith(_potsFor(ep.pot, _weightsOf(epoch)), ep, reg);
        }
        return _shares(ep, reg);
    }

    /// @notice The weights that apply now, the next epoch's if a change is pending (`fromEpoch` 0:
    /// none), and the epoch it applies from.
    function weights() external view returns (uint16[4] memory current, uint16[4] memory pending, uint256 fromEpoch) {
        uint256 now_ = currentEpoch();
        current = _weightsOf(now_);
        WeightsChange storage last = _weightChanges[_weightChanges.length - 1];
        if (last.fromEpoch > now_) return (current, last.weights, last.fromEpoch);
        return (current, pending, 0);
    }
}
