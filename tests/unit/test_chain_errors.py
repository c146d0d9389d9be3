"""Custom errors decode by selector from the ABI into stable problem types."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, to_hex

from api.chain.errors import ErrorDecoder

ABI = [
    {
        "type": "error",
        "name": "ERC20InsufficientBalance",
        "inputs": [
            {"name": "sender", "type": "address"},
            {"name": "balance", "type": "uint256"},
            {"name": "needed", "type": "uint256"},
        ],
    },
    {"type": "error", "name": "IssuanceEmptyBatch", "inputs": []},
]
SENDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _data(signature: str, types: list[str], values: list[object]) -> str:
    return to_hex(function_signature_to_4byte_selector(signature) + encode(types, values))


def test_custom_error_decodes_with_named_arguments() -> None:
    data = _data(
        "ERC20InsufficientBalance(address,uint256,uint256)",
        ["address", "uint256", "uint256"],
        [SENDER, 5, 7],
    )
    name, args = ErrorDecoder([ABI]).decode(data)
    assert name == "ERC20InsufficientBalance"
    assert args == {"sender": SENDER, "balance": 5, "needed": 7}


def test_custom_error_becomes_a_stable_problem() -> None:
    data = _data(
        "ERC20InsufficientBalance(address,uint256,uint256)",
        ["address", "uint256", "uint256"],
        [SENDER, 2**200, 2**201],
    )
    problem = ErrorDecoder([ABI]).to_problem(data, tx_hash="0xabc")
    body = problem.body()
    assert body["type"] == "/problems/insufficient-balance"
    assert body["status"] == 409
    assert body["error_name"] == "ERC20InsufficientBalance"
    assert body["tx_hash"] == "0xabc"
    # uint256 values beyond JavaScript's safe integers travel as exact strings
    assert body["error_args"]["needed"] == str(2**201)


def test_builtin_error_string_and_panic_decode() -> None:
    decoder = ErrorDecoder([ABI])
    assert decoder.decode(_data("Error(string)", ["string"], ["nope"])) == (
        "Error",
        {"message": "nope"},
    )
    assert decoder.decode(_data("Panic(uint256)", ["uint256"], [0x11])) == ("Panic", {"code": 17})


def test_unknown_or_malformed_data_is_reported_not_raised() -> None:
    decoder = ErrorDecoder([ABI])
    assert decoder.decode("0xdeadbeef")[0] == "UnknownError"
    assert decoder.decode(None)[0] == "UnknownError"
    assert decoder.decode("0x12")[0] == "UnknownError"
    truncated = _data("ERC20InsufficientBalance(address,uint256,uint256)", [], [])
    assert decoder.decode(truncated)[0] == "UnknownError"
    problem = decoder.to_problem("0xdeadbeef")
    assert problem.type == "/problems/chain-rejected"
