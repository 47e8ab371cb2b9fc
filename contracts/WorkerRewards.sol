// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IWorkerRewards} from "./interfaces/IWorkerRewards.sol";
import {IWorkerVoting} from "./interfaces/IWorkerVoting.sol";
import {Bitmask} from "./libraries/Bitmask.sol";

/// @title WorkerRewards
/// @notice Pays workers per epoch for availability, consistency, accuracy and speed, from a pot
/// funded in the native coin (EWT) or in one ERC-20 token chosen at deployment.
/// @dev Nothing here runs in the vote path: points are read from the voting contract's chain of
/// settled rounds when a worker registers. An epoch owns the chain entries appended between its
/// checkpoint and the next epoch's checkpoint (any call here checkpoints the current epoch).
/// Payouts use cumulative offsets, floor(pot * (offset + points) / total) - floor(pot * offset / total),
/// so the shares of a category add up to its pot exactly: no rounding dust is left behind.
contract WorkerRewards is IWorkerRewards, Ownable2Step, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using Bitmask for uint64;

    uint256 private constant BPS = 10_000;
    uint256 private constant CATEGORIES = 4;

    /// @notice The voting contract whose settled rounds earn rewards.
    IWorkerVoting public immutable voting;
    /// @notice The reward token; zero means the chain's native coin.
    IERC20 public immutable token;
    /// @notice Start of epoch 0 (deployment time).
    uint256 public immutable start;
    /// @notice Length of an epoch in seconds.
    uint256 public immutable epochLength;
    /// @notice Seconds after an epoch ends during which workers' points are registered.
    uint256 public immutable registrationWindow;
    /// @notice Seconds after the registration window after which unclaimed funds roll over.
    uint256 public immutable claimExpiry;

    struct Epoch {
        uint128 pot;
        uint128 paid;
        uint128 movedOut;
        uint32 firstIndex;
        bool checkpointed;
        bool settled;
        bool swept;
        uint16[4] weights;
        uint64[4] totals;
    }

    struct Registration {
        bool registered;
        bool claimed;
        uint32[4] points;
        uint64[4] offsets;
    }

    mapping(uint256 epoch => Epoch) private _epochs;
    mapping(uint256 epoch => uint256 next) private _nextCheckpoint;
    mapping(uint256 epoch => mapping(address worker => Registration)) private _registrations;
    uint256 private _lastCheckpoint;
    uint16[4] private _weights;
    uint16[4] private _pendingWeights;
    uint256 private _pendingFrom; // 0: no pending change (epoch 0 is checkpointed at deployment)

    constructor(
        address initialOwner,
        IWorkerVoting voting_,
        IERC20 token_,
        uint256 epochLength_,
        uint256 registrationWindow_,
        uint256 claimExpiry_,
        uint16[4] memory initialWeights
    ) Ownable(initialOwner) {
        if (address(voting_) == address(0)) revert RewardsInvalidParameter("voting");
        if (epochLength_ < 1 hours || epochLength_ > 365 days) revert RewardsInvalidParameter("epochLength");
        if (registrationWindow_ == 0 || registrationWindow_ > 90 days) {
            revert RewardsInvalidParameter("registrationWindow");
        }
        if (claimExpiry_ < 30 days || claimExpiry_ > 3650 days) revert RewardsInvalidParameter("claimExpiry");
        _checkWeights(initialWeights);
        voting = voting_;
        token = token_;
        start = block.timestamp;
        epochLength = epochLength_;
        registrationWindow = registrationWindow_;
        claimExpiry = claimExpiry_;
        _weights = initialWeights;
        emit WeightsUpdated(initialWeights, 0);
        _checkpoint();
    }

    // ---------------------------------------------------------------------------------------------
    // Funding and parameters
    // ---------------------------------------------------------------------------------------------

    /// @notice Adds `amount` to the pot of `epoch` (the current one or a later one). Native coin:
    /// send `amount` as value; token: approve this contract for `amount` first.
    function fund(uint256 epoch, uint256 amount) external payable nonReentrant {
        uint256 current = _checkpoint();
        if (epoch < current) revert RewardsEpochEnded(epoch, current);
        bool native = address(token) == address(0);
        bool wrong = native ? msg.value != amount : msg.value != 0;
        if (amount == 0 || amount > type(uint128).max || wrong) {
            revert RewardsWrongFunding(msg.value, amount);
        }
        _epochs[epoch].pot += uint128(amount);
        emit Funded(epoch, msg.sender, amount);
        if (!native) token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Sets the category weights (basis points, summing to 10000) from the next epoch on.
    function setWeights(uint16[4] calldata newWeights) external onlyOwner {
        _checkWeights(newWeights);
        uint256 from = _checkpoint() + 1;
        _pendingWeights = newWeights;
        _pendingFrom = from;
        emit WeightsUpdated(newWeights, from);
    }

    function _checkWeights(uint16[4] memory w) private pure {
        if (uint256(w[0]) + w[1] + w[2] + w[3] != BPS) revert RewardsInvalidParameter("weights");
    }

    /// @notice Fixes the current epoch's first chain entry if nobody did yet; anyone may call.
    function checkpoint() external returns (uint256 epoch) {
        return _checkpoint();
    }

    function _checkpoint() private returns (uint256 current) {
        current = currentEpoch();
        Epoch storage ep = _epochs[current];
        if (ep.checkpointed) return current;
        if (_pendingFrom != 0 && current >= _pendingFrom) {
            _weights = _pendingWeights;
            _pendingFrom = 0;
        }
        // slither-disable-next-line unused-return -- only the chain length is needed, not the head hash
        (, uint256 length) = voting.chainHead();
        ep.checkpointed = true;
        ep.firstIndex = uint32(length);
        ep.weights = _weights;
        if (current != 0) _nextCheckpoint[_lastCheckpoint] = current;
        _lastCheckpoint = current;
        emit EpochCheckpointed(current, uint32(length), _weights);
    }

    // ---------------------------------------------------------------------------------------------
    // Registration and claims
    // ---------------------------------------------------------------------------------------------

    /// @notice Counts `worker`'s points in `epoch` into the epoch's totals; anyone may call, once per
    /// worker, after the epoch ended and within its registration window.
    function register(uint256 epoch, address worker) external returns (Points memory points) {
        _requireEnded(epoch);
        uint256 closesAt = _registrationEnd(epoch);
        if (block.timestamp > closesAt) revert RewardsRegistrationClosed(epoch, closesAt);
        Registration storage reg = _registrations[epoch][worker];
        if (reg.registered) revert RewardsAlreadyRegistered(epoch, worker);
        points = _countPoints(epoch, worker);
        uint32[4] memory p = [points.availability, points.consistency, points.accuracy, points.speed];
        Epoch storage ep = _epochs[epoch];
        for (uint256 c; c < CATEGORIES; ++c) {
            reg.offsets[c] = ep.totals[c];
            ep.totals[c] += p[c];
        }
        reg.points = p;
        reg.registered = true;
        emit PointsRegistered(epoch, worker, points);
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

    function _requireEnded(uint256 epoch) private returns (uint256 current) {
        current = _checkpoint();
        if (epoch >= current) revert RewardsEpochNotEnded(epoch);
    }

    /// @dev Ended, registration closed, not swept; settles the epoch on first use.
    function _requireClaimable(uint256 epoch) private {
        uint256 current = _requireEnded(epoch);
        uint256 closesAt = _registrationEnd(epoch);
        if (block.timestamp <= closesAt) revert RewardsRegistrationOpen(epoch, closesAt);
        Epoch storage ep = _epochs[epoch];
        if (ep.swept) revert RewardsClaimExpired(epoch);
        if (ep.settled) return;
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

    // ---------------------------------------------------------------------------------------------
    // Accounting
    // ---------------------------------------------------------------------------------------------

    /// @dev Walks the epoch's chain entries once: gas grows with the rounds, not with the pool.
    function _countPoints(uint256 epoch, address worker) private view returns (Points memory p) {
        IWorkerVoting.WorkerInfo memory w = voting.workerInfo(worker);
        if (!w.active && !w.retired) revert RewardsUnknownWorker(worker);
        (uint256 first, uint256 end) = _range(epoch);
        uint256 eligible = 0;
        uint256 tookPart = 0;
        for (uint256 i = first; i < end; ++i) {
            IWorkerVoting.SettledRound memory r = voting.settledRound(i);
            if (r.lateUntil >= block.timestamp) revert RewardsRoundNotSettled(i, r.lateUntil);
            if (r.seq < w.joinedSeq || (!w.active && r.seq >= w.leftSeq)) continue;
            ++eligible;
            if (!r.voted.has(w.index)) continue;
            ++tookPart;
            if (r.agreed.has(w.index)) {
                ++p.accuracy;
                if (r.early.has(w.index)) ++p.speed;
            }
        }
        if (tookPart != 0) p.availability = 1;
        if (tookPart != 0 && tookPart == eligible) p.consistency = 1;
    }

    /// @dev Chain entries of an ended epoch: [its checkpoint, next checkpoint). None if it was
    /// never checkpointed. For the last checkpointed epoch (views only: every transaction
    /// checkpoints first) the end is where a checkpoint now would put it.
    // slither-disable-next-line incorrect-equality,unused-return -- epoch numbers compare exactly; only the chain length is needed
    function _range(uint256 epoch) private view returns (uint256 first, uint256 end) {
        Epoch storage ep = _epochs[epoch];
        if (!ep.checkpointed) return (0, 0);
        first = ep.firstIndex;
        if (epoch == _lastCheckpoint) (, end) = voting.chainHead();
        else end = _epochs[_nextCheckpoint[epoch]].firstIndex;
    }

    function _categoryPots(Epoch storage ep) private view returns (uint256[4] memory pots) {
        uint256 pot = ep.pot;
        uint256 rest = pot;
        for (uint256 c; c < CATEGORIES - 1; ++c) {
            pots[c] = (pot * ep.weights[c]) / BPS;
            rest -= pots[c];
        }
        pots[CATEGORIES - 1] = rest; // the split's rounding remainder goes to the last category
    }

    function _shares(Epoch storage ep, Registration storage reg) private view returns (uint256[4] memory s) {
        uint256[4] memory pots = _categoryPots(ep);
        for (uint256 c; c < CATEGORIES; ++c) {
            uint256 total = ep.totals[c];
            if (total == 0) continue;
            uint256 offset = reg.offsets[c];
            s[c] = (pots[c] * (offset + reg.points[c])) / total - (pots[c] * offset) / total;
        }
    }

    function _sum(uint256[4] memory s) private pure returns (uint256) {
        return s[0] + s[1] + s[2] + s[3];
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
        uint256 current = currentEpoch();
        v.pot = ep.pot;
        v.paid = ep.paid;
        v.movedOut = ep.movedOut;
        v.firstIndex = ep.firstIndex;
        v.checkpointed = ep.checkpointed;
        v.ended = epoch < current;
        if (v.ended) {
            (, uint256 end) = _range(epoch);
            v.endIndex = uint32(end);
        }
        v.settled = ep.settled;
        v.swept = ep.swept;
        v.weights = ep.weights;
        v.totals = ep.totals;
    }

    /// @notice `worker`'s registration in `epoch`.
    function registration(uint256 epoch, address worker)
        external
        view
        returns (bool registered, bool claimed, Points memory points)
    {
        Registration storage reg = _registrations[epoch][worker];
        uint32[4] memory p = reg.points;
        return (reg.registered, reg.claimed, Points(p[0], p[1], p[2], p[3]));
    }

    /// @notice Points `worker` would register for an ended `epoch` now.
    function previewPoints(uint256 epoch, address worker) external view returns (Points memory) {
        return _countPoints(epoch, worker);
    }

    /// @notice What `worker` can claim for `epoch` now, per category (availability, consistency,
    /// accuracy, speed); zero when not registered, already claimed, swept or not claimable yet.
    function claimable(uint256 epoch, address worker) external view returns (uint256[4] memory shares) {
        Registration storage reg = _registrations[epoch][worker];
        Epoch storage ep = _epochs[epoch];
        bool open = epoch < currentEpoch() && block.timestamp > _registrationEnd(epoch);
        if (!open || !reg.registered || reg.claimed || ep.swept) return shares;
        return _shares(ep, reg);
    }

    /// @notice Next epoch's weights if a change is pending (`fromEpoch` 0: none), and current ones.
    function weights() external view returns (uint16[4] memory current, uint16[4] memory pending, uint256 fromEpoch) {
        return (_weights, _pendingWeights, _pendingFrom);
    }
}
