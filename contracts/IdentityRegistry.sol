// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";

/// @title IdentityRegistry
/// @notice On-chain attestations by accredited verifiers. A verifier checks a real person once,
/// issues a signed credential off chain, and records here only the credential's hash, the
/// assurance level and the expiry. An attestation stops counting the moment it expires, is
/// revoked, or its verifier loses the role, with no further transaction needed.
contract IdentityRegistry is AccessControl, IIdentityRegistry {
    /// @notice Role of accredited verifiers (granted and removed by the accreditors).
    bytes32 public constant VERIFIER_ROLE = keccak256("VERIFIER_ROLE");
    /// @notice Role that accredits verifiers: the admin of `VERIFIER_ROLE` and nothing else
    /// (the operator's key; `DEFAULT_ADMIN_ROLE`, held by the timelock, grants and revokes it).
    bytes32 public constant ACCREDITOR_ROLE = keccak256("ACCREDITOR_ROLE");

    /// @notice Highest assurance level (1 = basic, 2 = substantial, 3 = high, as in eIDAS).
    uint8 public constant MAX_LEVEL = 3;

    mapping(address account => Attestation) private _attestations;

    /// @param admin the deployer: `DEFAULT_ADMIN_ROLE` (which it hands to the timelock) and
    /// `ACCREDITOR_ROLE` (which the operator keeps).
    constructor(address admin) {
        if (admin == address(0)) revert IdentityRegistryZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ACCREDITOR_ROLE, admin);
        _setRoleAdmin(VERIFIER_ROLE, ACCREDITOR_ROLE);
    }

    /// @notice Attest (or renew the attestation of) `account`, verified now.
    /// @dev As {attestSince} with `verifiedSince` = the block's timestamp.
    function attest(address account, bytes32 credentialHash, uint8 level, uint64 expiresAt) external {
        _attest(account, credentialHash, level, expiresAt, uint64(block.timestamp));
    }

    /// @notice Attest (or renew the attestation of) `account`, whose identity the verifier
    /// checked at `verifiedSince`. Activities count from that moment, never before (the earning
    /// rules read it). A renewal by the same verifier of a live attestation keeps the earlier
    /// start: the person stayed verified.
    /// @dev Requirements:
    /// - caller has `VERIFIER_ROLE`;
    /// - `account` is not zero, `credentialHash` is not empty, `level` is in 1..MAX_LEVEL;
    /// - `expiresAt` is in the future and `verifiedSince` is not;
    /// - a live attestation by another verifier is not overwritten (that verifier revokes first).
    /// Emits {Attested}.
    function attestSince(
        address account,
        bytes32 credentialHash,
        uint8 level,
        uint64 expiresAt,
        uint64 verifiedSince
    ) external {
        _attest(account, credentialHash, level, expiresAt, verifiedSince);
    }

    function _attest(
        address account,
        bytes32 credentialHash,
        uint8 level,
        uint64 expiresAt,
        uint64 verifiedSince
    ) private onlyRole(VERIFIER_ROLE) {
        if (account == address(0)) revert IdentityRegistryZeroAddress();
        if (credentialHash == bytes32(0)) revert IdentityRegistryEmptyCredential();
        if (level == 0 || level > MAX_LEVEL) revert IdentityRegistryInvalidLevel(level);
        if (expiresAt <= block.timestamp) revert IdentityRegistryInvalidExpiry(expiresAt, block.timestamp);
        if (verifiedSince > block.timestamp) revert IdentityRegistryInvalidSince(verifiedSince, block.timestamp);
        Attestation storage current = _attestations[account];
        bool live = _isLive(current);
        if (current.verifier != address(0) && current.verifier != _msgSender() && live) {
            revert IdentityRegistryNotAttestingVerifier(_msgSender(), current.verifier);
        }
        if (live && current.verifiedSince < verifiedSince) verifiedSince = current.verifiedSince;
        _attestations[account] = Attestation({
            verifier: _msgSender(),
            level: level,
            expiresAt: expiresAt,
            revoked: false,
            credentialHash: credentialHash,
            verifiedSince: verifiedSince
        });
        emit Attested(account, _msgSender(), credentialHash, level, expiresAt);
    }

    /// @notice Revoke the attestation of `account`.
    /// @dev Requirements:
    /// - `account` has an unrevoked attestation;
    /// - caller is the verifier that made it (and still holds the role) or an accreditor.
    /// Emits {Revoked}.
    function revoke(address account) external {
        Attestation storage current = _attestations[account];
        if (current.verifier == address(0) || current.revoked) revert IdentityRegistryNotAttested(account);
        if (!hasRole(ACCREDITOR_ROLE, _msgSender())) {
            _checkRole(VERIFIER_ROLE);
            if (current.verifier != _msgSender()) {
                revert IdentityRegistryNotAttestingVerifier(_msgSender(), current.verifier);
            }
        }
        current.revoked = true;
        emit Revoked(account, _msgSender(), current.credentialHash);
    }

    /// @inheritdoc IIdentityRegistry
    function isVerified(address account) external view returns (bool) {
        return _isLive(_attestations[account]);
    }

    /// @inheritdoc IIdentityRegistry
    function attestationOf(address account) external view returns (Attestation memory) {
        return _attestations[account];
    }

    function _isLive(Attestation storage a) private view returns (bool) {
        return a.verifier != address(0) && !a.revoked && a.expiresAt > block.timestamp
            && hasRole(VERIFIER_ROLE, a.verifier);
    }
}
