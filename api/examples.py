"""Values the OpenAPI examples share, taken from the captured exchanges in ``mobile_api_docs/``.

One citizen (``CITIZEN``) earns 3.800 kg from an e-receipt and 0.513 kg from a subway trip,
sells 2 kg to a buyer (``BUYER``) at 1200 won/kg and retires 1.250 kg for a school; the
examples on the models (``json_schema_extra``) tell that story with these values, so the
document's payloads agree with each other and with the guides.
"""

from __future__ import annotations

from pydantic.json_schema import JsonDict

# Accounts and addresses (EIP-55).
# A page's ``next_cursor`` (opaque to clients; every list's page shows this one).
PAGE_CURSOR = "WyJ0cmFuc2ZlcnMiLFsxMiwzXV0"

CITIZEN_ID = "10eb79ce-42fe-4184-8007-9f841362861f"
CITIZEN = "0x0D5014f51A8B220d876fc978EAfD56cAcCCC25A6"
BUYER_ID = "1cda059a-d06c-43db-9d29-3f3271300a2f"
BUYER = "0xbC55700D51D91b35aC56B8dF3B17C43BD7fE2702"
MERCHANT = "0x6838C54628f8575414c18230d3AE264f5A92EC93"
OPERATOR = "0x33746caac27D37958C41953703BFf27b4dc0B67E"
EXCHANGE = "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707"
VERIFIER_ID = "5b2e8c4d-7a1f-4e3b-9c6d-0f1a2b3c4d5e"
VERIFIER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CHAIN_ID = 31337

# Earning.
PURCHASE_CLAIM = "0x2d4af4be114722122950577ff9b7a3e72a1cdc6cb2b1aace446b6f6d32547afd"
TRIP_CLAIM = "0x5388c48f2722407d2148eda84605ac6b9cf1b8e84c059e99cf2b27b6d2a0e667"
METHODOLOGY_HASH = "0x2ddf808a5e8244b244f4ce4923a12d7e591d85e91d8328081509e0b5e0edc687"
STATION_GRAPH_HASH = "0xdc32050fe2f45981ed0a41f993ff820c61aec34b6dfe3cdef19572bf37742fa5"
RECEIPT_HASH = "0x354167d35554c1f60638d6d72a0edc045450a841f7efabe0f9843b7e6534b504"
TRIP_HASH = "0x7434499a7fffbbadda60ba31bbd1c7ca3790d66df81667a3941050565e064ede"
RECEIPT_SIGNATURE = (
    "0x80730e9fa543997d84f12798350c09bdef2cdb171bf41ed3e4a5f808af2feb0c"
    "56263009a543997d84f12798350c09bdef2cdb171bf41ed3e4a5f8c528e1f1041c"
)
TRIP_SIGNATURE = (
    "0x99499706cc4f96378dfc78d340ac508d9306838aa0806fda95352ce315ca25d7"
    "ab4128e3cc4f96378dfc78d340ac508d9306838aa0806fda95352ce34a729e031c"
)
BATCH_ID = "0x567c6a7ea2e04d6f33bda310b2d8b656ed04ea5f07341c1c92d0aa0cb802256c"
ISSUANCE_TX = "0xa1bb28ad96420adb1b1222a3e2d8e287f1d5be32854fe6d88450b4719ef6c380"
MERKLE_ROOT = "0xb18530b5da9f4da91a0dae4565ca2e5b4b12da0a43e77a4daa10a5c5b6c73d9a"
PROOF_NODE = "0x7a875f453cbdd0ce3342e2995f37e55d25e932316377bb225aaad61e004eb5fb"
ISSUANCE_BLOCK = 19
ISSUANCE_TIME = 1795443854

# Trading.
ORDER_HASH = "0xc8e030f99b095dab0f841f7502e499668bca0f692f9afa274a9ed5d80e3a3d9a"
ORDER_SIGNATURE = (
    "0x28aacaad6ac9f98ae93247c8fc04bf168ecc1bc7370ee0620639a6bb9f0d31a7"
    "bad2d3db161ea410e93247c8fc04bf19068fc7e834bfc62972b39e705d8a6b781b"
)
FILL_ID = "0x70c3cac391a3d0b95029ac6a7d89877da87a7d6ff7b8def4462a9e3364117107"
SETTLEMENT_TX = "0x27ca64c092a959c7edc525ed45e845b1de6a7590d173fd2fad9133c8a779a1e3"

