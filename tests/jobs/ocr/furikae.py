"""A second form layout the OCR code was not written against: a municipal
口座振替依頼書 with other fonts and other box geometry than ``synth``'s
給付金支給申請書: labels above the boxes, two columns, digit-box rows for
bank, branch and account numbers, printed 〒 / 円 / 様 / 第…号 inside the
value boxes, a two-line address, and checkbox groups.

Values are printed (IPAex Mincho, the first form prints IPAex Gothic) or
handwritten: Debian's Klee One and Yusei Magic with per-character jitter
(offset, size, rotation). Used by the tests and by bench/ocr.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from jobs.wareki import to_wareki
from tests.jobs.ocr import synth

HANDS = ("KleeOne", "YuseiMagic")
PAGE_MM = (210.0, 297.0)
BOX_H = 12.0

# name, label, type, x, y, w, extra template keys, printed mark (prefix, suffix)
FIELDS: tuple[tuple[str, str, str, float, float, float, dict[str, Any], tuple[str, str]], ...] = (
    ("receipt", "受付番号", "digits", 128, 30, 60, {"prefixes": ["第"], "suffixes": ["号"]}, ("第", "号")),
    ("applied", "申込日", "date_wareki", 16, 58, 70, {}, ("", "")),
    ("name", "お名前", "name", 16, 84, 82, {"variant_kanji": True}, ("", "様")),
    ("kana", "フリガナ", "kana", 108, 84, 86, {}, ("", "")),
    ("postal", "郵便番号", "postal_code", 16, 110, 48, {}, ("〒", "")),
    ("phone", "電話番号", "phone", 108, 110, 70, {}, ("", "")),
    ("address", "ご住所", "text", 16, 136, 150, {"multiline": True}, ("", "")),
    ("bank", "金融機関コード", "digits", 16, 176, 40, {"cells": 4}, ("", "")),
    ("branch", "支店コード", "digits", 70, 176, 30, {"cells": 3}, ("", "")),
    ("account", "口座番号", "digits", 114, 176, 70, {"cells": 7}, ("", "")),
    ("amount", "振替金額", "amount", 16, 202, 70, {}, ("", "円")),
)
BOX_HEIGHTS = {"address": 22.0}
TICKS: tuple[tuple[str, str, float, float, str], ...] = (
    ("futsu", "普通", 112, 206, "kind"),
    ("touza", "当座", 140, 206, "kind"),
    ("by_mail", "郵送", 112, 226, "notice"),
    ("by_mail_no", "不要", 140, 226, "notice"),
)
TICK = 5.5
NAMES = (
    ("山田 太郎", "ヤマダ タロウ"),
    ("髙橋 一郎", "タカハシ イチロウ"),
    ("鈴木 花子", "スズキ ハナコ"),
    ("中村 健", "ナカムラ ケン"),
    ("佐藤 美咲", "サトウ ミサキ"),
    ("小林 翔", "コバヤシ ショウ"),
    ("山﨑 修", "ヤマサキ オサム"),
    ("松本 明美", "マツモト アケミ"),
    ("井上 大輔", "イノウエ ダイスケ"),
    ("木村 裕子", "キムラ ユウコ"),
)
STREETS = ("小倉北区城内", "八幡西区黒崎", "門司区港町", "戸畑区新池", "若松区本町", "小倉南区若園")
BUILDINGS = ("", "コーポ城野", "サンハイツ", "グリーン館")


@dataclass(frozen=True)
class Filled:
    printed: dict[str, str]
    expected: dict[str, Any]


def _height(name: str) -> float:
    return float(BOX_HEIGHTS.get(name, BOX_H))


def template_yaml(reference: str = "reference.pdf", *, handwritten: bool = False) -> str:
    """Written from the blank form and the box list, as an operator would
    (``handwritten``: the form is filled in by hand)."""
    lines = [
        "# 口座振替依頼書: box x, y, w, h in mm from the top-left corner",
        "id: koza-furikae",
        "name: 口座振替依頼書",
        "version: 1",
        "page_size: {width_mm: 210, height_mm: 297}",
        f"reference: {reference}",
        f"handwritten: {_yaml_value(handwritten)}",
        "fields:",
    ]
    for name, label, kind, x, y, w, extra, _ in FIELDS:
        lines += [f"  - name: {name}", f"    label: {label}", f"    type: {kind}"]
        lines.append(f"    box: {{x: {x:g}, y: {y:g}, w: {w:g}, h: {_height(name):g}}}")
        lines += [f"    {k}: {_yaml_value(v)}" for k, v in extra.items()]
    for name, label, x, y, _ in TICKS:
        lines += [f"  - name: {name}", f"    label: {label}", "    type: checkbox"]
        lines.append(f"    box: {{x: {x:g}, y: {y:g}, w: {TICK:g}, h: {TICK:g}}}")
    lines += [
        "checkbox_groups:",
        "  - {name: kind, label: 預金種目, fields: [futsu, touza], rule: exactly_one}",
        "  - {name: notice, label: 通知, fields: [by_mail, by_mail_no], rule: at_most_one}",
    ]
    return "\n".join(lines) + "\n"


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return str(value)


def _y(top_mm: float) -> float:
    return float((PAGE_MM[1] - top_mm) * mm)


def _draw_blank(c: canvas.Canvas) -> None:
    c.setFont("KleeOneBold", 17)
    c.drawString(16 * mm, _y(24), "口座振替依頼書")
    c.setFont("IPAexGothic", 8)
    c.drawString(16 * mm, _y(32), "北九州市 会計室 御中　市税・使用料の口座振替を依頼します。")
    c.drawString(16 * mm, _y(38), "裏面の注意事項をお読みのうえ、太枠内をご記入ください。")
    c.setLineWidth(1.1)
    for name, label, _, x, y, w, extra, (prefix, suffix) in FIELDS:
        h = _height(name)
        c.setFont("KleeOneBold", 9)
        c.drawString(x * mm, _y(y - 1.6), label)
        c.rect(x * mm, _y(y + h), w * mm, h * mm)
        for i in range(1, int(extra.get("cells", 1))):
            cx = (x + i * w / extra["cells"]) * mm
            c.setDash(2, 1.5)
            c.line(cx, _y(y + h), cx, _y(y))
            c.setDash()
        c.setFont("IPAexGothic", 11)
        if prefix:
            c.drawString((x + 1.5) * mm, _y(y + 8), prefix)
        if suffix:
            c.drawRightString((x + w - 1.5) * mm, _y(y + 8), suffix)
    c.setFont("KleeOneBold", 9)
    c.drawString(112 * mm, _y(204.4), "預金種目")
    c.drawString(112 * mm, _y(224.4), "振替済通知")
    for _, label, x, y, _ in TICKS:
        c.rect(x * mm, _y(y + TICK), TICK * mm, TICK * mm)
        c.drawString((x + 7.5) * mm, _y(y + 4.3), label)
    c.setFont("IPAexGothic", 7.5)
    notes = (
        "ご注意　1. 金融機関届出印を押してください。 2. 口座番号は右詰めで記入してください。",
        "3. 振替開始は受付から約1か月後です。 4. 訂正は二重線でお願いします。",
        "金融機関確認欄",
    )
    for k, line in enumerate(notes):
        c.drawString(16 * mm, _y(244 + k * 6), line)
    c.grid([16 * mm, 66 * mm, 116 * mm, 166 * mm], [_y(262), _y(284)])


def _draw_text(
    c: canvas.Canvas,
    text: str,
    x: float,
    y: float,
    hand: str | None,
    rng: random.Random,
    size_pt: float = 13,
    one_stroke: tuple[float, float] | None = None,
) -> None:
    """Printed values in IPAex Mincho (the first form prints Gothic)."""
    if hand is None:
        c.setFont("IPAexMincho", 12)
        c.drawString(x * mm, _y(y), text)
        return
    synth.draw_text(c, text, x, y, hand, rng, size_pt=size_pt, one_stroke=one_stroke)


# Writing over the lines, as people write in boxes too small for their hand:
# (baseline below the box's top in mm, size in pt) for a field whose writing
# crosses its bottom line, one whose writing crosses its top line, and the
# digits of a digit-box row, large enough to cross the box's bottom line.
OVER_BOTTOM, OVER_TOP, OVER_CELL = (BOX_H + 0.8, 17.0), (4.2, 19.0), (BOX_H + 1.5, 34.0)


def _baseline(name: str, index: int, over_lines: bool) -> tuple[float, float]:
    if not over_lines:
        return 8.3, 13.0
    if name == "amount" or index % 2 == 0:
        return OVER_BOTTOM
    return OVER_TOP


def _draw_values(
    c: canvas.Canvas, printed: dict[str, str], hand: str | None, rng: random.Random, over_lines: bool = False
) -> None:
    for index, (name, _, _, x, y, w, extra, (prefix, _)) in enumerate(FIELDS):
        value = printed.get(name, "")
        if not value:
            continue
        if extra.get("cells"):
            cell = w / extra["cells"]
            start = extra["cells"] - len(value)  # right-aligned
            base, size = OVER_CELL if over_lines else (8.5, 13.0)
            shift = size / 13 * 1.6
            # Over the lines, a 「1」 is one stroke through the box's top and bottom lines.
            one = (base + 1.2, 1.2) if over_lines else None
            for i, digit in enumerate(value):
                _draw_text(
                    c, digit, x + (start + i) * cell + cell / 2 - shift, y + base, hand, rng, size, one
                )
        elif name == "address":
            for k, line in enumerate(value.split("\n")):
                top = 8 + k * 9 if not over_lines else (4.0 if k == 0 else _height(name) + 0.8)
                _draw_text(c, line, x + 3, y + top, hand, rng, 17.0 if over_lines else 13.0)
        else:
            base, size = _baseline(name, index, over_lines)
            # An amount's 「1」 written as one long stroke down through the bottom line.
            one = (base - 4.0, 1.0) if over_lines and name == "amount" else None
            _draw_text(c, value, x + (8 if prefix else 3), y + base, hand, rng, size, one)
    c.setLineWidth(1.5)
    for name, _, x, y, _ in TICKS:
        if printed.get(name):
            s = TICK * mm
            bx, by = x * mm, _y(y + TICK)
            c.line(bx + 0.2 * s, by + 0.2 * s, bx + 0.8 * s, by + 0.8 * s)
            c.line(bx + 0.2 * s, by + 0.8 * s, bx + 0.8 * s, by + 0.2 * s)
    c.setLineWidth(1.1)


def form_pdf(
    pages: list[dict[str, str]] | None, hand: str | None = None, seed: int = 0, *, over_lines: bool = False
) -> bytes:
    """The form as a PDF; ``None`` draws the blank reference. ``hand``: a
    handwriting font name from HANDS, or None for printed values.
    ``over_lines``: handwriting too large for the boxes, crossing their top
    or bottom lines (``OVER_*``)."""

    def values(c: canvas.Canvas, printed: dict[str, str], hand: str | None, rng: random.Random) -> None:
        _draw_values(c, printed, hand, rng, over_lines)

    return synth.render_pdf(PAGE_MM, pages, _draw_blank, values, hand, seed)


def random_form(rng: random.Random, *, violate_group: bool = False) -> Filled:
    name, kana = rng.choice(NAMES)
    applied = date(2019, 5, 1) + timedelta(days=rng.randrange(0, 2400))
    postal = f"{rng.randrange(800, 830)}-{rng.randrange(0, 10000):04d}"
    phone = f"093-{rng.randrange(200, 1000)}-{rng.randrange(1000, 10000)}"
    street = f"北九州市{rng.choice(STREETS)}{rng.randrange(1, 9)}-{rng.randrange(1, 30)}"
    building = rng.choice(BUILDINGS)
    if building:
        building += f"{rng.randrange(1, 9)}0{rng.randrange(1, 9)}"
    amount = rng.randrange(100, 999_999)
    digits = {
        "receipt": f"{rng.randrange(0, 1_000_000):06d}",
        "bank": f"{rng.randrange(0, 10000):04d}",
        "branch": f"{rng.randrange(0, 1000):03d}",
        "account": f"{rng.randrange(0, 10_000_000):07d}",
    }
    kind = rng.random() < 0.7
    ticks = {
        "futsu": kind,
        "touza": not kind or violate_group,
        "by_mail": rng.random() < 0.5,
        "by_mail_no": False,
    }
    address = street + (f"\n{building}" if building else "")
    printed = {
        "applied": to_wareki(applied),
        "name": name,
        "kana": kana,
        "postal": postal,
        "phone": phone,
        "address": address,
        "amount": f"{amount:,}",
        **digits,
        **{k: "x" if v else "" for k, v in ticks.items()},
    }
    expected: dict[str, Any] = {
        "applied": applied.isoformat(),
        "name": name.replace(" ", ""),
        "kana": kana.replace(" ", ""),
        "postal": postal,
        "phone": phone,
        "address": address,
        "amount": amount,
        **digits,
        **ticks,
    }
    return Filled(printed, expected)
