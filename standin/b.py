"""Stand-in system B (``python -m standin --system b``): a different financial
system with the same records, the same fault switches (``/_admin/switches``:
500 on the n-th 登録, commit-then-hang, a delay) and the same
``/_admin/entries``, so the entry tests and the benchmark run on either."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from standin import b_pages as pages
from standin.store import Store, Switches

INTERNAL_SETSU = {v: k for k, v in pages.SETSU.items()}
FORM = {
    "date": "txtKihyoBi",
    "kan": "selKan",
    "kou": "selKou",
    "moku": "selMoku",
    "setsu": "selSetsu",
    "amount": "txtKingaku",
    "payee": "txtShiharaisaki",
    "note": "txtTekiyo",
    "ref": "txtSeiriNo",
}


@dataclass
class Session:
    user: str
    token: str


def validate(v: dict[str, str]) -> list[str]:
    errors = []
    try:
        date.fromisoformat(v["date"])
    except ValueError:
        errors.append("E1001 起票日が正しくありません。")
    if v["kan"] not in pages.KAN:
        errors.append("E1002 款を選択してください。")
    if len(v["kou"]) != 4 or v["kou"][:2] != v["kan"] or v["kou"][2:] not in pages.KOU:
        errors.append("E1003 項を選択してください。")
    if v["moku"] not in pages.MOKU:
        errors.append("E1004 目を選択してください。")
    if v["setsu"] not in INTERNAL_SETSU:
        errors.append("E1005 節を選択してください。")
    if not re.fullmatch(r"[1-9][0-9]{0,9}", v["amount"]):
        errors.append("E1006 金額は半角数字で入力してください。")
    elif int(v["amount"]) > 10_000_000:
        errors.append("E2001 1,000万円を超える支出負担行為は決裁区分が異なるため登録できません。")
    if not v["payee"] or len(v["payee"]) > 40:
        errors.append("E1007 支払先を40文字以内で入力してください。")
    if not v["ref"]:
        errors.append("E1008 整理番号を入力してください。")
    return errors


def stored(v: dict[str, str]) -> dict[str, str]:
    return {
        "entry_date": v["date"],
        "kan": v["kan"],
        "kou": v["kou"][2:],
        "moku": v["moku"],
        "setsu": INTERNAL_SETSU[v["setsu"]],
        "amount": v["amount"],
        "payee": v["payee"],
        "purpose": v["note"],
        "reference": v["ref"],
    }


class SystemB:
    """The screens; one method each. Sessions live in memory (a restart logs everyone out)."""

    def __init__(self, db: Path, user: str, password: str) -> None:
        self.store = Store(db, voucher_prefix="SF7")
        self.user, self.password = user, password
        self.sessions: dict[str, Session] = {}

    def session_of(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get("JSESSIONID", ""))

    async def slow(self) -> None:
        if self.store.switches.delay_ms:
            await asyncio.sleep(self.store.switches.delay_ms / 1000)

    def login(self, form: dict[str, str]) -> Response:
        ok = secrets.compare_digest(form.get("uid", ""), self.user) and secrets.compare_digest(
            form.get("pwd", ""), self.password
        )
        if not ok:
            return HTMLResponse(pages.login("利用者IDまたはパスワードに誤りがあります。"))
        sid = secrets.token_hex(16)
        self.sessions[sid] = Session(self.user, secrets.token_hex(12))
        response = RedirectResponse(pages.URL, status_code=303)
        response.set_cookie("JSESSIONID", sid, httponly=True)
        return response

    async def commit(self, s: Session, form: dict[str, str]) -> Response:
        values = {k: form.get(name, "").strip() for k, name in FORM.items()}
        errors = validate(values)
        if errors:
            return HTMLResponse(pages.entry(s.token, s.user, values, errors))
        sw = self.store.switches
        sw.submits += 1
        if sw.submits in sw.fail_submits:
            return HTMLResponse(pages.message("システムエラー", "システムエラーが発生しました。"), 500)
        voucher = self.store.add(stored(values))
        if sw.submits in sw.timeout_submits:
            await asyncio.sleep(sw.hang_seconds)  # committed, but the answer comes too late
        return RedirectResponse(f"{pages.URL}?scr=KF0102&vno={voucher}", status_code=303)

    async def post(self, request: Request) -> Response:
        """Every form posts here; ``action`` (and ``scr``) say what it is."""
        form = {k: str(v) for k, v in (await request.form()).items()}
        if form.get("action") == "login":
            return self.login(form)
        s = self.session_of(request)
        if s is None or not secrets.compare_digest(form.get("_tkn", ""), s.token):
            return HTMLResponse(pages.message("エラー", "不正な画面遷移です。再度ログインしてください。"))
        await self.slow()
        action, scr = form.get("action"), form.get("scr")
        if action == "open" and scr == "KF0101":
            return HTMLResponse(pages.entry(s.token, s.user, {}))
        if action == "open" and scr == "KF0201":
            return HTMLResponse(pages.inquiry(s.token, s.user))
        if action == "commit":
            return await self.commit(s, form)
        if action == "inquiry":
            ref = form.get("txtSeiriNo", "").strip()
            return HTMLResponse(pages.inquiry(s.token, s.user, ref, self.store.search(ref) if ref else []))
        return HTMLResponse(pages.message("エラー", "この画面は利用できません。"), 404)

    async def get(self, request: Request) -> Response:
        s = self.session_of(request)
        if s is None:
            return HTMLResponse(pages.login())
        if request.query_params.get("scr") == "KF0102":
            found = self.store.get(request.query_params.get("vno", ""))
            if found is not None:
                return HTMLResponse(pages.registered(s.token, s.user, found))
        return HTMLResponse(pages.menu(s.token, s.user))

    async def main(self, request: Request) -> Response:
        return await (self.post(request) if request.method == "POST" else self.get(request))

    async def ajax(self, request: Request) -> Response:
        """項 for a 款, as the entry screen's script asks for them."""
        if self.session_of(request) is None:
            return JSONResponse([], status_code=403)
        kan = request.query_params.get("kan", "")
        await self.slow()
        items = pages.KOU.items() if kan in pages.KAN else []
        return JSONResponse([{"v": f"{kan}{code}", "l": f"{code} {name}"} for code, name in items])

    async def admin_switches(self, request: Request) -> Response:
        if request.method == "POST":
            data = await request.json()
            self.store.switches = Switches(**{k: v for k, v in data.items() if k != "submits"})
        return JSONResponse(self.store.switches.to_json())

    async def admin_entries(self, request: Request) -> Response:
        return JSONResponse(self.store.all())


async def root(request: Request) -> Response:
    return RedirectResponse(pages.URL, status_code=303)


def create_app(db: Path, user: str, password: str) -> Starlette:
    b = SystemB(db, user, password)
    return Starlette(
        routes=[
            Route("/", root),
            Route(pages.URL, b.main, methods=["GET", "POST"]),
            Route("/servlet/Ajax", b.ajax),
            Route("/_admin/switches", b.admin_switches, methods=["GET", "POST"]),
            Route("/_admin/entries", b.admin_entries),
        ]
    )
