"""Synthetic Japanese application forms with known contents.

reportlab draws a 給付金支給申請書 with the Debian IPAex fonts (reportlab
cannot load Noto CJK): the blank reference page, filled text-layer PDFs,
and "scans" rendered from them at 200/300 dpi with rotation, shift, scale,
blur, noise and JPEG. A second, different form (口座振替依頼書) is the page
that must come back as ``template_mismatch``. Used by the tests, the
benchmark and to make the bundled sample.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from jobs.wareki import to_wareki

GOTHIC = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
MINCHO = "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf"
HAND_FONTS = {
    "KleeOne": "/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf",
    "KleeOneBold": "/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf",
    "YuseiMagic": "/usr/share/fonts/truetype/yusei-magic/YuseiMagic-Regular.ttf",
}
# Debian's fonts-kiloji (a longhand font): only the benchmark's held-out
# handwriting style uses it, so it is registered only where it is installed.
KILOJI = "/usr/share/fonts/truetype/kiloji/kiloji.ttf"
# Handwriting styles beyond a plain font: font, slant (degrees), jitter
# scale, stroke width range (pt, the glyph outline stroked as well as filled:
# pen pressure). A hand passed to ``draw_text`` is a style name or a font.
STYLES: dict[str, tuple[str, float, float, tuple[float, float]]] = {
    "klee-slant": ("KleeOneBold", 12.0, 1.0, (0.0, 0.25)),
    "yusei-jitter": ("YuseiMagic", 4.0, 1.8, (0.0, 0.15)),
    "klee-pressure": ("KleeOne", -6.0, 1.2, (0.0, 0.7)),
    # Held out: no threshold or rule was tuned on it (bench/ocr_goals.py
    # reports it on its own).
    "kiloji-heldout": ("Kiloji", 7.0, 1.4, (0.0, 0.45)),
}
HELD_OUT = "kiloji-heldout"
PAGE_MM = (210.0, 297.0)
ROW_Y0, ROW_STEP, ROW_H = 52.0, 15.0, 10.0
BOX_X = 58.0

# (name, label, type, box width mm); one row each, top to bottom.
ROWS: tuple[tuple[str, str, str, float], ...] = (
    ("application_date", "申請日", "date_wareki", 62),
    ("name", "氏名", "name", 70),
    ("kana", "フリガナ", "kana", 80),
    ("birth_date", "生年月日", "date_wareki", 62),
    ("postal_code", "郵便番号", "postal_code", 40),
    ("address", "住所", "text", 132),
    ("phone", "電話番号", "phone", 60),
    ("amount", "申請金額", "amount", 60),
    ("account_number", "口座番号", "account_number", 45),
    ("note", "備考", "free_text", 132),
)
TICKS: tuple[tuple[str, str], ...] = (("counter", "窓口受取"), ("mail", "郵送希望"), ("transfer", "口座振込"))
TICK_Y, TICK_SIDE = ROW_Y0 + ROW_STEP * len(ROWS) + 2, 5.0

NAMES = (
    ("山田 太郎", "ヤマダ タロウ"),
    ("髙橋 一郎", "タカハシ イチロウ"),
    ("齋藤 花子", "サイトウ ハナコ"),
    ("渡邊 健", "ワタナベ ケン"),
    ("佐藤 美咲", "サトウ ミサキ"),
    ("鈴木 翔太", "スズキ ショウタ"),
    ("田中 裕子", "タナカ ユウコ"),
    ("伊藤 誠", "イトウ マコト"),
    ("中村 明美", "ナカムラ アケミ"),
    ("小林 大輔", "コバヤシ ダイスケ"),
    ("吉田 真由美", "ヨシダ マユミ"),
    ("松本 修", "マツモト オサム"),
)
ADDRESSES = (
    "北九州市小倉北区城内1-1",
    "北九州市八幡西区黒崎3-15-2",
    "北九州市門司区港町7-8-105",
    "北九州市戸畑区新池1-1-1",
    "北九州市若松区本町2-10-3",
    "北九州市小倉南区若園5-1-2",
)
NOTES = ("", "", "特になし", "転居予定あり", "代理人による申請", "平日の午後に連絡希望")


@dataclass(frozen=True)
class Filled:
    """One form's printed text and the values the reader must return."""

    printed: dict[str, str]
    expected: dict[str, Any]


