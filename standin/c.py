"""Stand-in system C (``python -m standin --system c``): an older frame-based
財務会計システム in Shift_JIS (or EUC-JP) whose quirks are switches (see
``standin.c_switches`` and docs/rpa.md, "Stand-in system C"), with the fault
switches and ``/_admin/entries`` of systems A and B."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from standin import c_entry_pages as entry_pages
from standin import c_pages as pages
from standin.c_rules import BUDGET, MAX_ATTACHMENT, PAYEES, Checked, Rules, budget_name, check, check_value
from standin.c_store import VoucherStore
from standin.c_switches import Quirks, SwitchError

COOKIE = "ZSID"
MAX_TOKENS = 20  # open 確認 screens kept per session
MAX_HITS = 50  # rows a search window shows


class Refused(Exception):
    """A request the system answers with another page (session ended, outside the frames)."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


async def refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return exc.response


@dataclass
class Pending:
    checked: Checked
    values: dict[str, str]


@dataclass
class Session:
    user: str
    started: float = field(default_factory=time.monotonic)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    requests: int = 0
    ended: bool = False
    tokens: dict[str, Pending] = field(default_factory=dict)


class SystemC:
    def __init__(self, db: Path, user: str, password: str, quirks: dict[str, Any] | None = None) -> None:
        self.store = VoucherStore(db)
        self.user, self.password = user, password
        self.q = Quirks().changed(quirks or {})
        self.sessions: dict[str, Session] = {}

    # -- plumbing -----------------------------------------------------------

    def page(self, html: str, status: int = 200) -> Response:
        body = html.encode(self.q.codec, errors="xmlcharrefreplace")
        return Response(body, status, media_type=f"text/html; charset={self.q.charset_label}")

    def query(self, request: Request) -> dict[str, str]:
        raw = request.scope["query_string"].decode("latin-1")
        return dict(parse_qsl(raw, keep_blank_values=True, encoding=self.q.codec, errors="replace"))

    async def form(self, request: Request) -> tuple[dict[str, str], dict[str, tuple[str, int]]]:
        """The form in the pages' charset (a browser sends it so), and each uploaded file's name and size by field."""
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            body = (await request.body()).decode("latin-1")
            return dict(parse_qsl(body, keep_blank_values=True, encoding=self.q.codec, errors="replace")), {}
        raw = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-type"]
        raw.append((b"content-type", f"{ctype}; charset={self.q.codec}".encode("latin-1")))
        parsed = await MultiPartParser(Headers(raw=raw), request.stream()).parse()
        values: dict[str, str] = {}
        uploads: dict[str, tuple[str, int]] = {}
        for key, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read(MAX_ATTACHMENT + 1)
                uploads[key] = (value.filename or "", len(data))
                await value.close()
            else:
                values[key] = value
        return values, uploads

    async def slow(self) -> None:
        if self.q.delay_ms:
            await asyncio.sleep(self.q.delay_ms / 1000)

    def gate(self, request: Request, *, framed: bool) -> Session:
        """The session of this request (counting it); ``Refused`` with the page
        the system shows instead."""
        s = self.sessions.get(request.cookies.get(COOKIE, ""))
        q = self.q
        if s is None:
            raise Refused(self.page(pages.message(q, "セッションエラー", pages.NOT_LOGGED_IN, to_login=True)))
        s.requests += 1
        too_many = q.session_requests and s.requests > q.session_requests
        too_old = q.session_seconds and time.monotonic() - s.started > q.session_seconds
        if s.ended or too_many or too_old:
            s.ended = True
            s.tokens.clear()
            raise Refused(
                self.page(pages.message(q, "セッションエラー", pages.SESSION_EXPIRED, to_login=True))
            )
        # Chromium says where a document goes: a work screen must load into a frame.
        if (
            framed
            and q.on("frame_check")
            and request.headers.get("sec-fetch-dest") not in ("frame", "iframe")
        ):
            raise Refused(self.page(pages.message(q, "エラー", pages.OUTSIDE_FRAMES)))
        return s

    def rules(self, s: Session) -> Rules:
        q = self.q
        return Rules(
            era_text=q.on("era"),
            zenkaku=q.on("zenkaku"),
            popups=q.on("popups"),
            meisai=q.on("meisai"),
            attach=q.on("attach"),
            line_attach=q.on("line_attach"),
            mac=lambda kind, code: check_value(s.secret, kind, code),
        )

    # -- screens ------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self.page(pages.login(self.q))
        values, _ = await self.form(request)
        ok = secrets.compare_digest(values.get("USER_CD", "").encode(), self.user.encode())
        ok = secrets.compare_digest(values.get("PASSWORD", "").encode(), self.password.encode()) and ok
        if not ok:
            return self.page(pages.login(self.q, "【E0001】利用者コードまたはパスワードが正しくありません。"))
        self.sessions.pop(request.cookies.get(COOKIE, ""), None)
        sid = secrets.token_hex(16)
        self.sessions[sid] = Session(self.user)
        response = RedirectResponse(f"{pages.BASE}/Main.do", status_code=302)
        response.set_cookie(COOKIE, sid, httponly=True, samesite="lax")
        return response

    async def logout(self, request: Request) -> Response:
        self.sessions.pop(request.cookies.get(COOKIE, ""), None)
        return RedirectResponse(f"{pages.BASE}/Login.do", status_code=302)

    async def main(self, request: Request) -> Response:
        s = self.gate(request, framed=False)
        return self.page(pages.main_frames(self.q, s.user))

    async def frame(self, request: Request) -> Response:
        s = self.gate(request, framed=True)
        name = request.url.path.rsplit("/", 1)[1]
        html = {"Head.do": pages.head(self.q, s.user), "Menu.do": pages.menu(self.q)}.get(name) or pages.top(
            self.q
        )
        return self.page(html)

    async def entry(self, request: Request) -> Response:
        s = self.gate(request, framed=True)
        await self.slow()
        if request.method == "GET":
            return self.page(entry_pages.entry(self.q, {}))
        values, uploads = await self.form(request)
        action = values.get("ACTION") or next(
            (a for a, button in (("TOROKU", "btnToroku"), ("MODORU", "btnModoru")) if button in values),
            "KAKUNIN",
        )
        if action == "TOROKU":
            return await self.commit(s, values.get("TOKEN", ""))
        if action == "MODORU":
            pending = s.tokens.pop(values.get("TOKEN", ""), None)
            return self.page(entry_pages.entry(self.q, pending.values if pending else {}))
        checked, errors = check(values, self.rules(s), uploads)
        if checked is None:
            return self.page(entry_pages.entry(self.q, values, errors))
        token = secrets.token_hex(16)
        s.tokens[token] = Pending(checked, values)
        while len(s.tokens) > MAX_TOKENS:
            s.tokens.pop(next(iter(s.tokens)))
        return self.page(entry_pages.confirm(self.q, checked, token))

    async def commit(self, s: Session, token: str) -> Response:
        pending = s.tokens.pop(token, None)
        if pending is None:
            return self.page(pages.message(self.q, "エラー", pages.USED_FORM))
        sw = self.q
        sw.submits += 1
        if sw.submits in sw.fail_submits:
            s.tokens[token] = pending  # nothing happened: the same 確認 screen may be sent again
            return self.page(pages.message(self.q, "システムエラー", pages.SYSTEM_ERROR), 500)
        voucher = self.store.add(pending.checked)
        if sw.submits in sw.timeout_submits:
            await asyncio.sleep(sw.hang_seconds)  # committed, but the answer comes too late
        return self.page(entry_pages.done(self.q, voucher, pending.checked.reference))

    async def inquiry(self, request: Request) -> Response:
        self.gate(request, framed=True)
        await self.slow()
        params = self.query(request)
        reference = params.get("SEIRI_NO", "").strip()
        if not params.get("SEARCH"):
            return self.page(pages.inquiry(self.q, reference, None, 1, self.q.codec))
        size = max(1, self.q.page_size)
        count, _ = self.store.search(reference, 0, 0)
        last = max(1, -(-count // size))
        page = min(max(1, int(params.get("PAGE", "1")) if params.get("PAGE", "1").isdigit() else 1), last)
        result = self.store.search(reference, (page - 1) * size, size)
        return self.page(pages.inquiry(self.q, reference, result, page, self.q.codec))

    async def search(self, request: Request) -> Response:
        """The 予算科目 and 支払先 search windows (top-level popups)."""
        s = self.gate(request, framed=False)
        budget = request.url.path.endswith("YosanSearch.do")
        params = self.query(request)
        line = params.get("LINE", "0")
        line = line if line.isdigit() and int(line) <= 10 else "0"
        if budget:
            suffix = "" if line == "0" else f"_{line}"
            prefix = "" if line == "0" else "M_"
            targets = (f"{prefix}YOSAN_CD{suffix}", f"{prefix}YOSAN_NM{suffix}", f"{prefix}YOSAN_CHK{suffix}")
        else:
            targets = ("SHIHARAI_CD", "SHIHARAI_NM", "SHIHARAI_CHK")
        code, name = params.get("S_CD", "").strip(), params.get("S_NM", "").strip()
        rows: list[tuple[str, str, list[str], str]] | None = None
        if params.get("SEARCH"):
            rows = self._budget_rows(s, code, name) if budget else self._payee_rows(s, code, name)
        more = rows is not None and len(rows) > MAX_HITS
        kind = "yosan" if budget else "shiharai"
        shown = rows[:MAX_HITS] if rows is not None else None
        html = pages.search_window(
            self.q, kind, targets, {"LINE": line}, {"S_CD": code, "S_NM": name}, shown, more
        )
        return self.page(html)

    def _budget_rows(self, s: Session, code: str, name: str) -> list[tuple[str, str, list[str], str]]:
        return [
            (c, budget_name(c), pages.budget_cells(c), check_value(s.secret, "Y", c))
            for c in BUDGET
            if c.startswith(code) and name in budget_name(c)
        ]

    def _payee_rows(self, s: Session, code: str, name: str) -> list[tuple[str, str, list[str], str]]:
        return [
            (c, nm, [c, nm, address], check_value(s.secret, "S", c))
            for c, (nm, address) in PAYEES.items()
            if (not code or c == code) and name in nm
        ]

    # -- test endpoints -----------------------------------------------------

    async def admin_switches(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.q = self.q.changed(await request.json())
            except SwitchError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(self.q.to_json())

    async def admin_entries(self, request: Request) -> Response:
        return JSONResponse(self.store.all())


async def root(request: Request) -> Response:
    return RedirectResponse(f"{pages.BASE}/Login.do", status_code=302)


def create_app(db: Path, user: str, password: str, quirks: dict[str, Any] | None = None) -> Starlette:
    c = SystemC(db, user, password, quirks)
    base = pages.BASE
    return Starlette(
        exception_handlers={Refused: refused},
        routes=[
            Route("/", root),
            Route(f"{base}/", root),
            Route(f"{base}/Login.do", c.login, methods=["GET", "POST"]),
            Route(f"{base}/Logout.do", c.logout),
            Route(f"{base}/Main.do", c.main),
            *(Route(f"{base}/{name}", c.frame) for name in ("Head.do", "Menu.do", "Top.do")),
            Route(f"{base}/KSF010.do", c.entry, methods=["GET", "POST"]),
            Route(f"{base}/KSF020.do", c.inquiry),
            Route(f"{base}/YosanSearch.do", c.search),
            Route(f"{base}/ShiharaiSearch.do", c.search),
            Route("/_admin/switches", c.admin_switches, methods=["GET", "POST"]),
            Route("/_admin/entries", c.admin_entries),
        ],
    )
