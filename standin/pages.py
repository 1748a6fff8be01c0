"""HTML of the stand-in: plain server-rendered pages, like the real system."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

ACCOUNTS: dict[str, dict[str, str]] = {
    "kan": {"02": "総務費", "03": "民生費", "04": "衛生費", "10": "教育費"},
    "kou": {"01": "総務管理費", "02": "徴税費", "03": "戸籍住民基本台帳費"},
    "moku": {"01": "一般管理費", "02": "文書広報費", "03": "財政管理費"},
    "setsu": {"07": "報償費", "08": "旅費", "10": "需用費", "11": "役務費", "13": "使用料及び賃借料"},
}
LABELS = {"kan": "款", "kou": "項", "moku": "目", "setsu": "節"}


def layout(title: str, body: str, *, logged_in: bool = True) -> str:
    nav = (
        '<nav><a href="/entry">支出負担行為入力</a> | <a href="/search">伝票検索</a>'
        '<form method="post" action="/logout" style="display:inline"><button id="logout">ログアウト</button></form></nav>'
        if logged_in
        else ""
    )
    return (
        f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}｜財務会計システム</title>'
        "<style>body{font-family:'Noto Sans CJK JP',sans-serif;margin:2em}.errors{color:#b00}"
        "label{display:block;margin:.4em 0}</style></head>"
        f"<body><header><b>財務会計システム（検証用）</b></header>{nav}<h1>{escape(title)}</h1>{body}</body></html>"
    )


def login(error: str = "") -> str:
    err = f'<p class="login-error">{escape(error)}</p>' if error else ""
    return layout(
        "ログイン",
        f'{err}<form method="post" action="/login"><label>利用者ID <input id="user" name="user"></label>'
        '<label>パスワード <input id="password" name="password" type="password"></label>'
        '<button type="submit" id="login">ログイン</button></form>',
        logged_in=False,
    )


def menu() -> str:
    return layout(
        "メニュー",
        '<ul><li><a href="/entry">支出負担行為入力</a></li><li><a href="/search">伝票検索</a></li></ul>',
    )


def _select(name: str, chosen: str) -> str:
    options = "".join(
        f'<option value="{code}"{" selected" if code == chosen else ""}>{code} {escape(label)}</option>'
        for code, label in ACCOUNTS[name].items()
    )
    return f'<label>{LABELS[name]} <select id="{name}" name="{name}"><option value="">選択</option>{options}</select></label>'


def entry_form(values: Mapping[str, str], errors: Iterable[str] = ()) -> str:
    errs = "".join(f"<li>{escape(e)}</li>" for e in errors)
    v = {k: escape(values.get(k, "")) for k in ("entry_date", "amount", "payee", "purpose", "reference")}
    return layout(
        "支出負担行為入力",
        (f'<ul class="errors">{errs}</ul>' if errs else "")
        + '<form method="post" action="/entry">'
        + f'<label>起票日 <input id="entry_date" name="entry_date" value="{v["entry_date"]}" placeholder="YYYY-MM-DD"></label>'
        + "".join(_select(n, values.get(n, "")) for n in LABELS)
        + f'<label>金額（円） <input id="amount" name="amount" value="{v["amount"]}"></label>'
        + f'<label>支払先 <input id="payee" name="payee" value="{v["payee"]}"></label>'
        + f'<label>件名 <input id="purpose" name="purpose" value="{v["purpose"]}"></label>'
        + f'<label>整理番号 <input id="reference" name="reference" value="{v["reference"]}"></label>'
        + '<button type="submit" id="to-confirm">確認画面へ</button></form>',
    )


def confirm(values: Mapping[str, str]) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(val))}</td></tr>" for k, val in values.items())
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(str(val))}">' for k, val in values.items()
    )
    return layout(
        "入力内容の確認",
        f'<table id="confirm">{rows}</table><form method="post" action="/entry/commit">{hidden}'
        '<button type="submit" id="commit">登録する</button></form>',
    )


def done(entry: Mapping[str, Any]) -> str:
    return layout(
        "登録完了",
        f'<p class="done">登録しました。伝票番号 <span id="voucher-no">{escape(entry["voucher_no"])}</span></p>'
        f'<p>整理番号 <span id="reference-no">{escape(entry["reference"])}</span></p>',
    )


def search(reference: str, hits: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr class="hit"><td class="voucher">{escape(h["voucher_no"])}</td><td>{escape(h["reference"])}</td>'
        f"<td>{h['amount']}</td><td>{escape(h['payee'])}</td></tr>"
        for h in hits
    )
    none = '<p class="none">該当する伝票はありません。</p>' if reference and not hits else ""
    return layout(
        "伝票検索",
        f'<form method="get" action="/search"><input id="q" name="reference" value="{escape(reference)}">'
        f'<button id="search">検索</button></form>{none}<table id="results">{rows}</table>',
    )


def error_page() -> str:
    return layout(
        "システムエラー",
        "<p>システムエラーが発生しました。時間をおいて再度操作してください。</p>",
        logged_in=False,
    )