def register_fonts() -> None:
    """IPAex, and Debian's handwriting fonts (fonts-klee, fonts-yusei-magic)."""
    if "IPAexGothic" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("IPAexGothic", GOTHIC))
        pdfmetrics.registerFont(TTFont("IPAexMincho", MINCHO))
        for name, path in HAND_FONTS.items():
            pdfmetrics.registerFont(TTFont(name, path))
        if Path(KILOJI).is_file():
            pdfmetrics.registerFont(TTFont("Kiloji", KILOJI))


def style_installed(hand: str) -> bool:
    """Whether a handwriting style's font is there (the held-out one is optional)."""
    register_fonts()
    font = STYLES[hand][0] if hand in STYLES else hand
    return font in pdfmetrics.getRegisteredFontNames()


def field_boxes() -> list[dict[str, Any]]:
    """The template's fields, in millimetres from the top-left corner."""
    fields = []
    for i, (name, label, kind, width) in enumerate(ROWS):
        box = {"x": BOX_X, "y": ROW_Y0 + i * ROW_STEP, "w": width, "h": ROW_H}
        fields.append({"name": name, "label": label, "type": kind, "box": box})
    for j, (name, label) in enumerate(TICKS):
        box = {"x": BOX_X + j * 45, "y": TICK_Y, "w": TICK_SIDE, "h": TICK_SIDE}
        fields.append({"name": name, "label": label, "type": "checkbox", "box": box})
    for f in fields:
        if f["name"] in ("application_date", "name", "kana", "address"):
            f["required"] = True
    return fields


def template_yaml(reference: str = "reference.pdf", version: int = 1) -> str:
    """The template as a person would write it (one line per box)."""
    lines = [
        "# 給付金支給申請書: box is x, y, width, height in mm from the top-left corner.",
        "id: kyufukin-shinsei",
        "name: 給付金支給申請書",
        f"version: {version}",
        f"page_size: {{width_mm: {PAGE_MM[0]:g}, height_mm: {PAGE_MM[1]:g}}}",
        f"reference: {reference}",
        "seconds_per_form: 150",
        "confidence_threshold: 80",
        "fields:",
    ]
    for f in field_boxes():
        box = ", ".join(f"{k}: {v:g}" for k, v in f["box"].items())
        lines += [f"  - name: {f['name']}", f"    label: {f['label']}", f"    type: {f['type']}"]
        lines.append(f"    box: {{{box}}}")
        if f.get("required"):
            lines.append("    required: true")
    return "\n".join(lines) + "\n"


def _y(top_mm: float) -> float:
    """reportlab's y grows upwards from the bottom edge."""
    return (PAGE_MM[1] - top_mm) * mm


def _draw_blank(c: canvas.Canvas) -> None:
    c.setFont("IPAexMincho", 18)
    c.drawCentredString(105 * mm, _y(22), "給付金支給申請書")
    c.setFont("IPAexMincho", 9)
    c.drawString(20 * mm, _y(32), "北九州市長 様　　下記のとおり給付金の支給を申請します。")
    c.drawRightString(190 * mm, _y(38), "受付番号（市記入欄）")
    c.rect(150 * mm, _y(46), 40 * mm, 6 * mm)
    c.setLineWidth(0.8)
    for f in field_boxes():
        box = f["box"]
        c.rect(box["x"] * mm, _y(box["y"] + box["h"]), box["w"] * mm, box["h"] * mm)
        c.setFont("IPAexMincho", 10.5)
        if f["type"] == "checkbox":
            c.drawString((box["x"] + 7) * mm, _y(box["y"] + 4.2), f["label"])
        else:
            c.drawString(20 * mm, _y(box["y"] + 6.5), f["label"])
    c.drawString((BOX_X + 62) * mm, _y(ROW_Y0 + 7 * ROW_STEP + 6.5), "円")
    c.drawString(20 * mm, _y(TICK_Y + 4.2), "受取方法")
    c.setFont("IPAexMincho", 8)
    notes = (
        "記入上の注意",
        "1. 黒のボールペンで、枠内に楷書ではっきりと記入してください。",
        "2. 金額は算用数字で記入し、3桁ごとにカンマで区切ってください。",
        "3. 日付は和暦（令和・平成・昭和）で記入してください。",
        "4. 記入内容に誤りがある場合は、二重線で消して訂正してください。",
        "問い合わせ先　北九州市 保健福祉局 給付金担当　電話 093-582-2102",
    )
    for k, line in enumerate(notes):
        c.drawString(20 * mm, _y(TICK_Y + 18 + k * 6), line)
    c.rect(150 * mm, _y(280), 40 * mm, 30 * mm)
    c.drawString(152 * mm, _y(255), "受付印")


