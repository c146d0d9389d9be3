"""Decode raw ``eth_getLogs`` entries of the deployment's contracts from their ABIs.

web3.py's ``contract.events.X().process_log`` does the same, one event type at a time and with
AttributeDict/HexBytes formatting on every field; the indexer reads every event of several
contracts in one ``eth_getLogs`` and decodes tens of thousands of them per second, so it keys
each ABI event by (address, topic0) and decodes with eth-abi directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


@dataclass(frozen=True)
class DecodedLog:
    contract: str
    address: str
    event: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


_DYNAMIC = ("string", "bytes")


def _is_hashed_when_indexed(abi_type: str) -> bool:
    """Indexed dynamic values (strings, bytes, arrays, tuples) are stored as their hash."""
    return abi_type in _DYNAMIC or abi_type.endswith("]") or abi_type.startswith("(")


def _is_word(abi_type: str) -> bool:
    """A static type that is one 32-byte word (the common case, decoded without eth-abi)."""
    if abi_type in ("address", "bool"):
        return True
    return (
        abi_type.startswith(("uint", "int", "bytes"))
        and abi_type[-1].isdigit()
        and "[" not in abi_type
    )


def _word(abi_type: str, word: bytes) -> Any:
    """Decode one ABI word as eth-abi would (addresses in lower case), many times faster."""
    if abi_type == "address":
        return "0x" + word[12:].hex()
    if abi_type == "bool":
        return word[-1] == 1
    if abi_type.startswith("uint"):
        return int.from_bytes(word, "big")
    if abi_type.startswith("int"):
        return int.from_bytes(word, "big", signed=True)
    if abi_type.startswith("bytes") and abi_type[5:].isdigit():
        return word[: int(abi_type[5:])]
    return abi_decode([abi_type], word)[0]


class LogDecoder:
    """Decoder for every event of the given contracts: ``{name: (address, abi)}``."""

    def __init__(self, contracts: Mapping[str, tuple[str, list[dict[str, Any]]]]) -> None:
        self._specs: dict[tuple[str, str], EventSpec] = {}
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
                self._specs[(address.lower(), topic)] = spec
        self.addresses = sorted({address for address, _topic in self._specs})

    def decode(self, log: Mapping[str, Any]) -> DecodedLog | None:
        """The decoded log, or None for a log of a contract or event we do not know."""
        topics: list[str] = log["topics"]
        if not topics:
            return None
        address = str(log["address"]).lower()
        spec = self._specs.get((address, topics[0].lower()))
        if spec is None or len(topics) - 1 != len(spec.indexed):
            return None
        args: dict[str, Any] = {}
        for (name, abi_type), topic in zip(spec.indexed, topics[1:], strict=True):
            raw = bytes.fromhex(topic[2:])
            if _is_hashed_when_indexed(abi_type):
                args[name] = "0x" + raw.hex()
            else:
                args[name] = _word(abi_type, raw)
        if spec.data:
            data = bytes.fromhex(log["data"][2:])
            types = [t for _n, t in spec.data]
            if all(_is_word(t) for t in types) and len(data) == 32 * len(types):
                values = [_word(t, data[32 * i : 32 * i + 32]) for i, t in enumerate(types)]
            else:
                values = list(abi_decode(types, data))
            for (name, _type), value in zip(spec.data, values, strict=True):
                args[name] = value
        return DecodedLog(
            contract=spec.contract,
            address=address,
            event=spec.name,
            args=args,
            block_number=int(log["blockNumber"], 16),
            block_hash=str(log["blockHash"]).lower(),
            tx_hash=str(log["transactionHash"]).lower(),
            log_index=int(log["logIndex"], 16),
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
