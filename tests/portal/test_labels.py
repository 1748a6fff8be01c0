"""Japanese names on pages, without a server: result files, OCR crops under
their field's label, accepted formats, 和暦 dates, the review screen's date
boxes and decisions, and the new-job form's selects and upload status."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from starlette.datastructures import FormData

from intake_api.portal.forms import FormField
from intake_api.portal.labels import (
    accepted_formats,
    ocr_field_labels,
    output_label,
    split_outputs,
    wareki_time,
    wareki_value,
)
from intake_api.portal.review_items import date_item
from intake_api.portal.routes_review import decisions
from intake_api.portal.web import templates
from jobs.artifacts import size_label
from jobs.transcription.kind import KIND as TRANSCRIPTION


def _file(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, size=10)


def test_result_files_have_japanese_names_and_crops_sit_under_their_field() -> None:
    assert output_label("minutes.docx", "transcription") == "議事録（Word）"
    assert output_label("transcript.srt", "transcription") == "字幕（SRT）"
    assert output_label("transcript.txt", "transcription") == "文字起こし（テキスト）"
    assert output_label("会議2.vtt", "transcription") == "字幕（WebVTT）（会議2.vtt）"
    assert output_label("results.xlsx", "rpa_entry") == "入力結果（Excel）"
    assert output_label("failures/row-0003.zip", "rpa_entry") == "失敗した行の記録（row-0003.zip）"
    assert output_label("notes.txt", "echo") == "notes.txt"  # no name invented for other kinds
    params = {
        "template": {
            "definition": {
                "fields": [{"name": "name", "label": "氏名"}, {"name": "birth_date", "label": "生年月日"}]
            }
        }
    }
    outputs = [
        _file(n)
        for n in ("forms.csv", "review-0002-name.png", "review-0001-name.png", "review-0002-birth_date.png")
    ]
    files, groups = split_outputs(outputs, ocr_field_labels(params), "ocr")
    assert [label for label, _ in files] == ["読み取り結果（CSV）"]
    assert [(g.label, [n for n, _ in g.crops]) for g in groups] == [("氏名", [1, 2]), ("生年月日", [2])]


def test_formats_and_wareki_dates() -> None:
    assert accepted_formats(TRANSCRIPTION.accepted_media_types) == (
        "WAV、MP3、M4A、FLAC、OGG、WebM、MP4（動画の音声）、WebM（動画の音声）"
    )
    assert wareki_value("2003-07-16") == "平成15年7月16日 (2003年7月16日)"
    assert wareki_value("第3回") == "第3回" and wareki_value("2003-02-30") == "2003-02-30"
    moment = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)  # 00:30 on 1 April in Tokyo
    assert wareki_time(moment, "Asia/Tokyo") == "令和8年4月1日 (2026年4月1日) 00:30"


def test_review_dates_in_both_calendars_and_a_correction_in_either_box() -> None:
    item = date_item({"value": "2003-07-16"})
    assert item == {"date": True, "shown": "平成15年7月16日", "seireki": "2003年7月16日"}
    assert date_item({"value": "山田"}) == {"date": False}
    common = [("field_0", "birth_date"), ("form_0", "2"), ("shown_0", "平成15年7月16日")]
    pair = [("shown_seireki_0", "2003年7月16日")]
    as_shown, _ = decisions(
        FormData([*common, *pair, ("value_0", "平成15年7月16日"), ("seireki_0", "2003年7月16日")])
    )
    assert "value" not in as_shown[0]  # confirmed
    seireki, _ = decisions(
        FormData([*common, *pair, ("value_0", "平成15年7月16日"), ("seireki_0", "2003年7月17日")])
    )
    assert seireki[0]["value"] == "2003年7月17日"
    wareki, typed = decisions(
        FormData([*common, *pair, ("value_0", "平成15年7月18日"), ("seireki_0", "2003年7月17日")])
    )
    assert wareki[0]["value"] == "平成15年7月18日" and typed == {(2, "birth_date"): "平成15年7月18日"}


def _form(choices: list[tuple[str, str]]) -> str:
    field = FormField("script", "入力スクリプト", kind="select", required=True)
    kind = SimpleNamespace(name="rpa_entry", label_ja="財務会計システム一括入力", max_files=1)
    context = {
        "kinds": [],
        "kind": kind,
        "fields": (field,),
        "choices": {"script": choices},
        "values": {},
        "generic_rows": range(0),
        "accept": ".csv",
        "file_input": None,
        "formats": "CSV",
        "error": "",
        "max_size": size_label(100 * 1024**2),
        "csrf_token": "t",
        "user": None,
        "nav": [],
        "path": "",
    }
    return templates().get_template("new_job.html").render(context)


def test_a_select_with_one_choice_starts_on_it_and_the_upload_status_starts_hidden() -> None:
    one = _form([("shishutsu_futan", "支出負担行為の一括入力")])
    assert "選択してください" not in one and '<option value="shishutsu_futan" selected>' in one
    two = _form([("a", "A"), ("b", "B")])
    assert '<option value="">選択してください</option>' in two and " selected" not in two
    assert '<div class="upload-status" hidden>' in one and "受け付ける形式: CSV。" in one
    assert "1ファイル 100 MB まで。" in one


def test_the_upload_limit_reads_the_same_in_the_help_and_the_refusal() -> None:
    assert size_label(1_000_000) == "976.6 KB" and size_label(2 * 1024**3) == "2 GB"
    assert size_label(1024**2) == "1 MB" and size_label(512) == "512 B"


def test_review_shows_both_engines_readings_when_they_differ() -> None:
    reading = {
        "form": 1,
        "field": "name",
        "file": "scan.pdf",
        "label": "氏名",
        "reasons_ja": ["読み取りエンジンの結果が一致しません"],
    }
    both = {"tesseract": {"text": "高橋", "confidence": 71.0}, "ppocr": {"text": "髙橋", "confidence": 93.4}}
    items = [
        {**reading, "raw": "高橋", "confidence": 71.0, "typed": "高橋", "shown": "高橋", "readings": both},
        {
            **reading,
            "field": "tel",
            "raw": "0312",
            "confidence": 95.0,
            "typed": "0312",
            "shown": "0312",
            "readings": {"tesseract": {"text": "0312", "confidence": 95.0}},
        },
    ]
    job = SimpleNamespace(
        id="j1", department="kikaku", submitted_at=None, parameters={}, summary={}, state="needs_review"
    )

    def page_for(role: str) -> str:
        user = SimpleNamespace(viewer=SimpleNamespace(sees_all=role != "department"))
        return (
            templates()
            .get_template("review.html")
            .render(
                {
                    "request": None,
                    "job": job,
                    "items": items,
                    "error": "",
                    "failed": None,
                    "csrf_token": "t",
                    "opened_at": 0,
                    "user": user,
                    "nav": [],
                    "path": "",
                    "dept_name": str,
                    "local_ja": str,
                }
            )
        )

    page = page_for("operator")
    assert "読み取り方法別: PP-OCR「髙橋」確信度 93／ Tesseract「高橋」確信度 71" in page
    assert page.count("読み取り方法別") == 1  # one engine alone: no comparison shown
    # Department users are not shown engine names.
    staff = page_for("department")
    assert "方法A「髙橋」確信度 93／ 方法B「高橋」確信度 71" in staff
    assert "Tesseract" not in staff and "PP-OCR" not in staff


def test_the_template_editor_offers_every_field_type() -> None:
    from jobs.ocr.portal import TYPE_LABELS
    from jobs.ocr.template import FIELD_TYPES

    assert tuple(TYPE_LABELS) == FIELD_TYPES  # digits too, in the template's order
