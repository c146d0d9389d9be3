"""Reading the chain for the indexer: headers and logs, through the gateway, as the node sends
them (web3's per-field formatting costs more than the read on a long catch-up).

Only standard JSON-RPC is used (``eth_chainId``, ``eth_blockNumber``, ``eth_getBlockByNumber``,
``eth_getLogs``), so the same code follows Hardhat, anvil or a Besu network. A request the node
refuses is a :class:`ChainRpcError` (the loop halves a log range on it); a node that does not
answer is ``ChainUnavailable``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from api.audit.errors import ChainRpcError
from api.chain.artifacts import Artifacts
from api.chain.gateway import ChainGateway, make_web3
from api.i18n import msg


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class ChainMoved(Exception):
    """The chain changed while a step was reading it; the step is tried again."""


class ChainReader:
    """The few standard JSON-RPC reads the indexer needs, with its own (longer) timeout."""

    def __init__(self, rpc_url: str, timeout: float = 30.0) -> None:
        # Raw reads only: no contract is called, so the gateway needs no artifacts or deployment.
        self.gateway = ChainGateway(make_web3(rpc_url, timeout), Artifacts(contracts={}), None)

    def chain_id(self) -> int:
        return self.gateway.chain_id

    def block_number(self) -> int:
        return self.gateway.block_number()

    def headers(self, numbers: Iterable[int]) -> dict[int, Header | None]:
        """Headers of ``numbers`` in one JSON-RPC batch (None for a block the node lacks)."""
        wanted = sorted(set(numbers))
        if not wanted:
            return {}
        answers = self.gateway.rpc_answers(
            [("eth_getBlockByNumber", [hex(n), False]) for n in wanted]
        )
        out: dict[int, Header | None] = {}
        for number, answer in zip(wanted, answers, strict=True):
            if "error" in answer:
                raise ChainRpcError(msg("eth_getBlockByNumber: {error}", error=answer["error"]))
            block = answer.get("result")
            out[number] = (
                None
                if block is None
                else Header(
                    number=int(block["number"], 16),
                    hash=block["hash"].lower(),
                    parent_hash=block["parentHash"].lower(),
                    timestamp=int(block["timestamp"], 16),
                )
            )
        return out

    def header(self, number: int) -> Header | None:
        return self.headers([number])[number]

    def logs(
        self, addresses: Sequence[str], from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        query = {"address": list(addresses), "fromBlock": hex(from_block), "toBlock": hex(to_block)}
        (answer,) = self.gateway.rpc_answers([("eth_getLogs", [query])])
        if "error" in answer:
            raise ChainRpcError(
                msg("eth_getLogs: {error}", error=answer["error"]), rpc_error=answer["error"]
            )
        result: list[dict[str, Any]] = answer["result"]
        return result
