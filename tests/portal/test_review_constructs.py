"""The review screen for template constructs: a flagged choice or tick set
shows its options (and takes only one of them), an era date its 和暦."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from intake_api.portal.web import templates
from jobs.ocr.constructs_doc import era_parts
from jobs.ocr.document import pending_reviews


def _doc() -> dict[str, Any]:
    field = {
        "value": None,
        "text": "",
        "raw": "男:0.002 女:0.000",
        "confidence": 50.0,
        "crop": None,
        "problem": None,
    }
    entry = {**field, "review": True, "reviewed": False, "reasons": ["choice_faint"]}
    date = {**field, "value": "1989-01-08", "text": "1989-01-08", "raw": "平成 year:元 month:1 day:8"}
    date_entry = {
        **date,
        "review": True,
        "reviewed": False,
        "reasons": ["low_confidence"],
        "extra": {"wareki": "平成元年1月8日"},
    }
    specs = [
        {"name": "sex", "label": "性別", "type": "choice", "options": ["男", "女"], "rule": "exactly_one"},
        {"name": "birth", "label": "生年月日", "type": "era_date"},
    ]
    return {
        "templates": {"t@1": {"fields": specs}},
        "forms": [
            {"index": 1, "file": "a.png", "template": "t@1", "fields": {"sex": entry, "birth": date_entry}}
        ],
    }


def _render(items: list[dict[str, Any]]) -> str:
    job = SimpleNamespace(
        id="j1", department="kikaku", submitted_at=None, parameters={}, summary={}, state="needs_review"
    )
    context = {
        "request": None,
        "job": job,
        "items": items,
        "error": "",
        "failed": None,
        "csrf_token": "t",
        "opened_at": 0,
        "user": None,
        "nav": [],
        "path": "",
        "dept_name": str,
        "local_ja": str,
    }
    return templates().get_template("review.html").render(context)


def test_a_flagged_choice_shows_its_options_and_an_era_date_its_wareki() -> None:
    pending = pending_reviews(_doc())
    sex, birth = pending
    assert (
        sex["options"] == ["男", "女"]
        and sex["most"] == 1
        and sex["reasons_ja"] == ["選択肢の印がはっきりしない"]
    )
    assert birth["wareki"] == "平成元年1月8日"
    items = [{**p, "typed": p["text"], "shown": p["text"]} for p in pending]
    page = _render(items)
    assert '<datalist id="options-0"><option value="男"><option value="女"></datalist>' in page
    assert "選択肢: 男・女（1つだけ入力。印がなければ空欄）" in page
    assert page.count("<datalist") == 1


def test_an_era_dates_boxes_come_from_its_value_or_its_reading() -> None:
    sex, birth = pending_reviews(_doc())
    assert birth["era_parts"] == {"era": "平成", "year": "元", "month": "1", "day": "8"}
    assert birth["raw_ja"] == "平成 年:元 月:1 日:8"
    unread = {"value": None, "raw": "明治:0.000 昭和:0.004 平成:0.001 year:55 month:3 day:"}
    assert era_parts(unread) == {"era": "昭和", "year": "55", "month": "3", "day": ""}
    assert era_parts({"value": None, "raw": "year: month: day:"}) == {
        "era": "",
        "year": "",
        "month": "",
        "day": "",
    }
    assert "empty_ok" in sex and sex["empty_ok"] is False
