"""A third form layout the OCR code was not written against: a municipal
住民票の写し等交付請求書 with the constructs real forms have.

The blank form, as an operator would describe it (the template,
``forms/jumin.yaml``, was written from this description and a rendered
blank page, not from the coordinates below):

- 請求日: 「令和　年　月　日」, the era printed, three boxes for 年・月・日;
- 窓口に来た方: 「本人・代理人」, circle one;
- 氏名 (a box) and 性別: 「男・女」, circle one;
- 生年月日: 「明治・大正・昭和・平成・令和」 (circle one) and boxes for 年・月・日;
  「元」 may be written for the first year;
- 住所 and 電話番号: one box each;
- 請求するもの: three tick boxes (住民票の写し, 住民票記載事項証明書,
  印鑑登録証明書), at least one, each with a 通数 box;
- 交付方法: tick boxes 窓口・郵送, exactly one;
- 必要な方（世帯員）: a table of three rows, columns 氏名・続柄・生年月日 (written
  as 昭和55年3月1日); rows may stay empty;
- 手数料: five digit boxes written 右詰め, 円 printed after them.

Values are printed (IPAex Gothic) or handwritten in three styles beyond the
two of the other test forms: Klee One SemiBold slanted, Yusei Magic with
strong jitter, Klee One with pressure (stroke width) variation; each with
per-character jitter and some writing that runs over the box lines. A
choice is circled (mostly), ticked or struck through.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from jobs.wareki import era_year
from tests.jobs.ocr import synth

PAGE_MM = (210.0, 297.0)
# Handwriting styles (``synth.STYLES``: font, slant, jitter, pressure).
HANDS = ("klee-slant", "yusei-jitter", "klee-pressure")
ERAS = ("明治", "大正", "昭和", "平成", "令和")
# Where things are drawn (mm from the top-left); the template does not read these.
_APPLIED = {"year": (60, 34), "month": (84, 34), "day": (104, 34)}
_DIGIT_BOX = (14.0, 10.0)
_APPLICANT = {"本人": (60, 50), "代理人": (80, 50)}
_SEX = {"男": (160, 62), "女": (176, 62)}
_BIRTH_ERA = {e: (56 + 14 * i, 80) for i, e in enumerate(ERAS)}
_BIRTH = {"year": (130, 76), "month": (154, 76), "day": (174, 76)}
_CERTS = ("住民票の写し", "住民票記載事項証明書", "印鑑登録証明書")
_DELIVERY = ("窓口", "郵送")
_TABLE_Y, _ROW_H = 172.0, 10.0
_TABLE_COLS = (("name", 20.0, 60.0), ("relation", 80.0, 30.0), ("birth", 110.0, 80.0))
_FEE = (120.0, 222.0, 8.0)  # x, y, cell width

SURNAMES = ("山田", "鈴木", "佐藤", "田中", "中村", "小林", "松本", "井上", "木村", "林")
GIVEN = ("太郎", "花子", "健", "美咲", "翔", "明美", "大輔", "裕子", "誠", "陽菜")
RELATIONS = ("妻", "夫", "長男", "長女", "次男", "母", "父")
TOWNS = ("小倉北区城内", "八幡西区黒崎", "門司区港町", "戸畑区新池", "若松区本町")


@dataclass(frozen=True)
class Filled:
    printed: dict[str, Any]
    expected: dict[str, Any]


def _y(top: float) -> float:
    return float((PAGE_MM[1] - top) * mm)


def _box(c: canvas.Canvas, x: float, y: float, w: float, h: float) -> None:
    c.rect(x * mm, _y(y + h), w * mm, h * mm)


def _draw_blank(c: canvas.Canvas) -> None:
    c.setFont("IPAexMincho", 17)
    c.drawCentredString(105 * mm, _y(20), "住民票の写し等交付請求書")
    c.setLineWidth(0.7)
    c.setFont("IPAexMincho", 10)
    c.drawString(16 * mm, _y(41), "請求日")
    c.drawString(46 * mm, _y(41), "令和")
    for part, suffix in (("year", "年"), ("month", "月"), ("day", "日")):
        x, y = _APPLIED[part]
        _box(c, x, y, *_DIGIT_BOX)
        c.drawString((x + 15) * mm, _y(y + 7), suffix)
    c.drawString(16 * mm, _y(55), "窓口に来た方")
    for word, (x, y) in _APPLICANT.items():
        c.drawString(x * mm, _y(y + 5), word)
    c.drawString(73 * mm, _y(55), "・")
    c.drawString(16 * mm, _y(69), "氏名")
    _box(c, 40, 62, 100, 12)
    c.drawString(146 * mm, _y(67), "性別")
    for word, (x, y) in _SEX.items():
        c.drawString(x * mm, _y(y + 5), word)
    c.drawString(168 * mm, _y(67), "・")
    c.drawString(16 * mm, _y(85), "生年月日")
    for era, (x, y) in _BIRTH_ERA.items():
        c.drawString(x * mm, _y(y + 5), era)
    for part, suffix in (("year", "年"), ("month", "月"), ("day", "日")):
        x, y = _BIRTH[part]
        _box(c, x, y, *_DIGIT_BOX)
        c.drawString((x + 15) * mm, _y(y + 7), suffix)
    c.drawString(16 * mm, _y(101), "住所")
    _box(c, 40, 94, 150, 12)
    c.drawString(16 * mm, _y(119), "電話番号")
    _box(c, 40, 112, 70, 12)
    c.drawString(16 * mm, _y(133), "請求するもの（該当するものに✓、通数を記入）")
    for i, label in enumerate(_CERTS):
        top = 138 + i * 9
        _box(c, 22, top, 5, 5)
        c.drawString(30 * mm, _y(top + 4.2), label)
        _box(c, 110, top - 1.5, 14, 8)
        c.drawString(126 * mm, _y(top + 4.2), "通")
    c.drawString(16 * mm, _y(170), "交付方法")
    for i, label in enumerate(_DELIVERY):
        _box(c, 40 + 30 * i, 165.5, 5, 5)
        c.drawString((48 + 30 * i) * mm, _y(170), label)
    c.drawString(16 * mm, _y(_TABLE_Y + 5), "必要な方（世帯員）")
    top = _TABLE_Y + 8
    _box(c, 20, top, 170, 7)
    for (_name, x, w), label in zip(_TABLE_COLS, ("氏名", "続柄", "生年月日"), strict=True):
        c.drawString((x + 2) * mm, _y(top + 5), label)
        _box(c, x, top + 7, w, 3 * _ROW_H)
    for row in range(1, 3):
        c.line(20 * mm, _y(top + 7 + row * _ROW_H), 190 * mm, _y(top + 7 + row * _ROW_H))
    x, y, w = _FEE
    c.drawString(16 * mm, _y(y + 7), "手数料")
    for k in range(5):
        _box(c, x + k * w, y, w, 10)
    c.drawString((x + 5 * w + 2) * mm, _y(y + 7), "円")
    c.setFont("IPAexMincho", 8)
    c.drawString(16 * mm, _y(250), "※ 該当するものを○で囲んでください。手数料は1通300円です。")
    _box(c, 150, 255, 40, 30)


def _mark(
    c: canvas.Canvas, word: str, x: float, y: float, style: str, hand: bool, rng: random.Random
) -> None:
    """A circle round the word at (x, y) (its top-left, 10 pt), a tick over it or a line through it."""
    width = pdfmetrics.stringWidth(word, "IPAexMincho", 10) / mm
    cx, cy = x + width / 2, y + 2.6
    c.saveState()
    c.setLineWidth(rng.uniform(0.7, 1.2) if hand else 0.9)
    if style == "circle":
        rx, ry = width / 2 + rng.uniform(1.0, 2.2), rng.uniform(3.2, 4.2)
        path = c.beginPath()
        start = rng.uniform(0, 2 * math.pi)
        for k in range(41):
            t = start + 2 * math.pi * 1.08 * k / 40
            wobble = 1 + (rng.uniform(-0.05, 0.05) if hand else 0)
            px, py = cx + rx * wobble * math.cos(t), cy + ry * wobble * math.sin(t)
            (path.moveTo if k == 0 else path.lineTo)(px * mm, _y(py))
        c.drawPath(path, stroke=1, fill=0)
    elif style == "tick":
        path = c.beginPath()
        path.moveTo((cx - 2.5) * mm, _y(cy))
        path.lineTo((cx - 0.5) * mm, _y(cy + 2.5))
        path.lineTo((cx + 3) * mm, _y(cy - 3))
        c.drawPath(path, stroke=1, fill=0)
    else:  # a line through the word
        c.line(
            (x - 1) * mm,
            _y(cy + rng.uniform(-0.4, 0.4)),
            (x + width + 1) * mm,
            _y(cy + rng.uniform(-0.4, 0.4)),
        )
    c.restoreState()


def _write(c: canvas.Canvas, text: str, x: float, y: float, hand: str | None, rng: random.Random) -> None:
    """Text with its baseline at y mm: printed, or in a handwriting style or font."""
    synth.draw_text(c, text, x, y, hand, rng)


def _over_line(hand: str | None, rng: random.Random) -> float:
    """How far below the usual baseline a hand writes: now and then onto the box's bottom line."""
    return rng.choice((0.0, 0.0, 0.0, 1.6)) if hand else 0.0


