// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title MockFeeToken
/// @notice Test ERC-20 reward token that anyone can mint and that takes a fee on every transfer:
/// `feeBps` basis points of the amount (rounded down) are burned, the rest arrives. A fee above
/// 10000 bps makes a transfer credit more than was sent (minted on top), for a token that lies.
contract MockFeeToken is ERC20 {
    uint256 public feeBps;

    constructor(uint256 feeBps_) ERC20("Mock Fee Token", "MFT") {
        feeBps = feeBps_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setFee(uint256 feeBps_) external {
        feeBps = feeBps_;
    }

    /// @notice What arrives when `amount` is sent.
    function received(uint256 amount) public view returns (uint256) {
        if (feeBps > 10_000) return amount + (amount * (feeBps - 10_000)) / 10_000;
        return amount - (amount * feeBps) / 10_000;
    }

    function _update(address from, address to, uint256 amount) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, amount);
            return;
        }
        uint256 arrives = received(amount);
        if (arrives >= amount) {
            super._update(from, to, amount);
            super._update(address(0), to, arrives - amount);
        } else {
            super._update(from, to, arrives);
            super._update(from, address(0), amount - arrives);
        }
    }
}
