"""Checks every list of the API passes: cursor pages that join up to the whole list."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.pagination import encode_cursor

WHOLE = 100  # a page size every list accepts (the smallest maximum is 100)


def walk_in_pages(
    client: TestClient,
    path: str,
    headers: dict[str, str],
    key: str,
    *,
    limit: int = 2,
    params: dict[str, Any] | None = None,
) -> list[Any]:
    """The ``key`` of every item of a list read ``limit`` at a time, after checking that the
    pages join up to the list read in one page: same order, nothing repeated or skipped, and
    more than one page."""
    params = params or {}
    whole = client.get(path, params={**params, "limit": WHOLE}, headers=headers)
    assert whole.status_code == 200, whole.text
    assert whole.json()["next_cursor"] is None
    expected = [item[key] for item in whole.json()["items"]]
    assert len(expected) > limit, "too few items to make two pages"

    seen: list[Any] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit} | ({"cursor": cursor} if cursor else {})
        response = client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        assert 1 <= len(page["items"]) <= limit
        seen += [item[key] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages >= 2
    assert len(set(seen)) == len(seen), "an item repeated across pages"
    assert seen == expected, "pages skipped or reordered items"
    return seen


def assert_refuses_cursor_of(
    client: TestClient, path: str, headers: dict[str, str], other_list: str, size: int = 1
) -> None:
    """A cursor of ``other_list`` (well formed, the same number of keys) is refused here."""
    cursor = encode_cursor(other_list, [1] * size)
    response = client.get(path, params={"cursor": cursor}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/invalid-cursor"
