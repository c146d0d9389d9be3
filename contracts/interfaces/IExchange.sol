// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IExchange
/// @notice Types, events and errors of the CRDA/KRW exchange.
interface IExchange {
    /// @notice A maker's signed limit order (EIP-712 type `Order`).
    /// @param side 0 = buy credits with won, 1 = sell credits for won.
    /// @param price won per kilogram of credits.
    /// @param quantity grams of credits, a whole number of kilogram lots.
    /// @param expiry unix time after which the order can no longer settle.
    /// @param nonce any value the maker picks so that equal terms make a distinct order.
    struct Order {
        address maker;
        uint8 side;
        uint256 price;
        uint256 quantity;
        uint64 expiry;
        uint256 nonce;
    }

    /// @notice One match of a buy and a sell order, as the platform's engine made it.
    /// @param fillId unique id of the fill (a re-sent batch never settles it twice). Any value
    /// works; ids in sequence are cheapest (the exchange keeps settled ids 256 to a storage word).
    /// @param price won per kilogram, between the sell and the buy limit.
    /// @param quantity grams, a whole number of kilogram lots.
    struct Fill {
        bytes32 fillId;
        Order buy;
        bytes buySignature;
        Order sell;
        bytes sellSignature;
        uint256 price;
        uint256 quantity;
    }

    /// @notice Why a fill of a batch was not settled (the rest of the batch still settles).
    enum RejectReason {
        None,
        AlreadySettled,
        BadFill,
        BuyOrderInvalid,
        SellOrderInvalid,
        BuyerCannotPay,
        SellerCannotDeliver
    }

    /// @notice Emitted when a fill moved `quantity` grams from seller to buyer and `won` back.
    event FillSettled(
        bytes32 indexed fillId,
        bytes32 indexed buyHash,
        bytes32 indexed sellHash,
        address buyer,
        address seller,
        uint256 price,
        uint256 quantity,
        uint256 won
    );

    /// @notice Emitted when a fill of a batch was skipped; nothing moved for it.
    event FillRejected(bytes32 indexed fillId, RejectReason reason);

    /// @notice Emitted when an order was cancelled: by its maker, relayed with its signature, or by
    /// the settler for an order the platform closed.
    event OrderCancelled(bytes32 indexed orderHash, address indexed maker);

    /// @notice Thrown when a constructor argument is the zero address.
    error ExchangeZeroAddress();

    /// @notice Thrown when someone other than the maker cancels an order without its signature.
    error ExchangeNotMaker(address caller, address maker);

    /// @notice Thrown when a relayed cancel's signature is not the maker's.
    error ExchangeInvalidSignature(bytes32 orderHash);

    /// @notice Thrown when a batch has no fills.
    error ExchangeEmptyBatch();

    /// @notice Thrown when a single fill (settle) is not settled, with the reason.
    error ExchangeFillRejected(bytes32 fillId, RejectReason reason);
}
