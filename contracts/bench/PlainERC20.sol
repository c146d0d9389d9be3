// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title PlainERC20
/// @notice Benchmark baseline only: an unpermissioned OpenZeppelin ERC-20 with an open `mint`,
/// to compare batch issuance against one plain mint per claim. Never deployed by `crda deploy`.
contract PlainERC20 is ERC20 {
    constructor() ERC20("Plain", "PLAIN") {}

    /// @notice Anyone mints: this contract exists only to measure gas.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
