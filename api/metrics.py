"""What an operations centre watches: the process-side Prometheus metrics (prometheus_client).

Two kinds of figures, kept apart on purpose:

- **events a process sees** (requests, problem answers, chain RPCs, issuance lag, the last
  reconciliation, the loops' heartbeats) are prometheus_client metrics declared here. With
  ``PROMETHEUS_MULTIPROC_DIR`` set in the environment *before the process starts*, every
  process (each API worker, ``crda worker``, ``crda index``, ``crda audit reconcile``) writes them
  to files in that directory and :func:`process_collector` merges the files at scrape time, so
  a counter read from any process is the sum over all of them;
- **state the database holds** (outbox rows waiting and their age, claims awaiting issuance,
  the indexer's lag, readiness) is read at scrape time by a collector of the composition root
  (``api/operations.py``): exact across processes, never stale, nothing to merge.

Label values are bounded: routes by their template (``/market/orders/{order_id}``, never the
path), problems by their stable type, RPCs by JSON-RPC method.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Methods counted by name; any other (a client may send anything) counts as "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Request latency: a cheap read takes milliseconds, a chain write up to seconds.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Accepted to confirmed on chain: the batcher waits up to seconds, a stuck outbox hours.
_LAG_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 4 * 3600.0)

HTTP_REQUESTS = Counter(
    "crda_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "crda_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
PROBLEMS = Counter(
    "crda_problems",
    "Problem answers (RFC 9457) by stable type and status: refusals, fraud signals among them.",
    ["type", "status"],
)
CHAIN_RPC = Counter(
    "crda_chain_rpc_requests",
    "JSON-RPC requests to the node by method and outcome (ok, error: the node answered with a"
    " JSON-RPC error, e.g. a revert; unreachable: no answer).",
    ["method", "outcome"],
)
CHAIN_RPC_LATENCY = Histogram(
    "crda_chain_rpc_duration_seconds",
    "Time of a JSON-RPC request to the node (a batch counts once, as method 'batch').",
    ["method"],
    buckets=_LATENCY_BUCKETS,
)
ISSUANCE_LAG = Histogram(
    "crda_issuance_lag_seconds",
    "Time from a claim's acceptance to the confirmation of the batch that minted it.",
    buckets=_LAG_BUCKETS,
)
RECONCILIATION_DIFFERENCES = Gauge(
    "crda_reconciliation_differences",
    "Differences the last reconciliation of ledger and chain found (0: they agree).",
    multiprocess_mode="mostrecent",
)
RECONCILIATION_ACCOUNTS = Gauge(
    "crda_reconciliation_accounts_checked",
    "Holder-asset pairs the last reconciliation compared.",
    multiprocess_mode="mostrecent",
)
RECONCILIATION_LAST_RUN = Gauge(
    "crda_reconciliation_last_run_timestamp_seconds",
    "When the last reconciliation finished (Unix time).",
    multiprocess_mode="max",
)
HEARTBEAT = Gauge(
    "crda_heartbeat_timestamp_seconds",
    "When a background loop last finished a round without failing (Unix time), by loop.",
    ["loop"],
    multiprocess_mode="max",
)


def multiproc_dir() -> str | None:
    """The shared directory of multiprocess mode, when the environment sets one.

    prometheus_client switches to files whenever the variable is set, even to nothing (then
    it writes into the working directory): anything but a directory is refused here.
    """
    if MULTIPROC_ENV not in os.environ:
        return None
    directory = os.environ[MULTIPROC_ENV]
    if not os.path.isdir(directory):
        raise RuntimeError(f"{MULTIPROC_ENV}={directory!r} is not a directory")
    return directory


def count_problem(slug: str, status: int) -> None:
    """One problem answer of type ``/problems/<slug>`` (called by ``api.errors``)."""
    PROBLEMS.labels(type=slug, status=str(status)).inc()


def heartbeat(loop: str) -> None:
    """``loop`` (``worker``, ``indexer``) finished a round."""
    HEARTBEAT.labels(loop=loop).set(time.time())


def observe_issuance_lag(seconds: Iterable[float]) -> None:
    for value in seconds:
        ISSUANCE_LAG.observe(max(0.0, value))


def record_reconciliation(differences: int, accounts_checked: int) -> None:
    RECONCILIATION_DIFFERENCES.set(differences)
    RECONCILIATION_ACCOUNTS.set(accounts_checked)
    RECONCILIATION_LAST_RUN.set(time.time())


def observe_rpc(method: str, outcome: str, seconds: float) -> None:
    CHAIN_RPC.labels(method=method, outcome=outcome).inc()
    CHAIN_RPC_LATENCY.labels(method=method).observe(seconds)


def process_collector(directory: str | None = None) -> Collector:
    """This process's metrics, or with a multiprocess directory every process's, merged."""
    directory = directory or multiproc_dir()
    if directory is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


def exposition(collectors: Iterable[Collector]) -> bytes:
    """The text exposition format of several collectors (a registry made for one scrape)."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


class RequestMetricsMiddleware:
    """Counts every HTTP request and times it, by method, route template and status.

    Plain ASGI, like ``RequestIdMiddleware``. The route template is the one the router matched
    (``scope["route"]``); a request no route matched counts as ``unmatched`` so that probing
    random paths cannot grow the label set.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            method = method if method in _METHODS else "other"
            HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            HTTP_LATENCY.labels(method=method, route=route).observe(time.perf_counter() - started)
