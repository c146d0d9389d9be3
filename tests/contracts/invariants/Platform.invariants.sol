// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Invariant tests of the token, the exchange and issuance, run by forge (see foundry.toml).
// forge calls the handler's actions in random order with random arguments, then checks every
// invariant_* function after each call. No forge-std: the few cheatcodes are declared below.

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {CRDAToken} from "../../../contracts/CRDAToken.sol";
import {Exchange} from "../../../contracts/Exchange.sol";
import {IdentityRegistry} from "../../../contracts/IdentityRegistry.sol";
import {Issuance} from "../../../contracts/Issuance.sol";
import {SettlementToken} from "../../../contracts/SettlementToken.sol";
import {IExchange} from "../../../contracts/interfaces/IExchange.sol";

/// @dev forge's cheatcodes (the subset used here), at forge's fixed cheatcode address.
interface Vm {
    function prank(address sender) external;
    function warp(uint256 newTimestamp) external;
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external pure returns (address);
}

Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

/// @notice Deploys the platform's contracts as their admin and drives them as the platform and
/// its citizens would. Actors 0..3 can be verified and revoked; actor 4 is never verified.
/// Each action checks what must hold across that one call and counts a breach in a ghost counter
/// that an invariant keeps at zero.
contract PlatformHandler {
    uint256 public constant ACTORS = 5;
    uint256 public constant STRANGER = 4;
    uint256 public constant MAX_ORDERS = 24;
    uint256 private constant LOT = 1000;

    IdentityRegistry public immutable registry;
    CRDAToken public immutable token;
    SettlementToken public immutable won;
    Exchange public immutable exchange;
    Issuance public immutable issuance;

    address[ACTORS] private _actors;
    uint256[ACTORS] private _keys;
    IExchange.Order[] private _orders;

    // Ghost state: what the chain should say, kept independently of it.
    uint256 public minted;
    uint256 public retired;
    uint256 public deposited;
    uint256 public withdrawn;
    mapping(address account => bool) public everVerified;
    mapping(bytes32 orderHash => uint256) public ghostFilled;
    mapping(bytes32 orderHash => bool) public ghostCancelled;
    mapping(bytes32 orderHash => uint256) public filledAtCancel;
    mapping(bytes32 fillId => bool) public ghostSettled;
    mapping(bytes32 batchId => uint256) public batchMints;
    mapping(bytes32 batchId => uint256) public batchAmount;
    bytes32[] private _batchIds;
    uint256 private _references;
    uint256 private _fillIds;

    // Breaches seen within a call (each kept at zero by an invariant).
    uint256 public unverifiedMoves;
    uint256 public overfills;
    uint256 public conservationBreaks;
    uint256 public doubleMints;

    // How often each action did something (reported by the test, to show the run is not idle).
    uint256 public settledFills;
    uint256 public rejectedFills;
    uint256 public issuedBatches;
    uint256 public refusedBatches;

    constructor() {
        registry = new IdentityRegistry(address(this));
        registry.grantRole(registry.VERIFIER_ROLE(), address(this));
        token = new CRDAToken(address(this), registry, address(0xF0));
        won = new SettlementToken(address(this), registry);
        exchange = new Exchange(address(this), IERC20(address(token)), IERC20(address(won)), registry);
        issuance = new Issuance(address(this), token);
        token.grantRole(token.MINTER_ROLE(), address(issuance));
        token.grantRole(token.EXCHANGE_ROLE(), address(exchange));
        won.grantRole(won.EXCHANGE_ROLE(), address(exchange));
        won.grantRole(won.MINTER_ROLE(), address(this));
        issuance.grantRole(issuance.ISSUER_ROLE(), address(this));
        exchange.grantRole(exchange.SETTLER_ROLE(), address(this));
        for (uint256 i = 0; i < ACTORS; ++i) {
            _keys[i] = 0xA11CE + i;
            _actors[i] = vm.addr(_keys[i]);
        }
        // A market that can trade from the first call: the verifiable actors start verified,
        // with credits and won (batch ids 1001.. lie outside the fuzzed pool 1..4).
        for (uint256 i = 0; i < STRANGER; ++i) {
            attest(i);
            _issue(bytes32(1000 + i), _actors[i], 100_000);
            deposit(i, 1e9);
            // Two buys and two sells that cross, so fills can settle from the first call.
            place(i, i % 2 == 1, 30, 1, 20 days, i); // 2 kg each: soon filled
        }
    }

    // ---- identity ----

    function attest(uint256 who) public {
        address account = _actors[who % STRANGER]; // never the stranger
        registry.attest(account, keccak256(abi.encode(account, block.timestamp)), 2, uint64(block.timestamp + 60 days));
        everVerified[account] = true;
    }

    /// @dev One call in four revokes (else the market would soon have nobody verified).
    function revoke(uint256 who) external {
        if (who % 4 != 0) return;
        try registry.revoke(_actors[(who / 4) % ACTORS]) {} catch {}
    }

    function warp(uint256 secondsAhead) external {
        vm.warp(block.timestamp + secondsAhead % 1 days);
    }

    // ---- issuance (the platform issues only to a verified holder: the API's rule) ----

    /// @dev Batch ids from a small pool (1..4), so ids are re-sent.
    function issue(uint256 batchSeed, uint256 who, uint256 amount) external {
        _issue(bytes32(batchSeed % 4 + 1), _actors[who % ACTORS], 1 + amount % 1e9);
    }

    function _issue(bytes32 batchId, address recipient, uint256 amount) private {
        if (!registry.isVerified(recipient)) return;
        bool used = batchMints[batchId] > 0;
        bytes32[] memory claimIds = new bytes32[](1);
        claimIds[0] = keccak256(abi.encode(batchId, amount, recipient));
        address[] memory recipients = new address[](1);
        recipients[0] = recipient;
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = amount;
        try issuance.issueBatch(batchId, keccak256(abi.encode(claimIds)), claimIds, recipients, amounts) {
            if (used) ++doubleMints;
            if (!used) _batchIds.push(batchId);
            ++batchMints[batchId];
            batchAmount[batchId] = amount;
            minted += amount;
            ++issuedBatches;
        } catch {
            ++refusedBatches;
        }
    }

    // ---- won deposits and withdrawals ----

    function deposit(uint256 who, uint256 amount) public {
        address account = _actors[who % ACTORS];
        amount = 1 + amount % 1e12;
        bool verified = registry.isVerified(account);
        try won.mint(account, amount, bytes32(++_references)) {
            if (!verified) ++unverifiedMoves;
            deposited += amount;
        } catch {}
    }

    function withdraw(uint256 who, uint256 amount) external {
        address account = _actors[who % ACTORS];
        amount = 1 + amount % (won.balanceOf(account) + 1);
        try won.burn(account, amount, bytes32(++_references)) {
            withdrawn += amount;
        } catch {}
    }

    // ---- holders' own moves ----

    function transferCredits(uint256 from, uint256 to, uint256 amount) external {
        _transfer(IERC20(address(token)), from, to, amount);
    }

    function transferWon(uint256 from, uint256 to, uint256 amount) external {
        _transfer(IERC20(address(won)), from, to, amount);
    }

    function retire(uint256 who, uint256 amount) external {
        address holder = _actors[who % ACTORS];
        amount = amount % (token.balanceOf(holder) + 1);
        vm.prank(holder);
        try token.retire(amount, keccak256("beneficiary"), "invariant run") {
            retired += amount;
        } catch {}
    }

    // ---- the market: signed orders, matched fills, cancels ----

    function place(uint256 who, bool sell, uint256 price, uint256 lots, uint256 ttl, uint256 nonce) public {
        if (_orders.length >= MAX_ORDERS) return;
        _orders.push(
            IExchange.Order({
                maker: _actors[who % 8 == 0 ? STRANGER : who % STRANGER], // the stranger, 1 in 8
                side: sell ? 1 : 0,
                // Buyers bid 40..99 won/kg, sellers ask 1..60: most pairs cross, some do not.
                price: sell ? 1 + price % 60 : 40 + price % 60,
                quantity: (1 + lots % 10) * LOT,
                expiry: uint64(block.timestamp + 1 hours + ttl % 20 days),
                nonce: nonce
            })
        );
    }

    function cancel(uint256 index) external {
        if (_orders.length == 0) return;
        IExchange.Order memory order = _orders[index % _orders.length];
        bytes32 orderHash = exchange.hashOrder(order);
        vm.prank(order.maker);
        exchange.cancel(order);
        if (!ghostCancelled[orderHash]) filledAtCancel[orderHash] = exchange.filledOf(orderHash);
        ghostCancelled[orderHash] = true;
    }

    /// @param forged sign the buy order with the seller's key (it must never settle).
    /// @param twice send the fill twice in one batch (the second must be skipped).
    function settle(uint256 buyIndex, uint256 sellIndex, uint256 lots, uint256 priceSeed, uint256 fillSeed, bool forged, bool twice)
        external
    {
        if (_orders.length < 2) return;
        IExchange.Fill memory fill;
        // Mostly a buy against a sell (a few same-side pairs check they are refused).
        fill.buy = _orders[_pick(buyIndex, fillSeed % 16 == 1 ? 1 : 0)];
        fill.sell = _orders[_pick(sellIndex, fillSeed % 16 == 2 ? 0 : 1)];
        // Mostly a fresh fill id; one in four from a small pool, so ids are re-sent.
        fill.fillId = fillSeed % 4 == 0 ? bytes32(fillSeed % 16) : bytes32(++_fillIds + 1000);
        fill.quantity = (1 + lots % 5) * LOT;
        fill.price = fill.buy.price >= fill.sell.price
            ? fill.sell.price + priceSeed % (fill.buy.price - fill.sell.price + 1)
            : fill.sell.price;
        fill.buySignature = _sign(forged ? _keyOf(fill.sell.maker) : _keyOf(fill.buy.maker), fill.buy);
        fill.sellSignature = _sign(_keyOf(fill.sell.maker), fill.sell);
        IExchange.Fill[] memory fills = new IExchange.Fill[](twice ? 2 : 1);
        for (uint256 i = 0; i < fills.length; ++i) {
            fills[i] = fill;
        }
        _settleAndCheck(fills, forged);
    }

    /// @dev What a fill's two parties held before it, and what the ghost state said of it.
    struct Before {
        uint256 buyerCredits;
        uint256 sellerCredits;
        uint256 buyerWon;
        uint256 sellerWon;
        uint256 credits;
        uint256 money;
        bool bothVerified;
        bool mustNotSettle;
    }

    function _settleAndCheck(IExchange.Fill[] memory fills, bool forged) private {
        IExchange.Fill memory fill = fills[0];
        bytes32 buyHash = exchange.hashOrder(fill.buy);
        bytes32 sellHash = exchange.hashOrder(fill.sell);
        Before memory b;
        b.buyerCredits = token.balanceOf(fill.buy.maker);
        b.sellerCredits = token.balanceOf(fill.sell.maker);
        b.buyerWon = won.balanceOf(fill.buy.maker);
        b.sellerWon = won.balanceOf(fill.sell.maker);
        (b.credits, b.money) = _totals();
        b.bothVerified = registry.isVerified(fill.buy.maker) && registry.isVerified(fill.sell.maker);
        b.mustNotSettle = forged || ghostSettled[fill.fillId] || ghostCancelled[buyHash] || ghostCancelled[sellHash];

        uint256 settled = exchange.settleBatch(fills);

        _checkSettlement(fill, b, settled);
        if (settled > 0) {
            ghostSettled[fill.fillId] = true;
            ghostFilled[buyHash] += fill.quantity;
            ghostFilled[sellHash] += fill.quantity;
        }
    }

    function _checkSettlement(IExchange.Fill memory fill, Before memory b, uint256 settled) private {
        (uint256 credits, uint256 money) = _totals();
        if (credits != b.credits || money != b.money) ++conservationBreaks;
        if (settled > 1) ++overfills; // the same fill id settled twice in one batch
        if (settled == 0) {
            ++rejectedFills;
            if (token.balanceOf(fill.buy.maker) != b.buyerCredits || won.balanceOf(fill.buy.maker) != b.buyerWon) {
                ++conservationBreaks;
            }
            return;
        }
        ++settledFills;
        if (!b.bothVerified) ++unverifiedMoves;
        if (b.mustNotSettle) ++overfills;
        uint256 paid = fill.price * (fill.quantity / LOT);
        if (
            token.balanceOf(fill.buy.maker) != b.buyerCredits + fill.quantity
                || token.balanceOf(fill.sell.maker) != b.sellerCredits - fill.quantity
                || won.balanceOf(fill.buy.maker) != b.buyerWon - paid
                || won.balanceOf(fill.sell.maker) != b.sellerWon + paid
        ) ++conservationBreaks;
    }

    // ---- views for the invariants ----

    function actor(uint256 i) external view returns (address) {
        return _actors[i];
    }

    function orderCount() external view returns (uint256) {
        return _orders.length;
    }

    function order(uint256 i) external view returns (IExchange.Order memory) {
        return _orders[i];
    }

    function batchCount() external view returns (uint256) {
        return _batchIds.length;
    }

    function batchId(uint256 i) external view returns (bytes32) {
        return _batchIds[i];
    }

    function _totals() private view returns (uint256 credits, uint256 money) {
        for (uint256 i = 0; i < ACTORS; ++i) {
            credits += token.balanceOf(_actors[i]);
            money += won.balanceOf(_actors[i]);
        }
    }

    function _transfer(IERC20 asset, uint256 from, uint256 to, uint256 amount) private {
        address sender = _actors[from % ACTORS];
        address recipient = _actors[to % ACTORS];
        amount = amount % (asset.balanceOf(sender) + 1);
        bool bothVerified = registry.isVerified(sender) && registry.isVerified(recipient);
        vm.prank(sender);
        try asset.transfer(recipient, amount) {
            if (!bothVerified) ++unverifiedMoves;
        } catch {}
    }

    /// @dev The first order of `side` from `seed` on (or the order at `seed` if there is none).
    function _pick(uint256 seed, uint8 side) private view returns (uint256) {
        uint256 n = _orders.length;
        for (uint256 j = 0; j < n; ++j) {
            uint256 i = (seed % n + j) % n;
            if (_orders[i].side == side) return i;
        }
        return seed % n;
    }

    function _keyOf(address account) private view returns (uint256) {
        for (uint256 i = 0; i < ACTORS; ++i) {
            if (_actors[i] == account) return _keys[i];
        }
        revert("unknown actor");
    }

    function _sign(uint256 key, IExchange.Order memory signed) private view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, exchange.hashOrder(signed));
        return abi.encodePacked(r, s, v);
    }
}

