"""The stand-in's routes (Starlette). Test-only endpoints live under
``/_admin``; the app binds to 127.0.0.1 and is never deployed."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import date
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from standin import pages
from standin.store import FIELDS, Store, Switches

MAX_AMOUNT = 10_000_000  # above this the real system needs another approval route


def validate(values: dict[str, str]) -> list[str]:
    errors = []
    try:
        date.fromisoformat(values["entry_date"])
    except ValueError:
        errors.append("起票日は YYYY-MM-DD 形式で入力してください。")
    for name, label in pages.LABELS.items():
        if values[name] not in pages.ACCOUNTS[name]:
            errors.append(f"{label}を選択してください。")
    if not re.fullmatch(r"[1-9][0-9]{0,9}", values["amount"]):
        errors.append("金額は1円以上の整数で入力してください。")
    elif int(values["amount"]) > MAX_AMOUNT:
        errors.append("1,000万円を超える支出負担行為はこの画面では入力できません（決裁区分が異なります）。")
    if not values["payee"] or len(values["payee"]) > 40:
        errors.append("支払先は40文字以内で入力してください。")
    if not values["purpose"] or len(values["purpose"]) > 100:
        errors.append("件名は100文字以内で入力してください。")
    if not values["reference"]:
        errors.append("整理番号を入力してください。")
    return errors


def create_app(db: Path, user: str, password: str) -> Starlette:
    store = Store(db)
    sessions: set[str] = set()

    def authed(request: Request) -> bool:
        return request.cookies.get("sid", "") in sessions

    async def form_values(request: Request) -> dict[str, str]:
        form = await request.form()
        return {f: str(form.get(f, "")).strip() for f in FIELDS}

    async def slow() -> None:
        if store.switches.delay_ms:
            await asyncio.sleep(store.switches.delay_ms / 1000)

    async def login_page(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(pages.login())
        form = await request.form()
        ok = secrets.compare_digest(str(form.get("user", "")), user) and secrets.compare_digest(
            str(form.get("password", "")), password
        )
        if not ok:
            return HTMLResponse(pages.login("利用者IDまたはパスワードが正しくありません。"), status_code=200)
        sid = secrets.token_urlsafe(24)
        sessions.add(sid)
        response = RedirectResponse("/menu", status_code=303)
        response.set_cookie("sid", sid, httponly=True, samesite="strict")
        return response

    async def logout(request: Request) -> Response:
        sessions.discard(request.cookies.get("sid", ""))
        return RedirectResponse("/login", status_code=303)

    async def menu(request: Request) -> Response:
        return HTMLResponse(pages.menu()) if authed(request) else RedirectResponse("/login", status_code=303)

    async def entry(request: Request) -> Response:
        if not authed(request):
            return RedirectResponse("/login", status_code=303)
        await slow()
        if request.method == "GET":
            return HTMLResponse(pages.entry_form({}))
        values = await form_values(request)
        errors = validate(values)
        return HTMLResponse(pages.entry_form(values, errors) if errors else pages.confirm(values))

    async def commit(request: Request) -> Response:
        if not authed(request):
            return RedirectResponse("/login", status_code=303)
        await slow()
        values = await form_values(request)
        errors = validate(values)
        if errors:
            return HTMLResponse(pages.entry_form(values, errors))
        sw = store.switches
        sw.submits += 1
        if sw.submits in sw.fail_submits:
            return HTMLResponse(pages.error_page(), status_code=500)
        voucher = store.add(values)
        if sw.submits in sw.timeout_submits:
            await asyncio.sleep(sw.hang_seconds)  # committed, but the answer comes too late
        return RedirectResponse(f"/vouchers/{voucher}", status_code=303)

    async def voucher(request: Request) -> Response:
        if not authed(request):
            return RedirectResponse("/login", status_code=303)
        found = store.get(request.path_params["no"])
        return HTMLResponse(pages.done(found)) if found else HTMLResponse(pages.error_page(), status_code=404)

    async def search(request: Request) -> Response:
        if not authed(request):
            return RedirectResponse("/login", status_code=303)
        reference = request.query_params.get("reference", "").strip()
        return HTMLResponse(pages.search(reference, store.search(reference) if reference else []))

    async def admin_switches(request: Request) -> Response:
        if request.method == "POST":
            data = await request.json()
            store.switches = Switches(**{k: v for k, v in data.items() if k != "submits"})
        return JSONResponse(store.switches.to_json())

    async def admin_entries(request: Request) -> Response:
        return JSONResponse(store.all())

    async def root(request: Request) -> Response:
        return RedirectResponse("/menu" if authed(request) else "/login", status_code=303)

    return Starlette(
        routes=[
            Route("/", root),
            Route("/login", login_page, methods=["GET", "POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/menu", menu),
            Route("/entry", entry, methods=["GET", "POST"]),
            Route("/entry/commit", commit, methods=["POST"]),
            Route("/vouchers/{no}", voucher),
            Route("/search", search),
            Route("/_admin/switches", admin_switches, methods=["GET", "POST"]),
            Route("/_admin/entries", admin_entries),
        ]
    )
