"""Retirement through the API: once on chain whatever repeats or crashes; certificates."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from api import examples as ex
from api.auth.models import Account
from api.outbox.models import ChainTransaction, OutboxStatus
from api.retirement import service
from api.retirement.certificates import reason_hash, reason_salt
from api.retirement.models import Certificate
from tests.audit.conftest import AuditWorld
from tests.pages import assert_refuses_cursor_of, walk_in_pages
from tests.world import assert_problem

pytestmark = [pytest.mark.chain, pytest.mark.database]

BODY = {"amount": 1_250, "beneficiary": "Songdo Primary School", "reason": "School trip 2026"}


def retire(aw: AuditWorld, user, key: str, **overrides):
    return aw.client.post(
        "/retirements",
        json={**BODY, **overrides},
        headers={**user.headers, "Idempotency-Key": key},
    )


def test_a_retirement_burns_once_with_a_repeated_key_and_a_crash_between_steps(
    audit_world: AuditWorld,
) -> None:
    aw = audit_world
    user, address = aw.holder(credits=5_000)
    token = aw.platform.token
    first = retire(aw, user, "k-1")
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "pending"
    # The same key again (a client retry): the stored answer, no second outbox row.
    again = retire(aw, user, "k-1")
    assert again.status_code == 202 and again.json() == first.json()
    assert_problem(retire(aw, user, "k-1", amount=999), 409, "idempotency-key-reused")
    # A second retirement while the first is in flight is refused (sequential forwarder nonces).
    assert_problem(retire(aw, user, "k-2"), 409, "retirement-in-progress")

    worker = aw.worker()
    # Crash after signing and storing the relayer's transaction, before broadcasting it.
    with aw.sessions() as session, session.begin():
        row = session.scalars(select(ChainTransaction)).one()
        assert (row.kind, row.signer, row.contract) == ("retirement", "relayer", "Forwarder")
        assert worker.outbox._sign(session, row) is not None
    # The process died here. The next worker finds the stored transaction and finishes it.
    aw.worker().drain()
    # Even a fresh copy of the row's forward request executed again cannot retire twice.
    with aw.sessions() as session:
        row = session.scalars(select(ChainTransaction)).one()
        assert row.status == OutboxStatus.confirmed
        request = row.args[0]
    from api.chain.errors import ChainRevert

    forwarder = aw.platform.chain.contract("Forwarder")
    with pytest.raises(ChainRevert) as caught:
        aw.platform.chain.transact(
            forwarder.functions.execute(request), aw.platform.accounts.relayer
        )
    assert caught.value.error_name == "ERC2771ForwarderInvalidSigner"

    assert token.functions.balanceOf(address).call() == 5_000 - 1_250
    assert token.functions.retiredOf(address).call() == 1_250
    assert token.functions.lastCertificateId().call() == 1
    with aw.sessions() as session:
        certificate = session.scalars(select(Certificate)).one()
        assert certificate.status == "confirmed" and certificate.serial == 1
    mine = aw.client.get(f"/retirements/{first.json()['id']}", headers=user.headers).json()
    assert mine["serial"] == 1 and mine["beneficiary"] == BODY["beneficiary"]
    # The relayer paid: the holder's address never had any ETH.
    assert aw.platform.chain.w3.eth.get_balance(address) == 0
    # Now a second retirement goes through.
    assert retire(aw, user, "k-2").status_code == 202
    aw.worker().drain()
    assert token.functions.lastCertificateId().call() == 2


@pytest.fixture
def certified(audit_world: AuditWorld):
    """A citizen who received two batches and retired across both, confirmed and indexed."""
    aw = audit_world
    user, address = aw.holder(credits=1_000)
    aw.issue(address, 2_000, batch=b"\x02" * 32)
    response = retire(aw, user, "cert-1", amount=1_500, publish_beneficiary=False)
    assert response.status_code == 202, response.text
    aw.worker().drain()
    aw.index()
    body = aw.client.get(f"/retirements/{response.json()['id']}", headers=user.headers).json()
    return aw, user, address, body


def test_the_certificate_names_serial_transaction_and_the_batches_it_retires_first_in_first_out(
    certified,
) -> None:
    aw, _user, _address, body = certified
    assert body["status"] == "confirmed" and body["serial"] == 1
    assert body["tx_hash"].startswith("0x") and body["retired_at"].endswith("Z")
    allocation = body["allocation"]
    assert allocation["complete"] is True
    lots = allocation["lots"]
    # FIFO: all 1,000 of the first batch, then 500 of the second.
    assert [(lot["kind"], lot["amount"]) for lot in lots] == [
        ("issuance", "1000"),
        ("issuance", "500"),
    ]
    assert lots[1]["batch_id"] == "0x" + "02" * 32
    assert all(lot["merkle_root"] and lot["batch_claim_ids"] for lot in lots)
    # Public: the beneficiary stays private (only its salted hash is on chain).
    public = aw.client.get("/certificates/1").json()
    assert public["beneficiary"] is None and public["beneficiary_salt"] is None
    assert public["beneficiary_hash"] == body["beneficiary_hash"]
    assert "id" not in public
    page = aw.client.get("/certificates/1/page")
    assert page.status_code == 200 and "Retirement certificate" in page.text
    assert BODY["beneficiary"] not in page.text and "1.500 kg" in page.text


def test_the_qr_code_carries_the_public_verification_url(certified) -> None:
    aw, _user, _address, body = certified
    svg = aw.client.get("/certificates/1/qr", params={"format": "svg"})
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    png = aw.client.get("/certificates/1/qr")
    assert png.headers["content-type"] == "image/png"
    zxingcpp = pytest.importorskip("zxingcpp")
    import io

    from PIL import Image

    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert decoded.text == body["verification_url"]
    assert decoded.text.startswith(aw.settings.public_url + "/certificates/1/verify?")
    # Scanning it: the URL's own query is what gets checked (no login).
    path = decoded.text.removeprefix(aw.settings.public_url)
    result = aw.client.get(path).json()
    assert result["verified"] is True, result
    assert {c["name"] for c in result["checks"]} >= {
        "transaction",
        "retired-event",
        "amount",
        "beneficiary-hash",
        "index",
    }
    html = aw.client.get(path, headers={"Accept": "text/html"})
    assert "Verified" in html.text


def test_a_forged_certificate_fails_public_verification(certified) -> None:
    aw, _user, _address, body = certified
    document = {
        "serial": body["serial"],
        "amount": body["amount"],
        "beneficiary_hash": body["beneficiary_hash"],
        "tx_hash": body["tx_hash"],
        "holder": body["holder"],
        "beneficiary": body["beneficiary"],
        "beneficiary_salt": body["beneficiary_salt"],
        "reason": body["reason"],
        "reason_salt": body["reason_salt"],
    }
    genuine = aw.client.post("/certificates/verify", json=document).json()
    assert genuine["verified"] is True, genuine
    assert "reason" in {c["name"] for c in genuine["checks"] if c["ok"]}
    # On chain the Retired event's reason is the salted commitment, never the text (issue 15).
    salt = reason_salt(body["beneficiary_salt"])
    assert body["reason_salt"] == salt and body["reason_hash"] == reason_hash(salt, BODY["reason"])
    assert genuine["on_chain"]["reason"] == body["reason_hash"] != body["reason"]
    assert aw.client.get("/certificates/1").json()["reason_hash"] == body["reason_hash"]
    with aw.sessions() as session:
        assert session.scalars(select(Certificate)).one().reason == BODY["reason"]
    # The examples' reason salt and commitment are the helpers' own.
    assert ex.REASON_SALT == reason_salt(ex.BENEFICIARY_SALT)
    assert ex.REASON_HASH == reason_hash(ex.REASON_SALT, ex.CERTIFICATE["reason"])
    forgeries = {
        "amount": {"amount": body["amount"] * 10},
        "beneficiary": {"beneficiary": "Someone Else Ltd"},
        "beneficiary-hash": {"beneficiary_hash": "0x" + "ab" * 32},
        "retired-event": {"serial": body["serial"] + 1},
        "reason": {"reason": "Carbon neutral forever"},
        "reason-salt": {"reason_salt": None},
        "holder": {"holder": "0x" + "11" * 20},
        "transaction": {"tx_hash": "0x" + "cd" * 32},
    }
    for failing, change in forgeries.items():
        result = aw.client.post("/certificates/verify", json={**document, **change}).json()
        assert result["verified"] is False, (failing, result)
        failed = {c["name"] for c in result["checks"] if not c["ok"]}
        assert failing.removesuffix("-salt") in failed, (failing, result)
        assert result["reasons"]
    # A serial that was never issued, checked by URL alone.
    assert aw.client.get("/certificates/99/verify").json()["verified"] is False


def test_only_holders_retire_and_only_their_own_certificates_are_theirs(certified) -> None:
    aw, user, _address, body = certified
    stranger, _ = aw.holder()
    assert_problem(
        aw.client.get(f"/retirements/{body['id']}", headers=stranger.headers), 403, "forbidden"
    )
    assert aw.client.get("/retirements", headers=stranger.headers).json()["items"] == []
    unknown = aw.client.get("/retirements/no-such-id", headers=stranger.headers)
    assert_problem(unknown, 403, "forbidden")
    auditor = aw.auditor()
    assert aw.client.get(f"/retirements/{body['id']}", headers=auditor.headers).status_code == 200
    assert_problem(retire(aw, auditor, "a-1"), 403, "forbidden")
    assert_problem(aw.client.post("/retirements", json=BODY), 401, "invalid-token")
    response = aw.client.post("/retirements", json=BODY, headers=user.headers)
    assert_problem(response, 422, "invalid-idempotency-key")
    # More than the holder has: refused before anything is signed or queued.
    assert_problem(retire(aw, user, "big", amount=10**9), 409, "insufficient-balance")
    assert_problem(retire(aw, user, "zero", amount=0), 422, "validation-error")
    business, _ = aw.holder("business", credits=700)
    assert retire(aw, business, "b-1", amount=700).status_code == 202


def test_own_certificates_page_by_cursor(audit_world: AuditWorld) -> None:
    aw = audit_world
    user, _address = aw.holder(credits=5_000)
    for key in ("p-1", "p-2", "p-3"):
        assert retire(aw, user, key, amount=1_000).status_code == 202
        aw.worker().drain()  # one retirement in flight at a time
    ids = walk_in_pages(aw.client, "/retirements", user.headers, "id")
    assert len(ids) == 3
    assert_refuses_cursor_of(aw.client, "/retirements", user.headers, "account-credentials")


def test_a_published_beneficiary_is_shown_and_checkable_by_anyone(audit_world: AuditWorld) -> None:
    aw = audit_world
    user, _address = aw.holder("business", credits=3_000)
    response = retire(aw, user, "pub-1", amount=3_000, publish_beneficiary=True)
    assert response.status_code == 202, response.text
    aw.worker().drain()
    public = aw.client.get("/certificates/1").json()
    assert public["beneficiary"] == BODY["beneficiary"] and public["beneficiary_salt"]
    # Anyone can recompute the commitment from the published name and salt.
    result = aw.client.post(
        "/certificates/verify",
        json={
            **{k: public[k] for k in ("serial", "amount", "tx_hash", "beneficiary")},
            "beneficiary_salt": public["beneficiary_salt"],
        },
    ).json()
    assert result["verified"] is True, result
    assert "beneficiary" in {c["name"] for c in result["checks"] if c["ok"]}
    # The name is stored encrypted, not as text.
    with aw.sessions() as session:
        stored = session.scalars(select(Certificate)).one()
        assert BODY["beneficiary"].encode() not in stored.beneficiary_ciphertext


def test_credits_reserved_by_a_sell_order_cannot_be_retired_and_the_ledger_follows_the_burn(
    audit_world: AuditWorld,
) -> None:
    aw = audit_world
    user, address = aw.holder(credits=5_000)
    aw.platform.attest(address)  # trading needs a live identity attestation
    expiry = aw.platform.chain.w3.eth.get_block("latest")["timestamp"] + 3600
    order = aw.client.post(
        "/market/orders",
        json={
            "maker": address,
            "side": "sell",
            "price": 1_000,
            "quantity": 4_000,
            "expiry": expiry,
            "nonce": 1,
        },
        headers=user.headers,
    )
    assert order.status_code == 201, order.text
    # 4 kg wait in the order's escrow: only 1 kg is free to retire.
    assert_problem(retire(aw, user, "too-much", amount=1_001), 409, "insufficient-balance")
    assert retire(aw, user, "fits", amount=1_000).status_code == 202
    aw.worker().drain()
    assert aw.platform.token.functions.balanceOf(address).call() == 4_000
    operator = aw.world.operator()
    report = aw.client.get("/market/reconciliation", headers=operator.headers).json()
    assert report["ok"], report
    statement = aw.client.get(
        "/market/statement", params={"asset": "CRDA"}, headers=user.headers
    ).json()
    assert statement[-1]["balance"] == 4_000, statement


def test_a_retirement_the_chain_refuses_gives_the_held_credits_back(
    audit_world: AuditWorld,
) -> None:
    aw = audit_world
    user, address = aw.holder(credits=5_000)
    first = retire(aw, user, "refused", amount=2_000)
    assert first.status_code == 202, first.text
    operator = aw.platform.accounts.operator
    aw.platform.send(aw.platform.token.functions.pause(), operator)
    try:
        aw.worker().drain()
    finally:
        aw.platform.send(aw.platform.token.functions.unpause(), operator)
    mine = aw.client.get(f"/retirements/{first.json()['id']}", headers=user.headers).json()
    assert mine["status"] == "failed", mine
    assert aw.platform.token.functions.balanceOf(address).call() == 5_000
    # All 5 kg are free again: a retirement of all of them is accepted.
    assert retire(aw, user, "all", amount=5_000).status_code == 202
    aw.worker().drain()
    assert aw.platform.token.functions.balanceOf(address).call() == 0
    report = aw.client.get("/market/reconciliation", headers=aw.world.operator().headers).json()
    assert report["ok"], report


def test_a_retry_burst_with_one_key_gets_one_retirement_and_the_stored_answer(
    audit_world: AuditWorld,
) -> None:
    """A phone retrying while its first request is in flight: twenty POSTs with one key sent
    together get one certificate, one outbox row, and the same 202 answer, nineteen of them
    marked as replayed."""
    aw = audit_world
    user, _address = aw.holder(credits=5_000)
    headers = {**user.headers, "Idempotency-Key": "burst-1"}

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=aw.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(
                *(http.post("/retirements", json=BODY, headers=headers) for _ in range(20))
            )

    responses = asyncio.run(burst())
    assert {r.status_code for r in responses} == {202}, {r.text for r in responses}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    with aw.sessions() as session:
        assert len(session.scalars(select(Certificate)).all()) == 1
        assert len(session.scalars(select(ChainTransaction)).all()) == 1


def test_a_retirement_signed_before_another_was_mined_is_refused_not_failed(
    audit_world: AuditWorld,
) -> None:
    """Found by `crda chaos`: a retirement prepared (its forward request signed with the
    Forwarder's nonce) while another of the holder's was recorded and mined used a spent nonce,
    and failed on chain (ERC2771ForwarderInvalidSigner). It is now refused before it is
    recorded (409 retirement-in-progress: retry), and the first retires once."""
    aw = audit_world
    user, address = aw.holder(credits=5_000)
    terms = {"amount": 1_000, "beneficiary": "Late School", "reason": "late"}
    with aw.sessions() as session:
        account = session.get(Account, user.id)
        assert account is not None
        late = service.sign_retirement(session, aw.settings, aw.platform.chain, account, **terms)
    assert retire(aw, user, "first").status_code == 202
    aw.worker().drain()
    with aw.sessions() as session, pytest.raises(service.RetirementInProgress):
        service.retire(session, aw.settings, account, late, publish_beneficiary=False, **terms)
    assert aw.platform.token.functions.balanceOf(address).call() == 5_000 - BODY["amount"]
    # Retried, it is signed afresh and retires.
    assert retire(aw, user, "late", **terms).status_code == 202
    aw.worker().drain()
    assert aw.platform.token.functions.balanceOf(address).call() == 5_000 - BODY["amount"] - 1_000
