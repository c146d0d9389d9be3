"""Every list of the API is paginated one way: keyset (cursor) pagination, defined here once.

Each list has a fixed sort key that ends in a unique column; a page is ``WHERE key > cursor
ORDER BY key LIMIT n`` (``<`` for a list shown newest first), and the cursor is the last row's
key, opaque to the client (base64url of JSON, tagged with the list's name so a cursor of one
list is refused by another). Pages are stable while the list grows and cost the same at any
depth; an export walks a whole list page by page in short transactions without loading it.

A list sorted by a timestamp uses :func:`seek_rows`: its cursor carries the last row's unique
id and the database reads that row's timestamp back, so the comparison is the database's own
(a timestamp written in the cursor and read back need not compare equal to the stored one:
SQLite stores ``now()`` to the second and SQLAlchemy binds microseconds).

This module is platform: it knows no domain; domains and the audit index build on it.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the dependency
# page_params builds, and those name its arguments (``maximum``), not module globals.

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from api import examples as ex
from api.errors import problem
from api.i18n import msg

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# What a cursor is made of (base64url without padding), so the document says it and a
# generated client never sends a NUL or a space (``encode_cursor`` writes nothing else).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"

InvalidCursor = problem(
    422,
    "invalid-cursor",
    "The page cursor is not valid",
    when="A list's `cursor` is not one this list returned, or `limit` is out of range.",
    show="Restart the list from the first page.",
)


def _page_example(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """A page's example in the OpenAPI document: its items' own examples and a cursor."""
    args = cls.__pydantic_generic_metadata__["args"]
    extra = args[0].model_config.get("json_schema_extra") if args else None
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if isinstance(examples, list) and examples:
        schema["examples"] = [{"items": examples, "next_cursor": ex.PAGE_CURSOR}]


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back to get the next (None: the last page)."""

    model_config = ConfigDict(json_schema_extra=_page_example)

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class PageParams:
    """``limit`` rows after ``cursor`` (the ``next_cursor`` of the previous page)."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidCursor(
                msg("limit must be between 1 and {MAX_LIMIT}", MAX_LIMIT=MAX_LIMIT),
                limit=self.limit,
            )


FIRST_PAGE = PageParams()


def page_params(
    maximum: int = MAX_LIMIT, default: int = DEFAULT_LIMIT
) -> Callable[..., Awaitable[PageParams]]:
    """The dependency that reads a list's ``limit`` and ``cursor`` query parameters.

    Every list takes these two parameters and answers a :class:`Page`; a list whose rows are
    costly to build states a smaller ``maximum`` (the OpenAPI document shows each list's bounds):
    ``Annotated[PageParams, Depends(page_params(maximum=200))]``."""

    async def dependency(
        limit: Annotated[int, Query(ge=1, le=maximum)] = default,
        cursor: Annotated[
            str | None,
            Query(
                pattern=CURSOR_PATTERN,
                description=(
                    "The `next_cursor` of the previous page (opaque; base64url). Omit it for "
                    "the first page; a cursor this list did not return is "
                    "`/problems/invalid-cursor`."
                ),
            ),
        ] = None,
    ) -> PageParams:
        return PageParams(limit=limit, cursor=cursor)

    return dependency


PageDep = Annotated[PageParams, Depends(page_params())]


def encode_cursor(name: str, values: Sequence[Any]) -> str:
    raw = json.dumps([name, list(values)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(name: str, cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, values = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor("the cursor is not one this API made") from exc
    if (
        tag != name
        or not isinstance(values, list)
        or len(values) != size
        or not all(_cursor_value(v) for v in values)
    ):
        raise InvalidCursor(msg("the cursor is not one of the {name} list", name=name))
    return values


def _cursor_value(value: Any) -> bool:
    """A key a cursor may carry: a string, or an integer a database column can hold."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63  # beyond it SQLite raises OverflowError (a 500)
    return isinstance(value, str)


def _after(keys: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any], desc: bool) -> Any:
    """Rows strictly after ``values`` in the lexicographic order of ``keys``."""
    clauses: list[ColumnElement[bool]] = []
    for i, key in enumerate(keys):
        equal = [k == v for k, v in zip(keys[:i], values[:i], strict=True)]
        beyond = key < values[i] if desc else key > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses) if clauses else false()


@dataclass(frozen=True)
class Rows(Generic[R]):
    """A page of database rows, before they are shaped into a :class:`Page` of public items
    (a service returns rows when shaping them needs what only the endpoint has)."""

    rows: Sequence[R]
    next_cursor: str | None

    def page(self, to_item: Callable[[R], M]) -> Page[M]:
        return Page(items=[to_item(r) for r in self.rows], next_cursor=self.next_cursor)


def _rows(
    session: Session,
    stmt: Select[R],
    keys: Sequence[InstrumentedAttribute[Any]],
    params: PageParams,
    cursor_of: Callable[[R], str],
    desc: bool,
) -> Rows[R]:
    order = [k.desc() if desc else k.asc() for k in keys]
    rows = session.scalars(stmt.order_by(*order).limit(params.limit + 1)).all()
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    return Rows(rows, cursor_of(rows[-1]) if more else None)


def keyset_rows(
    session: Session,
    name: str,
    stmt: Select[R],
    keys: Sequence[InstrumentedAttribute[Any]],
    params: PageParams,
    *,
    desc: bool = False,
) -> Rows[R]:
    """One page of ``stmt`` (a select of one model) ordered by ``keys`` (unique together;
    integer or string columns, which the cursor carries)."""
    if params.cursor:
        stmt = stmt.where(_after(keys, decode_cursor(name, params.cursor, len(keys)), desc))

    def cursor_of(last: R) -> str:
        return encode_cursor(name, [getattr(last, k.key) for k in keys])

    return _rows(session, stmt, keys, params, cursor_of, desc)


def keyset_page(
    session: Session,
    name: str,
    stmt: Select[Any],
    keys: Sequence[InstrumentedAttribute[Any]],
    params: PageParams,
    to_item: Callable[[Any], M],
    *,
    desc: bool = False,
) -> Page[M]:
    """:func:`keyset_rows`, each row shaped by ``to_item``."""
    return keyset_rows(session, name, stmt, keys, params, desc=desc).page(to_item)


def seek_rows(
    session: Session,
    name: str,
    stmt: Select[R],
    order: InstrumentedAttribute[Any],
    unique: InstrumentedAttribute[Any],
    params: PageParams,
    *,
    desc: bool = False,
) -> Rows[R]:
    """One page of ``stmt`` ordered by ``order`` (a timestamp), ties broken by ``unique``.

    The cursor carries the last row's ``unique`` value only; its ``order`` value is read back
    from that row in the same query."""
    keys = [order, unique]
    if params.cursor:
        (last,) = decode_cursor(name, params.cursor, 1)
        anchor = select(order).where(unique == last).scalar_subquery()
        stmt = stmt.where(_after(keys, [anchor, last], desc))

    def cursor_of(row: R) -> str:
        return encode_cursor(name, [getattr(row, unique.key)])

    return _rows(session, stmt, keys, params, cursor_of, desc)
