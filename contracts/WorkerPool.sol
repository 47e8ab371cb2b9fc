// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IWorkerVoting} from "./interfaces/IWorkerVoting.sol";
import {Bitmask} from "./libraries/Bitmask.sol";
import {VotingStorage} from "./VotingStorage.sol";
import {WorkerPoolAdmin} from "./WorkerPoolAdmin.sol";

/// @title WorkerPool
/// @notice The worker pool, round parameters, eligibility gate and pause switch of a voting
/// contract. The administration itself runs in the `admin` module (a WorkerPoolAdmin whose code
/// the constructor checks, fixed for good) through delegatecall; its functions are declared here
/// so the ABI is one. Views stay here.
abstract contract WorkerPool is VotingStorage, IWorkerVoting {
    using Bitmask for uint64;

    /// @notice The module that runs pool administration on this contract's storage.
    address public immutable admin;

    /// @param admin_ A deployed WorkerPoolAdmin: any other code is refused, so the owner can never
    /// run code of its choosing on the rounds and the result chain.
    constructor(address initialOwner, Config memory config, uint256 maxWindow_, address admin_)
        VotingStorage(initialOwner)
    {
        if (maxWindow_ == 0 || maxWindow_ > MAX_DURATION) revert VotingInvalidParameter("maxWindow");
        if (admin_.codehash != keccak256(type(WorkerPoolAdmin).runtimeCode)) {
            revert VotingInvalidParameter("admin");
        }
        _maxWindow = maxWindow_;
        admin = admin_;
        _validate(config);
        _store(0, config);
    }

    // ---------------------------------------------------------------------------------------------
    // Administration (runs in WorkerPoolAdmin on this storage)
    // ---------------------------------------------------------------------------------------------

    /// @notice Adds `worker` to the pool (owner); it votes in rounds opened from now on.
    function addWorker(address) external {
        _delegateToAdmin();
    }

    /// @notice Removes `worker` for good (owner). Rounds already open keep their threshold, and a
    /// vote it cast before keeps counting: it was a member's vote when cast.
    function removeWorker(address) external {
        _delegateToAdmin();
    }

    /// @notice Removes a worker whose role the eligibility gate no longer grants; anyone may call.
    function removeIneligibleWorker(address) external {
        _delegateToAdmin();
    }

    /// @notice Sets the round parameters for rounds opened from now on (owner).
    function setConfig(Config calldata) external {
        _delegateToAdmin();
    }

    /// @notice Sets the eligibility gate (owner); `gate` zero turns the gate off.
    function setEligibilityGate(address, bytes32, uint256) external {
        _delegateToAdmin();
    }

    /// @notice Stops new rounds and votes, and the round clock (owner): deadlines move on by the
    /// length of the pause, so no round fails or re-runs because of it. Finalize (of an attempt
    /// that can no longer reach the threshold) and failover decisions still work.
    function pause() external {
        _delegateToAdmin();
    }

    /// @notice Allows new rounds and votes again (owner); the round clock runs on where it stopped.
    function unpause() external {
        _delegateToAdmin();
    }

    /// @notice Disabled: a pool without an owner could never add, remove or reconfigure again.
    /// Hand the pool over with `transferOwnership` + `acceptOwnership` instead.
    function renounceOwnership() public pure override {
        revert VotingRenounceDisabled();
    }

    /// @dev Runs the call in the admin module on this storage and returns or reverts as it did.
    function _delegateToAdmin() private {
        address target = admin;
        // slither-disable-next-line assembly -- forwards calldata and returndata unchanged
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), target, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IWorkerVoting
    function maxWindow() external view returns (uint256) {
        return _maxWindow;
    }

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
            active: w.active,
            retired: w.retired,
            index: w.index,
            joinedSeq: w.joinedSeq,
            leftSeq: w.leftSeq,
            late: w.late,
            joinedIndex: w.joinedIndex
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

    /// @notice Pool counters: active workers, membership generation (+1 per addition and removal),
    /// chain length, config version, paused, and the seconds the round clock lags block time because of pauses (the current one included).
    function poolState()
        external
        view
        returns (
            uint256 activeCount,
            uint256 generation,
            uint256 chainLength,
            uint16 configVersion,
            bool paused,
            uint256 pausedFor
        )
    {
        Pool memory p = _pool;
        pausedFor = uint256(block.timestamp) - _clock(p);
        return (p.activeCount, p.generation, p.chainLength, p.configVersion, p.paused, pausedFor);
    }

    /// @notice The eligibility gate, the role it checks and the least role version.
    function eligibilityGate() external view returns (address gate, bytes32 role, uint256 roleVersion) {
        return (address(_gate), _role, _roleVersion);
    }
}