# Retirement.
RETIREMENT_ID = "2056a2b3-7d24-47b9-8bbb-79898b5be004"
BENEFICIARY_SALT = "0x764eaf0e471d90e13fc46df8a1c93aa454c85935b7d24dd6de772a288ba2c5de"
BENEFICIARY_HASH = "0x3a4d672bd2ca9ec2084595099458b03a9b6087cce2ef53d27c09772b981ee0d9"
# The reason's salt (from BENEFICIARY_SALT) and its commitment to "School trip 2026": what the
# chain records as the reason (tests/retirement checks these against the helpers).
REASON_SALT = "0x46109aa99c09e4d5cd638014736cc40874bbc8f21fd6ca803e3cdf20173f3df4"
REASON_HASH = "0x3939ce478799932e973a34cbcd7c4ba650ff1a4a08771ea7be4c08c4e6ea6fd6"
RETIREMENT_TX = "0xeb61887fbe8c421e37d6fea6185dba289b8d2a66ca59be7d15806c82e8fc0f00"
RETIREMENT_BLOCK = 23
RETIREMENT_TIME = 1795443862
VERIFICATION_URL = (
    "http://127.0.0.1:8400/certificates/1/verify?amount=1250"
    f"&beneficiary_hash={BENEFICIARY_HASH}&tx_hash={RETIREMENT_TX}"
)

# Identity.
CREDENTIAL_ID = "a81d4f2c-6b3e-4d5a-8f1e-2c7b9d0e3a46"
CREDENTIAL_HASH = "0x55d91a3561684b32df5e58a0d91968b93798af4f924bba383e1c98625ec0c834"
CREDENTIAL_JWT = "eyJhbGciOiJFUzI1NksiLCJ0eXAiOiJ2Yytqd3QifQ.eyJpc3MiOiJkaWQ6d2ViIn0.c2ln"
ATTEST_TX = "0xbcc7930764b9b7a8b9bbd0161b568e869466d0c4efaee8006a56f3e8e6d82b69"
SIWE_SIGNATURE = (
    "0xcd9de32887560a8291dc3b46207afe0c922e28819ca0b3404edd43bdab03ca15"
    "cd9de32887560a8291dc3b46207afe0c922e28819ca0b3404edd43bdab03ca151b"
)
BLOCK_HASH = "0x5af2392a948f950e3f93e9f171da623fe6629440bc8d7e27fa7b39573e40ee73"

# Contracts (the devnet's deployment).
CREDIT_CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ISSUANCE_CONTRACT = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"

SIWE_MESSAGE = (
    "crda.incheon.go.kr wants you to sign in with your Ethereum account:\n"
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906\n\n"
    "Sign in to CRDA.\n\n"
    "URI: https://crda.incheon.go.kr\n"
    "Version: 1\n"
    f"Chain ID: {CHAIN_ID}\n"
    "Nonce: Xk2b9Qm1T0aL\n"
    "Issued At: 2026-11-23T11:40:00.000Z\n"
    "Expiration Time: 2026-11-23T11:45:00.000Z"
)

PURCHASE_CLAIM_ISSUED: JsonDict = {
    "claim_id": PURCHASE_CLAIM,
    "status": "issued",
    "kind": "purchase",
    "mode": None,
    "amount_grams": 3800,
    "beneficiary": CITIZEN,
    "activity_start": "2026-11-23T14:23:27Z",
    "activity_end": "2026-11-23T14:23:27Z",
    "methodology_version": "2026.3",
    "methodology_hash": METHODOLOGY_HASH,
    "evidence_hash": RECEIPT_HASH,
    "inputs": {
        "kind": "purchase",
        "components": [
            {
                "type": "product",
                "product_code": "8801234567893",
                "category": "dairy.milk.1l",
                "label_g": 1900,
                "baseline_g": 2400,
                "quantity": 6,
            },
            {
                "type": "product",
                "product_code": "8809876543210",
                "category": "beverage.juice.1l",
                "label_g": 700,
                "baseline_g": 1100,
                "quantity": 2,
            },
        ],
    },
    "explanation": [
        "6 x 8801234567893 (dairy.milk.1l): (2400 baseline - 1900 label) g = 3000 g",
        "2 x 8809876543210 (beverage.juice.1l): (1100 baseline - 700 label) g = 800 g",
        "factor status: placeholder",
        "total rounded down to whole grams = 3800 g (2026.3)",
    ],
    "credit_class": "purchase@2026.3",
    "vintage": 2026,
    "factor_status": "placeholder",
    "assurance": "single-source",
    "corroboration": None,
    "corroborate_by": None,
    "batch_id": BATCH_ID,
    "tx_hash": ISSUANCE_TX,
    "created_at": "2026-11-23T14:23:57.091336Z",
    "issued_at": "2026-11-23T14:23:59.241977Z",
}

