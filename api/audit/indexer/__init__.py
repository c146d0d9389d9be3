"""The indexer: every event of the deployment, read from a checkpoint into the database.

- ``reader``: headers and logs from the node, through the gateway (standard JSON-RPC only);
- ``projection``: decoded events into the audit tables and derived state, and back
  (``undo_above``) when the chain reorganises;
- ``loop``: the :class:`Indexer`, one step per database transaction, with its checkpoint,
  adaptive ranges and reorganisation rules;
- ``runner``: the indexer as a thread of the API process.
"""

from api.audit.indexer.loop import Indexer, RunStats, StepResult, deployment_key
from api.audit.indexer.projection import (
    ZERO_ADDRESS,
    dump_index,
    indexed_block,
    reset_index,
    undo_above,
)
from api.audit.indexer.reader import ChainMoved, ChainReader, Header
from api.audit.indexer.runner import IndexerThread

__all__ = [
    "ZERO_ADDRESS",
    "ChainMoved",
    "ChainReader",
    "Header",
    "Indexer",
    "IndexerThread",
    "RunStats",
    "StepResult",
    "deployment_key",
    "dump_index",
    "indexed_block",
    "reset_index",
    "undo_above",
]
