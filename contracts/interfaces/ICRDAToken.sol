// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ICRDAToken
/// @notice Errors and events of the CRDA credit token beyond ERC-20.
interface ICRDAToken {
    /// @notice Emitted when `holder` burns `amount` credits for `beneficiaryHash`: a retirement.
    /// @param certificateId the serial of the retirement certificate (1, 2, 3, ...).
    /// @param beneficiaryHash keccak256 of the certificate's beneficiary (the name stays off chain).
    event Retired(
        uint256 indexed certificateId,
        address indexed holder,
        uint256 amount,
        bytes32 beneficiaryHash,
        string reason
    );

    /// @notice Thrown when a transfer touches an address the identity registry does not verify.
    error CRDATokenUnverifiedAccount(address account);

    /// @notice Thrown when a constructor argument or recipient is the zero address.
    error CRDATokenZeroAddress();

    /// @notice Thrown when `recipients` and `amounts` differ in length.
    error CRDATokenLengthMismatch(uint256 recipients, uint256 amounts);

    /// @notice Thrown when a retirement is for zero credits.
    error CRDATokenZeroRetirement();

    /// @notice Thrown when a retirement names no beneficiary.
    error CRDATokenEmptyBeneficiary();
}
