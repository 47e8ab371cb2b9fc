// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEligibility} from "../interfaces/IEligibility.sol";

/// @title MockClaimManager
/// @notice Test stand-in for Energy Web's IAM ClaimManager: roles granted and revoked by hand.
contract MockClaimManager is IEligibility {
    mapping(address subject => mapping(bytes32 role => uint256 version)) private _roles;

    function grant(address subject, bytes32 role, uint256 version) external {
        _roles[subject][role] = version;
    }

    function revoke(address subject, bytes32 role) external {
        delete _roles[subject][role];
    }

    function hasRole(address subject, bytes32 role, uint256 version) external view returns (bool) {
        uint256 held = _roles[subject][role];
        return held != 0 && held >= version;
    }
}
