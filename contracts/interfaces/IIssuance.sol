// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IIssuance
/// @notice Batched issuance of credits with a Merkle commitment to every claim of a batch.
interface IIssuance {
    /// @notice One verified activity's right to credits, as committed in a batch's Merkle tree.
    struct ClaimRecord {
        bytes32 claimId;
        address beneficiary;
        uint256 amount;
        bytes32 methodologyHash;
        bytes32 evidenceHash;
    }

    /// @notice What the chain keeps of a batch (claim details live in the event and the tree).
    struct Batch {
        bytes32 merkleRoot;
        uint64 blockNumber;
        uint32 claimCount;
        uint128 totalAmount;
    }

    /// @notice Emitted once per batch, listing the ids of the claims it issued.
    event BatchIssued(bytes32 indexed batchId, bytes32 merkleRoot, uint256 totalAmount, bytes32[] claimIds);

    /// @notice Thrown when a batch id was used before: a retried batch never mints twice.
    error IssuanceBatchAlreadyIssued(bytes32 batchId);

    /// @notice Thrown when a batch has no claims or no recipients.
    error IssuanceEmptyBatch();

    /// @notice Thrown when the batch id or the Merkle root is zero.
    error IssuanceZeroValue();

    /// @notice Thrown when the claim count does not fit the batch record.
    error IssuanceBatchTooLarge(uint256 claimCount);

    /// @notice Thrown when a recipient's total is zero.
    error IssuanceZeroAmount(address recipient);

    /// @notice Thrown when the admin or token is the zero address.
    error IssuanceZeroAddress();
}
