"""The typed client drives the documented flow end to end, over HTTP through the ASGI app."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from api.auth.models import Role
from api.openapi import client_text
from crda_client import OPERATIONS, Client, ProblemError
from tests.world import PASSWORD, World, new_uniqueness_key, world

__all__ = ["world"]  # the identity tests' fixture, used here

ROOT = Path(__file__).resolve().parents[2]


def test_committed_client_table_is_current() -> None:
    document = (ROOT / "mobile_api_docs" / "openapi.json").read_text(encoding="utf-8")
    committed = (ROOT / "crda_client" / "_generated.py").read_text(encoding="utf-8")
    assert committed == client_text(document), (
        "crda_client/_generated.py is stale: run `crda export-openapi` and commit it"
    )


def test_every_typed_method_names_an_operation_of_the_document() -> None:
    source = (ROOT / "crda_client" / "client.py").read_text(encoding="utf-8")
    document = json.loads((ROOT / "mobile_api_docs" / "openapi.json").read_text())
    ids = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    used = {
        line.split('"')[1]
        for line in source.splitlines()
        if 'self.call("' in line or 'self.request("' in line
    }
    assert used <= ids == set(OPERATIONS), used - ids


def test_unknown_operation_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="no operation"):
        Client(http=None).request("nothing-here")  # type: ignore[arg-type]


def test_a_citizen_signs_up_gets_verified_and_anyone_verifies_the_credential(
    world: World,
) -> None:
    http = world.client
    operator = Client(http=http)
    operator.sign_in(world.operator().email or "", PASSWORD)

    # The operator registers a verifier organisation and lets a desk account act for it.
    org = operator.register_verifier("Yeonsu-gu Community Centre")
    desk = Client(http=http)
    desk_email = f"desk-{uuid.uuid4().hex[:8]}@yeonsu.example"
    desk_account = desk.sign_up(desk_email, PASSWORD)
    operator.add_verifier_member(org["id"], desk_account["id"])
    desk.sign_in(desk_email, PASSWORD)
    assert desk.me()["role"] == "verifier"

    # The citizen signs up and signs in; no credential yet.
    citizen = Client(http=http)
    email = f"kim-{uuid.uuid4().hex[:8]}@example.org"
    account = citizen.sign_up(email, PASSWORD, name="Kim Minji")
    pair = citizen.sign_in(email, PASSWORD)
    assert pair["account_id"] == account["id"] and pair["token_type"] == "Bearer"
    assert citizen.list_credentials()["items"] == []

    # At the desk: the verifier verifies the citizen.
    credential = desk.issue_credential(
        account["id"], assurance_level=2, uniqueness_key=new_uniqueness_key(world.settings)
    )
    assert credential["status"] == "active"
    assert citizen.get_wallet()["custody"] == "platform"
    assert [c["id"] for c in citizen.list_credentials()["items"]] == [credential["id"]]
    assert citizen.credential_qr(credential["id"]).startswith(b"\x89PNG")

    # Anyone (no sign-in) verifies the credential the citizen shows.
    anyone = Client(http=http)
    result = anyone.verify_credential(credential["verifiable_credential"])
    assert result["verified"] is True, result["errors"]
    holder_did = credential["subject_did"]
    assert anyone.resolve_did(holder_did)["id"] == holder_did

    # Errors arrive as typed problems.
    with pytest.raises(ProblemError) as refused:
        citizen.issue_credential(
            account["id"], assurance_level=2, uniqueness_key=new_uniqueness_key(world.settings)
        )
    assert refused.value.status == 403 and refused.value.slug == "forbidden"
    assert refused.value.request_id
    with pytest.raises(ProblemError) as wrong:
        Client(http=http).sign_in(email, "not the password")
    assert wrong.value.problem["type"] == "/problems/invalid-credentials"

    # Refresh rotates the pair; sign-out ends the session.
    old_refresh = citizen.refresh_token
    citizen.refresh()
    assert citizen.refresh_token != old_refresh
    citizen.sign_out()
    with pytest.raises(ProblemError) as ended:
        citizen.refresh(old_refresh)
    assert ended.value.status == 401


def test_auditor_reads_but_cannot_register(world: World) -> None:
    auditor = Client(http=world.client)
    auditor.sign_in(world.staff(Role.auditor).email or "", PASSWORD)
    assert auditor.me()["role"] == "auditor"
    with pytest.raises(ProblemError) as refused:
        auditor.register_verifier("Not allowed")
    assert refused.value.slug == "forbidden"
