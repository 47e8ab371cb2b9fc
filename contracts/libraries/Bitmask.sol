// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Bitmask
/// @notice Helpers for the 64-bit worker sets a round keeps (bit i = the worker at pool index i).
library Bitmask {
    /// @notice Number of set bits (SWAR population count).
    function count(uint64 mask) internal pure returns (uint256 n) {
        // All steps stay within 64 bits, so nothing can overflow; the multiply is masked by the cast.
        unchecked {
            uint64 x = mask - ((mask >> 1) & 0x5555555555555555);
            x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f;
            n = uint64(x * 0x0101010101010101) >> 56;
        }
    }

    /// @notice The set with only bit `index`.
    function bit(uint8 index) internal pure returns (uint64) {
        return uint64(1) << index;
    }

    /// @notice Whether bit `index` is set in `mask`.
    function has(uint64 mask, uint8 index) internal pure returns (bool) {
        return mask & (uint64(1) << index) != 0;
    }
}