TRIP_CLAIM_ACCEPTED: JsonDict = {
    "claim_id": TRIP_CLAIM,
    "status": "accepted",
    "kind": "trip",
    "mode": "subway",
    "amount_grams": 513,
    "beneficiary": CITIZEN,
    "activity_start": "2026-11-23T13:58:57Z",
    "activity_end": "2026-11-23T14:13:57Z",
    "methodology_version": "2026.3",
    "methodology_hash": METHODOLOGY_HASH,
    "evidence_hash": TRIP_HASH,
    "inputs": {
        "kind": "trip",
        "components": [
            {"type": "trip", "mode": "subway", "distance_m": 4200, "source": "operator"},
        ],
        "uncredited": [
            {
                "type": "trip",
                "mode": "walk",
                "distance_m": 350,
                "source": "gps",
                "why": "the app measured it and no operator signed it",
            },
            {
                "type": "trip",
                "mode": "walk",
                "distance_m": 500,
                "source": "gps",
                "why": "the app measured it and no operator signed it",
            },
        ],
    },
    "explanation": [
        "4200 m by subway x (0.1714 car - ≈0.04922257 subway) g/m = ≈513.14520546 g",
        "350 m by walk (gps): not credited, the app measured it and no operator signed it",
        "500 m by walk (gps): not credited, the app measured it and no operator signed it",
        "factor status: estimate",
        "total rounded down to whole grams = 513 g (2026.3)",
    ],
    "credit_class": "trip:subway@2026.3",
    "vintage": 2026,
    "factor_status": "estimate",
    "assurance": "corroborated",
    "corroboration": {
        "provider": "incheon-card-clearing",
        "source": "clearing_house",
        "record_id": "CLR-20260512-88123",
        "evidence_hash": TRIP_HASH,
        "created_at": "2026-05-12T08:40:11Z",
    },
    "corroborate_by": None,
    "batch_id": None,
    "tx_hash": None,
    "created_at": "2026-11-23T14:23:57.152893Z",
    "issued_at": None,
}

PROOF: JsonDict = {
    "claim_id": PURCHASE_CLAIM,
    "batch_id": BATCH_ID,
    "merkle_root": MERKLE_ROOT,
    "tx_hash": ISSUANCE_TX,
    "block_number": ISSUANCE_BLOCK,
    "record": {
        "claimId": PURCHASE_CLAIM,
        "beneficiary": CITIZEN,
        "amount": 3800,
        "methodologyHash": METHODOLOGY_HASH,
        "evidenceHash": RECEIPT_HASH,
    },
    "proof": [PROOF_NODE],
}

INDEX_STATUS: JsonDict = {
    "chain_id": CHAIN_ID,
    "deployment_key": (
        f"CRDAToken={CREDIT_CONTRACT.lower()};Exchange={EXCHANGE.lower()};"
        f"Issuance={ISSUANCE_CONTRACT.lower()}"
    ),
    "start_block": 1,
    "block_number": RETIREMENT_BLOCK,
    "block_hash": BLOCK_HASH,
    "reorgs": 0,
    "updated_at": "2026-11-23T14:24:23Z",
}

SUPPLY: JsonDict = {
    "block_number": RETIREMENT_BLOCK,
    "issued": "4313",
    "burnt": "1250",
    "retired": "1250",
    "circulating": "3063",
}

CERTIFICATE: JsonDict = {
    "status": "confirmed",
    "serial": 1,
    "amount": 1250,
    "unit": "gram CO2e",
    "holder": CITIZEN,
    "beneficiary": "Songdo Primary School",
    "beneficiary_salt": BENEFICIARY_SALT,
    "beneficiary_published": False,
    "beneficiary_hash": BENEFICIARY_HASH,
    "reason": "School trip 2026",
    "reason_salt": REASON_SALT,
    "reason_hash": REASON_HASH,
    "retired_at": "2026-11-23T14:24:22Z",
    "tx_hash": RETIREMENT_TX,
    "block_number": RETIREMENT_BLOCK,
    "error_name": None,
    "verification_url": VERIFICATION_URL,
    "allocation": {
        "rule": (
            "first in, first out over the holder's inflows in chain order (mints by batch, "
            "transfers in by sender), net of earlier outflows"
        ),
        "complete": True,
        "detail": None,
        "lots": [
            {
                "kind": "issuance",
                "amount": "1250",
                "tx_hash": ISSUANCE_TX,
                "block_number": ISSUANCE_BLOCK,
                "block_time": ISSUANCE_TIME,
                "batch_id": BATCH_ID,
                "merkle_root": MERKLE_ROOT,
                "claims": [
                    {"claim_id": PURCHASE_CLAIM, "amount": "3800"},
                    {"claim_id": TRIP_CLAIM, "amount": "513"},
                ],
                "batch_claim_ids": [],
                "sender": None,
            }
        ],
    },
}

CERTIFICATE_VERIFICATION: JsonDict = {
    "verified": True,
    "serial": 1,
    "reasons": [],
    "checks": [
        {"name": "transaction", "ok": True, "detail": "the transaction is mined and succeeded"},
        {
            "name": "retired-event",
            "ok": True,
            "detail": "a Retired event with certificate id 1 in that transaction exists",
        },
        {"name": "confirmations", "ok": True, "detail": "0 blocks deep (needs 0)"},
        {"name": "amount", "ok": True, "detail": "claimed 1250 g, on chain 1250 g"},
        {
            "name": "beneficiary-hash",
            "ok": True,
            "detail": "the beneficiary commitment matches the chain",
        },
        {"name": "index", "ok": True, "detail": "the audit index agrees with the chain"},
    ],
    "on_chain": {
        "serial": 1,
        "holder": CITIZEN,
        "amount": 1250,
        "beneficiary_hash": BENEFICIARY_HASH,
        "reason": REASON_HASH,
        "tx_hash": RETIREMENT_TX,
        "block_number": RETIREMENT_BLOCK,
    },
}
