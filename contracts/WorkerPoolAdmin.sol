// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEligibility} from "./interfaces/IEligibility.sol";
import {Bitmask} from "./libraries/Bitmask.sol";
import {VotingStorage} from "./VotingStorage.sol";

/// @title WorkerPoolAdmin
/// @notice Pool administration of a voting contract: workers, round parameters, eligibility gate,
/// pause. Deployed on its own (with WorkerVoting it would not fit one 6M-gas block); a
/// WorkerVoting accepts it in its constructor only with exactly this code and delegates these
/// calls to it, so they run on WorkerVoting's storage (the same `VotingStorage` layout). It keeps
/// no state of its own, so one module can serve any number of voting contracts. Its own storage
/// is never read when it runs for a pool: called directly, it only touches that storage (which
/// this deployment owns itself; a copy of the code deployed otherwise may have any owner, which
/// changes nothing for the pools using it).
/// @dev Kept apart from the vote path so that WorkerVoting stays under the EIP-170 code size limit.
contract WorkerPoolAdmin is VotingStorage {
    using Bitmask for uint64;

    /// @dev Owns itself, so called directly no owner-only function runs even on its own storage.
    /// It has no immutables, so its code hash is fixed and WorkerVoting's constructor checks it.
    constructor() VotingStorage(address(this)) {}

    // ---------------------------------------------------------------------------------------------
    // Pool
    // ---------------------------------------------------------------------------------------------

    /// @notice Adds `worker` to the pool; it votes in rounds opened from now on.
    function addWorker(address worker) external onlyOwner {
        if (worker == address(0)) revert VotingZeroAddress();
        Worker memory w = _workers[worker];
        if (w.active) revert VotingWorkerExists(worker);
        if (w.retired) revert VotingWorkerRetired(worker);
        Pool memory p = _pool;
        if (p.activeCount >= MAX_WORKERS) revert VotingPoolFull(MAX_WORKERS);
        if (address(_gate) != address(0) && !_gate.hasRole(worker, _role, _roleVersion)) {
            revert VotingWorkerNotEligible(worker);
        }
        uint8 index = _lowestFreeIndex(p.activeMask);
        _workers[worker] = Worker({
            active: true,
            retired: false,
            index: index,
            joinedSeq: ++p.generation,
            leftSeq: 0,
            late: 0,
            joinedIndex: p.chainLength
        });
        _holders[index] = worker;
        p.activeMask |= Bitmask.bit(index);
        ++p.activeCount;
        _pool = p;
        emit WorkerAdded(worker, index, p.generation);
    }

    /// @notice Removes `worker` for good. Rounds already open keep their threshold.
    function removeWorker(address worker) external onlyOwner {
        _remove(worker);
    }

    /// @notice Removes a worker whose role the eligibility gate no longer grants; anyone may call.
    function removeIneligibleWorker(address worker) external {
        if (address(_gate) == address(0) || _gate.hasRole(worker, _role, _roleVersion)) {
            revert VotingWorkerStillEligible(worker);
        }
        _remove(worker);
    }

    function _remove(address worker) private {
        Worker memory w = _workers[worker];
        if (!w.active) revert VotingNotWorker(worker);
        Pool memory p = _pool;
        w.active = false;
        w.retired = true;
        w.leftSeq = ++p.generation;
        _workers[worker] = w;
        delete _holders[w.index];
        p.activeMask &= ~Bitmask.bit(w.index);
        --p.activeCount;
        _pool = p;
        emit WorkerRemoved(worker, msg.sender, p.generation);
    }

    /// @dev The lowest clear bit of `mask`; the pool is not full, so one exists.
    function _lowestFreeIndex(uint64 mask) private pure returns (uint8 index) {
        while (mask.has(index)) ++index; // at most 63 steps: the pool is not full
    }

    // ---------------------------------------------------------------------------------------------
    // Parameters
    // ---------------------------------------------------------------------------------------------

    /// @notice Sets the round parameters for rounds opened from now on.
    function setConfig(Config calldata config) external onlyOwner {
        _validate(config);
        uint16 version = _pool.configVersion + 1;
        _pool.configVersion = version;
        _store(version, config);
    }

    /// @notice Sets the eligibility gate; `gate` zero turns the gate off.
    function setEligibilityGate(address gate, bytes32 role, uint256 roleVersion) external onlyOwner {
        _gate = IEligibility(gate);
        _role = role;
        _roleVersion = roleVersion;
        emit EligibilityGateUpdated(gate, role, roleVersion);
    }

    /// @notice Stops new rounds and votes, and the round clock: deadlines move on by the length of
    /// the pause, so no round fails or re-runs because of it. Finalize (of an attempt that can no
    /// longer reach the threshold) and failover decisions still work.
    function pause() external onlyOwner {
        Pool memory p = _pool;
        if (p.paused) revert VotingPauseUnchanged(true);
        p.paused = true;
        p.pausedAt = uint32(block.timestamp);
        _pool = p;
        emit Paused(msg.sender);
    }

    /// @notice Allows new rounds and votes again; the round clock runs on from where it stopped.
    function unpause() external onlyOwner {
        Pool memory p = _pool;
        if (!p.paused) revert VotingPauseUnchanged(false);
        p.paused = false;
        p.pausedTotal += uint32(block.timestamp) - p.pausedAt;
        _pool = p;
        emit Unpaused(msg.sender);
    }
}