def _digit_boxes(
    c: canvas.Canvas, text: str, x: float, y: float, hand: str | None, rng: random.Random
) -> None:
    _write(c, text, x + (3.5 if len(text) == 1 else 1.0), y + 8 + _over_line(hand, rng) * 0.5, hand, rng)


def _draw_values(c: canvas.Canvas, printed: dict[str, Any], hand: str | None, rng: random.Random) -> None:
    if not printed:
        return
    for part in ("year", "month", "day"):
        x, y = _APPLIED[part]
        _digit_boxes(c, printed["applied"][part], x, y, hand, rng)
    word = printed["applicant"]
    _mark(c, word, *_APPLICANT[word], printed["marks"][0], hand is not None, rng)
    _write(c, printed["name"], 43, 71 + _over_line(hand, rng), hand, rng)
    _mark(c, printed["sex"], *_SEX[printed["sex"]], printed["marks"][1], hand is not None, rng)
    era = printed["birth"]["era"]
    _mark(c, era, *_BIRTH_ERA[era], printed["marks"][2], hand is not None, rng)
    for part in ("year", "month", "day"):
        x, y = _BIRTH[part]
        _digit_boxes(c, printed["birth"][part], x, y, hand, rng)
    _write(c, printed["address"], 43, 103 + _over_line(hand, rng), hand, rng)
    _write(c, printed["phone"], 43, 121, hand, rng)
    # ``counts_shown``: the 通数 as written, when a test wants them to differ from the ticks.
    shown = printed.get("counts_shown", printed["certs"])
    for i, (count, written) in enumerate(zip(printed["certs"], shown, strict=True)):
        top = 138 + i * 9
        if count:
            _tick(c, 22, top)
        if written:
            _write(c, str(written), 115, top + 5, hand, rng)
    _tick(c, 40 + 30 * _DELIVERY.index(printed["delivery"]), 165.5)
    for row, member in enumerate(printed["members"]):
        base = _TABLE_Y + 15 + row * _ROW_H + 7.5
        for (_name, x, _), text in zip(_TABLE_COLS, member, strict=True):
            if text:
                _write(c, text, x + 2, base, hand, rng)
    fee = printed["fee"]
    x, y, w = _FEE
    for k, digit in enumerate(fee.rjust(5)):
        if digit != " ":
            _write(c, digit, x + k * w + 2, y + 8, hand, rng)


