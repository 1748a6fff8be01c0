"""Stand-in system C does what its screen description in docs/rpa.md says,
quirk by quirk, driven by plain Playwright in real Chromium (and, where a
browser adds nothing, by plain HTTP): frames, search windows that write back,
era dates, the 全角 rule, the one-time 確認 token, sessions that end, the
paged prefix 照会, 明細, function keys, the hover menu and the attachment."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError

from jobs.rpa import browser
from standin.c_rules import is_zenkaku, wareki
from standin.c_switches import Quirks
from tests.jobs.rpa.conftest import PASSWORD, USER, start_standin
from tests.support.standin_c import SystemCClient

DEFAULTS = {k: v for k, v in Quirks().to_json().items() if k != "submits"}


@dataclass
class C:
    url: str

    def switches(self, **values: Any) -> None:
        httpx.post(f"{self.url}/_admin/switches", json=values, timeout=10).raise_for_status()

    def entries(self, reference: str) -> list[dict[str, Any]]:
        return [
            e
            for e in httpx.get(f"{self.url}/_admin/entries", timeout=10).json()
            if e["reference"] == reference
        ]

    def client(self, codec: str = "cp932") -> SystemCClient:
        return SystemCClient(self.url, USER, PASSWORD, codec)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[C]:
    for standin in start_standin(tmp_path_factory.mktemp("system-c"), "c"):
        yield C(standin.url)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser.launch({"chromium_path": "/usr/bin/chromium"}) as b:
        yield b


@pytest.fixture
def c(app: C) -> C:
    app.switches(**DEFAULTS)  # each test starts from the defaults
    return app


@pytest.fixture
def page(chromium: Any, c: C) -> Iterator[Any]:
    context = chromium.new_context(base_url=c.url)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def ref() -> str:
    return f"C-{uuid.uuid4().hex[:8].upper()}"


def login(page: Any) -> tuple[Any, Any]:
    """Log in; the frames (menu, main) as the description names them."""
    page.goto("/zaimu/Login.do")
    page.fill("input[name=USER_CD]", USER)
    page.fill("input[name=PASSWORD]", PASSWORD)
    with page.expect_navigation():
        page.click("input[name=btnLogin]")
    main = page.frame(name="main")
    main.wait_for_load_state()
    return page.frame(name="menu") or page.main_frame, main


def open_screen(menu: Any, main: Any, label: str) -> None:
    with main.expect_navigation():
        menu.click(f"a:text-is('{label}')")


def choose(page: Any, opener: Any, button: str, field: str, value: str) -> None:
    """A code through its search window: search, 選択 on the exact row, the window closes."""
    with page.expect_popup() as popup_info:
        opener.click(button)
    choose_in(popup_info.value, field, value)


def choose_in(popup: Any, field: str, value: str) -> None:
    popup.fill(f"input[name={field}]", value)
    with popup.expect_navigation():
        popup.click("input[type=submit][value='検索']")
    with popup.expect_event("close"):
        try:
            popup.click(f"table.list tr:has(td:text-is('{value}')) a:text-is('選択')")
        except PlaywrightError:
            # The click closes its own window; on a busy machine the close can
            # come before Playwright's answer to the click (the engine allows it too).
            if not popup.is_closed():
                raise


def fill_entry(page: Any, main: Any, reference: str, *, purpose: str = "消耗品の購入　１") -> None:
    main.select_option("select[name=KIHYO_GENGO]", label="令和")
    for name, value in (("KIHYO_YY", "7"), ("KIHYO_MM", "6"), ("KIHYO_DD", "2")):
        main.fill(f"input[name={name}]", value)
    choose(page, main, "input[name=btnYosan]", "S_CD", "02010107")
    choose(page, main, "input[name=btnShiharai]", "S_CD", "1000012")
    main.fill("input[name=KINGAKU]", "12345")
    main.fill("input[name=TEKIYO]", purpose)
    main.fill("input[name=SEIRI_NO]", reference)


def click(frame: Any, selector: str) -> None:
    with frame.expect_navigation():
        frame.click(selector)


def errors(frame: Any) -> list[str]:
    return list(frame.locator("#msgArea .err").all_inner_texts())


def test_frameset_popups_confirm_token_and_shift_jis(c: C, page: Any) -> None:
    menu, main = login(page)
    assert page.url.endswith("/zaimu/Main.do")
    assert page.evaluate("document.characterSet") == "Shift_JIS"
    assert {f.name for f in page.frames} >= {"head", "menu", "main"}
    open_screen(menu, main, "支出負担行為入力")
    reference = ref()
    fill_entry(
        page, main, reference, purpose="髙橋　消耗品"
    )  # 髙: in Shift_JIS (CP932) only as an NEC extension
    assert main.locator("input[name=YOSAN_NM]").input_value() == "総務費／総務管理費／一般管理費／報償費"
    main.locator("input[name=SEIRI_NO]").focus()  # 金額 loses focus: commas added
    assert main.locator("input[name=KINGAKU]").input_value() == "12,345"
    click(main, "input[name=btnKakunin]")
    assert main.title() == "支出負担行為入力（確認）"
    assert "令和7年6月2日" in main.inner_text("table.kakunin")
    token = main.locator("input[name=TOKEN]").input_value()
    click(main, "input[name=btnToroku]")
    assert main.inner_text("p.info") == "登録が完了しました。"
    voucher = main.inner_text("td.lbl:text-is('伝票番号') + td")
    # The same 確認 screen sent again: refused, nothing stored.
    with main.expect_navigation():
        main.evaluate(
            """t => { const f = document.createElement('form'); f.method = 'post'; f.action = '/zaimu/KSF010.do';
            f.innerHTML = '<input name=ACTION value=TOROKU><input name=TOKEN value=' + t + '>';
            document.body.appendChild(f); f.submit(); }""",
            token,
        )
    assert errors(main) == ["【E9101】この画面は既に処理済みです。入力画面からやり直してください。"]
    (entry,) = c.entries(reference)
    assert entry["voucher_no"] == voucher and entry["purpose"] == "髙橋　消耗品"
    assert (entry["entry_date"], entry["amount"], entry["payee"]) == ("2025-06-02", 12345, "北九州商事12")


def test_work_screens_refuse_to_open_outside_the_frames(c: C, page: Any) -> None:
    login(page)
    alone = page.context.new_page()
    alone.goto("/zaimu/KSF010.do")
    assert errors(alone) == ["【E9003】不正な画面遷移です。メニューから操作してください。"]
    c.switches(frame_check="off")
    alone.goto("/zaimu/KSF010.do")
    assert alone.title() == "支出負担行為入力"


def test_iframe_shape_and_hover_menu(c: C, page: Any) -> None:
    c.switches(frames="iframe", menu="hover")
    menu, main = login(page)
    assert menu is page.main_frame and page.locator("iframe[name=main]").count() == 1
    assert "利用者：" in page.inner_text("div.head")
    link = page.locator("a:text-is('支出負担行為照会')")
    assert not link.is_visible()  # only while the mouse is over 「支出」
    page.hover("span.mh:text-is('支出')")
    assert link.is_visible()
    click_link = page.locator("a:text-is('支出負担行為照会')")
    with main.expect_navigation():
        click_link.click()
    assert main.title() == "支出負担行為照会"


def test_typed_codes_are_refused_and_only_window_choices_taken(c: C, page: Any) -> None:
    menu, main = login(page)
    open_screen(menu, main, "支出負担行為入力")
    fill_entry(page, main, ref())
    # A code set into the read-only box (not by the window): refused.
    main.evaluate("() => { document.forms.f.YOSAN_CD.value = '02010108'; }")
    click(main, "input[name=btnKakunin]")
    assert errors(main) == ["【E0201】予算科目は検索画面から選択してください。"]
    c.switches(popups="off")
    open_screen(menu, main, "支出負担行為入力")
    assert main.locator("input[name=btnYosan]").count() == 0
    main.fill("input[name=YOSAN_CD]", "99999999")
    main.fill("input[name=SHIHARAI_CD]", "1000001")
    click(main, "input[name=btnKakunin]")
    assert "【E0203】予算科目コードが存在しません。" in errors(main)
    assert not any("E0204" in e for e in errors(main))


def test_era_rules_and_zenkaku_messages(c: C) -> None:
    def check(**form: str) -> list[str]:
        """The date and 摘要 messages of one 確認 (the rest of the form is left empty)."""
        values = {"ACTION": "KAKUNIN", "KIHYO_GENGO": "5", "KIHYO_YY": "7", "KIHYO_MM": "6", "KIHYO_DD": "2"}
        values.update({"TEKIYO": "消耗品", **form})
        with c.client() as client:
            page = client.text(client.post("/zaimu/KSF010.do", values))
        return re.findall(r"【E01[01][0-9]】[^<]*", page)

    assert check(KIHYO_GENGO="4", KIHYO_YY="31", KIHYO_MM="5") == ["【E0103】起票日が元号の範囲外です。"]
    assert check(KIHYO_YY="元", KIHYO_MM="4", KIHYO_DD="30") == ["【E0103】起票日が元号の範囲外です。"]
    assert check(KIHYO_YY="元", KIHYO_MM="5", KIHYO_DD="1") == []
    assert check(KIHYO_MM="2", KIHYO_DD="30") == ["【E0101】起票日が正しくありません。"]
    assert check(KIHYO_YY="７") == ["【E0102】起票日は半角数字で入力してください。"]
    assert check(TEKIYO="消耗品 1") == ["【E0111】摘要は全角で入力してください。"]
    assert check(TEKIYO="ｼｮｳﾓｳﾋﾝ") == ["【E0111】摘要は全角で入力してください。"]
    assert check(TEKIYO="消耗品　１" * 10 + "あ") == ["【E0112】摘要は50文字以内で入力してください。"]
    assert check(TEKIYO="消耗品　１") == []
    c.switches(era="text", zenkaku="off")
    assert check(KIHYO_GENGO="令和", TEKIYO="消耗品 1") == []
    assert check(KIHYO_GENGO="5") == ["【E0101】起票日が正しくありません。"]
    assert wareki(date(2019, 5, 1)) == "令和元年5月1日" and wareki(date(2019, 4, 30)) == "平成31年4月30日"
    assert is_zenkaku("ＡＢＣ　１") and not is_zenkaku("ｱ") and not is_zenkaku("A")


def test_era_as_text_box_in_the_browser(c: C, page: Any) -> None:
    c.switches(era="text")
    menu, main = login(page)
    open_screen(menu, main, "支出負担行為入力")
    reference = ref()
    main.fill("input[name=KIHYO_GENGO]", "平成")
    for name, value in (("KIHYO_YY", "31"), ("KIHYO_MM", "4"), ("KIHYO_DD", "30")):
        main.fill(f"input[name={name}]", value)
    choose(page, main, "input[name=btnYosan]", "S_CD", "10030313")
    choose(page, main, "input[name=btnShiharai]", "S_NM", "株式会社小倉文具")
    main.fill("input[name=KINGAKU]", "500")
    main.fill("input[name=TEKIYO]", "図書購入")
    main.fill("input[name=SEIRI_NO]", reference)
    click(main, "input[name=btnKakunin]")
    click(main, "input[name=btnToroku]")
    (entry,) = c.entries(reference)
    assert (entry["entry_date"], entry["setsu"], entry["payee_code"]) == ("2019-04-30", "13", "2000001")


def test_session_ends_after_n_pages_and_nothing_sent_then_is_stored(c: C, page: Any) -> None:
    menu, main = login(page)  # 4 pages: the frameset and its three frames
    open_screen(menu, main, "支出負担行為入力")  # 5
    c.switches(session_requests=9)
    fill_entry(page, main, reference := ref())  # 6-9: two windows, a search in each
    click(main, "input[name=btnKakunin]")  # 10: the session has ended
    assert main.title() == "セッションエラー"
    assert errors(main) == ["【E9001】セッションの有効期限が切れました。ログインしてください。"]
    with page.expect_navigation():
        main.click("a:text-is('ログイン画面へ')")  # opens the login page in the whole window
    assert page.title() == "財務会計システム　ログイン"
    assert c.entries(reference) == []


def test_session_ends_after_its_time_and_a_pending_registration_is_refused(c: C) -> None:
    c.switches(session_seconds=1.5)
    with c.client() as client:
        reference = ref()
        token = client.confirm(reference)
        time.sleep(1.6)
        page = client.register(token)
        assert "【E9001】セッションの有効期限が切れました。ログインしてください。" in page
        client.login()  # a new session; the old 確認 screen is gone with the old one
        assert "E9101" in client.register(token)
    assert c.entries(reference) == []
    with httpx.Client(base_url=c.url) as anonymous:
        page = anonymous.get("/zaimu/KSF010.do").content.decode("cp932")
    assert "【E9002】ログインしてください。" in page


def test_inquiry_pages_prefix_matches_newest_first(c: C, page: Any) -> None:
    c.switches(page_size=3)
    stem = ref()
    with c.client() as client:
        vouchers = {r: client.enter(r) for r in (f"{stem}-12", f"{stem}-120", f"{stem}-121", f"{stem}-1200")}
        client.enter(f"{stem}-13")
    menu, main = login(page)
    open_screen(menu, main, "支出負担行為照会")
    main.fill("input[name=SEIRI_NO]", f"{stem}-12")
    click(main, "input[type=submit][value='検索']")
    assert main.inner_text("p.count") == "該当件数：4件（1／2ページ）"
    first = main.locator("table.list tr:has(td) td:nth-child(3)").all_inner_texts()
    assert first == [f"{stem}-1200", f"{stem}-121", f"{stem}-120"]
    assert main.locator("a:text-is('＜前へ')").count() == 0
    click(main, "a:text-is('次へ＞')")
    row = main.locator(f"table.list tr:has(td:nth-child(3):text-is('{stem}-12'))")
    assert row.locator("td").first.inner_text() == vouchers[f"{stem}-12"]
    assert main.locator("a:text-is('次へ＞')").count() == 0
    main.fill("input[name=SEIRI_NO]", f"{stem}-9")
    click(main, "input[type=submit][value='検索']")
    assert errors(main) == ["【I0001】該当するデータがありません。"]


def test_detail_lines_with_a_window_per_line(c: C, page: Any) -> None:
    c.switches(meisai="on")
    menu, main = login(page)
    open_screen(menu, main, "支出負担行為入力")
    reference = ref()
    fill_head(main, reference)
    choose(page, main, "input[name=btnShiharai]", "S_CD", "1000003")
    choose(page, main, "tr.mline:nth-of-type(2) input[value='検索']", "S_CD", "02010107")
    main.fill("input[name=M_KINGAKU_1]", "1000")
    main.click("input[name=btnGyoTsuika]")
    choose(page, main, "tr.mline:has(input[name=M_YOSAN_CD_2]) input[value='検索']", "S_CD", "02010210")
    main.fill("input[name=M_KINGAKU_2]", "2,500")
    main.fill("input[name=M_TEKIYO_2]", "コピー用紙")
    click(main, "input[name=btnKakunin]")
    assert "3,500円" in main.inner_text("table.kakunin")
    click(main, "input[name=btnToroku]")
    (entry,) = c.entries(reference)
    assert entry["amount"] == 3500
    assert [(x["budget_code"], x["amount"]) for x in entry["lines"]] == [
        ("02010107", 1000),
        ("02010210", 2500),
    ]


def fill_head(main: Any, reference: str) -> None:
    main.select_option("select[name=KIHYO_GENGO]", label="令和")
    for name, value in (("KIHYO_YY", "7"), ("KIHYO_MM", "6"), ("KIHYO_DD", "2")):
        main.fill(f"input[name={name}]", value)
    main.fill("input[name=TEKIYO]", "消耗品")
    main.fill("input[name=SEIRI_NO]", reference)


def test_function_keys_instead_of_buttons(c: C, page: Any) -> None:
    c.switches(keys="on")
    menu, main = login(page)
    open_screen(menu, main, "支出負担行為入力")
    assert main.locator("input[type=submit], input[type=button]").count() == 0
    assert main.inner_text("div.fkeys") == "F4:検索　F9:確認"
    reference = ref()
    fill_head(main, reference)
    main.click("input[name=KIHYO_YY]")
    page.keyboard.press("Enter")  # moves on, does not send
    assert main.evaluate("document.activeElement.name") == "KIHYO_MM"
    for field, window_field, value in (("YOSAN_CD", "S_CD", "02010107"), ("SHIHARAI_CD", "S_CD", "2000002")):
        main.click(f"input[name={field}]")
        with page.expect_popup() as popup_info:
            page.keyboard.press("F4")
        choose_in(popup_info.value, window_field, value)
    main.fill("input[name=KINGAKU]", "800")
    with main.expect_navigation():
        page.keyboard.press("F9")
    assert main.inner_text("div.fkeys") == "F3:戻る　F12:登録"
    with main.expect_navigation():
        page.keyboard.press("F12")
    assert main.inner_text("p.info") == "登録が完了しました。"
    assert len(c.entries(reference)) == 1


def test_attachment_required_and_checked(c: C, page: Any, tmp_path: Path) -> None:
    c.switches(attach="on")
    menu, main = login(page)
    open_screen(menu, main, "支出負担行為入力")
    reference = ref()
    fill_entry(page, main, reference)
    click(main, "input[name=btnKakunin]")
    assert errors(main) == ["【E0301】添付ファイルを指定してください。"]
    (tmp_path / "memo.txt").write_text("x")
    main.set_input_files("input[name=TENPU]", str(tmp_path / "memo.txt"))
    click(main, "input[name=btnKakunin]")
    assert errors(main) == ["【E0302】添付ファイルはPDF・PNG・JPEG・TIFF（5MB以内）を指定してください。"]
    (tmp_path / "請求書.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * 3000)
    main.set_input_files("input[name=TENPU]", str(tmp_path / "請求書.pdf"))
    click(main, "input[name=btnKakunin]")
    assert "請求書.pdf（2KB）" in main.inner_text("table.kakunin")
    click(main, "input[name=btnToroku]")
    (entry,) = c.entries(reference)
    assert (entry["attachment"], entry["attachment_bytes"]) == ("請求書.pdf", 3009)


def test_euc_jp_pages_and_forms(c: C) -> None:
    c.switches(charset="euc-jp")
    with c.client("euc_jp") as client:
        page = client.http.get("/zaimu/Login.do")
        assert page.headers["content-type"] == "text/html; charset=EUC-JP"
        reference = ref()
        client.enter(reference, purpose="備品購入")
    assert c.entries(reference)[0]["purpose"] == "備品購入"


def test_faults_500_on_nth_registration_and_commit_then_hang(c: C) -> None:
    c.switches(fail_submits=[1], timeout_submits=[2], hang_seconds=1)
    with c.client() as client:
        first = ref()
        token = client.confirm(first)
        response = client.post("/zaimu/KSF010.do", {"ACTION": "TOROKU", "TOKEN": token})
        assert response.status_code == 500 and "E9999" in client.text(response)
        assert c.entries(first) == []
        second = ref()
        started = time.monotonic()
        client.enter(second)
        assert time.monotonic() - started >= 1
    assert len(c.entries(second)) == 1


def test_switches_refuse_unknown_keys_and_values(c: C) -> None:
    assert httpx.post(f"{c.url}/_admin/switches", json={"frames": "tabs"}).status_code == 400
    assert httpx.post(f"{c.url}/_admin/switches", json={"colour": "red"}).status_code == 400
    assert httpx.get(f"{c.url}/_admin/switches").json()["frames"] == "frameset"
