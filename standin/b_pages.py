"""HTML of stand-in system B (歳出システム): a servlet-era screen set.

Unlike system A it has no ids to hold on to: labels sit in ``<th>`` cells
with ※ for required items, screens open from a tree menu of click-to-expand
spans, every form posts to the one URL ``/servlet/Main`` with a per-session
token, 項 is filled by an XHR once 款 is chosen, and 登録 asks
``confirm('登録してよろしいですか？')``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

URL = "/servlet/Main"
KAN = {"02": "総務費", "03": "民生費", "04": "衛生費", "10": "教育費"}
KOU = {"01": "総務管理費", "02": "徴税費", "03": "戸籍住民基本台帳費"}
MOKU = {"01": "一般管理費", "02": "文書広報費", "03": "財政管理費"}
# 節: the option's value is an internal id, its label the code people know.
SETSU = {"07": "1107", "08": "1108", "10": "1110", "11": "1111", "13": "1113"}
CONFIRM_JA = "登録してよろしいですか？"

SCRIPT = """
document.querySelectorAll('span.node').forEach(function (n) {
  n.onclick = function () { var u = n.nextElementSibling; u.style.display = u.style.display === 'none' ? '' : 'none'; };
});
function go(scr) { var f = document.forms.nav; f.scr.value = scr; f.submit(); }
"""
KOU_SCRIPT = """
function loadKou(keep) {
  var kan = document.forms.f.selKan.value, sel = document.forms.f.selKou;
  sel.disabled = true; sel.length = 1;
  if (!kan) return;
  var x = new XMLHttpRequest();
  x.open('GET', '/servlet/Ajax?kan=' + encodeURIComponent(kan));
  x.onload = function () {
    JSON.parse(x.responseText).forEach(function (o) { sel.add(new Option(o.l, o.v, false, o.v === keep)); });
    sel.disabled = false;
  };
  x.send();
}
"""


def layout(title: str, body: str, token: str = "", user: str = "") -> str:
    header = f'<div class="hdr">ログイン中：{escape(user)}</div>' if user else ""
    nav = (
        f'<form name="nav" method="post" action="{URL}"><input type="hidden" name="action" value="open">'
        f'<input type="hidden" name="scr" value=""><input type="hidden" name="_tkn" value="{escape(token)}"></form>'
        if token
        else ""
    )
    return (
        f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        "<style>th{background:#dde;text-align:left}.err{color:#c00}</style></head>"
        f"<body>{header}<h2>{escape(title)}</h2>{body}{nav}<script>{SCRIPT}</script></body></html>"
    )


def login(message: str = "") -> str:
    msg = f'<p class="loginMsg">{escape(message)}</p>' if message else ""
    return layout(
        "歳出システム　ログイン",
        f'{msg}<form method="post" action="{URL}"><input type="hidden" name="action" value="login">'
        '<table><tr><th>利用者ID</th><td><input name="uid"></td></tr>'
        '<tr><th>パスワード</th><td><input name="pwd" type="password"></td></tr></table>'
        '<input type="submit" value="ログイン"></form>',
    )


def menu(token: str, user: str) -> str:
    tree = (
        '<ul class="tree">'
        '<li><span class="node">歳入</span><ul style="display:none">'
        '<li><span class="leaf" onclick="go(\'KN0101\')">調定入力</span></li></ul></li>'
        '<li><span class="node">歳出</span><ul style="display:none">'
        '<li><span class="leaf" onclick="go(\'KF0101\')">支出負担行為入力</span></li>'
        '<li><span class="leaf" onclick="go(\'KF0201\')">支出負担行為照会</span></li></ul></li></ul>'
    )
    return layout("業務メニュー", tree, token, user)


def _options(items: Mapping[str, str], chosen: str, *, label_is_code: bool = False) -> str:
    out = ['<option value="">--選択--</option>']
    for value, label in items.items():
        shown = value if label_is_code else f"{value} {label}"
        code = label if label_is_code else value
        out.append(
            f'<option value="{escape(code)}"{" selected" if code == chosen else ""}>{escape(shown)}</option>'
        )
    return "".join(out)


def _row(label: str, cell: str, required: bool = True) -> str:
    return f"<tr><th>{'※' if required else ''}{escape(label)}</th><td>{cell}</td></tr>"


def entry(token: str, user: str, values: Mapping[str, str], errors: Iterable[str] = ()) -> str:
    v = {k: escape(values.get(k, "")) for k in ("date", "amount", "payee", "note", "ref")}
    errs = "".join(f'<span class="err">{escape(e)}</span><br>' for e in errors)
    keep = escape(values.get("kou", ""))
    rows = (
        _row("起票日", f'<input name="txtKihyoBi" value="{v["date"]}" maxlength="10">（YYYY-MM-DD）')
        + _row(
            "款",
            f'<select name="selKan" onchange="loadKou(\'\')">{_options(KAN, values.get("kan", ""))}</select>',
        )
        + _row("項", '<select name="selKou" disabled><option value="">--選択--</option></select>')
        + _row("目", f'<select name="selMoku">{_options(MOKU, values.get("moku", ""))}</select>')
        + _row(
            "節",
            f'<select name="selSetsu">{_options(SETSU, values.get("setsu", ""), label_is_code=True)}</select>',
        )
        + _row("金額", f'<input name="txtKingaku" value="{v["amount"]}">円')
        + _row("支払先", f'<input name="txtShiharaisaki" value="{v["payee"]}">')
        + _row("摘要", f'<input name="txtTekiyo" value="{v["note"]}">')
        + _row("整理番号", f'<input name="txtSeiriNo" value="{v["ref"]}">')
    )
    return layout(
        "支出負担行為入力",
        f'<div id="msgArea">{errs}</div><form name="f" method="post" action="{URL}">'
        f'<input type="hidden" name="action" value="commit"><input type="hidden" name="_tkn" value="{escape(token)}">'
        f'<table class="input">{rows}</table>'
        f'<input type="submit" value="登　録" onclick="return confirm(\'{CONFIRM_JA}\')"></form>'
        f"<script>{KOU_SCRIPT}loadKou('{keep}');</script>",
        token,
        user,
    )


def registered(token: str, user: str, entry_row: Mapping[str, Any]) -> str:
    return layout(
        "登録結果",
        '<p>登録しました。</p><table class="input">'
        f"<tr><th>伝票番号</th><td>{escape(entry_row['voucher_no'])}</td></tr>"
        f"<tr><th>整理番号</th><td>{escape(entry_row['reference'])}</td></tr>"
        f"<tr><th>金額</th><td>{int(entry_row['amount']):,}円</td></tr></table>",
        token,
        user,
    )


def inquiry(token: str, user: str, ref: str = "", hits: list[dict[str, Any]] | None = None) -> str:
    rows = "".join(
        f"<tr><td>{escape(h['voucher_no'])}</td><td>{escape(h['reference'])}</td>"
        f"<td>{int(h['amount']):,}</td><td>{escape(h['payee'])}</td></tr>"
        for h in hits or []
    )
    result = ""
    if hits is not None:
        result = (
            '<table class="list"><tr><th>伝票番号</th><th>整理番号</th><th>金額</th><th>支払先</th></tr>'
            f"{rows}</table>"
            if hits
            else '<p class="none">該当データはありません。</p>'
        )
    return layout(
        "支出負担行為照会",
        f'<form name="q" method="post" action="{URL}"><input type="hidden" name="action" value="inquiry">'
        f'<input type="hidden" name="_tkn" value="{escape(token)}"><table class="input">'
        + _row("整理番号", f'<input name="txtSeiriNo" value="{escape(ref)}">', required=False)
        + f'</table><input type="submit" value="照　会"></form>{result}',
        token,
        user,
    )


def message(title: str, text: str) -> str:
    return layout(title, f'<p class="err">{escape(text)}</p><a href="{URL}">ログイン画面へ</a>')
