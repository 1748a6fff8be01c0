"""The transcription kind's portal pieces: the meeting's facts on the
new-job form. Plain declarations: the portal renders them."""

from __future__ import annotations

from jobs.adapters import FormField, PortalKind

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
    ),
)
