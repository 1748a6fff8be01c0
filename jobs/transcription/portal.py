"""The transcription kind's portal pieces: the meeting's facts on the
new-job form, the link to the transcript editor on the job page and
the editor page itself (``editor.html``). Plain declarations: the portal renders them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from jobs.adapters import FormField, PortalKind
from jobs.store import Viewer

# The form offers counts a meeting room holds; the API takes up to MAX_SPEAKERS.
FORM_MAX_SPEAKERS = 10


def speaker_counts(_session: Session, _viewer: Viewer) -> list[tuple[str, str]]:
    return [("0", "自動で判定"), *((str(n), f"{n}人") for n in range(2, FORM_MAX_SPEAKERS + 1))]


def speaker_bounds(_session: Session, _viewer: Viewer) -> list[tuple[str, str]]:
    return [("0", "指定なし"), *((str(n), f"{n}人") for n in range(1, FORM_MAX_SPEAKERS + 1))]


def speaker_field(name: str, label: str, help: str, choices: Any = speaker_bounds) -> FormField:
    """A speaker count on the form: a select shown (and sent) only while
    話者を区別する is checked."""
    return FormField(
        name,
        label,
        kind="select",
        help=help,
        choices=choices,
        default="0",
        convert=count,
        shown_with="diarize",
    )


PEOPLE = {n: f"{n}人" for n in range(1, 21)}  # how a stored count reads on the job page


def count(value: str) -> Any:
    """A chosen count as a number; anything else is left for the kind's
    validator to refuse with its message."""
    return int(value) if value.isdigit() else value


PORTAL = PortalKind(
    fields=(
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
        FormField(
            "diarize",
            "話者を区別する",
            kind="checkbox",
            help="発言ごとに話者1・話者2…と付けます。名前は処理の後、文字起こしの修正画面で付け替えられます。",
        ),
        speaker_field(
            "speakers",
            "話者の人数",
            "分かっていれば選んでください（話者を区別するときだけ使います）。",
            speaker_counts,
        ),
        speaker_field(
            "min_speakers",
            "最少話者数",
            "人数が分からないとき、少なくとも何人かが分かっていれば選んでください。",
        ),
        speaker_field(
            "max_speakers",
            "最多話者数",
            "人数が分からないとき、多くても何人かが分かっていれば選んでください。",
        ),
    ),
    value_labels={
        "diarize": {True: "区別する", False: "区別しない"},
        "speakers": {0: "自動で判定", **PEOPLE},
        "min_speakers": {0: "指定なし", **PEOPLE},
        "max_speakers": {0: "指定なし", **PEOPLE},
    },
    templates=Path(__file__).parent / "templates",
    job_fragment="job.html",
)
