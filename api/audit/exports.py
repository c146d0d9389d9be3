"""Streamed CSV and JSON exports of any auditor list: a page at a time, never a whole table.

``export_csv(sessions, queries.list_transfers, window=...)`` returns an iterator of text chunks
for a ``StreamingResponse``; the list is read page by page (keyset), each page in its own short
session, so memory stays flat however long the list is.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar, get_args, get_type_hints

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from api.audit.queries import iterate
from api.pagination import Page

M = TypeVar("M", bound=BaseModel)

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
JSON_MEDIA_TYPE = "application/json"
NDJSON_MEDIA_TYPE = "application/x-ndjson"


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: a leading quote before a trigger.

    A plain number (a negative amount) is left as it is: it is no formula, and it stays a number.
    """
    if text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        return neutralise(value)
    return value


def csv_chunks(items: Iterable[M], model: type[M], *, rows_per_chunk: int = 500) -> Iterator[str]:
    """CSV text (header first) in chunks of ``rows_per_chunk`` rows; amounts stay exact.

    Text cells are neutralised against formula injection (a retirement reason is free text).
    """
    columns = list(model.model_fields)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for item in items:
        data = item.model_dump(mode="json")
        writer.writerow([_cell(data[c]) for c in columns])
        count += 1
        if count % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_chunks(items: Iterable[BaseModel], *, rows_per_chunk: int = 500) -> Iterator[str]:
    """One JSON array, streamed (amounts as decimal strings)."""
    parts: list[str] = []
    first = True
    yield "["
    for item in items:
        parts.append(("" if first else ",") + item.model_dump_json())
        first = False
        if len(parts) >= rows_per_chunk:
            yield "".join(parts)
            parts.clear()
    parts.append("]")
    yield "".join(parts)


def ndjson_chunks(items: Iterable[BaseModel], *, rows_per_chunk: int = 500) -> Iterator[str]:
    """One JSON object per line (for tools that read line by line)."""
    parts: list[str] = []
    for item in items:
        parts.append(item.model_dump_json() + "\n")
        if len(parts) >= rows_per_chunk:
            yield "".join(parts)
            parts.clear()
    yield "".join(parts)


def item_model(list_fn: Callable[..., Page[Any]]) -> type[BaseModel]:
    """The item model of a query function's ``Page[...]`` return annotation."""
    page_type = get_type_hints(list_fn)["return"]
    (model,) = get_args(page_type.model_fields["items"].annotation)
    return model


def export_csv(
    sessions: sessionmaker[Session],
    list_fn: Callable[..., Page[M]],
    /,
    *args: Any,
    page_size: int = 1000,
    **filters: Any,
) -> Iterator[str]:
    model = item_model(list_fn)
    items = iterate(sessions, list_fn, *args, page_size=page_size, **filters)
    return csv_chunks(items, model)


def export_json(
    sessions: sessionmaker[Session],
    list_fn: Callable[..., Page[M]],
    /,
    *args: Any,
    page_size: int = 1000,
    **filters: Any,
) -> Iterator[str]:
    items = iterate(sessions, list_fn, *args, page_size=page_size, **filters)
    return json_chunks(items)
