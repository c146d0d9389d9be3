"""``crda admin``: role changes through the timelock, signed with the admin key.

The admin key (``CRDA_ADMIN_KEY``) is read here and nowhere else: the API, the worker and the
indexer never load it. A change is proposed, visible on chain for the timelock's delay, then
executed::

    crda admin propose grant PAUSER_ROLE CRDAToken 0xabc...
    crda admin status  grant PAUSER_ROLE CRDAToken 0xabc...
    crda admin execute grant PAUSER_ROLE CRDAToken 0xabc...
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import typer
from eth_account import Account
from pydantic import ValidationError

from api.chain.admin import OperationState, RoleChange, Timelock
from api.chain.deploy import ADMINISTERED
from api.chain.gateway import ChainGateway
from api.cli.common import console, fail
from api.errors import Problem
from api.settings import AdminSettings

app = typer.Typer(help="Role changes through the timelock (the admin key).", no_args_is_help=True)

Action = Annotated[Literal["grant", "revoke"], typer.Argument(help="grant or revoke.")]
RoleName = Annotated[str, typer.Argument(help="e.g. PAUSER_ROLE, MINTER_ROLE, DEFAULT_ADMIN_ROLE.")]
ContractName = Annotated[str, typer.Argument(help=f"One of {', '.join(ADMINISTERED)}.")]
AccountAddress = Annotated[str, typer.Argument(help="The account that gains or loses the role.")]
Salt = Annotated[str, typer.Option(help="Tells apart a change proposed again after it was done.")]


def _timelock(
    action: Literal["grant", "revoke"], role: str, contract: str, account: str, salt: str
) -> tuple[Timelock, RoleChange, AdminSettings]:
    try:
        settings = AdminSettings()
        change = RoleChange(action, role, contract, account, salt)
        return Timelock(ChainGateway.connect(settings)), change, settings
    except (ValidationError, ValueError) as exc:
        raise fail(str(exc)) from exc
    except Problem as exc:
        raise fail(exc.detail or exc.title) from exc


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _signed(
    step: Literal["propose", "execute"],
    action: Literal["grant", "revoke"],
    role: str,
    contract: str,
    account: str,
    salt: str,
) -> tuple[Timelock, RoleChange, str]:
    """Propose or execute the change with the admin key: the timelock, the change and the
    transaction's hash."""
    timelock, change, settings = _timelock(action, role, contract, account, salt)
    admin = Account.from_key(settings.admin_key.get_secret_value())
    send = timelock.propose if step == "propose" else timelock.execute
    try:
        receipt = send(change, admin)
    except Problem as exc:
        raise fail(exc.detail or exc.title) from exc
    return timelock, change, receipt["transactionHash"].to_0x_hex()


@app.command()
def propose(
    action: Action, role: RoleName, contract: ContractName, account: AccountAddress, salt: Salt = ""
) -> None:
    """Propose a role change; it may execute once the timelock's delay has passed."""
    timelock, change, tx = _signed("propose", action, role, contract, account, salt)
    _state, ready_at = timelock.state(change)
    console.print(
        f"proposed {action} {role} on {contract} to {change.account} "
        f"(tx {tx}); executable from {_when(ready_at)}"
    )


@app.command()
def execute(
    action: Action, role: RoleName, contract: ContractName, account: AccountAddress, salt: Salt = ""
) -> None:
    """Execute a proposed role change whose delay has passed."""
    _, change, tx = _signed("execute", action, role, contract, account, salt)
    console.print(f"executed {action} {role} on {contract} to {change.account} (tx {tx})")


@app.command()
def status(
    action: Action, role: RoleName, contract: ContractName, account: AccountAddress, salt: Salt = ""
) -> None:
    """Where a role change stands: unset, waiting (until when), ready or done."""
    timelock, change, _settings = _timelock(action, role, contract, account, salt)
    state, ready_at = timelock.state(change)
    until = f" until {_when(ready_at)}" if state is OperationState.waiting else ""
    console.print(f"{state.name}{until} (timelock delay {timelock.delay} s)")
