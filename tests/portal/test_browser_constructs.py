"""Template constructs in a real browser (Debian's Chromium through
Playwright, the app under uvicorn as in test_browser): an operator draws a
choice (two printed words) and a table (its outer box, 3 rows, 2 columns)
on the third test form's reference page and saves them as version 2, whose
YAML validates and reads the same when the editor is opened again; a
department user corrects a choice with its option buttons and an era date
with its 元号・年・月・日 boxes (a day outside its era refused, as a typed
one is), fills a partial table row's empty cell, and finds the corrections
in forms.json."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from playwright import sync_api as playwright_api

from jobs.db import unit_of_work
from jobs.ocr import store as templates
from jobs.ocr.template import parse_template
from tests.conftest import Service
from tests.jobs.ocr import jumin
from tests.portal.test_browser import _log_in, _shot, browser, person, portal_url  # noqa: F401
from tests.portal.test_browser_pages import _english, _wide
from tests.support.ocr_review_job import JUMIN, SCAN, review_job

pytestmark = pytest.mark.parametrize("service", ["sqlite"], indirect=True)
TEMPLATE_ID = "jumin-editor"


def _stored_jumin(service: Service) -> None:
    text = JUMIN.read_text(encoding="utf-8").replace("id: jumin-seikyu", f"id: {TEMPLATE_ID}")
    template = parse_template(text, {"reference.pdf": jumin.form_pdf(None)})
    with unit_of_work(service.runtime.factory) as session:
        templates.save(template, session=session, created_by="test")


def _drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:  # type: ignore[no-untyped-def]
    page.locator("#canvas").scroll_into_view_if_needed()
    canvas = page.locator("#canvas").bounding_box()  # the page may have scrolled to a box typed in
    assert canvas

    def at(x_mm: float, y_mm: float) -> tuple[float, float]:
        return canvas["x"] + canvas["width"] * x_mm / 210, canvas["y"] + canvas["height"] * y_mm / 297

    page.mouse.move(*at(*start))
    page.mouse.down()
    page.mouse.move(*at(*end), steps=6)
    page.mouse.up()


def _new_field(page, start, end, name: str, label: str, kind: str):  # type: ignore[no-untyped-def]
    _drag(page, start, end)
    row = page.locator("#field-rows tr").last
    row.locator("input[name^=name_]").fill(name)
    row.locator("input[name^=label_]").fill(label)
    row.locator("select[name^=type_]").select_option(kind)
    return row


def _draw_an_era_date_and_a_tick_set(page) -> None:  # type: ignore[no-untyped-def]
    """An era date printed 令和 with 年・月・日 boxes; a tick set of two with one count box."""
    page.select_option("#draw-mode", "new")
    _new_field(page, (16, 235), (80, 246), "issued", "交付日", "era_date")
    page.select_option("#detail-body select[aria-label='元号の書き方']", "令和")
    for part, x in (("year", 20), ("month", 40), ("day", 60)):
        page.select_option("#draw-mode", part)
        _drag(page, (x, 237), (x + 8, 245))
    page.select_option("#draw-mode", "new")
    _new_field(page, (112, 235), (200, 247), "copies", "受け取り", "tick_set")
    _typed(page, "[data-detail=min]", "1")
    page.select_option("#draw-mode", "option")
    _drag(page, (115, 238), (120, 243))
    _typed(page, "[data-option-value='0']", "窓口")
    _drag(page, (150, 238), (155, 243))
    _typed(page, "[data-option-value='1']", "郵送")
    page.select_option("#draw-mode", "count")
    _drag(page, (125, 237), (135, 245))
    _shot(page, "template-edit-constructs")


def _typed(page, selector: str, text: str) -> None:  # type: ignore[no-untyped-def]
    page.fill(selector, text)
    page.press(selector, "Enter")  # the panel takes the value; the template is not sent


def test_constructs_drawn_in_the_editor_and_corrected_in_review(
    service: Service,
    portal_url: str,  # noqa: F811
    browser: playwright_api.Browser,  # noqa: F811
    dept: str,
) -> None:
    """One test for both screens: one uvicorn start (about 25 s on a busy machine) instead of two."""
    _draw_a_choice_and_a_table_and_save(service, portal_url, browser)
    _correct_a_choice_an_era_date_and_a_table_row(service, portal_url, browser, dept)


def _draw_a_choice_and_a_table_and_save(
    service: Service,
    portal_url: str,  # noqa: F811
    browser: playwright_api.Browser,  # noqa: F811
) -> None:
    _stored_jumin(service)
    ops = person(service, "kato", "digilabo", "デジタル推進課", "加藤 愛", "operator")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    try:
        _log_in(page, portal_url, ops)
        page.wait_for_selector("nav.menu")
        page.goto(f"{portal_url}/portal/templates/{TEMPLATE_ID}/edit")
        page.wait_for_function("document.querySelector('#canvas img').naturalWidth > 0")
        # The stored constructs are shown: the birth date's five eras and three parts.
        page.locator("input[name^=name_][value=birth]").focus()
        assert page.locator(".part[data-row='4']").count() == 8

        choice = _new_field(page, (18, 257), (100, 268), "consent", "同意", "choice")
        page.select_option("#draw-mode", "option")
        _drag(page, (22, 259), (40, 267))
        _typed(page, "[data-option-value='0']", "する")
        _drag(page, (50, 259), (72, 267))
        _typed(page, "[data-option-value='1']", "しない")
        index = choice.get_attribute("data-row")
        assert page.locator(f".part[data-row='{index}']").count() == 2

        page.select_option("#draw-mode", "new")
        _new_field(page, (18, 272), (140, 290), "items", "明細", "table")
        _typed(page, "[data-detail=rows]", "3")
        page.fill("[data-detail=column-count]", "2")
        page.click("#split-columns")
        _typed(page, "[data-column-label='0']", "品名")
        _typed(page, "[data-column-label='1']", "数量")
        page.set_viewport_size({"width": 390, "height": 900})  # the panel scrolls inside its own box
        assert _wide(page) == 0
        page.set_viewport_size({"width": 1280, "height": 900})
        _draw_an_era_date_and_a_tick_set(page)
        page.click("#save-template")
        page.wait_for_selector("text=第2版として保存しました")

        with unit_of_work(service.runtime.factory) as session:
            saved = templates.get_version(TEMPLATE_ID, 2, session=session).stored["definition"]
        fields = {f["name"]: f for f in saved["fields"]}
        assert fields["consent"]["options"] == [
            {"value": "する", "box": {"x": 22, "y": 259, "w": 18, "h": 8}},
            {"value": "しない", "box": {"x": 50, "y": 259, "w": 22, "h": 8}},
        ]
        items = fields["items"]
        assert items["rows"] == 3 and items["box"] == {"x": 18, "y": 272, "w": 122, "h": 18}
        assert [(c["label"], c["x"], c["w"]) for c in items["columns"]] == [
            ("品名", 18, 61),
            ("数量", 79, 61),
        ]
        assert fields["issued"]["era"] == "令和" and fields["issued"]["day"] == {
            "box": {"x": 60, "y": 237, "w": 8, "h": 8}
        }
        assert fields["copies"]["options"][1] == {
            "value": "郵送",
            "box": {"x": 150, "y": 238, "w": 5, "h": 5},
        }
        assert fields["copies"]["options"][0]["count"] == {"box": {"x": 125, "y": 237, "w": 10, "h": 8}}
        assert fields["copies"]["min"] == 1 and "count" not in fields["copies"]["options"][1]
        assert fields["birth"] == next(
            f
            for f in parse_template(
                JUMIN.read_text(encoding="utf-8"), {"reference.pdf": jumin.form_pdf(None)}
            ).source["fields"]
            if f["name"] == "birth"
        )

        # Opened again, saved without a change: nothing new is stored.
        page.goto(f"{portal_url}/portal/templates/{TEMPLATE_ID}/edit?version=2")
        page.locator("input[name^=name_][value=consent]").focus()
        assert page.locator("[data-option-value='1']").input_value() == "しない"
        page.click("#save-template")
        page.wait_for_selector("text=変更がなかったため")
    finally:
        page.context.close()


def _correct_a_choice_an_era_date_and_a_table_row(
    service: Service,
    portal_url: str,  # noqa: F811
    browser: playwright_api.Browser,  # noqa: F811
    dept: str,
) -> None:
    job_id = review_job(service.runtime, dept)
    staff = person(service, f"{dept}-mori", dept, "市民課", "森 美咲")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    try:
        _log_in(page, portal_url, staff)
        page.wait_for_url("**/portal/jobs")
        page.goto(f"{portal_url}/portal/jobs/{job_id}/review")
        page.wait_for_selector("#review-form")
        # No English for a department user (the help's key caps, Enter and Shift, are what the keys say).
        assert _english(page, (SCAN, "Enter", "Shift")) == set()
        page.set_viewport_size({"width": 390, "height": 900})
        assert _wide(page) == 0
        page.set_viewport_size({"width": 1280, "height": 900})
        items = page.locator("[data-review-item]")
        assert items.count() == 5  # sex, birth and the partial row's three cells
        row = items.nth(3).locator(".table-row.partial").inner_text()
        assert "世帯員2行目（一部のみ記入）" in row and "続柄「空欄」" in row

        items.nth(0).locator("button.pick[data-value='女']").click()
        assert page.locator("#value-0").input_value() == "女"
        birth = items.nth(1)
        assert birth.locator(".era-year").input_value() == "55"
        birth.locator(".era-era").select_option("平成")
        birth.locator(".era-year").fill("元")
        birth.locator(".era-month").fill("1")
        birth.locator(".era-day").fill("7")  # 平成 began on the 8th
        assert page.locator("#value-1").input_value() == "平成元年1月7日"
        assert birth.locator(".era-iso").inner_text() == "（この元号にない日付）"
        _shot(page, "review-constructs")
        page.locator("#value-3").fill("長男")
        page.click("#review-submit")
        page.wait_for_selector(".review-item.invalid .refused")
        assert page.locator("[data-review-item]").count() == 1
        assert "生年月日" in page.locator(".refused").inner_text()

        page.locator(".era-era").select_option("昭和")
        page.locator(".era-year").fill("55")
        page.locator(".era-month").fill("3")
        page.locator(".era-day").fill("1")
        assert page.locator(".era-iso").inner_text() == "1980-03-01"
        page.locator(".era-day").press("Enter")
        page.wait_for_selector("text=確認が終わり、ジョブは完了しました")
    finally:
        page.context.close()
    forms = service.api.get(f"/api/v1/jobs/{job_id}/artifacts/forms.json", headers=service.token(dept)).json()
    fields = forms["forms"][0]["fields"]
    assert fields["sex"]["value"] == "女" and fields["birth"]["value"] == "1980-03-01"
    assert fields["birth"]["extra"]["wareki"] == "昭和55年3月1日"
    rows = forms["forms"][0]["tables"]["members"]
    assert [r["status"] for r in rows] == ["complete", "complete", "empty"]
    assert rows[1]["values"]["relation"] == "長男"
    _outputs_hold_the_corrections(service, dept, job_id)


def _outputs_hold_the_corrections(service: Service, dept: str, job_id: str) -> None:
    """forms.csv: a table's cells as flattened columns; forms.xlsx: the same,
    and a sheet with one line per filled row."""
    url = f"/api/v1/jobs/{job_id}/artifacts"
    text = service.api.get(f"{url}/forms.csv", headers=service.token(dept)).content.decode("utf-8-sig")
    header, line = list(csv.reader(io.StringIO(text)))
    row = dict(zip(header, line, strict=True))
    assert (row["性別"], row["生年月日"], row["生年月日（和暦）"]) == ("女", "1980-03-01", "昭和55年3月1日")
    assert (row["世帯員2 氏名"], row["世帯員2 続柄"], row["世帯員3 氏名"]) == ("山田 一郎", "長男", "")
    book = load_workbook(
        io.BytesIO(service.api.get(f"{url}/forms.xlsx", headers=service.token(dept)).content)
    )
    lines = list(book["表_世帯員"].iter_rows(values_only=True))
    assert lines[0] == ("ファイル", "帳票番号", "行", "状態", "氏名", "続柄", "生年月日")
    assert [line[2:6] for line in lines[1:]] == [
        (1, "記入済", "山田 太郎", "夫"),
        (2, "記入済", "山田 一郎", "長男"),
    ]
