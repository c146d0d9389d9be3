"""Activity ingestion over HTTP, measured from outside with wrk, on a throwaway devnet.

What is measured: ``POST /earning/purchases`` and ``POST /earning/trips`` with partner-signed
records (EIP-712, signed before the run) and real access tokens (ES256, issued by the platform's
token issuer for real citizen accounts with wallets, attested on chain), every check on:
signature, provider and key validity, window, plausibility, duplicates, identity at the
activity's time, overlaps, caps (the citizen caps are raised so the bench measures speed, not
refusals; the methodology's per-kind caps stay). Rate limits are off (one client address).

1. The server: ``crda serve`` as ``make up`` runs it (SQLite, one process, the worker and the
   indexer embedded), or PostgreSQL with ``--workers N`` API processes beside one ``crda
   worker`` process (``--database-url postgresql+psycopg://...``).
2. ``GET /healthz`` with wrk, then the submissions with wrk (``bench/wrk/earning.lua`` cycles
   through the records file this bench writes), same connections and duration, same run.
3. ``--preload N``: N realistic stored claims (with their submissions and tallies) inserted in
   bulk by SQL, then the submissions again with fresh records: the rate with a full table.
4. Issuance lag: accepted -> issued (the batch's receipt is in), over every claim of the runs.

``--json`` prints one JSON object on stdout; everything else goes to stderr.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select, text

from api.auth.models import Account as UserAccount
from api.auth.models import Custody, Role, Wallet
from api.auth.tokens import issue_access_token
from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import VERIFIER_ROLE, ensure_deployed
from api.chain.devnet import free_port, start_devnet
from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.earning import service
from api.earning.evidence import LineItem, ReceiptEvidence, TripEvidence, sign_evidence
from api.earning.models import Claim, ClaimStatus, ProviderKind, Submission, SubmissionStatus
from api.migrate import upgrade
from api.settings import PROJECT_ROOT, Environment, Settings
from api.timeutil import aware

LUA = PROJECT_ROOT / "bench" / "wrk" / "earning.lua"
DAY = 86400
err = Console(stderr=True)


def _key(name: str) -> LocalAccount:
    return Account.from_key(keccak(text=f"crda-bench:{name}"))


# -- records ---------------------------------------------------------------------------------


class Records:
    """Partners, citizens (accounts, wallets, tokens) and pre-signed records.

    Each citizen's records are spread over the last 28 days, 11 hours apart (a trip lasts 15
    minutes): no overlap, and no methodology cap per kind and day is reached."""

    def __init__(self, gateway: ChainGateway, citizens: int) -> None:
        self.domain = service.evidence_domain(gateway)
        self.merchant = _key("merchant")
        self.transit = _key("transit")
        self.citizens: list[str] = [_key(f"citizen:{i}").address for i in range(citizens)]
        self.tokens: dict[str, str] = {}
        self.start = int(time.time()) - 28 * DAY
        self._next: dict[str, int] = {}
        self._n = 0

    def make(self, count: int, tag: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(path, citizen, body) for ``count`` records, half receipts and half subway trips."""
        out: list[tuple[str, str, dict[str, Any]]] = []
        for i in range(count):
            self._n += 1
            citizen = self.citizens[i % len(self.citizens)]
            at = self._next.get(citizen, self.start + (i % len(self.citizens)) % 3600)
            self._next[citizen] = at + 40_000
            if i % 2 == 0:
                receipt = ReceiptEvidence(
                    receiptId=f"{tag}-r{self._n}",
                    merchant=self.merchant.address,
                    citizen=citizen,
                    issuedAt=at,
                    items=[
                        LineItem(
                            productCode="8801234567890",
                            category="dairy.milk.1l",
                            quantity=1,
                            labelGrams=1900,
                        )
                    ],
                )
                signature = sign_evidence(self.domain, receipt, self.merchant.key)
                body: dict[str, Any] = {"evidence": receipt.model_dump(), "signature": signature}
                out.append(("/earning/purchases", citizen, body))
            else:
                trip = TripEvidence(
                    tripId=f"{tag}-t{self._n}",
                    operator=self.transit.address,
                    citizen=citizen,
                    mode="subway",
                    startedAt=at,
                    endedAt=at + 900,
                    fromStation="I124",
                    toStation="I120",
                    distanceMeters=4_200,
                )
                signature = sign_evidence(self.domain, trip, self.transit.key)
                body = {
                    "evidence": trip.model_dump(),
                    "signature": signature,
                    "gps_legs_m": [300],
                }
                out.append(("/earning/trips", citizen, body))
        return out

    def write(self, records: list[tuple[str, str, dict[str, Any]]], path: Path) -> None:
        with path.open("w") as f:
            for route, citizen, body in records:
                f.write(f"{route}\t{self.tokens[citizen]}\t{json.dumps(body)}\n")