def draw_text(
    c: canvas.Canvas,
    text: str,
    x: float,
    y: float,
    hand: str | None,
    rng: random.Random,
    *,
    size_pt: float = 13,
    one_stroke: tuple[float, float] | None = None,
) -> None:
    """At (x, y) mm from the top-left. Printed: one string in IPAex Gothic.
    Handwritten (a registered handwriting font): each character on its own,
    its offset, size (about ``size_pt``) and slant jittered as a pen would.
    ``one_stroke`` (mm above, mm below the baseline): a 「1」 written as one
    pen stroke from there to there, as many people write it."""
    if hand is None:
        c.setFont("IPAexGothic", 12)
        c.drawString(x * mm, _y(y), text)
        return
    if hand in STYLES:
        styled_text(c, text, x, y, hand, rng, size_pt=size_pt, one_stroke=one_stroke)
        return
    cursor = x * mm
    for char in text:
        if char == "1" and one_stroke is not None:
            cursor = _one_stroke(c, cursor, y, hand, size_pt, one_stroke, rng)
            continue
        size = size_pt * rng.uniform(0.9, 1.1)
        c.saveState()
        c.translate(cursor + rng.uniform(-0.3, 0.3) * mm, _y(y) + rng.uniform(-0.5, 0.5) * mm)
        c.rotate(rng.uniform(-5, 5))
        c.setFont(hand, size)
        c.drawString(0, 0, char)
        c.restoreState()
        cursor += pdfmetrics.stringWidth(char, hand, size) * rng.uniform(1.0, 1.12)


def styled_text(
    c: canvas.Canvas,
    text: str,
    x: float,
    y: float,
    style: str,
    rng: random.Random,
    *,
    size_pt: float = 13,
    one_stroke: tuple[float, float] | None = None,
) -> None:
    """Text in a handwriting style of ``STYLES`` with its baseline at (x, y)
    mm: each character jittered in place, size and angle, slanted, its
    outline stroked with a random pen width."""
    font, slant, jitter, (low, high) = STYLES[style]
    cursor = x * mm
    for char in text:
        if char == "1" and one_stroke is not None:
            cursor = _one_stroke(c, cursor, y, font, size_pt, one_stroke, rng)
            continue
        size = size_pt * rng.uniform(0.88, 1.12)
        c.saveState()
        c.translate(
            cursor + rng.uniform(-0.3, 0.3) * jitter * mm, _y(y) + rng.uniform(-0.5, 0.5) * jitter * mm
        )
        c.rotate(rng.uniform(-4, 4) * jitter)
        c.transform(1, 0, math.tan(math.radians(slant + rng.uniform(-3, 3))), 1, 0, 0)
        c.setLineWidth(rng.uniform(low, high))
        text_object = c.beginText(0, 0)
        text_object.setFont(font, size)
        text_object.setTextRenderMode(2)
        text_object.textOut(char)
        c.drawText(text_object)
        c.restoreState()
        cursor += pdfmetrics.stringWidth(char, font, size) * rng.uniform(0.98, 1.12)


