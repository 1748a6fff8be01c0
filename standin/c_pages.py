"""HTML of stand-in system C (財務会計システム): an older frame-based product.

No doctype, no ids on fields, labels in ``<td class="lbl">``, messages with
codes in ``#msgArea p.err``, a frameset (or an iframe) around every work
screen, search windows opened with ``window.open`` that write the chosen code
back into their opener. Pages are str here; ``standin.c`` encodes them in the
configured charset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from html import escape
from typing import Any
from urllib.parse import quote

from standin.c_rules import BUDGET, wareki
from standin.c_switches import Quirks

BASE = "/zaimu"
STYLE = (
    "body{font-family:'MS UI Gothic','Noto Sans CJK JP',sans-serif;font-size:13px;margin:6px}"
    "h1{font-size:16px;background:#336;color:#fff;padding:3px 6px}.err{color:#d00;margin:2px 0}"
    "td.lbl{background:#ccd;width:110px}table.list th{background:#ccd}table.list td{border-bottom:1px solid #aaa}"
    ".fkeys{margin-top:8px;background:#eee;padding:3px}.scrid{float:right;font-size:11px}"
    "ul.menubar{list-style:none;margin:0;padding:0}ul.menubar>li{position:relative;padding:3px;background:#ccd;margin:2px 0}"
    "ul.menubar ul.sub{display:none;position:absolute;left:0;top:100%;z-index:9;background:#fff;"
    "border:1px solid #888;list-style:none;padding:3px;margin:0;width:160px}ul.menubar>li:hover ul.sub{display:block}"
)


def doc(q: Quirks, title: str, body: str, script: str = "") -> str:
    js = f"<script>{script}</script>" if script else ""
    return (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={q.charset_label}">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}{js}</body></html>"
    )


def messages(errors: Iterable[str]) -> str:
    return '<div id="msgArea">' + "".join(f'<p class="err">{escape(e)}</p>' for e in errors) + "</div>"


def screen(
    q: Quirks, title: str, screen_id: str, body: str, errors: Iterable[str] = (), script: str = ""
) -> str:
    scr = f'<span class="scrid">画面ID：{screen_id}</span>' if screen_id else ""
    return doc(q, title, f"{scr}<h1>{escape(title)}</h1>{messages(errors)}{body}", script)


def login(q: Quirks, error: str = "") -> str:
    return screen(
        q,
        "財務会計システム　ログイン",
        "",
        f'<form name="login" method="post" action="{BASE}/Login.do"><table>'
        '<tr><td class="lbl">利用者コード</td><td><input name="USER_CD" size="16"></td></tr>'
        '<tr><td class="lbl">パスワード</td><td><input name="PASSWORD" type="password" size="16"></td></tr>'
        '</table><input type="submit" name="btnLogin" value="ログイン"></form>',
        [error] if error else [],
    )


def head_strip(user: str) -> str:
    return (
        f'<div class="head"><b>財務会計システム</b>　利用者：{escape(user)}　'
        f'<a href="{BASE}/Logout.do" target="_top">ログアウト</a></div>'
    )


MENU = (
    ("支出", (("支出負担行為入力", "KSF010.do"), ("支出負担行為照会", "KSF020.do"))),
    ("共通", (("お知らせ", "Top.do"),)),
)


def menu_html(q: Quirks) -> str:
    def links(items: tuple[tuple[str, str], ...]) -> str:
        return "".join(f'<li><a href="{BASE}/{url}" target="main">{label}</a></li>' for label, url in items)

    if q.on("menu"):
        heads = "".join(
            f'<li><span class="mh">{h}</span><ul class="sub">{links(items)}</ul></li>' for h, items in MENU
        )
        return f'<ul class="menubar">{heads}</ul>'
    return "".join(f'<p class="mh"><b>{h}</b></p><ul class="menu">{links(items)}</ul>' for h, items in MENU)


def main_frames(q: Quirks, user: str) -> str:
    if q.on("frames"):
        return doc(
            q,
            "財務会計システム",
            head_strip(user)
            + f'<table width="100%"><tr><td valign="top" width="180">{menu_html(q)}</td><td valign="top">'
            f'<iframe name="main" src="{BASE}/Top.do" width="100%" height="640" frameborder="1"></iframe>'
            "</td></tr></table>",
        )
    return (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={q.charset_label}">'
        '<title>財務会計システム</title></head><frameset rows="40,*">'
        f'<frame name="head" src="{BASE}/Head.do" scrolling="no"><frameset cols="200,*">'
        f'<frame name="menu" src="{BASE}/Menu.do"><frame name="main" src="{BASE}/Top.do">'
        "</frameset></frameset></html>"
    )


def head(q: Quirks, user: str) -> str:
    return doc(q, "head", head_strip(user))


def menu(q: Quirks) -> str:
    return doc(q, "メニュー", menu_html(q))


def top(q: Quirks) -> str:
    return screen(
        q,
        "お知らせ",
        "",
        "<p>左のメニューから業務を選んでください。</p><p>令和7年度の支出負担行為は予算科目を検索画面から選択してください。</p>",
    )


def message(q: Quirks, title: str, text: str, *, to_login: bool = False) -> str:
    link = f'<p><a href="{BASE}/Login.do" target="_top">ログイン画面へ</a></p>' if to_login else ""
    return screen(q, title, "", link, [text])


SESSION_EXPIRED = "【E9001】セッションの有効期限が切れました。ログインしてください。"
NOT_LOGGED_IN = "【E9002】ログインしてください。"
OUTSIDE_FRAMES = "【E9003】不正な画面遷移です。メニューから操作してください。"
USED_FORM = "【E9101】この画面は既に処理済みです。入力画面からやり直してください。"
SYSTEM_ERROR = "【E9999】システムエラーが発生しました。システム管理者に連絡してください。"
NOT_FOUND = "【I0001】該当するデータがありません。"
TOO_MANY = "【I0002】該当件数が50件を超えました。条件を絞り込んでください。"

PICK_SCRIPT = """
function pick(a) {
  var o = window.opener;
  if (!o || o.closed || !o.document.forms['f']) { alert('呼出元の画面がありません。'); return; }
  var f = o.document.forms['f'];
  f.elements[F[0]].value = a.getAttribute('data-cd');
  f.elements[F[1]].value = a.getAttribute('data-nm');
  f.elements[F[2]].value = a.getAttribute('data-chk');
  window.close();
}
"""


def search_window(
    q: Quirks,
    kind: str,
    targets: tuple[str, str, str],
    hidden: Mapping[str, str],
    conditions: Mapping[str, str],
    rows: list[tuple[str, str, list[str], str]] | None,
    more: bool,
) -> str:
    """A search window: ``rows`` are (code, name to write back, cells, check value)."""
    budget = kind == "yosan"
    title = "予算科目検索" if budget else "支払先検索"
    url = "YosanSearch.do" if budget else "ShiharaiSearch.do"
    labels = ("科目コード", "科目名称") if budget else ("支払先コード", "支払先名")
    heads = ("科目コード", "款", "項", "目", "節") if budget else ("支払先コード", "支払先名", "所在地")
    keep = "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in hidden.items())
    form = (
        f'<form name="s" method="get" action="{BASE}/{url}">{keep}<input type="hidden" name="SEARCH" value="1"><table>'
        f'<tr><td class="lbl">{labels[0]}</td><td><input name="S_CD" value="{escape(conditions.get("S_CD", ""))}"></td></tr>'
        f'<tr><td class="lbl">{labels[1]}</td><td><input name="S_NM" value="{escape(conditions.get("S_NM", ""))}"></td></tr>'
        '</table><input type="submit" value="検索"> <input type="button" value="閉じる" onclick="window.close()"></form>'
    )
    table = ""
    if rows:
        body = "".join(
            "<tr>"
            + "".join(f"<td>{escape(c)}</td>" for c in cells)
            + f'<td><a href="#" data-cd="{escape(code)}" data-nm="{escape(name)}" data-chk="{chk}" '
            'onclick="pick(this);return false;">選択</a></td></tr>'
            for code, name, cells, chk in rows
        )
        table = (
            '<table class="list"><tr>'
            + "".join(f"<th>{h}</th>" for h in heads)
            + f"<th></th></tr>{body}</table>"
        )
    notes = [NOT_FOUND] if rows == [] else [TOO_MANY] if more else []
    script = f"var F = {list(targets)!r};{PICK_SCRIPT}"
    return screen(q, title, "", form + table, notes, script)


def budget_cells(code: str) -> list[str]:
    return [code, *BUDGET[code]]


def inquiry(
    q: Quirks, reference: str, result: tuple[int, list[dict[str, Any]]] | None, page: int, codec: str
) -> str:
    form = (
        f'<form name="q" method="get" action="{BASE}/KSF020.do"><input type="hidden" name="SEARCH" value="1"><table>'
        f'<tr><td class="lbl">整理番号</td><td><input name="SEIRI_NO" value="{escape(reference)}">（前方一致）</td></tr>'
        '</table><input type="submit" value="検索"></form>'
    )
    notes: list[str] = []
    listing = ""
    if result is not None:
        count, hits = result
        pages = max(1, -(-count // q.page_size))
        if not hits:
            notes.append(NOT_FOUND)
        else:
            rows = "".join(
                f"<tr><td>{escape(h['voucher_no'])}</td><td>{wareki(date.fromisoformat(h['entry_date']))}</td>"
                f"<td>{escape(h['reference'])}</td><td>{escape(h['payee'])}</td>"
                f'<td align="right">{int(h["amount"]):,}</td></tr>'
                for h in hits
            )
            link = f"{BASE}/KSF020.do?SEARCH=1&amp;SEIRI_NO={quote(reference, encoding=codec)}&amp;PAGE="
            pager = (f'<a href="{link}{page - 1}">＜前へ</a> ' if page > 1 else "") + (
                f'<a href="{link}{page + 1}">次へ＞</a>' if page < pages else ""
            )
            listing = (
                f'<p class="count">該当件数：{count}件（{page}／{pages}ページ）</p><table class="list">'
                "<tr><th>伝票番号</th><th>起票日</th><th>整理番号</th><th>支払先</th><th>金額</th></tr>"
                f'{rows}</table><div class="pager">{pager}</div>'
            )
    return screen(q, "支出負担行為照会", "KSF020", form + listing, notes)
