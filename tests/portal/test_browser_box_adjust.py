"""Adjusting boxes in the template editor in a real browser (Debian's
Chromium through Playwright, the app under uvicorn as in test_browser): an
operator draws a field, drags it, resizes it by two of its handles, nudges it
with the arrow keys (Shift: 5 mm; Ctrl: its size), takes one nudge back with
Ctrl+Z and a field drawn by mistake with 元に戻す, and saves; the stored
version holds the coordinates the gestures make. On a table, a column divider and a row divider are dragged, the outer
box is widened (the columns follow it), the row count is typed (the rows
are redrawn as it is typed), and a date part of an era date is dragged and
nudged. Distances are given in mm and turned into screen pixels from the
page's size on screen, so the expected numbers do not depend on the window."""

from __future__ import annotations

from typing import Any

import pytest
from playwright import sync_api as playwright_api

from jobs.db import unit_of_work
from jobs.ocr import store as templates
from jobs.ocr.template import parse_template
from tests.conftest import Service
from tests.jobs.ocr import jumin
from tests.portal.test_browser import SHOTS, _log_in, browser, person, portal_url  # noqa: F401
from tests.portal.test_browser_pages import _wide
from tests.support.ocr_review_job import JUMIN

pytestmark = pytest.mark.parametrize("service", ["sqlite"], indirect=True)


def _open_editor(service: Service, url: str, browser: playwright_api.Browser, template_id: str):  # type: ignore[no-untyped-def]  # noqa: F811
    """The 住民票 request form stored under template_id, its editor open at 1280 px."""
    text = JUMIN.read_text(encoding="utf-8").replace("id: jumin-seikyu", f"id: {template_id}")
    with unit_of_work(service.runtime.factory) as session:
        templates.save(
            parse_template(text, {"reference.pdf": jumin.form_pdf(None)}), session=session, created_by="test"
        )
    ops = person(service, "kimura", "digilabo", "デジタル推進課", "木村 翔", "operator")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    _log_in(page, url, ops)
    page.wait_for_selector("nav.menu")
    page.goto(f"{url}/portal/templates/{template_id}/edit")
    page.wait_for_function("document.querySelector('#canvas img').naturalWidth > 0")
    page.locator("#canvas").scroll_into_view_if_needed()
    return page


def _per_mm(page) -> float:  # type: ignore[no-untyped-def]
    canvas = page.locator("#canvas").bounding_box()
    assert canvas
    return float(canvas["width"]) / 210


def _at(page, x_mm: float, y_mm: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    canvas = page.locator("#canvas").bounding_box()
    assert canvas
    return canvas["x"] + canvas["width"] * x_mm / 210, canvas["y"] + canvas["height"] * y_mm / 297


def _drag_by(page, start: tuple[float, float], dx_mm: float, dy_mm: float) -> None:  # type: ignore[no-untyped-def]
    """A mouse drag from a point on the screen by a distance in mm."""
    k = _per_mm(page)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + dx_mm * k, start[1] + dy_mm * k, steps=5)
    page.mouse.up()


