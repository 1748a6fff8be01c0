"""Japanese names where pages would otherwise show codes or file names:
result files (議事録（Word）…), OCR crops under their field's label, the
file formats a kind accepts, dates in 和暦, department names."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jobs.artifacts import FORMAT_NAMES_JA
from jobs.wareki import EARLIEST_SUPPORTED, format_date_ja

# By exact name first, then by suffix.
OUTPUT_NAMES = {
    "minutes.docx": "議事録（Word）",
    "transcript.txt": "文字起こし（テキスト）",
    "transcript.srt": "字幕（SRT）",
    "transcript.vtt": "字幕（WebVTT）",
    "transcript.json": "文字起こし（JSON・時刻付き）",
    "forms.csv": "読み取り結果（CSV）",
    "forms.xlsx": "読み取り結果（Excel）",
    "forms.json": "読み取り結果（JSON・確認の記録付き）",
    "results.csv": "入力結果（CSV）",
    "results.xlsx": "入力結果（Excel）",
    "results.json": "入力結果（JSON・システム連携用）",
}
# A transcription of several recordings names its files after each one.
TRANSCRIPTION_SUFFIXES = {
    ".docx": "議事録（Word）",
    ".txt": "文字起こし（テキスト）",
    ".srt": "字幕（SRT）",
    ".vtt": "字幕（WebVTT）",
}
FOLDER_NAMES = {"failures": "失敗した行の記録", "screenshots": "画面の記録"}
FORMAT_NAMES = FORMAT_NAMES_JA  # one list: the refusals name formats the same way
_CROP = re.compile(r"review-([0-9]{4})-(.+)\.png")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class CropGroup:
    """The crop images of one field, by form number."""

    label: str
    crops: list[tuple[int, Any]]


def output_label(name: str, kind: str = "") -> str:
    """The Japanese name of a result file; the file name when none is known."""
    if name in OUTPUT_NAMES:
        return OUTPUT_NAMES[name]
    folder, _, base = name.rpartition("/")
    if folder in FOLDER_NAMES:
        return f"{FOLDER_NAMES[folder]}（{base}）"
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    if kind == "transcription" and suffix in TRANSCRIPTION_SUFFIXES:
        return f"{TRANSCRIPTION_SUFFIXES[suffix]}（{name}）"
    return name


def ocr_field_labels(params: Mapping[str, Any]) -> dict[str, str]:
    """Field name → label from the OCR template(s) stored with the job."""
    stored = [params.get("template"), *(params.get("templates") or [])]
    labels: dict[str, str] = {}
    for item in stored:
        definition = item.get("definition", {}) if isinstance(item, Mapping) else {}
        for spec in definition.get("fields", []) if isinstance(definition, Mapping) else []:
            if isinstance(spec, Mapping) and spec.get("name"):
                labels.setdefault(str(spec["name"]), str(spec.get("label") or spec["name"]))
    return labels


def split_outputs(
    outputs: Iterable[Any], field_labels: Mapping[str, str], kind: str = ""
) -> tuple[list[tuple[str, Any]], list[CropGroup]]:
    """([(Japanese name, result file)], OCR crop images grouped under their field's label)."""
    files: list[tuple[str, Any]] = []
    groups: dict[str, CropGroup] = {}
    for item in outputs:
        found = _CROP.fullmatch(item.name)
        if found is None:
            files.append((output_label(item.name, kind), item))
            continue
        field = found.group(2)
        label = field_labels.get(field, field)
        groups.setdefault(field, CropGroup(label, [])).crops.append((int(found.group(1)), item))
    for group in groups.values():
        group.crops.sort(key=lambda pair: pair[0])
    return files, list(groups.values())


def accepted_formats(media_types: Iterable[str]) -> str:
    """「WAV、MP3、…」: what the file input takes, in words."""
    known = [t for t in FORMAT_NAMES if t in set(media_types)]
    return "、".join(dict.fromkeys(FORMAT_NAMES[t] for t in known))


def wareki_value(value: Any) -> Any:
    """An ISO date parameter (開催日) as 「令和7年4月15日 (2025年4月15日)」; others unchanged."""
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        if day >= EARLIEST_SUPPORTED:
            return format_date_ja(day)
    return value


def wareki_time(moment: datetime | None, tz: str) -> str:
    """A moment in the city's clock: 「令和8年12月2日 (2026年12月2日) 11:05」."""
    if moment is None:
        return "—"
    local = moment.astimezone(ZoneInfo(tz))
    return f"{format_date_ja(local.date())} {local:%H:%M}"
