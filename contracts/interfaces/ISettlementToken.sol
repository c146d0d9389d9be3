// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ISettlementToken
/// @notice Events and errors of the KRW-pegged settlement token beyond ERC-20.
interface ISettlementToken {
    /// @notice Emitted when won is minted for the deposit named by `ref`.
    event Minted(address indexed account, uint256 amount, bytes32 indexed ref);

    /// @notice Emitted when won is burnt for the withdrawal named by `ref`.
    event Burnt(address indexed account, uint256 amount, bytes32 indexed ref);

    /// @notice Thrown when a mint or transfer reaches an address the identity registry does not verify.
    error SettlementTokenUnverifiedAccount(address account);

    /// @notice Thrown when a constructor argument is the zero address.
    error SettlementTokenZeroAddress();

    /// @notice Thrown when a mint or burn is for zero won.
    error SettlementTokenZeroAmount();

    /// @notice Thrown when a mint or burn reuses a reference: a re-sent deposit or withdrawal
    /// never moves money twice.
    error SettlementTokenReferenceUsed(bytes32 ref);

    /// @notice Thrown when a mint or burn names no reference (the zero word).
    error SettlementTokenZeroReference();
}
