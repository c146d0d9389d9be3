// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title GasBurningSigner: a hostile maker, for tests only (never deployed by the platform)
/// @notice An ERC-1271 wallet whose `isValidSignature` burns all the gas it is given and then
/// claims the signature is valid. Installed as the code of an address that also has a key, it
/// stands for an EIP-7702 delegation chosen by a maker to sink a settlement batch.
contract GasBurningSigner {
    /// @notice Burns the gas it is given, then answers the ERC-1271 magic value.
    function isValidSignature(bytes32, bytes calldata) external view returns (bytes4) {
        uint256 spins;
        while (gasleft() > 5_000) {
            // Cannot overflow: bounded by the gas of the call.
            unchecked {
                ++spins;
            }
        }
        return spins > 0 ? bytes4(0x1626ba7e) : bytes4(0);
    }
}