def _centre(page, selector: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    box = page.locator(selector).bounding_box()
    assert box, selector
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _canvas_shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """The reference page alone (a whole-page shot takes seconds on a busy machine)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#canvas").screenshot(path=str(SHOTS / f"{name}.png"))


def _row_box(row) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {k: float(row.locator(f"input[name^={k}_]").input_value()) for k in "xywh"}


def _saved(service: Service, template_id: str) -> dict[str, dict[str, Any]]:
    with unit_of_work(service.runtime.factory) as session:
        stored = templates.get_version(template_id, 2, session=session).stored["definition"]
    return {f["name"]: f for f in stored["fields"]}


def test_a_field_drawn_dragged_resized_nudged_and_saved(
    service: Service,
    portal_url: str,  # noqa: F811
    browser: playwright_api.Browser,  # noqa: F811
) -> None:
    page = _open_editor(service, portal_url, browser, "jumin-adjust")
    try:
        _drag_by(page, _at(page, 20, 262), 50, 10)  # drawn: x 20, y 262, w 50, h 10
        row = page.locator("#field-rows tr").last
        assert _row_box(row) == {"x": 20, "y": 262, "w": 50, "h": 10}
        _drag_by(page, _at(page, 45, 267), 10, 2.5)  # moved by its body
        assert _row_box(row) == {"x": 30, "y": 264.5, "w": 50, "h": 10}
        _drag_by(page, _centre(page, ".box.selected .handle[data-dir=se]"), 6, 3)
        _drag_by(page, _centre(page, ".box.selected .handle[data-dir=w]"), -4, 0)
        assert _row_box(row) == {"x": 26, "y": 264.5, "w": 60, "h": 13}

        canvas = page.locator("#canvas")
        assert page.evaluate("document.activeElement.id") == "canvas"
        for key in ("ArrowRight", "ArrowRight", "ArrowRight", "Shift+ArrowDown", "Control+ArrowLeft"):
            canvas.press(key)
        canvas.press("Control+ArrowRight")
        assert _row_box(row)["w"] == 60
        canvas.press("Control+z")  # the last nudge taken back
        assert _row_box(row) == {"x": 27.5, "y": 269.5, "w": 59.5, "h": 13}
        assert "左 27.5・上 269.5・幅 59.5・高さ 13 mm" in page.locator("#canvas-status").inner_text()
        assert _wide(page) == 0  # the handles and the tools do not widen the page
        rows = page.locator("#field-rows tr")
        count = rows.count()
        _drag_by(page, _at(page, 100, 262), 30, 8)  # a field drawn by mistake…
        assert rows.count() == count + 1
        page.click("#undo-edit")  # …taken back with the button
        assert rows.count() == count and page.locator(".box").count() == count
        assert _row_box(row) == {"x": 27.5, "y": 269.5, "w": 59.5, "h": 13}

        row.locator("input[name^=name_]").fill("remarks")
        row.locator("input[name^=label_]").fill("備考")
        page.click("#save-template")
        page.wait_for_selector("text=第2版として保存しました")
    finally:
        page.context.close()
    assert _saved(service, "jumin-adjust")["remarks"]["box"] == {"x": 27.5, "y": 269.5, "w": 59.5, "h": 13}


def test_a_table_and_a_date_part_adjusted_on_the_page(
    service: Service,
    portal_url: str,  # noqa: F811
    browser: playwright_api.Browser,  # noqa: F811
) -> None:
    page = _open_editor(service, portal_url, browser, "jumin-table-adjust")
    try:
        # members: box x 20 y 187 w 170 h 30, 3 rows, columns at 20 (w 60), 80 (w 30), 110 (w 80).
        page.locator("input[name^=name_][value=members]").focus()
        dividers = page.locator(".divider.col")
        assert dividers.count() == 2 and page.locator(".divider.row").count() == 2
        _drag_by(page, _centre(page, ".divider.col >> nth=0"), 5, 0)  # between 氏名 and 続柄
        _drag_by(page, _centre(page, ".divider.row >> nth=0"), 0, 2)  # every row 12 mm high
        _drag_by(page, _centre(page, ".box.selected .handle[data-dir=e]"), 10, 0)  # 180 wide
        rows = page.locator("[data-detail=rows]")
        rows.fill("4")
        assert page.locator(".divider.row").count() == 3  # redrawn before the number is taken
        rows.press("Enter")
        _canvas_shot(page, "template-edit-table")

        # birth's 年 box: dragged 2 mm right, then one step down with the keyboard.
        page.locator("input[name^=name_][value=birth]").focus()
        page.locator(".divider").first.wait_for(state="detached")
        _drag_by(page, _centre(page, ".part.active:has(span:text-is('年'))"), 2, 0)
        page.locator("#canvas").press("ArrowDown")
        assert page.locator(".part.selected").count() == 1
        _canvas_shot(page, "template-edit-part")
        page.locator("#canvas").press("Escape")  # back to the field's own box
        assert page.locator(".part.selected").count() == 0 and page.locator(".box.selected").count() == 1
        page.click("#save-template")
        page.wait_for_selector("text=第2版として保存しました")
    finally:
        page.context.close()
    fields = _saved(service, "jumin-table-adjust")
    members = fields["members"]
    assert members["box"] == {"x": 20, "y": 187, "w": 180, "h": 36} and members["rows"] == 4
    k = 180 / 170
    expected = [(20, 65 * k), (20 + 65 * k, 25 * k), (20 + 90 * k, 80 * k)]
    got = [(c["x"], c["w"]) for c in members["columns"]]
    assert got == [(pytest.approx(x, abs=0.06), pytest.approx(w, abs=0.06)) for x, w in expected]
    assert [c["label"] for c in members["columns"]] == ["氏名", "続柄", "生年月日"]
    assert fields["birth"]["year"] == {"box": {"x": 132, "y": 76.5, "w": 14, "h": 10}}
    assert fields["birth"]["month"] == {"box": {"x": 154, "y": 76, "w": 14, "h": 10}}
