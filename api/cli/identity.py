"""``crda identity``: staff accounts and the verifier desk's uniqueness key."""

from __future__ import annotations

from typing import Annotated

import typer

from api.auth.models import Role
from api.cli.common import console, database, fail
from api.errors import Problem
from api.settings import get_settings
from identity.uniqueness import uniqueness_key

app = typer.Typer(help="Identity administration.", no_args_is_help=True)


@app.command("create-staff")
def create_staff(
    email: Annotated[str, typer.Option(help="The staff member's email.")],
    role: Annotated[str, typer.Option(help="operator or auditor.")] = "operator",
) -> None:
    """Create an operator or auditor account in the database at CRDA_DATABASE_URL."""
    # Lazy: the service imports siwe, whose grammars take about a second to build.
    from api.auth.service import create_account

    if role not in (Role.operator.value, Role.auditor.value):
        raise fail("the role must be operator or auditor")
    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise fail("the password needs at least 10 characters")
    settings = get_settings()
    try:
        with database(settings) as sessions, sessions() as session:
            account = create_account(
                session, settings, email=email, password=password, role=Role(role)
            )
    except Problem as exc:
        raise fail(exc.detail or exc.title) from exc
    console.print(f"{role} account {account.id} created")


@app.command("uniqueness-key")
def uniqueness_key_cmd(
    country: Annotated[str, typer.Option(help="Issuing country of the identifier.")] = "KR",
) -> None:
    """Read a national identifier (hidden) and print its uniqueness key (HMAC, secret pepper)."""
    national_id = typer.prompt("national identifier", hide_input=True)
    pepper = get_settings().uniqueness_pepper.get_secret_value()
    try:
        print(uniqueness_key(national_id, pepper, country))
    except ValueError as exc:
        raise fail(str(exc)) from exc
