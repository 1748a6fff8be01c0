"""Result files saved under names for people (services.downloads), without a
server: meetings by name and date, OCR by form and day received, entry jobs
by script; Windows-unsafe characters replaced; unknown files keep their name."""

from __future__ import annotations

from datetime import UTC, datetime

from intake_api.files import disposition
from services.downloads import human_name, safe

TZ = "Asia/Tokyo"
# 2026-12-06 20:00 UTC is already 7 December in Tokyo.
AT = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
SCRIPT = "version: 1\nname: 支出負担行為の一括入力\ntarget: {name: zaimu}\n"


def test_meeting_files_by_name_and_date() -> None:
    params = {"meeting_name": "防災対策検討会議（第3回）", "meeting_date": "2025-04-15"}
    assert (
        human_name("transcription", "minutes.docx", params, AT, TZ)
        == "防災対策検討会議（第3回）_2025-04-15_議事録.docx"
    )
    assert (
        human_name("transcription", "transcript.srt", params, AT, TZ)
        == "防災対策検討会議（第3回）_2025-04-15_字幕.srt"
    )
    # No meeting name or date: the recording's day received and a plain word.
    assert human_name("transcription", "minutes.docx", {}, AT, TZ) == "会議_2026-12-07_議事録.docx"
    # A batch names files after each recording: that name is kept.
    assert human_name("transcription", "第2回.docx", {}, AT, TZ) == "第2回_2026-12-07_議事録.docx"


def test_ocr_and_entry_results() -> None:
    # As intake stores it (jobs.ocr.store): the definition inside.
    ocr = {"template": {"definition": {"id": "kyufukin-shinsei", "name": "給付金支給申請書", "version": 1}}}
    assert human_name("ocr", "forms.csv", ocr, AT, TZ) == "給付金支給申請書_2026-12-07.csv"
    assert human_name("ocr", "forms.json", ocr, AT, TZ) == "給付金支給申請書_2026-12-07_確認の記録.json"
    assert human_name("ocr", "review-0001-name.png", ocr, AT, TZ) == "review-0001-name.png"
    rpa = {"script_id": "shishutsu_futan", "script_text": SCRIPT}
    assert human_name("rpa_entry", "results.xlsx", rpa, AT, TZ) == "支出負担行為の一括入力_結果.xlsx"
    assert (
        human_name("rpa_entry", "results.csv", {"script_id": "x", "script_text": ": ["}, AT, TZ)
        == "x_結果.csv"
    )
    assert human_name("echo", "out.txt", {}, AT, TZ) == "out.txt"


def test_windows_unsafe_names_and_the_header() -> None:
    params = {"meeting_name": 'a/b\\c:d*e?f"g<h>i|j\x01. ', "meeting_date": "2025-04-15"}
    name = human_name("transcription", "minutes.docx", params, AT, TZ)
    assert name == "a_b_c_d_e_f_g_h_i_j_2025-04-15_議事録.docx"
    assert len(safe("長" * 300)) == 80
    header = disposition("会議_議事録.docx", "minutes.docx")
    assert header == (
        'attachment; filename="minutes.docx"; '
        "filename*=UTF-8''%E4%BC%9A%E8%AD%B0_%E8%AD%B0%E4%BA%8B%E9%8C%B2.docx"
    )