def _one_stroke(
    c: canvas.Canvas,
    cursor: float,
    y: float,
    font: str,
    size_pt: float,
    one_stroke: tuple[float, float],
    rng: random.Random,
) -> float:
    """A 「1」 as one pen stroke at ``cursor`` (points); returns the next cursor."""
    width = pdfmetrics.stringWidth("1", font, size_pt)
    _pen_stroke(c, cursor + width / 2, y - one_stroke[0], y + one_stroke[1], rng)
    return float(cursor + width * rng.uniform(1.0, 1.12))


def _pen_stroke(c: canvas.Canvas, x: float, top_mm: float, bottom_mm: float, rng: random.Random) -> None:
    """A slightly slanted ball-pen stroke (0.45 mm) at ``x`` points."""
    c.saveState()
    c.setLineWidth(0.45 * mm)
    c.setLineCap(1)
    lean = rng.uniform(-0.6, 0.6) * mm
    c.line(x + lean, _y(top_mm), x - lean, _y(bottom_mm))
    c.restoreState()


def _draw_values(c: canvas.Canvas, printed: dict[str, str], hand: str | None, rng: random.Random) -> None:
    for f in field_boxes():
        value, box = printed.get(f["name"], ""), f["box"]
        if f["type"] == "checkbox":
            if value:
                x, y, s = box["x"] * mm, _y(box["y"] + box["h"]), box["w"] * mm
                c.setLineWidth(1.6)
                path = c.beginPath()
                path.moveTo(x + 0.15 * s, y + 0.5 * s)
                path.lineTo(x + 0.42 * s, y + 0.18 * s)
                path.lineTo(x + 0.88 * s, y + 0.85 * s)
                c.drawPath(path, stroke=1, fill=0)
                c.setLineWidth(0.8)
        elif value:
            draw_text(c, value, box["x"] + 2.5, box["y"] + 7.2, hand, rng)


def form_pdf(pages: list[dict[str, str]] | None, hand: str | None = None, seed: int = 0) -> bytes:
    """The form as a PDF; ``None`` or an empty dict draws the blank form.
    ``hand``: a handwriting font (``register_hands``) for the values."""
    return render_pdf(PAGE_MM, pages, _draw_blank, _draw_values, hand, seed)


def render_pdf(
    page_mm: tuple[float, float],
    pages: list[dict[str, str]] | None,
    draw_blank: Callable[[canvas.Canvas], None],
    draw_values: Callable[[canvas.Canvas, dict[str, str], str | None, random.Random], None],
    hand: str | None,
    seed: int,
) -> bytes:
    """One PDF page per filled form (``None``: the blank form alone), drawn
    by a layout's own blank-form and value painters."""
    register_fonts()
    rng = random.Random(seed)
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=(page_mm[0] * mm, page_mm[1] * mm))
    for printed in pages or [{}]:
        draw_blank(c)
        draw_values(c, printed, hand, rng)
        c.showPage()
    c.save()
    return buffer.getvalue()


def other_form_pdf() -> bytes:
    """A different form (口座振替依頼書): must not match the template."""
    register_fonts()
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=(PAGE_MM[0] * mm, PAGE_MM[1] * mm))
    c.setFont("IPAexGothic", 16)
    c.drawString(30 * mm, _y(30), "口座振替依頼書（自動払込利用申込書）")
    c.setFont("IPAexGothic", 10)
    labels = ("金融機関名", "支店名", "預金種目", "口座番号", "口座名義", "納付者氏名", "納付者住所", "税目")
    for k, label in enumerate(labels):
        top = 60 + k * 22
        c.drawString(120 * mm, _y(top + 5), label)
        c.rect(25 * mm, _y(top + 14), 90 * mm, 14 * mm)
        c.drawString(28 * mm, _y(top + 9), f"{label}：記入例 {k + 1}")
    c.grid([25 * mm + i * 20 * mm for i in range(9)], [_y(250), _y(262), _y(274)])
    c.showPage()
    c.save()
    return buffer.getvalue()


