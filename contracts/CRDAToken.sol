// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Pausable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Pausable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ICRDAToken} from "./interfaces/ICRDAToken.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";

/// @title CRDAToken: Carbon Reduction Digital Asset
/// @notice One base unit is one gram of CO2e avoided; with 3 decimals wallets show kilograms.
/// Holding is permissioned in the spirit of ERC-3643: a transfer succeeds only when both sides
/// are verified by the identity registry. Minting and burning are not transfers: credits are
/// minted only by the issuance contract (MINTER_ROLE) and burnt only by their holder's retirement.
/// Citizens never need ETH: their signed requests reach the token through a trusted ERC-2771
/// forwarder whose relayer pays the gas.
contract CRDAToken is ERC20, ERC20Pausable, ERC20Permit, AccessControl, ERC2771Context, ICRDAToken {
    /// @notice Role of the issuance contract, the only minter.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @notice Role allowed to pause and unpause every movement of credits in an emergency.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice Role of the exchange contract: moves credits without an allowance, and only for
    /// orders their makers signed (the exchange checks the EIP-712 signature).
    bytes32 public constant EXCHANGE_ROLE = keccak256("EXCHANGE_ROLE");

    IIdentityRegistry private immutable _registry;

    uint256 private _lastCertificateId;
    uint256 private _totalRetired;
    mapping(address account => uint256) private _retiredOf;

    /// @param admin the operator (role admin).
    /// @param registry the identity registry consulted on every transfer.
    /// @param trustedForwarder the ERC-2771 forwarder of the platform's relayer.
    constructor(address admin, IIdentityRegistry registry, address trustedForwarder)
        ERC20("Carbon Reduction Digital Asset", "CRDA")
        ERC20Permit("Carbon Reduction Digital Asset")
        ERC2771Context(trustedForwarder)
    {
        if (admin == address(0) || address(registry) == address(0)) revert CRDATokenZeroAddress();
        _registry = registry;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice 1 CRDA = 1 kg CO2e = 1,000 base units (grams).
    function decimals() public pure override returns (uint8) {
        return 3;
    }

    /// @notice The identity registry that gates transfers.
    function identityRegistry() external view returns (IIdentityRegistry) {
        return _registry;
    }

    /// @notice Mint `amounts[i]` to `recipients[i]` for every i, in one call.
    /// @dev Requirements: caller has `MINTER_ROLE`; equal lengths; not paused; no zero recipient.
    /// Emits one {Transfer} from the zero address per recipient.
    function mintBatch(address[] calldata recipients, uint256[] calldata amounts)
        external
        onlyRole(MINTER_ROLE)
    {
        if (recipients.length != amounts.length) {
            revert CRDATokenLengthMismatch(recipients.length, amounts.length);
        }
        for (uint256 i = 0; i < recipients.length; ++i) {
            if (recipients[i] == address(0)) revert CRDATokenZeroAddress();
            _mint(recipients[i], amounts[i]);
        }
    }

    /// @notice Retire (burn) `amount` of the caller's credits for a beneficiary and a reason.
    /// @dev Requirements: `amount` > 0, `beneficiaryHash` not empty, the caller holds `amount`,
    /// not paused. Emits {Transfer} to the zero address and {Retired}.
    /// @return certificateId the serial of the new retirement certificate.
    function retire(uint256 amount, bytes32 beneficiaryHash, string calldata reason)
        external
        returns (uint256 certificateId)
    {
        if (amount == 0) revert CRDATokenZeroRetirement();
        if (beneficiaryHash == bytes32(0)) revert CRDATokenEmptyBeneficiary();
        address holder = _msgSender();
        _burn(holder, amount);
        certificateId = ++_lastCertificateId;
        _totalRetired += amount;
        // Cannot overflow: an account's retired total is bounded by the total retired.
        unchecked {
            _retiredOf[holder] += amount;
        }
        emit Retired(certificateId, holder, amount, beneficiaryHash, reason);
    }

    /// @notice Credits `account` has retired, in grams.
    function retiredOf(address account) external view returns (uint256) {
        return _retiredOf[account];
    }

    /// @notice Credits retired by everyone, in grams.
    function totalRetired() external view returns (uint256) {
        return _totalRetired;
    }

    /// @notice Serial of the latest retirement certificate (0 before the first).
    function lastCertificateId() external view returns (uint256) {
        return _lastCertificateId;
    }

    /// @notice Stop every mint, transfer and retirement. Requirements: `PAUSER_ROLE`.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resume. Requirements: `PAUSER_ROLE`.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @dev The exchange spends without an allowance; it checks the maker's signature itself.
    function _spendAllowance(address owner, address spender, uint256 value) internal override {
        if (hasRole(EXCHANGE_ROLE, spender)) return;
        super._spendAllowance(owner, spender, value);
    }

    /// @dev Transfers (neither side zero) need both sides verified; mints and burns do not.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Pausable) {
        if (from != address(0) && to != address(0)) {
            if (!_registry.isVerified(from)) revert CRDATokenUnverifiedAccount(from);
            if (!_registry.isVerified(to)) revert CRDATokenUnverifiedAccount(to);
        }
        super._update(from, to, value);
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
