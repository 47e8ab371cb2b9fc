// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IEligibility} from "./interfaces/IEligibility.sol";
import {IWorkerVoting} from "./interfaces/IWorkerVoting.sol";
import {Bitmask} from "./libraries/Bitmask.sol";

/// @title WorkerPool
/// @notice The worker pool, round parameters, eligibility gate and pause switch of a voting contract.
/// @dev Every worker holds a pool index (0..63); round bitmasks address workers by that index. An index
/// freed by a removal can be reused, but a bit of a round always names one worker: the one whose
/// membership `[joinedSeq, leftSeq)` contains the round's sequence number.
abstract contract WorkerPool is IWorkerVoting, Ownable2Step {
    using Bitmask for uint64;

    /// @notice Most workers the pool can hold (one bit each in a 64-bit round mask).
    uint256 public constant MAX_WORKERS = 64;

    /// @notice Longest voting, commit or reveal window, in seconds.
    uint32 public constant MAX_DURATION = 30 days;

    /// @dev Global counters read by every vote: packed in one slot so a vote pays for a single load.
    struct Pool {
        uint64 activeMask; // bit i set: pool index i is held by an active worker
        uint8 activeCount;
        uint24 roundCount; // rounds opened so far; the next round gets this sequence number
        uint32 chainLength; // entries in the result chain
        uint16 configVersion; // version of `_configs` that new rounds use
        bool paused;
    }

    /// @dev A worker's membership; `late` counts its late votes as they are cast.
    struct Worker {
        bool active;
        bool retired;
        uint8 index;
        uint24 joinedSeq;
        uint24 leftSeq;
        uint32 late;
        uint32 joinedIndex; // chain length when it joined: its counters start there
    }

    Pool internal _pool;
    mapping(address worker => Worker) internal _workers;
    mapping(uint16 version => Config) internal _configs;
    address[MAX_WORKERS] internal _holders;

    IEligibility private _gate;
    bytes32 private _role;
    uint256 private _roleVersion;

    constructor(address initialOwner, Config memory config) Ownable(initialOwner) {
        _validate(config);
        _store(0, config);
    }

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
            joinedSeq: p.roundCount,
            leftSeq: 0,
            late: 0,
            joinedIndex: p.chainLength
        });
        _holders[index] = worker;
        p.activeMask |= Bitmask.bit(index);
        ++p.activeCount;
        _pool = p;
        emit WorkerAdded(worker, index, p.roundCount);
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
        w.leftSeq = p.roundCount;
        _workers[worker] = w;
        delete _holders[w.index];
        p.activeMask &= ~Bitmask.bit(w.index);
        --p.activeCount;
        _pool = p;
        emit WorkerRemoved(worker, msg.sender, p.roundCount);
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

    function _store(uint16 version, Config memory c) private {
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
            c.failover
        );
    }

    /// @notice Sets the eligibility gate; `gate` zero turns the gate off.
    function setEligibilityGate(address gate, bytes32 role, uint256 roleVersion) external onlyOwner {
        _gate = IEligibility(gate);
        _role = role;
        _roleVersion = roleVersion;
        emit EligibilityGateUpdated(gate, role, roleVersion);
    }

    /// @notice Stops new rounds and votes; finalize and failover decisions still work.
    function pause() external onlyOwner {
        _setPaused(true);
        emit Paused(msg.sender);
    }

    /// @notice Allows new rounds and votes again.
    function unpause() external onlyOwner {
        _setPaused(false);
        emit Unpaused(msg.sender);
    }

    function _setPaused(bool paused) private {
        if (_pool.paused == paused) revert VotingPauseUnchanged(paused);
        _pool.paused = paused;
    }

    function _validate(Config memory c) private pure {
        if (c.threshold > MAX_WORKERS) revert VotingInvalidConfig("threshold");
        if (c.voteDuration == 0 || c.voteDuration > MAX_DURATION) revert VotingInvalidConfig("voteDuration");
        if (c.sealedMode ? (c.revealDuration == 0 || c.revealDuration > MAX_DURATION) : c.revealDuration != 0) {
            revert VotingInvalidConfig("revealDuration");
        }
        if (c.speedRank > MAX_WORKERS) revert VotingInvalidConfig("speedRank");
        if (c.fallbackPolicy == Fallback.AcceptPlurality ? c.pluralityMinVotes == 0 : c.pluralityMinVotes != 0) {
            revert VotingInvalidConfig("pluralityMinVotes");
        }
        if (c.fallbackPolicy == Fallback.Failover ? c.failover == address(0) : c.failover != address(0)) {
            revert VotingInvalidConfig("failover");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice Parameters that new rounds use, and their version.
    function currentConfig() external view returns (Config memory config, uint16 version) {
        version = _pool.configVersion;
        config = _configs[version];
    }

    /// @notice Parameters of version `version`.
    function configAt(uint16 version) external view returns (Config memory) {
        return _configs[version];
    }

    /// @inheritdoc IWorkerVoting
    function workerInfo(address worker) external view returns (WorkerInfo memory) {
        Worker memory w = _workers[worker];
        return WorkerInfo({
            active: w.active, retired: w.retired, index: w.index, joinedSeq: w.joinedSeq, leftSeq: w.leftSeq
        });
    }

    /// @notice Whether `account` is an active worker.
    function isWorker(address account) external view returns (bool) {
        return _workers[account].active;
    }

    /// @notice The active workers, by pool index order.
    function workers() external view returns (address[] memory list) {
        uint64 mask = _pool.activeMask;
        list = new address[](mask.count());
        uint256 n = 0;
        for (uint8 i; i < MAX_WORKERS; ++i) {
            if (mask.has(i)) list[n++] = _holders[i];
        }
    }

    /// @notice Pool counters: active workers, rounds opened, chain length, config version, paused.
    function poolState()
        external
        view
        returns (uint256 activeCount, uint256 roundCount, uint256 chainLength, uint16 configVersion, bool paused)
    {
        Pool memory p = _pool;
        return (p.activeCount, p.roundCount, p.chainLength, p.configVersion, p.paused);
    }

    /// @notice The eligibility gate, the role it checks and the least role version.
    function eligibilityGate() external view returns (address gate, bytes32 role, uint256 roleVersion) {
        return (address(_gate), _role, _roleVersion);
    }
}
