// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ISettlementToken
/// @notice Errors of the KRW-pegged settlement token beyond ERC-20.
interface ISettlementToken {
    /// @notice Thrown when a mint or transfer reaches an address the identity registry does not verify.
    error SettlementTokenUnverifiedAccount(address account);

    /// @notice Thrown when a constructor argument is the zero address.
    error SettlementTokenZeroAddress();

    /// @notice Thrown when a mint or burn is for zero won.
    error SettlementTokenZeroAmount();
}