/// @notice The invariants, checked by forge after every handler call.
contract PlatformInvariants {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    PlatformHandler private _handler;

    function setUp() public {
        _handler = new PlatformHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(_handler);
    }

    /// @dev Only the actions: forge would otherwise spend calls on the handler's views.
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory actions = new bytes4[](12);
        actions[0] = PlatformHandler.attest.selector;
        actions[1] = PlatformHandler.revoke.selector;
        actions[2] = PlatformHandler.warp.selector;
        actions[3] = PlatformHandler.issue.selector;
        actions[4] = PlatformHandler.deposit.selector;
        actions[5] = PlatformHandler.withdraw.selector;
        actions[6] = PlatformHandler.transferCredits.selector;
        actions[7] = PlatformHandler.transferWon.selector;
        actions[8] = PlatformHandler.retire.selector;
        actions[9] = PlatformHandler.place.selector;
        actions[10] = PlatformHandler.cancel.selector;
        actions[11] = PlatformHandler.settle.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(_handler), actions);
    }

    /// @notice Credits: totalSupply = Σ balances = minted - retired.
    function invariant_creditSupplyIsTheSumOfBalances() public view {
        CRDAToken token = _handler.token();
        uint256 sum = 0;
        for (uint256 i = 0; i < _handler.ACTORS(); ++i) {
            sum += token.balanceOf(_handler.actor(i));
        }
        require(token.totalSupply() == sum, "credit supply != sum of balances");
        require(sum == _handler.minted() - _handler.retired(), "credits != minted - retired");
        require(token.totalRetired() == _handler.retired(), "totalRetired != retired");
    }

    /// @notice Won: totalSupply = Σ balances = deposits - withdrawals.
    function invariant_wonSupplyIsTheSumOfBalances() public view {
        SettlementToken won = _handler.won();
        uint256 sum = 0;
        for (uint256 i = 0; i < _handler.ACTORS(); ++i) {
            sum += won.balanceOf(_handler.actor(i));
        }
        require(won.totalSupply() == sum, "won supply != sum of balances");
        require(sum == _handler.deposited() - _handler.withdrawn(), "won != deposited - withdrawn");
    }

    /// @notice Only verified addresses hold: nothing moves to or from an unverified side, and an
    /// address that was never verified holds nothing.
    function invariant_onlyVerifiedAddressesHold() public view {
        require(_handler.unverifiedMoves() == 0, "credits or won moved with an unverified side");
        for (uint256 i = 0; i < _handler.ACTORS(); ++i) {
            address account = _handler.actor(i);
            if (_handler.everVerified(account)) continue;
            require(_handler.token().balanceOf(account) == 0, "a never-verified address holds credits");
            require(_handler.won().balanceOf(account) == 0, "a never-verified address holds won");
        }
    }

    /// @notice No fill beyond its order: filled <= quantity, filled = Σ settled fills, nothing
    /// fills after a cancel, no fill id settles twice, a forged signature never settles.
    function invariant_noFillBeyondItsOrder() public view {
        require(_handler.overfills() == 0, "a fill settled twice, after a cancel or forged");
        Exchange exchange = _handler.exchange();
        for (uint256 i = 0; i < _handler.orderCount(); ++i) {
            bytes32 orderHash = exchange.hashOrder(_handler.order(i));
            uint256 filled = exchange.filledOf(orderHash);
            require(filled <= _handler.order(i).quantity, "order filled beyond its quantity");
            require(filled == _handler.ghostFilled(orderHash), "filledOf != settled fills");
            if (_handler.ghostCancelled(orderHash)) {
                require(filled == _handler.filledAtCancel(orderHash), "filled after its cancel");
            }
        }
    }

    /// @notice Settlement conserves won and grams: every fill moves exactly quantity grams one way
    /// and price * lots won the other, and the exchange never holds anything.
    function invariant_settlementConservesWonAndGrams() public view {
        require(_handler.conservationBreaks() == 0, "a settlement created or lost won or grams");
        address exchange = address(_handler.exchange());
        require(_handler.token().balanceOf(exchange) == 0, "the exchange holds credits");
        require(_handler.won().balanceOf(exchange) == 0, "the exchange holds won");
    }

    /// @notice A batch id mints once: a re-sent batch is refused and minted nothing.
    function invariant_aBatchIdMintsOnce() public view {
        require(_handler.doubleMints() == 0, "a batch id minted twice");
        Issuance issuance = _handler.issuance();
        for (uint256 i = 0; i < _handler.batchCount(); ++i) {
            bytes32 id = _handler.batchId(i);
            require(_handler.batchMints(id) == 1, "a batch id minted twice");
            require(issuance.batchOf(id).totalAmount == _handler.batchAmount(id), "batch record changed");
        }
    }
}
