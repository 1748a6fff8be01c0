"""New-job forms: the fields a kind asks for, and turning a submitted form
into the kind's parameters. The kind's own validator still has the last
word (jobs.intake.accept runs it).

A kind with an entry in ``KIND_FIELDS`` gets those fields; any other kind
gets the generic form: its files plus a few 「項目名 = 値」 rows. OCR (a
template to choose) and entry jobs (an approved script) add their entries
here, with ``choices`` read from their stores.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from jobs.errors import JobInputError
from jobs.ocr.portal import template_choices
from jobs.registry import JobKind
from jobs.rpa.portal import INVALID_ROWS, invalid_rows_choices, script_choices
from jobs.store import Viewer

GENERIC_ROWS = 5
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,15})")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,15})\.[0-9]{1,15}")

Choices = Callable[[Session, Viewer], list[tuple[str, str]]]


@dataclass(frozen=True)
class FormField:
    """One input. ``kind``: text, date, textarea, select, number, checkbox.
    A select with a ``default`` has no empty choice and starts on it."""

    name: str
    label: str
    kind: str = "text"
    help: str = ""
    required: bool = False
    placeholder: str = ""
    max_length: int = 200
    choices: Choices | None = None
    default: str = ""
    convert: Callable[[str], Any] = field(default=lambda v: v)


KIND_FIELDS: dict[str, tuple[FormField, ...]] = {
    "transcription": (
        FormField("meeting_name", "会議名", placeholder="例: 防災対策検討会議（第3回）"),
        FormField("meeting_date", "開催日", kind="date"),
        FormField("place", "場所", placeholder="例: 本庁舎5階 第1会議室"),
        FormField(
            "attendees",
            "出席者",
            kind="textarea",
            help="1行に1人、または「、」で区切って入力してください。",
            max_length=4000,
        ),
        FormField(
            "glossary",
            "この会議の用語",
            kind="textarea",
            help="人名・地名・事業名など、正しく書き起こしてほしい語句（部署の用語集に追加して使います）。",
            max_length=4000,
        ),
    ),
    "ocr": (
        FormField(
            "template",
            "帳票定義",
            kind="select",
            required=True,
            help="読み取る帳票の種類です。一覧にない帳票は運用担当に登録を依頼してください。",
            max_length=120,
            choices=template_choices,
        ),
    ),
    "rpa_entry": (
        FormField(
            "script",
            "入力スクリプト",
            kind="select",
            required=True,
            help="承認済みの入力スクリプトの最新版で入力します。一覧にないときは運用担当に登録を依頼してください。",
            max_length=120,
            choices=script_choices,
        ),
        FormField(
            "invalid_rows",
            "不備のある行",
            kind="select",
            max_length=20,
            choices=invalid_rows_choices,
            default="skip",
        ),
        FormField(
            "dry_run",
            "確認のみ（登録しない）",
            kind="checkbox",
            help="入力データと画面の流れを確かめるだけで、財務会計システムには登録しません。",
        ),
    ),
}


@dataclass(frozen=True)
class FileInput:
    """The file input of a kind whose files are not what its name suggests."""

    label: str
    accept: str
    help: str = ""


KIND_FILES: dict[str, FileInput] = {
    "rpa_entry": FileInput(
        "入力データ（CSV・XLSX）",
        ".csv,.xlsx",
        "1行目が見出しの表です（見出しは入力スクリプトの列名）。入力スクリプトのYAMLは添付しないでください。",
    ),
}

# How a stored parameter value reads on the job page, by kind and parameter.
VALUE_LABELS: dict[str, dict[str, dict[Any, str]]] = {
    "rpa_entry": {
        "invalid_rows": dict(INVALID_ROWS),
        "dry_run": {True: "はい（登録しない）", False: "いいえ"},
    },
}


def fields_for(kind: JobKind) -> tuple[FormField, ...]:
    return KIND_FIELDS.get(kind.name, ())


def choices_for(
    fields: tuple[FormField, ...], *, session: Session, viewer: Viewer
) -> dict[str, list[tuple[str, str]]]:
    return {f.name: f.choices(session, viewer) for f in fields if f.choices is not None}


def simple_value(raw: str) -> Any:
    """A generic row's value: true/false, whole and decimal numbers become
    JSON values; everything else (codes like 0012 too) stays text."""
    text = raw.strip()
    if text in ("true", "false"):
        return text == "true"
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return float(text)
    return text


def params_from_form(kind: JobKind, form: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters for ``kind`` from the submitted form (only values the
    person filled in: an empty field means the kind's default)."""
    fields = fields_for(kind)
    if fields:
        return _declared(fields, form)
    return _generic(form)


def _declared(fields: tuple[FormField, ...], form: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for spec in fields:
        raw = form.get(spec.name)
        if spec.kind == "checkbox":
            params[spec.name] = raw is not None
            continue
        value = str(raw or "").strip()
        if not value:
            if spec.required:
                raise JobInputError("missing_field", f"「{spec.label}」を入力してください。", field=spec.name)
            continue
        if len(value) > spec.max_length:
            raise JobInputError(
                "field_too_long",
                f"「{spec.label}」は{spec.max_length}文字以内で入力してください。",
                field=spec.name,
            )
        params[spec.name] = spec.convert(value)
    return params


def _generic(form: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for index in range(GENERIC_ROWS):
        name = str(form.get(f"param_name_{index}") or "").strip()
        value = str(form.get(f"param_value_{index}") or "")
        if not name:
            continue
        if not _PARAM_NAME.fullmatch(name):
            raise JobInputError(
                "invalid_parameters",
                f"{index + 1}行目の項目名は半角英数字と _ で入力してください。",
                field=f"param_name_{index}",
            )
        if len(value) > 2000:
            raise JobInputError("field_too_long", f"{index + 1}行目の値が長すぎます。", field=name)
        params[name] = simple_value(value)
    return params
