"""Hostile and broken inputs, made by code at test time (nothing binary is
committed): each builder returns the bytes a careless or malicious client
could send."""

from __future__ import annotations

import csv
import io
import math
import struct
import wave
import zlib
from functools import cache

import av
import numpy as np
import pypdfium2 as pdfium
from openpyxl import Workbook
from PIL import Image

from jobs.rpa.kind import SAMPLES as RPA_SAMPLES

# --- audio -------------------------------------------------------------------------------


def tone_wav(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * math.pi * 440 * t) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()


def truncated_wav() -> bytes:
    """A 20 s recording cut off after 30 %: the header still says 20 s."""
    whole = tone_wav(20.0)
    return whole[: len(whole) * 3 // 10]


@cache
def hours_long_flac(hours: float = 5.0) -> bytes:
    """Five hours of digital silence in ~60 KB (FLAC codes a silent block in a
    few bytes), past the 4 h limit."""
    rate, block = 8000, 32768
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate)
        stream.layout = "mono"
        stream.codec_context.options = {"frame_size": str(block)}
        silence = np.zeros((1, block), dtype=np.int16)
        for i in range(int(hours * 3600 * rate) // block):
            frame = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, i * block
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


# --- scans -------------------------------------------------------------------------------


def blank_pdf(pages: int) -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(595, 842)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@cache
def decompression_bomb_png(side: int = 40_000) -> bytes:
    """A valid 1-bit PNG of 40,000 × 40,000 pixels (1.6 G) in ~200 KB."""
    row = b"\0" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def encrypted_pdf() -> bytes:
    """A one-page PDF that needs a password to open (reportlab's RC4)."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, encrypt="kimitsu")
    page.drawString(100, 700, "confidential")
    page.showPage()
    page.save()
    return out.getvalue()


def tiff_with_corrupt_page(pages: list[Image.Image], corrupt: int) -> bytes:
    """A multi-page black-and-white LZW TIFF (300 dpi) whose page ``corrupt``
    (0-based) has its image data overwritten, so only that page fails to
    decode."""
    bilevel = [p.convert("L").point(lambda v: 255 if v > 150 else 0) for p in pages]
    out = io.BytesIO()
    bilevel[0].save(
        out, format="TIFF", save_all=True, append_images=bilevel[1:], compression="tiff_lzw", dpi=(300, 300)
    )
    data = bytearray(out.getvalue())
    probe = Image.open(io.BytesIO(bytes(data)))
    probe.seek(corrupt)
    for offset, count in zip(probe.tag_v2[273], probe.tag_v2[279], strict=True):
        data[offset : offset + count] = b"\xff" * count
    return bytes(data)


# --- documents ---------------------------------------------------------------------------


def billion_laughs_yaml() -> bytes:
    """Nine levels of aliases: 10^9 nodes if anything expands them."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append("id: laughs\nname: 爆発\nversion: 1\nfields: *a9")
    return "\n".join(lines).encode()


def script_with(placeholder: str) -> bytes:
    """The sample entry script with its first row placeholder replaced."""
    text = (RPA_SAMPLES / "shishutsu_futan.yaml").read_text(encoding="utf-8")
    start = text.index("{{ row.")
    end = text.index("}}", start) + 2
    return (text[:start] + placeholder + text[end:]).encode()


def sample_rows(prefix: str, count: int) -> tuple[list[str], list[list[str]]]:
    """The sample's valid records with fresh references."""
    rows = list(csv.reader(io.StringIO((RPA_SAMPLES / "records.csv").read_text(encoding="utf-8-sig"))))
    header, body = rows[0], [r for r in rows[1:5]]
    out = []
    for i in range(count):
        row = list(body[i % len(body)])
        row[0] = f"{prefix}-{i:03d}"
        out.append(row)
    return header, out


def records_csv(header: list[str], rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def records_xlsx_with_traps(header: list[str], rows: list[list[str]]) -> bytes:
    """A hidden first sheet with other rows, and on the visible sheet one
    amount that is a formula never calculated (openpyxl saves no value)."""
    book = Workbook()
    hidden = book.active
    assert hidden is not None
    hidden.title = "旧データ"
    hidden.append(header)
    hidden.append(["HIDDEN-001", *rows[0][1:]])
    hidden.sheet_state = "hidden"
    visible = book.create_sheet("支出負担行為")
    visible.append(header)
    amount = header.index("金額")
    for i, row in enumerate(rows):
        cells: list[object] = list(row)
        cells[amount] = "=1000*2" if i == 0 else int(row[amount])
        visible.append(cells)
    book.active = 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