def _prepare_database(settings: Settings, records: Records) -> None:
    """Providers, and the citizens as real accounts (role citizen, a self-custody wallet) with
    access tokens from the platform's issuer (valid for the run)."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        service.register_provider(
            session,
            code="mart",
            name="Mart",
            kind=ProviderKind.merchant,
            signer_address=records.merchant.address,
        )
        service.register_provider(
            session,
            code="transit",
            name="Transit",
            kind=ProviderKind.mobility,
            signer_address=records.transit.address,
        )
        for citizen in records.citizens:
            account_id = str(uuid.uuid4())
            session.add(UserAccount(id=account_id, role=Role.citizen.value))
            session.flush()
            session.add(Wallet(account_id=account_id, address=citizen, custody=Custody.self.value))
            records.tokens[citizen] = issue_access_token(settings, account_id, Role.citizen.value)[
                0
            ]
        session.commit()
    engine.dispose()


def _attest(gateway: ChainGateway, settings: Settings, citizens: list[str]) -> None:
    operator = Account.from_key(settings.operator_key.get_secret_value())
    registry = gateway.contract("IdentityRegistry")
    gateway.transact(registry.functions.grantRole(VERIFIER_ROLE, operator.address), operator)
    expires = int(time.time()) + 365 * DAY
    since = int(time.time()) - 29 * DAY  # checked at a desk before the activities the bench dates
    for citizen in citizens:
        credential = keccak(text=f"bench-credential:{citizen}")
        attest = registry.functions.attestSince(citizen, credential, 2, expires, since)
        gateway.transact(attest, operator)


# -- preload ---------------------------------------------------------------------------------


def preload(
    engine: Engine, claims: int, bench_citizens: list[str], providers: dict[str, tuple[int, str]]
) -> float:
    """``claims`` stored claims, issued, with their accepted submissions and the tallies they
    add up to, inserted by SQL in bulk. They belong to 20,000 citizens, the bench's among them,
    and are dated 28-29 days ago (before the bench's records: old history, as a real table
    holds). Returns the seconds it took."""
    began = time.perf_counter()
    others = 20_000 - len(bench_citizens)
    addresses = bench_citizens + [
        to_checksum_address(keccak(text=f"crda-bench:preloaded:{i}")[-20:]) for i in range(others)
    ]
    base = int(time.time()) - 29 * DAY + 600
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if pg:
            conn.execute(text("CREATE TEMP TABLE pre_citizens (i integer PRIMARY KEY, a text)"))
            conn.execute(
                text("CREATE TEMP TABLE pre_seq AS SELECT g AS n FROM generate_series(1, :n) g"),
                {"n": claims},
            )

            def hx(expr: str, width: int) -> str:
                return f"'0x' || lpad(to_hex({expr}), {width}, '0')"

            def ts(expr: str) -> str:
                return f"to_timestamp({expr})"

            def day(expr: str) -> str:
                return f"(to_timestamp({expr}) AT TIME ZONE 'UTC' + interval '9 hours')::date"

            def js(expr: str) -> str:
                return f"({expr})::json"
        else:
            conn.execute(text("CREATE TEMP TABLE pre_citizens (i integer PRIMARY KEY, a text)"))
            conn.execute(
                text(
                    "CREATE TEMP TABLE pre_seq AS WITH RECURSIVE s(n) AS"
                    " (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :n) SELECT n FROM s"
                ),
                {"n": claims},
            )

            def hx(expr: str, width: int) -> str:
                return f"printf('0x%0{width}x', {expr})"

            def ts(expr: str) -> str:
                return f"strftime('%Y-%m-%d %H:%M:%S', {expr}, 'unixepoch') || '.000000'"

            def day(expr: str) -> str:
                return f"date({expr} + 32400, 'unixepoch')"

            def js(expr: str) -> str:
                return expr

        conn.execute(
            text("INSERT INTO pre_citizens (i, a) VALUES (:i, :a)"),
            [{"i": i, "a": a} for i, a in enumerate(addresses)],
        )
        offset = conn.scalar(text("SELECT coalesce(max(id), 0) FROM earning_submissions")) or 0
        coffset = conn.scalar(text("SELECT coalesce(max(id), 0) FROM claims")) or 0
        # n odd: a purchase (merchant), n even: a subway trip (transit), 900 s, 60 s apart per
        # citizen (trips of one citizen never overlap: each citizen's n are 20,000 apart).
        start = f"({base} + (s.n / 20000) * 60)"
        trip = "(s.n % 2 = 0)"
        evidence = "'{\"preloaded\": ' || s.n || '}'"
        conn.execute(
            text(
                "INSERT INTO earning_submissions (id,"  # noqa: S608 (the bench's own fragments)
                " account_id, citizen, kind, provider_address,"
                " evidence, signature, gps_legs_m, evidence_hash, nullifier, status, reason,"
                " reason_detail, claim_id, created_at)"
                f" SELECT s.n + {offset}, NULL, c.a,"
                f" CASE WHEN {trip} THEN 'trip' ELSE 'purchase' END,"
                f" CASE WHEN {trip} THEN :transit ELSE :merchant END,"
                f" {js(evidence)}, '0x', NULL, {hx('s.n', 64)}, {hx('s.n + 1000000000', 64)},"
                f" 'accepted', NULL, NULL, {hx('s.n + 2000000000', 64)}, {ts(start)}"
                " FROM pre_seq s JOIN pre_citizens c ON c.i = s.n % 20000"
            ),
            {"transit": providers["transit"][1], "merchant": providers["mart"][1]},
        )
        inputs = '\'{"kind": "preloaded", "components": []}\''
        conn.execute(
            text(
                "INSERT INTO claims (id, claim_id, nullifier, evidence_hash, submission_id,"  # noqa: S608
                " account_id, beneficiary, provider_id, kind, record_id, mode, activity_start,"
                " activity_end, activity_day, district, methodology_version, methodology_hash,"
                " inputs, amount, status, batch_id, merkle_proof, batch_attempts, created_at,"
                " issued_at)"
                f" SELECT s.n + {coffset}, {hx('s.n + 2000000000', 64)},"
                f" {hx('s.n + 1000000000', 64)}, {hx('s.n', 64)}, s.n + {offset}, NULL, c.a,"
                f" CASE WHEN {trip} THEN :transit_id ELSE :merchant_id END,"
                f" CASE WHEN {trip} THEN 'trip' ELSE 'purchase' END, 'pre-' || s.n,"
                f" CASE WHEN {trip} THEN 'subway' ELSE NULL END,"
                f" {ts(start)}, {ts(start + ' + CASE WHEN ' + trip + ' THEN 900 ELSE 0 END')},"
                f" {day(start)}, NULL, '2026.2', :mhash,"
                f" {js(inputs)},"
                f" 500, 'issued', NULL, NULL, 0, {ts(start)}, {ts(start + ' + 5')}"
                " FROM pre_seq s JOIN pre_citizens c ON c.i = s.n % 20000"
            ),
            {
                "transit_id": providers["transit"][0],
                "merchant_id": providers["mart"][0],
                "mhash": "0x" + "00" * 32,
            },
        )
        # The tallies those claims add up to: all time, per day, per year, per kind and period.
        for period in (
            "'*'",
            "CAST(activity_day AS TEXT)" if not pg else "activity_day::text",
            "substr(CAST(activity_day AS TEXT), 1, 4)"
            if not pg
            else "to_char(activity_day, 'YYYY')",
        ):
            for prefix in ("", "CASE WHEN kind = 'trip' THEN 'transit@' ELSE 'purchase@' END || "):
                if prefix and period == "'*'":
                    continue
                conn.execute(
                    text(
                        "INSERT INTO earning_tallies (citizen, period, grams)"  # noqa: S608
                        f" SELECT beneficiary, {prefix}{period}, sum(amount) FROM claims"
                        f" WHERE id > {coffset} GROUP BY 1, 2"
                        " ON CONFLICT (citizen, period) DO UPDATE"
                        " SET grams = earning_tallies.grams + excluded.grams"
                    )
                )
        conn.execute(text("DROP TABLE pre_seq"))
        conn.execute(text("DROP TABLE pre_citizens"))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - began


# -- the server and wrk ----------------------------------------------------------------------


class Server:
    """``crda serve`` (and with ``workers > 1``, a ``crda worker`` beside it)."""

    def __init__(self, settings: Settings, workers: int, log_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        multi = workers > 1
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "CRDA_ENVIRONMENT": "test",
            "CRDA_DATABASE_URL": settings.database_url,
            "CRDA_RPC_URL": settings.rpc_url,
            "CRDA_DEPLOYMENTS_DIR": str(settings.deployments_dir),
            "CRDA_RATE_LIMITS_ENABLED": "false",
            "CRDA_DAILY_CAP_GRAMS": str(settings.daily_cap_grams),
            "CRDA_YEARLY_CAP_GRAMS": str(settings.yearly_cap_grams),
        }
        if multi:
            env |= {"CRDA_RUN_WORKERS": "false", "CRDA_INDEXER_ENABLED": "false"}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = []
        cli = [sys.executable, "-m", "api.cli"]
        commands = [[*cli, "serve", "--port", str(self.port), "--workers", str(workers)]]
        if multi:
            commands.append([*cli, "worker"])
        for i, command in enumerate(commands):
            log = (log_dir / f"server-{i}.log").open("wb")
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)
            )
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                self.stop()
                tail = (log_dir / "server-0.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"bench API did not start:\n{tail}")
            time.sleep(0.3)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.logs:
            log.close()


def wrk(url: str, seconds: int, connections: int, threads: int, script: list[str] | None = None):
    """Run wrk; with a script, its JSON summary; without, requests per second."""
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--timeout", "30s"]
    if script:
        command += ["-s", str(LUA), url, "--", *script]
    else:
        command.append(url)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if script:
        summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return summary
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return {"rps": float(line.split()[1])}
    raise RuntimeError(f"wrk printed no rate: {out}")


def submissions(
    server: Server, records: Records, tmp: Path, tag: str, count: int, seconds: int, c: int, t: int
) -> dict[str, Any]:
    path = tmp / f"records-{tag}.tsv"
    made = time.perf_counter()
    records.write(records.make(count, tag), path)
    err.print(
        f"[{tag}] {count} records signed in {time.perf_counter() - made:.1f} s; wrk {seconds} s"
    )
    summary = wrk(server.base, seconds, c, t, [str(path), str(t)])
    seconds_run = summary["duration_us"] / 1e6
    summary["accepted_rps"] = round(summary["created"] / seconds_run, 1)
    err.print(f"[{tag}] {summary}")
    return summary


def _lags(engine: Engine, timeout: float) -> list[float]:
    sessions = make_session_factory(engine)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as session:
            pending = session.scalar(
                select(func.count()).where(
                    Claim.status.in_([ClaimStatus.accepted, ClaimStatus.batched])
                )
            )
        if not pending:
            break
        time.sleep(0.5)
    with sessions() as session:
        rows = session.execute(
            select(Claim.created_at, Claim.issued_at).where(
                Claim.record_id.not_like("pre-%"), Claim.issued_at.is_not(None)
            )
        ).all()
    return sorted((aware(i) - aware(c)).total_seconds() for c, i in rows if i is not None)


def main(
    *,
    seconds: int = 10,
    records_per_run: int = 8000,
    connections: int = 32,
    threads: int = 1,
    citizens: int = 500,
    workers: int = 1,
    preload_claims: int = 0,
    database_url: str | None = None,
    as_json: bool = False,
    kind: str = "hardhat",
) -> dict[str, Any]:
    devnet = start_devnet(kind)
    server: Server | None = None
    try:
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            settings = Settings(
                environment=Environment.test,
                rate_limits_enabled=False,
                rpc_url=devnet.rpc_url,
                deployments_dir=tmp,
                database_url=database_url or f"sqlite:///{tmp / 'bench.db'}",
                daily_cap_grams=10**9,
                yearly_cap_grams=10**12,
            )
            compiled = compiler.compile_contracts(settings.contracts_dir, settings.artifacts_path)
            ensure_deployed(
                settings,
                Artifacts.from_compiled(compiled),
                digest=compiled["digest"],
                compiler=compiled["compiler"],
            )
            gateway = ChainGateway.connect(settings)
            records = Records(gateway, citizens)
            err.print(f"attesting {citizens} citizens on chain")
            _attest(gateway, settings, records.citizens)
            _prepare_database(settings, records)
            engine = make_engine(settings.database_url)
            server = Server(settings, workers, tmp)
            wrk(server.base + "/healthz", 2, connections, threads)  # warm up
            healthz = wrk(server.base + "/healthz", seconds, connections, threads)["rps"]
            err.print(f"/healthz {healthz} req/s")
            # Warm-up: each citizen's identity read once, the factor set recorded.
            submissions(server, records, tmp, "warm", citizens, 3, connections, threads)
            spy = None
            if os.environ.get("CRDA_BENCH_PYSPY"):  # a profile of the empty run (py-spy)
                spy = subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--format",
                        "raw",
                        "-o",
                        os.environ["CRDA_BENCH_PYSPY"],
                        "-d",
                        str(seconds),
                        "-p",
                        str(server.procs[0].pid),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            empty = submissions(
                server, records, tmp, "empty", records_per_run, seconds, connections, threads
            )
            if spy is not None:
                spy.wait(timeout=60)
            result: dict[str, Any] = {
                "database": engine.dialect.name,
                "processes": workers,
                "connections": connections,
                "wrk_threads": threads,
                "seconds": seconds,
                "citizens": citizens,
                "healthz_rps": healthz,
                "accepted_rps": empty["accepted_rps"],
                "ratio": round(empty["accepted_rps"] / healthz, 3) if healthz else None,
                "p50_ms": empty["p50_ms"],
                "p99_ms": empty["p99_ms"],
                "refused": empty["other"],
                "preloaded_claims": 0,
                "accepted_rps_preloaded": None,
                "preloaded_ratio_to_empty": None,
            }
            if preload_claims:
                err.print(f"preloading {preload_claims} claims")
                with make_session_factory(engine)() as session:
                    providers = {
                        p.code: (p.id, p.signer_address) for p in service.list_providers(session)
                    }
                # The server stops while the rows go in (as a bulk import would be run), and
                # starts again on the full table.
                server.stop()
                took = preload(engine, preload_claims, records.citizens, providers)
                server = Server(settings, workers, tmp)
                submissions(server, records, tmp, "warm2", citizens, 3, connections, threads)
                err.print(f"preloaded in {took:.0f} s")
                full = submissions(
                    server, records, tmp, "full", records_per_run, seconds, connections, threads
                )
                result |= {
                    "preloaded_claims": preload_claims,
                    "preload_seconds": round(took, 1),
                    "accepted_rps_preloaded": full["accepted_rps"],
                    "preloaded_ratio_to_empty": round(
                        full["accepted_rps"] / empty["accepted_rps"], 3
                    ),
                    "p99_ms_preloaded": full["p99_ms"],
                    "refused_preloaded": full["other"],
                }
            with make_session_factory(engine)() as session:
                # Why the runs' refusals were refused (each is stored with its problem slug);
                # a response counted "other" without a row here was not a refusal (e.g. a 500).
                result["refused_reasons"] = {
                    str(reason): int(count)
                    for reason, count in session.execute(
                        select(Submission.reason, func.count())
                        .where(Submission.status == SubmissionStatus.rejected)
                        .group_by(Submission.reason)
                    )
                }
            if empty["other"]:  # what the server said about responses other than 201
                for log in sorted(tmp.glob("server-*.log")):
                    lines = log.read_text(errors="replace").splitlines()
                    said = [line for line in lines if " 201 " not in line and "POST" in line]
                    said += [line for line in lines if "error" in line.lower()]
                    err.print(f"[{log.name}]", *said[-20:], sep="\n")
            lags = _lags(engine, 180)
            result |= {
                "claims_issued": len(lags),
                "issuance_lag_p50_s": round(statistics.median(lags), 3) if lags else None,
                "issuance_lag_p95_s": round(lags[int(0.95 * (len(lags) - 1))], 3) if lags else None,
                "targets": {
                    "accepted_rps": 500,
                    "ratio": 0.3,
                    "preloaded_ratio_to_empty": 0.9,
                    "issuance_lag_p95_s": 10,
                },
            }
            engine.dispose()
    finally:
        if server is not None:
            server.stop()
        devnet.stop()
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        table = Table(
            title=f"Earning ingestion over HTTP ({result['database']}, "
            f"{workers} process(es), wrk {threads}t/{connections}c)"
        )
        table.add_column("measure")
        table.add_column("value", justify="right")
        for label, key in (
            ("GET /healthz req/s", "healthz_rps"),
            ("accepted/s (empty database)", "accepted_rps"),
            ("ratio to /healthz", "ratio"),
            ("p50 / p99 ms", None),
            ("preloaded claims", "preloaded_claims"),
            ("accepted/s (preloaded)", "accepted_rps_preloaded"),
            ("preloaded / empty", "preloaded_ratio_to_empty"),
            ("issuance lag p50 s", "issuance_lag_p50_s"),
            ("issuance lag p95 s", "issuance_lag_p95_s"),
        ):
            value = f"{result['p50_ms']} / {result['p99_ms']}" if key is None else result[key]
            table.add_row(label, str(value))
        Console(stderr=True).print(table)
    return result
