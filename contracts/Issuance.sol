// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {CRDAToken} from "./CRDAToken.sol";
import {IIssuance} from "./interfaces/IIssuance.sol";

/// @title Issuance
/// @notice Mints credits for verified claims in batches. Each batch mints every recipient's total
/// once (not once per claim), commits the Merkle root of its claim records and keeps no per-claim
/// storage, so a claim costs a few thousand gas. Anyone holding a claim record and its proof can
/// show on chain that it was issued, and nobody can change a batch afterwards.
contract Issuance is AccessControl, IIssuance {
    /// @notice Role of the platform's issuer (the outbox worker's key).
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    CRDAToken private immutable _token;
    mapping(bytes32 batchId => Batch) private _batches;

    /// @param admin the operator (role admin).
    /// @param token_ the CRDA token; this contract needs its MINTER_ROLE.
    constructor(address admin, CRDAToken token_) {
        if (admin == address(0) || address(token_) == address(0)) revert IssuanceZeroAddress();
        _token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Issue a batch: mint `amounts[i]` to `recipients[i]` and commit `merkleRoot`.
    /// @dev Requirements:
    /// - caller has `ISSUER_ROLE`;
    /// - `batchId` and `merkleRoot` are not zero and `batchId` was never used;
    /// - at least one claim and one recipient, `recipients` and `amounts` of equal length, no zero
    ///   amount (the token also refuses a zero recipient, and everything while paused).
    /// Emits {BatchIssued} and one {Transfer} per recipient.
    function issueBatch(
        bytes32 batchId,
        bytes32 merkleRoot,
        bytes32[] calldata claimIds,
        address[] calldata recipients,
        uint256[] calldata amounts
    ) external onlyRole(ISSUER_ROLE) {
        if (batchId == bytes32(0) || merkleRoot == bytes32(0)) revert IssuanceZeroValue();
        if (_batches[batchId].merkleRoot != bytes32(0)) revert IssuanceBatchAlreadyIssued(batchId);
        if (claimIds.length == 0 || recipients.length == 0) revert IssuanceEmptyBatch();
        if (claimIds.length > type(uint32).max) revert IssuanceBatchTooLarge(claimIds.length);
        uint256 total = 0;
        for (uint256 i = 0; i < amounts.length; ++i) {
            if (amounts[i] == 0) revert IssuanceZeroAmount(recipients[i]);
            total += amounts[i];
        }
        _batches[batchId] = Batch({
            merkleRoot: merkleRoot,
            blockNumber: SafeCast.toUint64(block.number),
            claimCount: uint32(claimIds.length),
            totalAmount: SafeCast.toUint128(total)
        });
        _token.mintBatch(recipients, amounts);
        emit BatchIssued(batchId, merkleRoot, total, claimIds);
    }

    /// @notice The record of `batchId` (all zero when it was never issued).
    function batchOf(bytes32 batchId) external view returns (Batch memory) {
        return _batches[batchId];
    }

    /// @notice The Merkle leaf of a claim record (OpenZeppelin StandardMerkleTree encoding).
    function claimLeaf(ClaimRecord calldata claim) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(
                        claim.claimId, claim.beneficiary, claim.amount, claim.methodologyHash, claim.evidenceHash
                    )
                )
            )
        );
    }

    /// @notice True when `claim` is in the tree committed by batch `batchId`.
    function isClaimIssued(bytes32 batchId, ClaimRecord calldata claim, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _batches[batchId].merkleRoot;
        return root != bytes32(0) && MerkleProof.verifyCalldata(proof, root, claimLeaf(claim));
    }

    /// @notice The token this contract mints.
    function token() external view returns (CRDAToken) {
        return _token;
    }
}
