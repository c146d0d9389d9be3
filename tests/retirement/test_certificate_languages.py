"""The certificate, its verification and the auditor's dashboard in Korean and English: the
browser's language by default, a switch on the page, Korean formats; the Korean pages as headless
Chromium shows them (one world and few browser runs: page tests are the slow ones)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.audit.test_dashboard import live
from tests.browser import ARTIFACTS, chromium
from tests.retirement.test_retirement import certified

# Languages and formats of pages, whatever the database: the first pass only.
pytestmark = [pytest.mark.chain, pytest.mark.any_database]

__all__ = ["certified", "live"]  # fixtures used below


def test_the_pages_speak_the_browsers_language_with_a_switch_and_korean_formats(
    certified, live: str, tmp_path: Path
) -> None:
    aw, _user, _address, body = certified
    korean = {"Accept-Language": "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"}

    page = aw.client.get("/certificates/1/page", headers=korean)
    assert page.status_code == 200
    assert page.headers["content-language"] == "ko" and "Accept-Language" in page.headers["vary"]
    text = page.text
    assert '<html lang="ko">' in text and "탄소 감축 인증서" in text
    assert "1.500 kg CO2e" in text and "크레딧 1,500개" in text
    assert "보유자의 요청으로 공개하지 않음" in text  # the beneficiary stays private
    assert "소각 일시" in text and "년" in text and "KST" in text  # 2026년 12월 2일 오후 5:30 KST
    assert "배치 <code>0x0202" in text  # the lots, first in first out, in Korean word order
    # The switch: English is a link (the same page, lang=en), Korean is the current language.
    assert '<a lang="en" href="/certificates/1/page?lang=en">English</a>' in text
    assert '<b lang="ko">한국어</b>' in text
    # The switch wins over the browser's language; no header at all is English.
    english = aw.client.get("/certificates/1/page", params={"lang": "en"}, headers=korean)
    assert english.headers["content-language"] == "en"
    assert "Retirement certificate" in english.text and "탄소" not in english.text
    assert aw.client.get("/certificates/1/page").headers["content-language"] == "en"

    # Verification: the verdict and each check's detail in Korean; the JSON twin too.
    query = urlsplit(body["verification_url"]).query
    verify = f"/certificates/1/verify?{query}"
    html = aw.client.get(verify, headers={**korean, "Accept": "text/html"})
    assert "확인됨: 이 인증서는 블록체인 기록과 일치합니다." in html.text
    assert "감사 색인이 블록체인 기록과 일치합니다" in html.text
    assert "lang=en" in html.text and "amount=1500" in html.text  # the switch keeps the query
    result = aw.client.get(verify, headers=korean)
    assert result.headers["content-language"] == "ko"
    checks = {c["name"]: c["detail"] for c in result.json()["checks"]}
    assert checks["amount"] == "인증서 기재 1500g, 블록체인 기록 1500g"
    english_checks = {c["name"]: c["detail"] for c in aw.client.get(verify).json()["checks"]}
    assert english_checks["amount"] == "claimed 1500 g, on chain 1500 g"

    # What a Korean-speaking citizen's browser shows: Chromium asking for Korean first.
    dom = chromium(tmp_path, "--accept-lang=ko-KR,ko", "--dump-dom", f"{live}/certificates/1/page")
    assert '<html lang="ko">' in dom and "탄소 감축 인증서" in dom
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "certificate-ko.png"
    screenshot.unlink(missing_ok=True)
    chromium(
        tmp_path,
        "--accept-lang=ko-KR,ko",
        "--window-size=900,1000",
        f"--screenshot={screenshot}",
        f"{live}/certificates/1/page",
    )
    assert screenshot.stat().st_size > 20_000

    # The auditor's dashboard: Korean labels in the page, the script's translations beside them.
    page = aw.client.get("/dashboard", headers=korean)
    assert page.headers["content-language"] == "ko"
    assert '<html lang="ko">' in page.text and "감사인 로그인" in page.text
    script_messages = re.search(r'<script id="messages"[^>]*>(.*?)</script>', page.text, re.S)
    assert script_messages
    assert json.loads(script_messages.group(1))["all checks pass"] == "모든 검사 통과"
    english = aw.client.get("/dashboard", params={"lang": "en"}, headers=korean)
    assert '<html lang="en">' in english.text and "Auditor sign-in" in english.text
    # Signed in, in a browser asking for Korean: what the script draws is Korean too.
    url = f"{live}/dashboard#token={aw.auditor().access}"
    dom = chromium(tmp_path, "--accept-lang=ko-KR,ko", "--dump-dom", url)
    assert 'data-loaded="true"' in dom, dom[-3000:]
    assert "모든 검사 통과" in dom and "아직 결제된 거래가 없습니다" in dom and "유통량" in dom
    tiles = re.findall(r'<div class="value">([^<]*)<', dom)
    assert tiles[:3] == ["1.5 kg ", "3 kg ", "1.5 kg "], tiles  # circulating, issued, retired
