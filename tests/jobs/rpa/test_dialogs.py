"""JavaScript dialogs in real Chromium: expected ones checked and answered
(alert, confirm, prompt, beforeunload), anything else fails the step fast
with the dialog's text. The pages are served by Playwright's router (no app
needed for a page that only opens dialogs)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from jobs.rpa import browser
from jobs.rpa.script import parse_script
from jobs.rpa.session import StepFailed, TargetSession
from tests.jobs.rpa.conftest import script_text

PAGES = {
    "/form": """<form action="/done" method="get"><button id="go"
        onclick="return confirm('登録してよろしいですか？')">登録</button></form>
        <button id="ask" onclick="document.getElementById('out').textContent = prompt('理由を入力', '')">理由</button>
        <button id="warn" onclick="alert('金額が不正です'); document.getElementById('out').textContent = 'alerted'">警告</button>
        <button id="nothing">何もしない</button>
        <input id="dirty" oninput="window.onbeforeunload = function (e) { e.preventDefault(); return ''; }">
        <p id="out"></p>""",
    "/done": "<p id='out'>登録しました</p>",
    "/keys": """<input name="MM" onkeydown="this.dataset.keys = (this.dataset.keys || '') + event.key">""",
    "/era": """<select name="G"><option value=""></option><option value="3">昭和</option>
        <option value="4">平成</option><option value="5">令和</option></select>""",
}


def steps(yaml_steps: str) -> Any:
    text = script_text().replace("steps:\n  - goto: /entry\n", f"steps:\n{yaml_steps}  - goto: /entry\n", 1)
    return parse_script(text).steps[: sum(line.startswith("  - ") for line in yaml_steps.splitlines())]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TargetSession]:
    target = parse_script(script_text(timeout_seconds="5")).target
    with browser.launch({"chromium_path": "/usr/bin/chromium"}) as chromium:
        s = TargetSession(
            chromium, target, "http://dialogs.test", "job-dialogs", tmp_path_factory.mktemp("d")
        )

        def serve(route: Any) -> None:
            path = "/" + route.request.url.split("/", 3)[3].split("?")[0]
            body = f"<!doctype html><meta charset='utf-8'>{PAGES.get(path, '')}"
            route.fulfill(body=body, content_type="text/html", status=200 if path in PAGES else 404)

        s.context.route("**/*", serve)
        yield s
        s.close()


def run(session: TargetSession, yaml_steps: str) -> dict[str, str]:
    session.next_record()
    return session.run(steps(yaml_steps), {})


def test_expected_dialogs_are_checked_and_answered(session: TargetSession) -> None:
    confirmed = run(
        session,
        "  - goto: /form\n"
        "  - click: {selector: '#go', navigation: true, dialog: {type: confirm, text: 登録してよろしいですか}}\n"
        "  - capture: {column: out, selector: '#out'}\n",
    )
    assert confirmed == {"out": "登録しました"}
    prompted = run(
        session,
        "  - goto: /form\n"
        "  - dialog: {type: prompt, text: 理由, prompt_text: 支払先の変更}\n"
        "  - click: {selector: '#ask'}\n"
        "  - capture: {column: out, selector: '#out'}\n",
    )
    assert prompted == {"out": "支払先の変更"}
    dismissed = run(
        session,
        "  - goto: /form\n"
        "  - click: {selector: '#go', dialog: {type: confirm, accept: false}}\n"
        "  - capture: {column: out, selector: 'h1, #out'}\n",
    )
    assert dismissed == {"out": ""}  # still on the form: 登録 was cancelled
    left = run(
        session,
        "  - goto: /form\n"
        "  - click: {selector: '#dirty'}\n"  # Chromium asks before leaving only after a user gesture
        "  - fill: {selector: '#dirty', value: x}\n"
        "  - dialog: {type: beforeunload}\n"
        "  - goto: /done\n"
        "  - capture: {column: out, selector: '#out'}\n",
    )
    assert left == {"out": "登録しました"}


def test_unexpected_or_wrong_dialogs_fail_the_step_fast_with_their_text(session: TargetSession) -> None:
    started = time.monotonic()
    with pytest.raises(StepFailed, match=r"想定外のダイアログ.*確認「登録してよろしいですか？」"):
        run(session, "  - goto: /form\n  - click: {selector: '#go', navigation: true}\n")
    assert time.monotonic() - started < 4  # not the step's 5 s timeout
    with pytest.raises(StepFailed, match=r"想定外のダイアログ.*警告「金額が不正です」"):
        run(session, "  - goto: /form\n  - click: {selector: '#warn'}\n  - click: {selector: '#nothing'}\n")
    with pytest.raises(StepFailed, match="文言が想定と違います"):
        run(session, "  - goto: /form\n  - click: {selector: '#go', dialog: {text: 削除しますか}}\n")
    with pytest.raises(StepFailed, match="種類"):
        run(session, "  - goto: /form\n  - click: {selector: '#warn', dialog: {type: confirm}}\n")
    with pytest.raises(StepFailed, match="表示されませんでした"):
        run(session, "  - goto: /form\n  - click: {selector: '#nothing', dialog: {type: alert}}\n")
    # The page an unexpected dialog closed is replaced for the next record.
    assert run(session, "  - goto: /done\n  - capture: {column: out, selector: '#out'}\n") == {
        "out": "登録しました"
    }


def test_a_select_without_the_option_fails_naming_what_it_offers(session: TargetSession) -> None:
    """An era the screen does not offer (明治 on a select of 昭和〜令和): the
    row fails with the options, instead of a timeout retried as transient."""
    session.context.set_default_timeout(1000)  # the wait for the option is what runs out
    try:
        with pytest.raises(StepFailed, match="選択肢「明治」がありません（画面の選択肢: 昭和、平成、令和）"):
            run(session, "  - goto: /era\n  - select: {selector: '[name=G]', label: 明治}\n")
        assert run(session, "  - goto: /era\n  - select: {selector: '[name=G]', label: 令和}\n") == {}
    finally:
        session.context.set_default_timeout(session.timeout_ms)


def test_type_sends_each_key(session: TargetSession) -> None:
    """``fill`` sets a value; ``type`` presses each key, so the screen's key handlers run."""
    keys = "e => [e.value, e.dataset.keys || '']"
    run(session, "  - goto: /keys\n  - fill: {selector: '[name=MM]', value: '07'}\n")
    assert session.page.eval_on_selector("[name=MM]", keys) == ["07", ""]
    run(session, "  - goto: /keys\n  - type: {selector: '[name=MM]', value: '06'}\n")
    value, pressed = session.page.eval_on_selector("[name=MM]", keys)
    assert value == "06" and pressed.endswith("06")  # after the Delete that clears the field


def test_select_by_value_or_label_and_a_dangling_dialog_step_is_refused() -> None:
    from jobs.rpa.script import ScriptError

    text = script_text().replace(
        '  - select: {selector: "#setsu", value: "{{ row.setsu }}"}',
        '  - select: {selector: "#setsu", label: "{{ row.setsu }}"}',
    )
    assert next(s for s in parse_script(text).steps if s.action == "select" and "label" in s.args)
    both = text.replace('label: "{{ row.setsu }}"', 'label: "{{ row.setsu }}", value: "x"')
    with pytest.raises(ScriptError):
        parse_script(both)
    capture = '  - capture: {column: voucher_no, selector: "#voucher-no", pattern: "R[0-9]{2}-[0-9]{6}"}\n'
    dangling = script_text().replace(capture, "  - dialog: {accept: true}\n")
    assert dangling != script_text()
    with pytest.raises(ScriptError, match="dialog の次"):
        parse_script(dangling)
