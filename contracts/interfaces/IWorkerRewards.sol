// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IWorkerRewards
/// @notice Epoch rewards for a worker pool, read from the voting contract's settled rounds.
/// Each epoch's pot is split by weight into availability, consistency, accuracy and speed, and each
/// category is shared pro rata among the points earned in it. An epoch goes through three phases:
/// open (rounds settle into it), registration (after it ends: each worker's points are counted,
/// by anyone, in resumable chunks) and claims (after the registration window: pull payments).
interface IWorkerRewards {
    /// @notice Points of one worker in one epoch, by category.
    struct Points {
        uint32 availability;
        uint32 consistency;
        uint32 accuracy;
        uint32 speed;
    }

    /// @notice An epoch as the views report it.
    /// @param pot Funds of the epoch (funded, as received, plus rolled over into it).
    /// @param firstIndex First chain entry of the epoch (rounds settled during it, by block time).
    /// @param endIndex One past its last chain entry (final once the epoch ended).
    /// @param weights Basis points of availability, consistency, accuracy and speed.
    /// @param totals Registered points per category.
    /// @param paid Paid out in claims.
    /// @param movedOut Rolled over to a later epoch (categories nobody earned, expired claims).
    struct EpochView {
        uint256 pot;
        uint256 paid;
        uint256 movedOut;
        uint32 firstIndex;
        uint32 endIndex;
        bool ended;
        bool settled;
        bool swept;
        uint16[4] weights;
        uint64[4] totals;
    }

    // ---------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------

    /// @notice Thrown when a constructor or setter argument is out of range; `field` names it.
    error RewardsInvalidParameter(string field);
    /// @notice Thrown when funding an epoch that has already ended.
    error RewardsEpochEnded(uint256 epoch, uint256 current);
    /// @notice Thrown when funding with zero, or with native coin on a token pool (or the reverse).
    error RewardsWrongFunding(uint256 value, uint256 amount);
    /// @notice Thrown when registering or claiming an epoch that has not ended yet.
    error RewardsEpochNotEnded(uint256 epoch);
    /// @notice Thrown when registering after the registration window of `epoch` closed at `closedAt`.
    error RewardsRegistrationClosed(uint256 epoch, uint256 closedAt);
    /// @notice Thrown when claiming before the registration window of `epoch` closes at `closesAt`.
    error RewardsRegistrationOpen(uint256 epoch, uint256 closesAt);
    /// @notice Thrown when registering a worker twice for an epoch.
    error RewardsAlreadyRegistered(uint256 epoch, address worker);
    /// @notice Thrown when claiming for a worker that has no registered points in the epoch.
    error RewardsNotRegistered(uint256 epoch, address worker);
    /// @notice Thrown when claiming an epoch twice.
    error RewardsAlreadyClaimed(uint256 epoch, address worker);
    /// @notice Thrown when claiming an epoch whose unclaimed funds were rolled over.
    error RewardsClaimExpired(uint256 epoch);
    /// @notice Thrown when sweeping before the claim expiry of `epoch` at `expiresAt`.
    error RewardsNotExpired(uint256 epoch, uint256 expiresAt);
    /// @notice Thrown when the account was never a worker of the voting contract.
    error RewardsUnknownWorker(address account);
    /// @notice Thrown when a native-coin payment to `to` fails.
    error RewardsPaymentFailed(address to, uint256 amount);
    /// @notice Thrown on `renounceOwnership`: ownership only moves in two steps.
    error RewardsRenounceDisabled();

    // ---------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------

    /// @notice Emitted when `funder` adds `amount` (as received) to the pot of `epoch`.
    event Funded(uint256 indexed epoch, address indexed funder, uint256 amount);
    /// @notice Emitted when a registration walk stops before the epoch's end: `cursor` is the next
    /// chain entry to count, `end` one past the epoch's last.
    event RegistrationProgressed(uint256 indexed epoch, address indexed worker, uint256 cursor, uint256 end);
    /// @notice Emitted when a worker's points for `epoch` are complete and registered.
    event PointsRegistered(uint256 indexed epoch, address indexed worker, Points points);
    /// @notice Emitted once per epoch when its totals are final; `rolledOver` goes to `toEpoch`.
    event EpochSettled(uint256 indexed epoch, uint256 pot, uint64[4] totals, uint256 rolledOver, uint256 toEpoch);
    /// @notice Emitted for each claim, paid to the worker whoever sent it.
    event Claimed(uint256 indexed epoch, address indexed worker, address indexed caller, uint256 amount);
    /// @notice Emitted when unclaimed funds of an expired epoch roll over to `toEpoch`.
    event Swept(uint256 indexed epoch, uint256 amount, uint256 toEpoch);
    /// @notice Emitted when the category weights change, effective from `fromEpoch`.
    event WeightsUpdated(uint16[4] weights, uint256 fromEpoch);
}
