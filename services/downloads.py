"""The name a result file is saved under: for people, not for the program
that wrote it. Every meeting's minutes were ``minutes.docx``; now they are
``防災対策検討会議_2025-04-15_議事録.docx``, OCR results
``給付金支給申請書_2026-12-07.csv`` and entry results
``支出負担行為の一括入力_結果.xlsx``. Names are made safe for Windows
(no ``\\/:*?"<>|``, no control characters, no trailing dot or space, short
enough for a path); ISO dates sort in a folder."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.orm import Session

from jobs import store
from jobs.store import Viewer

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
MAX_STEM = 80  # characters before the suffix: well under Windows' 260 with a folder
TRANSCRIPT_PARTS = {
    ".docx": "議事録",
    ".txt": "文字起こし",
    ".srt": "字幕",
    ".vtt": "字幕",
    ".json": "文字起こし",
}
OCR_SUFFIXES = {".csv": "", ".xlsx": "", ".json": "_確認の記録"}


def safe(text: str) -> str:
    # Trailing dots and spaces are dropped by Windows; stray _ only look broken.
    return _UNSAFE.sub("_", text).strip(" ._")[:MAX_STEM].rstrip(" ._")


def _join(*parts: str) -> str:
    return "_".join(p for p in (safe(x) for x in parts) if p)


def _script_name(params: Mapping[str, Any]) -> str:
    try:
        loaded = yaml.safe_load(str(params.get("script_text") or ""))
    except yaml.YAMLError:
        return str(params.get("script_id") or "")
    name = loaded.get("name") if isinstance(loaded, dict) else None
    return str(name or params.get("script_id") or "")


def _template_name(params: Mapping[str, Any]) -> str:
    stored = [params.get("template"), *(params.get("templates") or [])]
    # Intake stores each template as {"definition": {...}, ...} (jobs.ocr.store).
    found = [t.get("definition", t) for t in stored if isinstance(t, Mapping)]
    names = [str(d.get("name") or d.get("id") or "") for d in found if isinstance(d, Mapping)]
    return "・".join(dict.fromkeys(n for n in names if n))


def human_name(kind: str, name: str, params: Mapping[str, Any], submitted: datetime, tz: str) -> str:
    """The file name to save ``name`` under; ``name`` itself when no better one is known."""
    path = PurePosixPath(name)
    suffix = path.suffix.lower()
    day = submitted.astimezone(ZoneInfo(tz)).date().isoformat()
    stem = ""
    if kind == "transcription" and suffix in TRANSCRIPT_PARTS and "/" not in name:
        # A batch of recordings names its files after each one: keep that stem.
        title = params.get("meeting_name") or (
            path.stem if path.stem not in ("minutes", "transcript") else ""
        )
        stem = _join(str(title or "会議"), str(params.get("meeting_date") or day), TRANSCRIPT_PARTS[suffix])
    elif kind == "ocr" and name in ("forms.csv", "forms.xlsx", "forms.json"):
        stem = _join(_template_name(params) or "帳票", day) + OCR_SUFFIXES[suffix]
    elif kind == "rpa_entry" and name in ("results.csv", "results.xlsx", "results.json"):
        stem = _join(_script_name(params) or "一括入力", "結果")
    return f"{stem}{suffix}" if stem else name


def download_name(job_id: str, name: str, *, session: Session, viewer: Viewer, tz: str) -> str:
    job = store.get_job(job_id, session=session, viewer=viewer)
    return human_name(job.kind, name, job.parameters or {}, job.submitted_at, tz)
