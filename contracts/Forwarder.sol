// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title Forwarder
/// @notice The platform relayer's ERC-2771 forwarder: it executes requests that citizens sign
/// (EIP-712, with a nonce and deadline) and pays their gas, so citizens never need ETH.
contract Forwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("CRDA Forwarder") {}
}
