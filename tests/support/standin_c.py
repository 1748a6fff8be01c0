"""A plain HTTP client of stand-in system C's screens (no browser): logs in,
picks codes in the search windows (their check values), sends 確認 and 登録
as a browser would from inside the frameset. For tests that need vouchers in
the target quickly (look-alike references), or a 登録 that reached the target
without the job (as if a crashed run's had)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import httpx

IN_FRAME = {"Sec-Fetch-Dest": "iframe"}


class SystemCClient:
    def __init__(self, url: str, user: str, password: str, codec: str = "cp932") -> None:
        self.http = httpx.Client(base_url=url, follow_redirects=True, timeout=30)
        self.codec = codec
        self.user, self.password = user, password

    def __enter__(self) -> SystemCClient:
        self.login()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.close()

    def text(self, response: httpx.Response) -> str:
        return response.content.decode(self.codec)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        body = urlencode(data, encoding=self.codec)
        headers = {**IN_FRAME, "Content-Type": "application/x-www-form-urlencoded"}
        return self.http.post(path, content=body.encode("ascii"), headers=headers)

    def login(self) -> None:
        page = self.text(self.post("/zaimu/Login.do", {"USER_CD": self.user, "PASSWORD": self.password}))
        assert "E0001" not in page, "login refused"

    def pick(self, window: str, code: str) -> str:
        """The check value the search window writes beside ``code``."""
        query = urlencode({"SEARCH": "1", "S_CD": code}, encoding=self.codec)
        page = self.text(self.http.get(f"/zaimu/{window}?{query}"))
        found = re.search(rf'data-cd="{re.escape(code)}" data-nm="[^"]*" data-chk="([0-9a-f]+)"', page)
        assert found, f"{code} not in {window}"
        return found.group(1)

    def confirm(self, reference: str, **values: Any) -> str:
        """確認 of one voucher; the 確認 screen's one-time token."""
        budget, payee = values.get("budget", "02010107"), values.get("payee", "1000001")
        form = {
            "ACTION": "KAKUNIN",
            "KIHYO_GENGO": values.get("era", "5"),
            "KIHYO_YY": "7",
            "KIHYO_MM": "6",
            "KIHYO_DD": "2",
            "YOSAN_CD": budget,
            "YOSAN_CHK": self.pick("YosanSearch.do", budget),
            "SHIHARAI_CD": payee,
            "SHIHARAI_CHK": self.pick("ShiharaiSearch.do", payee),
            "KINGAKU": str(values.get("amount", 1000)),
            "TEKIYO": values.get("purpose", "消耗品の購入"),
            "SEIRI_NO": reference,
        }
        page = self.text(self.post("/zaimu/KSF010.do", form))
        token = re.search(r'name="TOKEN" value="([0-9a-f]+)"', page)
        assert token, re.findall(r'class="err">([^<]*)', page)
        return token.group(1)

    def register(self, token: str) -> str:
        """登録; the page's text."""
        return self.text(self.post("/zaimu/KSF010.do", {"ACTION": "TOROKU", "TOKEN": token}))

    def enter(self, reference: str, **values: Any) -> str:
        """One voucher through 確認 and 登録; its 伝票番号."""
        page = self.register(self.confirm(reference, **values))
        voucher = re.search(r"SK7-[0-9]{6}", page)
        assert voucher, page
        return voucher.group(0)
