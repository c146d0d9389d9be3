"""The indexer's log decoder reads every ABI type as eth-abi does, and writes the args' JSON
as the generic encoder would, on its fast paths (one-word values from hex) and off them."""

from __future__ import annotations

import json

import pytest
from eth_abi import encode
from eth_utils import event_abi_to_log_topic, keccak

from api.audit.decoding import LogDecoder, to_json_value

ADDRESS = "0x00000000000000000000000000000000000000aa"
EMITTER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _event(name: str, inputs: list[tuple[str, str, bool]]) -> dict:
    return {
        "type": "event",
        "name": name,
        "anonymous": False,
        "inputs": [{"name": n, "type": t, "indexed": i} for n, t, i in inputs],
    }


WORDS = _event(
    "Words",
    [
        ("who", "address", True),
        ("id", "uint256", True),
        ("tag", "bytes32", True),
        ("to", "address", False),
        ("amount", "uint256", False),
        ("delta", "int64", False),
        ("ok", "bool", False),
        ("selector", "bytes4", False),
    ],
)
DYNAMIC = _event(
    "Dynamic",
    [
        ("label", "string", True),
        ("ids", "bytes32[]", False),
        ("reason", "string", False),
        ("flag", "bool", False),
    ],
)


def _log(abi: dict, indexed: list[bytes], types: list[str], values: list[object]) -> dict:
    return {
        "address": EMITTER,
        "topics": ["0x" + event_abi_to_log_topic(abi).hex(), *("0x" + t.hex() for t in indexed)],
        "data": "0x" + encode(types, values).hex(),
        "blockNumber": "0x10",
        "blockHash": "0x" + "AB" * 32,
        "transactionHash": "0x" + "cd" * 32,
        "logIndex": "0x3",
    }


@pytest.fixture
def decoder() -> LogDecoder:
    return LogDecoder({"Thing": (EMITTER, [WORDS, DYNAMIC])})


@pytest.mark.parametrize("ok", [True, False])
def test_one_word_values_decode_as_eth_abi_does(decoder: LogDecoder, ok: bool) -> None:
    values = [ADDRESS, 2**256 - 1, -(2**63), ok, b"\x12\x34\x56\x78"]
    log = _log(
        WORDS,
        [encode(["address"], [ADDRESS]), encode(["uint256"], [7]), keccak(text="tag")],
        ["address", "uint256", "int64", "bool", "bytes4"],
        values,
    )
    decoded = decoder.decode(log)
    assert decoded is not None
    assert (decoded.contract, decoded.event, decoded.address) == ("Thing", "Words", EMITTER.lower())
    assert (decoded.block_number, decoded.log_index) == (16, 3)
    assert decoded.block_hash == "0x" + "ab" * 32
    assert decoded.args == {
        "who": ADDRESS,
        "id": 7,
        "tag": keccak(text="tag"),
        "to": ADDRESS,
        "amount": 2**256 - 1,
        "delta": -(2**63),
        "ok": ok,
        "selector": b"\x12\x34\x56\x78",
    }
    generic = json.dumps(
        {k: to_json_value(v) for k, v in decoded.args.items()}, separators=(",", ":")
    )
    assert decoded.args_json == generic


def test_dynamic_values_decode_and_indexed_strings_stay_hashes(decoder: LogDecoder) -> None:
    ids = [keccak(text="a"), keccak(text="b")]
    log = _log(
        DYNAMIC,
        [keccak(text="label")],
        ["bytes32[]", "string", "bool"],
        [ids, 'quote " and é', True],
    )
    decoded = decoder.decode(log)
    assert decoded is not None
    assert decoded.args == {
        "label": "0x" + keccak(text="label").hex(),
        "ids": tuple(ids),
        "reason": 'quote " and é',
        "flag": True,
    }
    assert json.loads(decoded.args_json) == {
        "label": "0x" + keccak(text="label").hex(),
        "ids": ["0x" + i.hex() for i in ids],
        "reason": 'quote " and é',
        "flag": True,
    }


def test_unknown_events_and_mismatched_topics_are_skipped(decoder: LogDecoder) -> None:
    log = _log(WORDS, [b"\x00" * 32], ["address"], [ADDRESS])
    assert decoder.decode(log) is None
    assert decoder.decode({**log, "address": ADDRESS}) is None
    assert decoder.decode({**log, "topics": []}) is None
