"""Problems in the client's language: ``Accept-Language`` chooses Korean or English for
``title`` and ``detail``; the ``type`` never changes; the answer says which language it is."""

from __future__ import annotations

from fastapi.testclient import TestClient

# Accept-Language -> the language of the answer. English when absent, unknown or garbled: the
# clients that send nothing were written against the English titles.
NEGOTIATED = {
    None: "en",
    "ko": "ko",
    "ko-KR": "ko",
    "en": "en",
    "en-US,en;q=0.9": "en",
    "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7": "ko",
    "en;q=0.3, ko;q=0.8": "ko",
    "ko;q=0.2, en;q=0.9": "en",
    "ko;q=0": "en",
    "fr-FR, ko;q=0.5": "ko",
    "fr": "en",
    "*": "en",
    "zz-@@;;q=banana,,": "en",
}


def _ask(client: TestClient, language: str | None, method: str, path: str, **kw: object) -> dict:
    headers = {"Accept-Language": language} if language is not None else {}
    response = client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]
    assert response.headers["content-type"] == "application/problem+json"
    assert "Accept-Language" in response.headers["vary"]
    body = response.json()
    body["_language"] = response.headers["content-language"]
    body["_status"] = response.status_code
    return body


def test_problems_answer_in_the_language_the_client_asks_for(client: TestClient) -> None:
    # Every kind of header on one problem: the negotiated language, and the texts in it.
    for header, language in NEGOTIATED.items():
        body = _ask(client, header, "GET", "/no/such/route")
        assert body["_language"] == language, header
        assert body["type"] == "/problems/not-found" and body["_status"] == 404
        assert body["title"] == {"en": "Not found", "ko": "찾을 수 없습니다"}[language], header

    # A title and a detail from a domain (a citizen signing in with a wrong password).
    wrong = {"email": "nobody@example.org", "password": "not the password 1"}
    ko = _ask(client, "ko-KR,ko;q=0.9", "POST", "/auth/sign-in", json=wrong)
    en = _ask(client, None, "POST", "/auth/sign-in", json=wrong)
    assert ko["type"] == en["type"] == "/problems/invalid-credentials"
    assert en["title"] == "The email or the password is wrong"
    assert ko["title"] == "이메일 또는 비밀번호가 올바르지 않습니다"

    # A detail with values: the translation is filled with the same values.
    ko = _ask(client, "ko", "POST", "/healthz")
    en = _ask(client, "en", "POST", "/healthz")
    assert ko["type"] == en["type"] == "/problems/method-not-allowed"
    assert en["detail"] == "POST is not answered here; this path answers GET"
    assert ko["title"] == "허용되지 않는 메서드입니다"
    assert ko["detail"] == ("이 경로는 POST 요청에 응답하지 않습니다. 사용할 수 있는 메서드: GET")

    # A validation problem: Korean title; the field list (loc, msg, type) is the same.
    ko = _ask(client, "ko", "POST", "/auth/sign-in", json={})
    en = _ask(client, "garbage", "POST", "/auth/sign-in", json={})
    assert ko["type"] == en["type"] == "/problems/validation-error"
    assert (ko["title"], en["title"]) == ("요청이 올바르지 않습니다", "The request is not valid")
    assert [e["loc"] for e in ko["errors"]] == [e["loc"] for e in en["errors"]]
