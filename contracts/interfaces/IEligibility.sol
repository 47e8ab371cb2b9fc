// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IEligibility
/// @notice Role registry in the style of Energy Web's IAM ClaimManager: who holds which role.
interface IEligibility {
    /// @notice Whether `subject` holds `role` in at least `version`.
    function hasRole(address subject, bytes32 role, uint256 version) external view returns (bool);
}