def random_form(rng: random.Random) -> Filled:
    name, kana = rng.choice(NAMES)
    applied = date(2019, 5, 1) + timedelta(days=rng.randrange(0, 2400))
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 25000))
    amount = rng.randrange(1000, 9_999_999)
    postal = f"{rng.randrange(800, 830)}-{rng.randrange(0, 10000):04d}"
    if rng.random() < 0.5:
        phone = f"093-{rng.randrange(100, 1000)}-{rng.randrange(1000, 10000)}"
    else:
        phone = f"0{rng.choice('789')}0-{rng.randrange(1000, 10000)}-{rng.randrange(1000, 10000)}"
    account = f"{rng.randrange(0, 10_000_000):07d}"
    ticks = {n: rng.random() < 0.5 for n, _ in TICKS}
    note = rng.choice(NOTES)
    printed = {
        "application_date": to_wareki(applied),
        "name": name,
        "kana": kana,
        "birth_date": to_wareki(born),
        "postal_code": postal,
        "address": rng.choice(ADDRESSES),
        "phone": phone,
        "amount": f"{amount:,}",
        "account_number": account,
        "note": note,
        **{n: "レ" if on else "" for n, on in ticks.items()},
    }
    expected: dict[str, Any] = {
        "application_date": applied.isoformat(),
        "name": name.replace(" ", ""),
        "kana": kana.replace(" ", ""),
        "birth_date": born.isoformat(),
        "postal_code": postal,
        "address": printed["address"],
        "phone": phone,
        "amount": amount,
        "account_number": account,
        "note": note or None,
        **ticks,
    }
    return Filled(printed, expected)


def render(pdf: bytes, dpi: float) -> list[np.ndarray]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [
            np.asarray(document[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L"))
            for i in range(len(document))
        ]
    finally:
        document.close()


def degrade(image: np.ndarray, rng: random.Random, dpi: float, *, upside_down: bool = False) -> np.ndarray:
    """A plausible scan: rotation ±3°, shift ±8 mm, scale ±1 %, blur, noise."""
    height, width = image.shape
    angle = rng.uniform(-3, 3) + (180 if upside_down else 0)
    scale = rng.uniform(0.99, 1.01)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    matrix[:, 2] += [rng.uniform(-8, 8) / 25.4 * dpi, rng.uniform(-8, 8) / 25.4 * dpi]
    out = cv2.warpAffine(image, matrix, (width, height), borderValue=255, flags=cv2.INTER_LINEAR)
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 0.9))
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 7, out.shape)
    return np.clip(out.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def save_image(image: np.ndarray, path: Path, dpi: float, *, quality: int = 85, g4: bool = False) -> Path:
    """``g4``: a TIFF as office scanners and fax servers write it, black and
    white (thresholded, not dithered) in CCITT Group 4."""
    pil = Image.fromarray(image)
    if g4:
        bilevel = pil.point(lambda v: 255 if v > 150 else 0).convert("1", dither=Image.Dither.NONE)
        bilevel.save(path, dpi=(dpi, dpi), compression="group4")
    elif path.suffix in (".jpg", ".jpeg"):
        pil.save(path, quality=quality, dpi=(dpi, dpi))
    elif path.suffix == ".pdf":
        pil.save(path, resolution=dpi)
    else:
        pil.save(path, dpi=(dpi, dpi))
    return path


def save_tiff(images: list[np.ndarray], path: Path, dpi: float) -> Path:
    first, *rest = [Image.fromarray(i) for i in images]
    first.save(path, save_all=True, append_images=rest, dpi=(dpi, dpi), compression="tiff_deflate")
    return path


def handwritten_sample(path: Path, seed: int = 3) -> Path:
    """The bundled demo's handwritten form (``jobs/ocr/samples/scan-3.pdf``):
    filled in Klee One with jitter, scanned at 200 dpi, saved as an image PDF."""
    rng = random.Random(seed)
    form = random_form(rng)
    image = degrade(render(form_pdf([form.printed], "KleeOne", seed), 200)[0], rng, 200)
    return save_image(image, path, 200)
