"""System C's 支出負担行為入力 screens: 入力 (KSF010), 確認 and 完了, in their
button and function-key shapes, with or without 明細 lines and an attachment."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from html import escape

from standin.c_pages import BASE, screen
from standin.c_rules import ERAS, MAX_LINES, PAYEES, Checked, budget_name, wareki
from standin.c_switches import Quirks

ENTRY_SCRIPT = """
function openSearch(kind, line) {
  var url = BASE + (kind === 'yosan' ? '/YosanSearch.do' : '/ShiharaiSearch.do') + '?LINE=' + line;
  window.open(url, kind + 'Win', 'width=720,height=520,scrollbars=yes,resizable=yes');
}
function fmtAmount(el) {
  var v = el.value.replace(/,/g, '');
  if (/^[0-9]+$/.test(v)) el.value = v.replace(/\\B(?=(\\d{3})+(?!\\d))/g, ',');
}
function addLine() {
  var t = document.querySelector('table.meisai'), n = t.rows.length;
  if (n > MAX_LINES) { alert('明細は10行までです。'); return; }
  var r = t.insertRow(-1);
  r.className = 'mline';
  r.innerHTML = LINE.replace(/__N__/g, String(n));
}
"""
KEYS_SCRIPT = """
document.addEventListener('keydown', function (e) {
  var a = document.activeElement, f = document.forms['f'];
  if (e.key === 'F4' && window.openSearch) {
    e.preventDefault();
    if (a && a.getAttribute('data-search')) openSearch(a.getAttribute('data-search'), a.getAttribute('data-line'));
  } else if (e.key === 'F7' && window.LINE) {
    e.preventDefault(); addLine();
  } else if (KEYS[e.key]) {
    e.preventDefault(); f.ACTION.value = KEYS[e.key]; f.submit();
  } else if (e.key === 'Enter' && a && a.tagName === 'INPUT') {
    e.preventDefault();
    var els = [].filter.call(f.elements, function (x) { return x.type !== 'hidden' && x.tabIndex >= 0; });
    var i = els.indexOf(a);
    if (i >= 0 && i + 1 < els.length) els[i + 1].focus();
  } else if (['F1','F2','F3','F5','F6','F8','F10','F11','F12'].indexOf(e.key) >= 0) {
    e.preventDefault();
  }
});
"""


def _row(label: str, cell: str, required: bool = True) -> str:
    return f'<tr><td class="lbl">{"※" if required else ""}{label}</td><td>{cell}</td></tr>'


def _input(name: str, v: Mapping[str, str], size: int, extra: str = "") -> str:
    return f'<input name="{name}" size="{size}" value="{escape(v.get(name, ""))}"{extra}>'


def _code_field(
    q: Quirks, kind: str, line: int | str, names: tuple[str, str, str], v: Mapping[str, str]
) -> str:
    """A code chosen in a search window: read-only box, 検索 (or F4), name, check value."""
    size = 10 if kind == "yosan" else 8
    if not q.on("popups"):
        return _input(names[0], v, size)
    button = (
        ""
        if q.on("keys")
        else (
            f' <input type="button" name="btn{"Yosan" if kind == "yosan" else "Shiharai"}" value="検索" '
            f"onclick=\"openSearch('{kind}',{line})\">"
        )
    )
    return (
        _input(names[0], v, size, f' readonly data-search="{kind}" data-line="{line}"')
        + button
        + " "
        + _input(names[1], v, 40 if kind == "yosan" else 24, ' readonly tabindex="-1"')
        + f'<input type="hidden" name="{names[2]}" value="{escape(v.get(names[2], ""))}">'
    )


def _date_field(q: Quirks, v: Mapping[str, str]) -> str:
    era = v.get("KIHYO_GENGO", "")
    if q.on("era"):
        gengo = _input("KIHYO_GENGO", v, 4)
    else:
        options = "".join(
            f'<option value="{code}"{" selected" if code == era else ""}>{name}</option>'
            for code, (name, _s, _e) in ERAS.items()
        )
        gengo = f'<select name="KIHYO_GENGO"><option value=""></option>{options}</select>'
    boxes = "".join(
        _input(name, v, 2, ' maxlength="2"') + unit
        for name, unit in (("KIHYO_YY", "年"), ("KIHYO_MM", "月"), ("KIHYO_DD", "日"))
    )
    return f"{gengo} {boxes}"


def line_row(q: Quirks, n: int | str, v: Mapping[str, str]) -> str:
    """明細 line ``n`` (``"__N__"``: the template 行追加 fills in)."""
    names = (f"M_YOSAN_CD_{n}", f"M_YOSAN_NM_{n}", f"M_YOSAN_CHK_{n}")
    amount = _input(f"M_KINGAKU_{n}", v, 12, ' style="text-align:right" onblur="fmtAmount(this)"')
    return (
        f"<td>{n}</td><td>{_code_field(q, 'yosan', n, names, v)}</td>"
        f"<td>{amount}円</td><td>{_input(f'M_TEKIYO_{n}', v, 24)}</td>"
        + (f'<td><input type="file" name="M_TENPU_{n}"></td>' if q.on("line_attach") else "")
    )


def _meisai(q: Quirks, v: Mapping[str, str]) -> str:
    used = [
        n
        for n in range(1, MAX_LINES + 1)
        if any(v.get(f"M_{k}_{n}") for k in ("YOSAN_CD", "KINGAKU", "TEKIYO"))
    ]
    count = max(used, default=1)
    rows = "".join(f'<tr class="mline">{line_row(q, n, v)}</tr>' for n in range(1, count + 1))
    add = (
        ""
        if q.on("keys")
        else ' <input type="button" name="btnGyoTsuika" value="行追加" onclick="addLine()">'
    )
    return (
        '<table class="meisai"><tr><th>行</th><th>予算科目</th><th>金額</th><th>明細摘要</th>'
        f"{'<th>領収書</th>' if q.on('line_attach') else ''}</tr>{rows}</table>{add}"
    )


def entry(q: Quirks, v: Mapping[str, str], errors: Iterable[str] = ()) -> str:
    rows = _row("起票日", _date_field(q, v))
    if not q.on("meisai"):
        rows += _row("予算科目", _code_field(q, "yosan", 0, ("YOSAN_CD", "YOSAN_NM", "YOSAN_CHK"), v))
    rows += _row("支払先", _code_field(q, "shiharai", 0, ("SHIHARAI_CD", "SHIHARAI_NM", "SHIHARAI_CHK"), v))
    if not q.on("meisai"):
        rows += _row(
            "金額", _input("KINGAKU", v, 14, ' style="text-align:right" onblur="fmtAmount(this)"') + "円"
        )
    rows += _row("摘要", _input("TEKIYO", v, 50)) + _row("整理番号", _input("SEIRI_NO", v, 20))
    if q.on("attach"):
        rows += _row("添付ファイル", '<input type="file" name="TENPU">')
    enctype = ' enctype="multipart/form-data"' if q.on("attach") or q.on("line_attach") else ""
    if q.on("keys"):
        guide = "F4:検索　" + ("F7:行追加　" if q.on("meisai") else "") + "F9:確認"
        buttons = f'<div class="fkeys">{guide}</div>'
    else:
        buttons = '<input type="submit" name="btnKakunin" value="確認"> <input type="reset" value="クリア">'
    line = json.dumps(line_row(q, "__N__", {})).replace("</", "<\\/") if q.on("meisai") else "null"
    script = f"var BASE = '{BASE}', MAX_LINES = {MAX_LINES}, LINE = {line}, KEYS = {{'F9': 'KAKUNIN'}};{ENTRY_SCRIPT}"
    if q.on("keys"):
        script += KEYS_SCRIPT
    body = (
        f'<form name="f" method="post" action="{BASE}/KSF010.do"{enctype}><input type="hidden" name="ACTION" value="">'
        f"<table>{rows}</table>{_meisai(q, v) if q.on('meisai') else ''}{buttons}</form>"
    )
    return screen(q, "支出負担行為入力", "KSF010", body, errors, script)


def confirm(q: Quirks, c: Checked, token: str) -> str:
    rows = _row("起票日", wareki(c.entry_date), False)
    if q.on("meisai"):
        lines = "".join(
            f"<tr><td>{n}</td><td>{line.budget_code} {escape(budget_name(line.budget_code))}</td>"
            f'<td align="right">{line.amount:,}円</td><td>{escape(line.note)}</td></tr>'
            for n, line in enumerate(c.lines, 1)
        )
        meisai = (
            '<table class="meisai"><tr><th>行</th><th>予算科目</th><th>金額</th><th>明細摘要</th></tr>'
            f"{lines}</table>"
        )
    else:
        code = c.lines[0].budget_code
        rows += _row("予算科目", f"{code} {escape(budget_name(code))}", False)
        meisai = ""
    rows += _row("支払先", f"{c.payee_code} {escape(PAYEES[c.payee_code][0])}", False)
    rows += _row("合計金額" if q.on("meisai") else "金額", f"{c.total:,}円", False)
    rows += _row("摘要", escape(c.purpose), False) + _row("整理番号", escape(c.reference), False)
    if c.attachment:
        rows += _row(
            "添付ファイル", f"{escape(c.attachment)}（{max(1, c.attachment_bytes // 1024):,}KB）", False
        )
    if q.on("keys"):
        buttons = '<div class="fkeys">F3:戻る　F12:登録</div>'
    else:
        buttons = '<input type="submit" name="btnToroku" value="登録"> <input type="submit" name="btnModoru" value="戻る">'
    body = (
        "<p>以下の内容で登録します。よろしければ「登録」を押してください。</p>"
        f'<table class="kakunin">{rows}</table>{meisai}<form name="f" method="post" action="{BASE}/KSF010.do">'
        f'<input type="hidden" name="ACTION" value=""><input type="hidden" name="TOKEN" value="{token}">{buttons}</form>'
    )
    script = "var KEYS = {'F12': 'TOROKU', 'F3': 'MODORU'};" + KEYS_SCRIPT if q.on("keys") else ""
    return screen(q, "支出負担行為入力（確認）", "KSF010", body, (), script)


def done(q: Quirks, voucher: str, reference: str) -> str:
    more = (
        '<div class="fkeys">メニューから次の業務を選んでください。</div>'
        if q.on("keys")
        else f'<form method="get" action="{BASE}/KSF010.do"><input type="submit" value="続けて入力"></form>'
    )
    return screen(
        q,
        "支出負担行為入力（完了）",
        "KSF010",
        '<p class="info">登録が完了しました。</p><table class="kakunin">'
        f"{_row('伝票番号', voucher, False)}{_row('整理番号', escape(reference), False)}</table>{more}",
    )
