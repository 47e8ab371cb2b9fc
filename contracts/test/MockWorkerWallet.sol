// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title MockWorkerWallet
/// @notice Test contract wallet that runs a worker: it votes through `vote`, receives rewards and,
/// when armed, tries to claim again from inside the payment (a re-entrancy attempt).
contract MockWorkerWallet {
    address public target;
    bytes public reentry;
    uint256 public received;

    function vote(address voting, bytes32 votingId, bytes32 result) external {
        (bool ok, bytes memory data) =
            voting.call(abi.encodeWithSignature("vote(bytes32,bytes32)", votingId, result));
        if (!ok) {
            assembly {
                revert(add(data, 32), mload(data))
            }
        }
    }

    /// @notice Arms the wallet: on the next payment it calls `target` with `data`.
    function arm(address target_, bytes calldata data) external {
        target = target_;
        reentry = data;
    }

    receive() external payable {
        received += msg.value;
        if (target != address(0)) {
            address t = target;
            target = address(0);
            (bool ok, bytes memory data) = t.call(reentry);
            if (!ok) {
                assembly {
                    revert(add(data, 32), mload(data))
                }
            }
        }
    }
}
