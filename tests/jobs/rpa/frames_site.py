"""A tiny frame-based site for the engine's window, frame, session and
look-up steps (test-only; the full third stand-in is ``standin --system c``).

A frameset whose menu opens screens in frame ``main``; a code chosen in a
``window.open`` search window that writes it back and closes itself; a
session that ends after ``expire_after`` pages; a 照会 list that matches by
prefix, two lines a page. Served by the standard library in a thread.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

EXPIRED = (
    '<p class="err">【E9001】セッションが切れました。</p><a href="/login" target="_top">ログイン画面へ</a>'
)
CODES = {"0201": "総務費", "0301": "民生費"}


@dataclass
class Site:
    user: str
    password: str
    entries: list[dict[str, str]] = field(default_factory=list)
    sessions: dict[str, int] = field(default_factory=dict)  # session id: pages left
    expire_after: int = 0  # 0: never
    logins: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def _page(body: str, title: str = "") -> bytes:
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>".encode()


def _screens(site: Site, path: str, form: dict[str, str]) -> tuple[int, str]:
    if path == "/main":
        return 200, (
            "<frameset cols='20%,80%'><frame name='menu' src='/menu'><frame name='main' src='/home'></frameset>"
        )
    if path == "/menu":
        return 200, "<a href='/entry' target='main'>入力</a> <a href='/list' target='main'>照会</a>"
    if path == "/home":
        return 200, "お知らせ"
    if path == "/entry":
        return 200, (
            "画面：入力<form method='post' action='/commit'>"
            "<input name='code' readonly> <button type='button' onclick=\"window.open('/search','s')\">検索</button>"
            "<input name='ref'> <input type='submit' name='go' value='登録'></form>"
        )
    if path == "/search":
        rows = "".join(
            f"<tr><td>{c}</td><td>{n}</td><td><a href='#' onclick=\"window.opener.document.forms[0].code.value='{c}';"
            f'window.close();return false;">選択</a></td></tr>'
            for c, n in CODES.items()
        )
        return 200, f"<h1>科目検索</h1><table class='list'>{rows}</table>"
    if path == "/commit":
        if form.get("code") not in CODES:
            return (
                200,
                "<div id='msgArea'><p class='err'>【E0201】科目は検索画面から選択してください。</p></div>",
            )
        with site.lock:
            site.entries.append({"code": form["code"], "ref": form.get("ref", "")})
            voucher = f"V-{len(site.entries):04d}"
            site.entries[-1]["voucher"] = voucher
        return 200, f"登録しました。伝票番号 {voucher}"
    if path == "/list":
        ref, page = form.get("ref", ""), int(form.get("page", "1"))
        hits = [e for e in reversed(site.entries) if e["ref"].startswith(ref)] if ref else []
        shown = hits[(page - 1) * 2 : page * 2]
        rows = "".join(f"<tr><td>{e['voucher']}</td><td>{html.escape(e['ref'])}</td></tr>" for e in shown)
        more = f"<a href='/list?ref={ref}&page={page + 1}'>次へ＞</a>" if len(hits) > page * 2 else ""
        return 200, (
            "<form action='/list'><input name='ref'><input type='submit' value='検索'></form>"
            f"<table class='list'><tr><th>伝票</th><th>整理番号</th></tr>{rows}</table>{more}"
        )
    return 404, "not found"


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _form(self) -> dict[str, str]:
        query = parse_qs(urlparse(self.path).query)
        if self.command == "POST":
            length = int(self.headers.get("Content-Length", 0))
            query |= parse_qs(self.rfile.read(length).decode())
        return {k: v[0] for k, v in query.items()}

    def _session_alive(self) -> bool:
        cookie = self.headers.get("Cookie", "")
        sid = next((c.split("=", 1)[1] for c in cookie.split("; ") if c.startswith("sid=")), "")
        site = self.site
        with site.lock:
            if sid not in site.sessions:
                return False
            if site.expire_after:
                site.sessions[sid] -= 1
                if site.sessions[sid] < 0:
                    return False
            return True

    def _handle(self) -> None:
        path, form, site = urlparse(self.path).path, self._form(), self.site
        if path == "/login":
            if self.command == "POST" and (form.get("user"), form.get("password")) == (
                site.user,
                site.password,
            ):
                with site.lock:
                    site.logins += 1
                    sid = f"s{site.logins}"
                    site.sessions[sid] = site.expire_after
                self._send(303, b"", {"Location": "/main", "Set-Cookie": f"sid={sid}; Path=/"})
                return
            body = "<form method='post'><input name='user'><input name='password' type='password'>"
            self._send(
                200, _page(body + "<input type='submit' name='btnLogin' value='ログイン'></form>", "ログイン")
            )
            return
        if not self._session_alive():
            self._send(200, _page(EXPIRED, "セッションエラー"))
            return
        status, body = _screens(site, path, form)
        self._send(status, body.encode() if path == "/main" else _page(body))

    do_GET = do_POST = _handle


@contextmanager
def serve(user: str, password: str) -> Iterator[Site]:
    site = Site(user, password)
    handler = type("Handler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