def _tick(c: canvas.Canvas, x: float, y: float) -> None:
    c.saveState()
    c.setLineWidth(1.5)
    path = c.beginPath()
    path.moveTo((x + 0.8) * mm, _y(y + 2.5))
    path.lineTo((x + 2.1) * mm, _y(y + 4.2))
    path.lineTo((x + 4.6) * mm, _y(y + 0.6))
    c.drawPath(path, stroke=1, fill=0)
    c.restoreState()


def form_pdf(pages: list[dict[str, Any]] | None, hand: str | None = None, seed: int = 0) -> bytes:
    return synth.render_pdf(PAGE_MM, pages, _draw_blank, _draw_values, hand, seed)


def _era_parts(day: date) -> tuple[str, str]:
    era, year = era_year(day)
    return era, "元" if year == 1 else str(year)


def random_form(rng: random.Random) -> Filled:
    applied = date(2024, 4, 1) + timedelta(days=rng.randrange(700))
    birth = date(1925, 1, 1) + timedelta(days=rng.randrange(36000))
    if rng.random() < 0.15:  # the first year of an era, written 元
        birth = rng.choice((date(1989, 3, 15), date(2019, 8, 20), date(1927, 1, 10)))
    era, year = _era_parts(birth)
    name = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"
    certs = [rng.choice((0, 0, 1, 1, 2)) for _ in _CERTS]
    if not any(certs):
        certs[0] = 1
    members = []
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        day = date(1940, 1, 1) + timedelta(days=rng.randrange(30000))
        members.append(
            (f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}", rng.choice(RELATIONS), _wareki(day), day)
        )
    fee = 300 * sum(certs)
    marks = [rng.choices(("circle", "tick", "strike"), (8, 1, 1))[0] for _ in range(3)]
    printed = {
        "applied": {"year": str(era_year(applied)[1]), "month": str(applied.month), "day": str(applied.day)},
        "applicant": rng.choice(("本人", "本人", "代理人")),
        "name": name,
        "sex": rng.choice(("男", "女")),
        "birth": {"era": era, "year": year, "month": str(birth.month), "day": str(birth.day)},
        "address": f"北九州市{rng.choice(TOWNS)}{rng.randint(1, 9)}-{rng.randint(1, 20)}-{rng.randint(1, 30)}",
        "phone": f"093-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
        "certs": certs,
        "delivery": rng.choice(_DELIVERY),
        "members": [m[:3] for m in members] + [("", "", "")] * (3 - len(members)),
        "fee": str(fee),
        "marks": marks,
    }
    expected: dict[str, Any] = {
        "applied": applied.isoformat(),
        "applicant": printed["applicant"],
        "name": name.replace(" ", ""),
        "sex": printed["sex"],
        "birth": birth.isoformat(),
        "address": printed["address"],
        "phone": printed["phone"],
        "certs": "、".join(c for c, n in zip(_CERTS, certs, strict=True) if n),
        "delivery": printed["delivery"],
        "fee": fee,
    }
    for k, n in enumerate(certs, start=1):
        expected[f"certs_{k}_count"] = n or None
    for row in range(1, 4):
        member = members[row - 1] if row <= len(members) else None
        expected[f"members_{row}_name"] = member[0].replace(" ", "") if member else None
        expected[f"members_{row}_relation"] = member[1] if member else None
        expected[f"members_{row}_birth"] = member[3].isoformat() if member else None
    return Filled(printed, expected)


def _wareki(day: date) -> str:
    era, year = _era_parts(day)
    return f"{era}{year}年{day.month}月{day.day}日"
