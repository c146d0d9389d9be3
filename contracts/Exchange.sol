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
/// Gas: each order has one storage word (grams filled and the cancelled flag), read once and
/// written once per fill; settled fill ids are bits of a bitmap, 256 ids to a word, so fills
/// numbered in sequence (as the platform numbers them) share a word that is already written.
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

    /// @dev Bits 0-127 of an order's word: grams filled; bit 128: cancelled. One slot per order,
    /// read once and written once per fill (a separate cancelled flag cost a cold read more).
    uint256 private constant _FILLED_MASK = type(uint128).max;
    uint256 private constant _CANCELLED = 1 << 128;

    mapping(bytes32 orderHash => uint256) private _orderState;
    /// @dev Settled fill ids, 256 to a word (the nonce bitmap of Uniswap's Permit2): bit
    /// `id & 255` of word `id >> 8`. The platform numbers its fills in sequence, so a batch
    /// writes one or two words instead of a fresh slot per fill; any id still settles once.
    mapping(uint256 word => uint256 bits) private _settledFills;

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
        return _orderState[orderHash] & _FILLED_MASK;
    }

    /// @notice Whether the order with digest `orderHash` was cancelled.
    function isCancelled(bytes32 orderHash) external view returns (bool) {
        return _orderState[orderHash] & _CANCELLED != 0;
    }

    /// @notice Whether the fill `fillId` has settled.
    function isSettled(bytes32 fillId) external view returns (bool) {
        return _isSettled(fillId);
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
            if (_orderState[orderHash] & _CANCELLED == 0) _cancel(orderHash, orders[i].maker);
        }
    }

    /// @dev Marks `orderHash` cancelled for good. Emits {OrderCancelled}.
    function _cancel(bytes32 orderHash, address maker) private {
        _orderState[orderHash] |= _CANCELLED;
        emit OrderCancelled(orderHash, maker);
    }

    /// @dev Checks one fill and, when every check passes, settles it. Reads each order's word
    /// once and writes it once; both transfers happen after every check and every write.
    function _settle(Fill calldata fill) private returns (RejectReason) {
        if (_isSettled(fill.fillId)) return RejectReason.AlreadySettled;
        if (!_termsValid(fill)) return RejectReason.BadFill;
        uint256 quantity = fill.quantity;
        (bool buyCanFill, bytes32 buyHash, uint256 buyState) = _orderCanFill(fill.buy, fill.buySignature, quantity);
        if (!buyCanFill) return RejectReason.BuyOrderInvalid;
        (bool sellCanFill, bytes32 sellHash, uint256 sellState) =
            _orderCanFill(fill.sell, fill.sellSignature, quantity);
        if (!sellCanFill) return RejectReason.SellOrderInvalid;
        // Exact: quantity is a whole number of lots; both factors are below 2**128.
        uint256 won = fill.price * (quantity / LOT);
        if (!_registry.isVerified(fill.buy.maker) || _won.balanceOf(fill.buy.maker) < won) {
            return RejectReason.BuyerCannotPay;
        }
        if (!_registry.isVerified(fill.sell.maker) || _credits.balanceOf(fill.sell.maker) < quantity) {
            return RejectReason.SellerCannotDeliver;
        }
        _markSettled(fill.fillId);
        // Cannot overflow into the cancelled bit: _orderCanFill checked filled + quantity <=
        // order.quantity <= type(uint128).max, and the cancelled bit is clear.
        _orderState[buyHash] = buyState + quantity;
        _orderState[sellHash] = sellState + quantity;
        _move(fill, buyHash, sellHash, won);
        return RejectReason.None;
    }

    /// @dev Moves a checked fill's credits seller -> buyer and `won` buyer -> seller. Emits
    /// {FillSettled}.
    function _move(Fill calldata fill, bytes32 buyHash, bytes32 sellHash, uint256 won) private {
        address buyer = fill.buy.maker;
        address seller = fill.sell.maker;
        // Our own tokens: they revert on failure (and return true otherwise).
        _credits.transferFrom(seller, buyer, fill.quantity);
        _won.transferFrom(buyer, seller, won);
        emit FillSettled(fill.fillId, buyHash, sellHash, buyer, seller, fill.price, fill.quantity, won);
    }

    /// @dev The fill's own terms: whole lots below 2**128 grams, a price in (0, 2**128) between
    /// the sell and the buy limit, a buy and a sell of two different makers.
    function _termsValid(Fill calldata fill) private pure returns (bool) {
        uint256 quantity = fill.quantity;
        uint256 price = fill.price;
        return quantity != 0 && quantity % LOT == 0 && price != 0 && price <= type(uint128).max
            && quantity <= type(uint128).max && fill.buy.side == BUY && fill.sell.side == SELL
            && fill.buy.maker != fill.sell.maker && price >= fill.sell.price && price <= fill.buy.price;
    }

    /// @dev Whether `order` may take `quantity` more grams: unexpired, not cancelled, whole
    /// lots, at most 2**128 - 1 grams (so its filled grams fit in its word), not overfilled, and
    /// signed by its maker. Also returns its digest and its word, for the caller to update.
    function _orderCanFill(Order calldata order, bytes calldata signature, uint256 quantity)
        private
        view
        returns (bool canFill, bytes32 orderHash, uint256 state)
    {
        orderHash = hashOrder(order);
        state = _orderState[orderHash];
        canFill = order.expiry > block.timestamp && state & _CANCELLED == 0 && order.quantity % LOT == 0
            && order.quantity <= type(uint128).max && (state & _FILLED_MASK) + quantity <= order.quantity
            && _signedBy(order.maker, orderHash, signature);
    }

    /// @dev Whether fill `fillId` has settled: its bit in the settled-fill bitmap.
    function _isSettled(bytes32 fillId) private view returns (bool) {
        return _settledFills[uint256(fillId) >> 8] & (1 << (uint256(fillId) & 0xff)) != 0;
    }

    /// @dev Sets the bit of fill `fillId` in the settled-fill bitmap.
    function _markSettled(bytes32 fillId) private {
        _settledFills[uint256(fillId) >> 8] |= 1 << (uint256(fillId) & 0xff);
    }

    /// @dev ECDSA only: a fixed cost, and no call into the maker's code (see the contract notes).
    function _signedBy(address maker, bytes32 digest, bytes calldata signature) private pure returns (bool) {
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(digest, signature);
        return error == ECDSA.RecoverError.NoError && signer == maker;
    }
}
