// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Pausable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Pausable.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";

/// @title SettlementToken: KRW-pegged settlement money of the market
/// @notice 1 unit = 1 won (0 decimals). It stands in for the city's local currency or a bank's
/// deposit token: the operator mints when a won deposit is confirmed and burns on withdrawal,
/// each naming the deposit or withdrawal by a reference that can be used once: an operator
/// transaction sent twice by mistake moves no money twice.
/// Only addresses the identity registry verifies may hold it. The exchange contract
/// (EXCHANGE_ROLE) moves it without an allowance, and only for orders its makers signed.
contract SettlementToken is ERC20, ERC20Pausable, AccessControl, ISettlementToken {
    /// @notice Role of the operator's key that mints deposits and burns withdrawals.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @notice Role allowed to pause and unpause the token in an emergency.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice Role of the exchange contract: spends holders' won for their signed orders.
    bytes32 public constant EXCHANGE_ROLE = keccak256("EXCHANGE_ROLE");

    IIdentityRegistry private immutable _registry;
    mapping(bytes32 ref => bool) private _usedReferences;

    /// @param admin the operator (role admin).
    /// @param registry the identity registry consulted on every mint and transfer.
    constructor(address admin, IIdentityRegistry registry) ERC20("Incheon Won Settlement", "KRWS") {
        if (admin == address(0) || address(registry) == address(0)) revert SettlementTokenZeroAddress();
        _registry = registry;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Whole won: no decimals.
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @notice Credit `amount` won to `account` for the confirmed deposit named by `ref`.
    /// @dev Requirements: `MINTER_ROLE`; `amount` > 0; `ref` non-zero and never used by a mint
    /// or burn before; `account` verified; not paused.
    /// Emits {Transfer} from the zero address, then {Minted}.
    function mint(address account, uint256 amount, bytes32 ref) external onlyRole(MINTER_ROLE) {
        if (amount == 0) revert SettlementTokenZeroAmount();
        _useReference(ref);
        _mint(account, amount);
        emit Minted(account, amount, ref);
    }

    /// @notice Debit `amount` won from `account` for the withdrawal named by `ref`, paid out
    /// off chain.
    /// @dev Requirements: `MINTER_ROLE`; `amount` > 0; `ref` non-zero and never used by a mint
    /// or burn before; `account` holds it; not paused.
    /// Emits {Transfer} to the zero address, then {Burnt}.
    function burn(address account, uint256 amount, bytes32 ref) external onlyRole(MINTER_ROLE) {
        if (amount == 0) revert SettlementTokenZeroAmount();
        _useReference(ref);
        _burn(account, amount);
        emit Burnt(account, amount, ref);
    }

    /// @notice Whether a mint or burn has used `ref` (deposits and withdrawals share one set).
    function referenceUsed(bytes32 ref) external view returns (bool) {
        return _usedReferences[ref];
    }

    /// @notice Stop every movement. Requirements: `PAUSER_ROLE`.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resume. Requirements: `PAUSER_ROLE`.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @dev Marks `ref` used, refusing the zero word and any reference used before.
    function _useReference(bytes32 ref) private {
        if (ref == bytes32(0)) revert SettlementTokenZeroReference();
        if (_usedReferences[ref]) revert SettlementTokenReferenceUsed(ref);
        _usedReferences[ref] = true;
    }

    /// @dev The exchange spends without an allowance; it checks the maker's signature itself.
    function _spendAllowance(address owner, address spender, uint256 value) internal override {
        if (hasRole(EXCHANGE_ROLE, spender)) return;
        super._spendAllowance(owner, spender, value);
    }

    /// @dev Whoever receives won (mint or transfer) must be verified; a burn needs no check.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Pausable) {
        if (to != address(0) && !_registry.isVerified(to)) revert SettlementTokenUnverifiedAccount(to);
        if (from != address(0) && to != address(0) && !_registry.isVerified(from)) {
            revert SettlementTokenUnverifiedAccount(from);
        }
        super._update(from, to, value);
    }
}
