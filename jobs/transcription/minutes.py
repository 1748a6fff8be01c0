"""The 議事録 draft (docx) that a department edits into its minutes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from docx import Document
from docx.shared import Pt

from jobs.transcription.formats import timestamp
from jobs.transcription.segments import Segment
from jobs.wareki import format_date_ja

FONT = "Yu Mincho"


@dataclass(frozen=True)
class MeetingInfo:
    name: str = ""
    day: date | None = None
    place: str = ""
    attendees: tuple[str, ...] = field(default_factory=tuple)


def paragraphs(segments: Sequence[Segment], pause_s: float) -> list[list[Segment]]:
    """Group segments into paragraphs: one per speaker turn when the segments
    have speakers, else a new one at each pause of ``pause_s`` seconds or
    more (a change of speaker, more often than not)."""
    groups: list[list[Segment]] = []
    turns = any(s.speaker for s in segments)
    for segment in segments:
        if (
            not groups
            or (turns and segment.speaker != groups[-1][-1].speaker)
            or (not turns and segment.start - groups[-1][-1].end >= pause_s)
        ):
            groups.append([])
        groups[-1].append(segment)
    return groups


def write_minutes(
    path: Path, segments: Sequence[Segment], info: MeetingInfo, *, pause_s: float = 3.0
) -> None:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(10.5)
    doc.add_heading(f"議事録（案）{('　' + info.name) if info.name else ''}", level=1)
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    rows = [
        ("会議名", info.name or "（未入力）"),
        ("日時", format_date_ja(info.day) if info.day else "（未入力）"),
        ("場所", info.place or "（未入力）"),
        ("出席者", "、".join(info.attendees) if info.attendees else "（未入力）"),
    ]
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    doc.add_heading("内容", level=2)
    for group in paragraphs(segments, pause_s):
        paragraph = doc.add_paragraph()
        if group[0].speaker:
            paragraph.add_run(f"{group[0].speaker}　").bold = True
        paragraph.add_run(f"[{timestamp(group[0].start)[:8]}] ").bold = True
        paragraph.add_run("".join(s.text for s in group))
    doc.add_paragraph(
        "※ この議事録案は音声からの自動文字起こしです。発言者名・固有名詞・数値を確認のうえご利用ください。"
    )
    doc.save(str(path))
