// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IIdentityRegistry
/// @notice Verifier attestations that an address belongs to a verified person or organisation.
/// No personal data is held: only the hash of the off-chain credential, a level and an expiry.
interface IIdentityRegistry {
    /// @notice One verifier's statement about one address.
    struct Attestation {
        address verifier;
        uint8 level;
        uint64 expiresAt;
        bool revoked;
        bytes32 credentialHash;
        uint64 verifiedSince; // when the verifier checked the person; kept across renewals
    }

    /// @notice Emitted when `verifier` attests `account` (a new or a renewed attestation).
    event Attested(
        address indexed account, address indexed verifier, bytes32 credentialHash, uint8 level, uint64 expiresAt
    );

    /// @notice Emitted when the attestation of `account` is revoked by `by`.
    event Revoked(address indexed account, address indexed by, bytes32 credentialHash);

    /// @notice Thrown when an attestation names the zero address.
    error IdentityRegistryZeroAddress();

    /// @notice Thrown when the assurance level is outside 1..MAX_LEVEL.
    error IdentityRegistryInvalidLevel(uint8 level);

    /// @notice Thrown when an attestation would already be expired.
    error IdentityRegistryInvalidExpiry(uint64 expiresAt, uint256 nowTimestamp);

    /// @notice Thrown when the verification time is in the future.
    error IdentityRegistryInvalidSince(uint64 verifiedSince, uint256 nowTimestamp);

    /// @notice Thrown when the credential hash is empty.
    error IdentityRegistryEmptyCredential();

    /// @notice Thrown when revoking an account that has no live attestation.
    error IdentityRegistryNotAttested(address account);

    /// @notice Thrown when a verifier touches an attestation another verifier made.
    error IdentityRegistryNotAttestingVerifier(address caller, address verifier);

    /// @notice True when `account` has an attestation that is unrevoked, unexpired and made by an
    /// address that still holds the verifier role.
    function isVerified(address account) external view returns (bool);

    /// @notice The stored attestation of `account` (all zero when none).
    function attestationOf(address account) external view returns (Attestation memory);
}
