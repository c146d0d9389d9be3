// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IExchange} from "./interfaces/IExchange.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";

/// @title Exchange: atomic settlement of CRDA credits against won
/// @notice Orders are EIP-712 typed data signed by their makers and bound to this chain and this
/// contract. The platform matches them off chain; its settler key submits the fills, many per
/// transaction. For each fill the contract checks both signatures, expiry, cancellation and the
/// amounts already filled, then moves credits seller -> buyer and won buyer -> seller: both move
/// or neither. A fill that cannot settle is skipped with {FillRejected}; the rest of the batch
/// settles. A fill id settles at most once, so a re-sent batch is harmless.
///
/// Signatures are ECDSA only (an EOA's key), never ERC-1271: the check costs a fixed few
/// thousand gas and runs no code of the maker's, so a maker whose address runs code (a contract
/// wallet, an EIP-7702 delegation) cannot burn a batch's gas. A key holder who delegated their
/// address still signs with their key, and their orders settle as before.
///
/// An order is cancelled on chain by its maker ({cancel}, {cancelWithSignature}) or, when the
/// platform closed it (the maker cancelled it through the platform, or its fill failed by its
/// fault), by the settler ({cancelOrders}): a cancelled order never settles again. The settler
/// can only stop orders this way, never move anything.
///
/// Won of a fill: `price * quantity / LOT` with quantity a whole number of kilogram lots, so the
/// division is exact: no won or gram is ever created, destroyed or rounded away.
///
/// The exchange holds nothing. It holds EXCHANGE_ROLE on both tokens, which lets it move a
/// holder's balance without an allowance; it only does so for a fill both makers signed.
contract Exchange is AccessControl, EIP712, IExchange {
    /// @notice Role of the platform's settler (the relayer key of the outbox worker).
    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");
    /// @notice Grams per lot: quantities are whole kilograms.
    uint256 public constant LOT = 1000;
    /// @notice `Order.side` of a buy order.
    uint8 public constant BUY = 0;
    /// @notice `Order.side` of a sell order.
    uint8 public constant SELL = 1;
    /// @notice EIP-712 type hash of {Order}.
    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address maker,uint8 side,uint256 price,uint256 quantity,uint64 expiry,uint256 nonce)"
    );
    /// @notice EIP-712 type hash of a maker's cancellation, relayed by anyone.
    bytes32 public constant CANCEL_TYPEHASH = keccak256("Cancel(bytes32 orderHash)");

    IERC20 private immutable _credits;
    IERC20 private immutable _won;
    IIdentityRegistry private immutable _registry;

    mapping(bytes32 orderHash => uint256) private _filled;
    mapping(bytes32 orderHash => bool) private _cancelled;
    mapping(bytes32 fillId => bool) private _settled;

    /// @param admin the operator (role admin).
    /// @param credits the CRDA token (grams).
    /// @param won the settlement token (won).
    /// @param registry the identity registry both tokens consult.
    constructor(address admin, IERC20 credits, IERC20 won, IIdentityRegistry registry)
        EIP712("CRDA Exchange", "1")
    {
        if (
            admin == address(0) || address(credits) == address(0) || address(won) == address(0)
                || address(registry) == address(0)
        ) revert ExchangeZeroAddress();
        _credits = credits;
        _won = won;
        _registry = registry;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice The EIP-712 digest a maker signs for `order`.
    function hashOrder(Order calldata order) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ORDER_TYPEHASH, order.maker, order.side, order.price, order.quantity, order.expiry, order.nonce
                )
            )
        );
    }

    /// @notice Grams of the order with digest `orderHash` settled so far.
    function filledOf(bytes32 orderHash) external view returns (uint256) {
        return _filled[orderHash];
    }

    /// @notice Whether the order with digest `orderHash` was cancelled.
    function isCancelled(bytes32 orderHash) external view returns (bool) {
        return _cancelled[orderHash];
    }

    /// @notice Whether the fill `fillId` has settled.
    function isSettled(bytes32 fillId) external view returns (bool) {
        return _settled[fillId];
    }

    /// @notice Settle many fills in one transaction; a fill that cannot settle is skipped.
    /// @dev Requirements: `SETTLER_ROLE`; at least one fill; neither token paused (else the
    /// whole batch reverts). Emits {FillSettled} or {FillRejected} per fill, and the tokens'
    /// {Transfer}s.
    /// @return settled how many fills settled.
    function settleBatch(Fill[] calldata fills) external onlyRole(SETTLER_ROLE) returns (uint256 settled) {
        if (fills.length == 0) revert ExchangeEmptyBatch();
        for (uint256 i = 0; i < fills.length; ++i) {
            RejectReason reason = _settle(fills[i]);
            if (reason == RejectReason.None) {
                // Cannot overflow: bounded by the array length.
                unchecked {
                    ++settled;
                }
            } else {
                emit FillRejected(fills[i].fillId, reason);
            }
        }
    }

    /// @notice Settle one fill, reverting with the reason when it cannot.
    /// @dev Requirements: `SETTLER_ROLE`; the fill settles. Emits {FillSettled}.
    function settle(Fill calldata fill) external onlyRole(SETTLER_ROLE) {
        RejectReason reason = _settle(fill);
        if (reason != RejectReason.None) revert ExchangeFillRejected(fill.fillId, reason);
    }

    /// @notice The maker cancels `order`: it can never settle again.
    /// @dev Requirements: the caller is the maker. Emits {OrderCancelled}.
    function cancel(Order calldata order) external {
        if (msg.sender != order.maker) revert ExchangeNotMaker(msg.sender, order.maker);
        _cancel(hashOrder(order), order.maker);
    }

    /// @notice Cancel `order` with the maker's EIP-712 `Cancel(orderHash)` signature, relayed
    /// by anyone (the platform's relayer pays the gas).
    /// @dev Requirements: `signature` is the maker's. Emits {OrderCancelled}.
    function cancelWithSignature(Order calldata order, bytes calldata signature) external {
        bytes32 orderHash = hashOrder(order);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(CANCEL_TYPEHASH, orderHash)));
        if (!_signedBy(order.maker, digest, signature)) {
            revert ExchangeInvalidSignature(orderHash);
        }
        _cancel(orderHash, order.maker);
    }

    /// @notice The platform cancels `orders` it closed (cancelled by their makers through the
    /// platform, or failed by their fault): none of them can settle again. An order cancelled
    /// before is skipped, so a re-sent call is harmless.
    /// @dev Requirements: `SETTLER_ROLE`. Emits {OrderCancelled} per order not cancelled before.
    function cancelOrders(Order[] calldata orders) external onlyRole(SETTLER_ROLE) {
        for (uint256 i = 0; i < orders.length; ++i) {
            bytes32 orderHash = hashOrder(orders[i]);
            if (!_cancelled[orderHash]) _cancel(orderHash, orders[i].maker);
        }
    }

    function _cancel(bytes32 orderHash, address maker) private {
        _cancelled[orderHash] = true;
        emit OrderCancelled(orderHash, maker);
    }

    function _settle(Fill calldata fill) private returns (RejectReason) {
        if (_settled[fill.fillId]) return RejectReason.AlreadySettled;
        Order calldata buy = fill.buy;
        Order calldata sell = fill.sell;
        uint256 quantity = fill.quantity;
        uint256 price = fill.price;
        if (
            quantity == 0 || quantity % LOT != 0 || price == 0 || price > type(uint128).max
                || quantity > type(uint128).max || buy.side != BUY || sell.side != SELL
                || buy.maker == sell.maker || price < sell.price || price > buy.price
        ) return RejectReason.BadFill;
        bytes32 buyHash = hashOrder(buy);
        if (!_orderCanFill(buy, buyHash, fill.buySignature, quantity)) return RejectReason.BuyOrderInvalid;
        bytes32 sellHash = hashOrder(sell);
        if (!_orderCanFill(sell, sellHash, fill.sellSignature, quantity)) return RejectReason.SellOrderInvalid;
        // Exact: quantity is a whole number of lots; both factors are below 2**128.
        uint256 won = price * (quantity / LOT);
        if (!_registry.isVerified(buy.maker) || _won.balanceOf(buy.maker) < won) {
            return RejectReason.BuyerCannotPay;
        }
        if (!_registry.isVerified(sell.maker) || _credits.balanceOf(sell.maker) < quantity) {
            return RejectReason.SellerCannotDeliver;
        }
        _settled[fill.fillId] = true;
        _filled[buyHash] += quantity;
        _filled[sellHash] += quantity;
        // Our own tokens: they revert on failure (and return true otherwise).
        _credits.transferFrom(sell.maker, buy.maker, quantity);
        _won.transferFrom(buy.maker, sell.maker, won);
        emit FillSettled(fill.fillId, buyHash, sellHash, buy.maker, sell.maker, price, quantity, won);
        return RejectReason.None;
    }

    function _orderCanFill(Order calldata order, bytes32 orderHash, bytes calldata signature, uint256 quantity)
        private
        view
        returns (bool)
    {
        return order.expiry > block.timestamp && !_cancelled[orderHash] && order.quantity % LOT == 0
            && _filled[orderHash] + quantity <= order.quantity
            && _signedBy(order.maker, orderHash, signature);
    }

    /// @dev ECDSA only: a fixed cost, and no call into the maker's code (see the contract notes).
    function _signedBy(address maker, bytes32 digest, bytes calldata signature) private pure returns (bool) {
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(digest, signature);
        return error == ECDSA.RecoverError.NoError && signer == maker;
    }
}
