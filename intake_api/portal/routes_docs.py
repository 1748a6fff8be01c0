"""Operator docs inside the portal (``/portal/docs/ocr``, ``/portal/docs/rpa``):
the upload pages point operators at how to write a template or an entry
script, and operators have no shell to open ``docs/`` on. The Markdown is
rendered here with raw HTML off (markdown-it-py), so a page is text and
tables only."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markdown_it import MarkdownIt
from markupsafe import Markup

from intake_api.portal.web import OperatorUser, PortalRoute, render
from jobs.errors import NotFound

router = APIRouter(prefix="/portal/docs", route_class=PortalRoute, include_in_schema=False)
DOCS = Path(__file__).resolve().parents[2] / "docs"
# The pages operators need, by address; nothing else under docs/ is served.
PAGES = {
    "ocr": ("ocr.md", "帳票OCR（帳票定義の書き方）"),
    "rpa": ("rpa.md", "一括入力（入力スクリプトの書き方）"),
    "operations": ("operations.md", "運用（キュー・監視・警報）"),
}


@cache
def _html(file: str, mtime: float) -> str:
    del mtime  # part of the cache key: an edited page is rendered again
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    return str(parser.render((DOCS / file).read_text(encoding="utf-8")))


@router.get("/{name}")
def doc_page(request: Request, name: str, _user: OperatorUser) -> Response:
    if name not in PAGES or not (DOCS / PAGES[name][0]).is_file():
        raise NotFound("説明書")
    file, title = PAGES[name]
    body = Markup(_html(file, (DOCS / file).stat().st_mtime))  # noqa: S704 - rendered with raw HTML off
    return render(request, "doc.html", {"title": title, "body": body, "pages": PAGES})
