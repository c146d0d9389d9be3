"""Decode raw ``eth_getLogs`` entries of the deployment's contracts from their ABIs.

web3.py's ``contract.events.X().process_log`` does the same, one event type at a time and with
AttributeDict/HexBytes formatting on every field; the indexer reads every event of several
contracts in one ``eth_getLogs`` and decodes tens of thousands of them per second, so it keys
each ABI event by (address, topic0) and decodes with eth-abi directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import collapse_if_tuple, event_abi_to_log_topic


@dataclass(frozen=True)
class EventSpec:
    contract: str
    name: str
    indexed: tuple[tuple[str, str], ...]  # (name, type) in topic order
    data: tuple[tuple[str, str], ...]  # (name, type) in data order


@dataclass(slots=True)
class DecodedLog:
    contract: str
    address: str
    event: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    # ``args`` as compact JSON of their ``to_json_value``s, as the index stores them.
    args_json: str


_DYNAMIC = ("string", "bytes")
# One encoder for every event's args: json.dumps with separators builds a new one per call.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode
# From one ABI word, as 64 hex digits, to its value.
_HexWord = Callable[[str], Any]


def _is_hashed_when_indexed(abi_type: str) -> bool:
    """Indexed dynamic values (strings, bytes, arrays, tuples) are stored as their hash."""
    return abi_type in _DYNAMIC or abi_type.endswith("]") or abi_type.startswith("(")


def _signed(word: str) -> int:
    value = int(word, 16)
    return value - (1 << 256) if value >> 255 else value


def _hex_word(abi_type: str) -> _HexWord | None:
    """How to decode one ABI word given as 64 hex digits, as eth-abi would (addresses in lower
    case), without eth-abi: a log's words are decoded straight from the node's hex, since
    bytes.fromhex and eth-abi per event were most of the decoding time (issue 18's profile)."""
    if abi_type == "address":
        return lambda word: "0x" + word[24:].lower()
    if abi_type == "bool":
        return lambda word: int(word[62:], 16) == 1
    if abi_type.startswith("uint") and abi_type[4:].isdigit():
        return lambda word: int(word, 16)
    if abi_type.startswith("int") and abi_type[3:].isdigit():
        return _signed
    if abi_type.startswith("bytes") and abi_type[5:].isdigit():
        size = 2 * int(abi_type[5:])
        return lambda word: bytes.fromhex(word[:size])
    return None


def _hashed_topic(word: str) -> str:
    return "0x" + word.lower()


@dataclass(frozen=True)
class _Plan:
    """One event's decoding, worked out once from its ABI."""

    spec: EventSpec
    topics: tuple[tuple[str, _HexWord], ...]  # (name, decode) per indexed topic
    words: tuple[tuple[str, _HexWord], ...] | None  # the data, when every value is one word
    data_types: list[str]
    # The args' JSON as a %-format of one string per arg, when every arg is one word (no
    # string to escape): a format is several times faster than json.dumps per event.
    json_format: str | None
    json_values: tuple[tuple[str, Callable[[Any], str]], ...]


_AS_JSON: dict[str, Callable[[Any], str]] = {
    "address": str,
    "uint": str,
    "int": str,
    "bytes": lambda value: "0x" + value.hex(),
    "bool": lambda value: "true" if value else "false",
}


def _json_format(
    spec: EventSpec,
) -> tuple[str | None, tuple[tuple[str, Callable[[Any], str]], ...]]:
    """How ``_compact_json`` would write the args of ``spec``, as a format (see ``_Plan``)."""
    pieces, values = [], []
    for name, abi_type in (*spec.indexed, *spec.data):
        hashed = (name, abi_type) in spec.indexed and _is_hashed_when_indexed(abi_type)
        kind = "address" if hashed else abi_type.rstrip("0123456789")
        if kind not in _AS_JSON or (not hashed and _hex_word(abi_type) is None):
            return None, ()
        key = json.dumps(name).replace("%", "%%")
        pieces.append(f"{key}:%s" if kind == "bool" else f'{key}:"%s"')
        values.append((name, _AS_JSON[kind]))
    return "{" + ",".join(pieces) + "}", tuple(values)


def _topic_word(abi_type: str) -> _HexWord:
    if _is_hashed_when_indexed(abi_type):
        return _hashed_topic
    word = _hex_word(abi_type)
    if word is None:
        return lambda w: abi_decode([abi_type], bytes.fromhex(w))[0]
    return word


def _plan(spec: EventSpec) -> _Plan:
    words = [(name, _hex_word(abi_type)) for name, abi_type in spec.data]
    json_format, json_values = _json_format(spec)
    return _Plan(
        spec=spec,
        topics=tuple((name, _topic_word(abi_type)) for name, abi_type in spec.indexed),
        words=tuple((n, w) for n, w in words if w is not None)
        if all(w is not None for _n, w in words)
        else None,
        data_types=[t for _n, t in spec.data],
        json_format=json_format,
        json_values=json_values,
    )


class LogDecoder:
    """Decoder for every event of the given contracts: ``{name: (address, abi)}``."""

    def __init__(self, contracts: Mapping[str, tuple[str, list[dict[str, Any]]]]) -> None:
        self._plans: dict[tuple[str, str], _Plan] = {}
        for name, (address, abi) in contracts.items():
            for item in abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                topic = "0x" + event_abi_to_log_topic(item).hex()  # type: ignore[arg-type]
                inputs = item.get("inputs", [])
                spec = EventSpec(
                    contract=name,
                    name=item["name"],
                    indexed=tuple(
                        (i["name"], collapse_if_tuple(i)) for i in inputs if i.get("indexed")
                    ),
                    data=tuple(
                        (i["name"], collapse_if_tuple(i)) for i in inputs if not i.get("indexed")
                    ),
                )
                self._plans[(address.lower(), topic)] = _plan(spec)
        self.addresses = sorted({address for address, _topic in self._plans})

    def decode(self, log: Mapping[str, Any]) -> DecodedLog | None:
        """The decoded log, or None for a log of a contract or event we do not know."""
        topics: list[str] = log["topics"]
        if not topics:
            return None
        address = str(log["address"]).lower()
        plan = self._plans.get((address, topics[0].lower()))
        if plan is None or len(topics) - 1 != len(plan.topics):
            return None
        args: dict[str, Any] = {}
        for (name, word), topic in zip(plan.topics, topics[1:], strict=True):
            args[name] = word(topic[2:])
        if plan.data_types:
            data: str = log["data"]
            words = plan.words
            if words is not None and len(data) == 2 + 64 * len(words):
                for i, (name, word) in enumerate(words):
                    args[name] = word(data[2 + 64 * i : 66 + 64 * i])
            else:
                values = abi_decode(plan.data_types, bytes.fromhex(data[2:]))
                for (name, _type), value in zip(plan.spec.data, values, strict=True):
                    args[name] = value
        if plan.json_format is not None:
            args_json = plan.json_format % tuple(f(args[name]) for name, f in plan.json_values)
        else:
            args_json = _compact_json({k: to_json_value(v) for k, v in args.items()})
        return DecodedLog(
            plan.spec.contract,
            address,
            plan.spec.name,
            args,
            int(log["blockNumber"], 16),
            str(log["blockHash"]).lower(),
            str(log["transactionHash"]).lower(),
            int(log["logIndex"], 16),
            args_json,
        )


def to_json_value(value: Any) -> Any:
    """Decoded ABI values as JSON: integers as decimal strings, bytes as 0x-hex, addresses lower."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else value
    if isinstance(value, Iterable):
        return [to_json_value(v) for v in value]
    return value
