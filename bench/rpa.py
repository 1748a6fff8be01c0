"""Bulk-entry throughput against the three stand-in systems: records per
minute of a job (ledger, claims, checks) vs a bare hand-written Playwright
loop doing the same steps, and Chromium's memory. System A (ids, a
confirmation page) with 1 and 2 concurrent contexts; system B (tree menu,
labels in <th>, an XHR-filled select, a confirm() dialog before 登録; the
target allows one job at a time) with 1; system C (a frameset, two search
windows per record, an era select, 全角 摘要, a 確認 screen) with 1; and
system C again with its 明細, attachment and keyboard switches on (``cm``:
``zaimu_c_meisai.yaml``, one voucher of three 明細 lines per record, each
line's budget code chosen in a search window, the scanned form attached,
F-keys only) with 1. Prints one JSON object.
``python bench/rpa.py [--records N] [--rounds R] [--systems a,b,c,cm] [--busy]``.

Both sides are timed from launching Chromium to the last record, login
included; the job also reads and checks the records, commits each record's
state before and after typing it, and writes its results, because that is the
job. Fairness on a busy machine: one short unmeasured warm-up run of each side
first (imports, Chromium's files in the page cache), then R rounds with the
order swapped each round (job, bare, bare, job, ...), so neither side always
runs first or last, and every system in each round (interleaved), so a change
of the machine's load touches all of them; the ratio is of the summed times,
and ``ratio_by_round`` shows how much it moves from round to round (noise).
Each round times the two sides back to back, so a round's ratio is a paired
comparison: ``ratio_median`` and ``cpu_ratio_median`` (with their ``_range``)
are the medians over the rounds, which one disturbed round moves least, and
``verdict_by_median`` holds them against the targets for every cell. Use 4 or
more rounds for a verdict (with 2 the median is the mean of the two).
``cpu_ms_per_record`` moves less with other load than wall time; it is split
into ``python`` (this process: the job's own work, or the bare loop's
Playwright client), ``browser`` (the run's Playwright driver, its Chromium and
Chromium's renderers, sampled from /proc) and ``app`` (the stand-in).

``--busy`` keeps another process burning one core for the whole run (the
issue's "machine busy" case); without it the run is as idle as the machine is.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from playwright.sync_api import Error as PlaywrightError  # noqa: E402

from digilabo.embedded import Child, start_standin  # noqa: E402
from jobs.db import make_engine, session_factory  # noqa: E402
from jobs.models import Base  # noqa: E402
from jobs.registry import InputFile, JobContext  # noqa: E402
from jobs.rpa import browser  # noqa: E402
from jobs.rpa.core import run  # noqa: E402
from jobs.rpa.ledger import SqlRecordLedger  # noqa: E402
from jobs.rpa.models import TABLES  # noqa: E402

SAMPLES = REPO / "jobs" / "rpa" / "samples"
HEADERS = ["整理番号", "起票日", "款", "項", "目", "節", "金額", "支払先", "件名"]
USER, PASSWORD = "bench", "bench-password"
WARMUP_RECORDS = 3  # enough to load every screen once
Row = list[str]


def start_app(tmp: Path, system: System) -> tuple[Child, str]:
    env = {**os.environ, "STANDIN_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)}
    app, url = start_standin(tmp / f"standin-{system.name}", env=env, user=USER, system=system.standin)
    if system.switches:
        try:
            httpx.post(f"{url}/_admin/switches", json=system.switches).raise_for_status()
        except BaseException:
            app.stop()
            raise
    return app, url


def rows(prefix: str, n: int, system: str = "a") -> list[Row]:
    """The records; on system C the payee must be in its master (北九州商事1…300)."""
    return [
        [
            f"{prefix}-{i:05d}",
            "2025-06-02",
            "02",
            "01",
            "01",
            "07",
            str(1000 + i),
            f"北九州商事{i % 300 + 1}" if system == "c" else f"商事{i}",
            "購入",
        ]
        for i in range(n)
    ]


MEISAI_HEADERS = ["整理番号", "起票日", "支払先", "件名", "添付ファイル", "予算科目", "金額", "明細摘要"]
MEISAI_LINES = 3
BUDGET_CODES = ("02010107", "02010210", "03020311", "04010108", "10030113")
SCAN = "scan.pdf"


def vouchers(prefix: str, n: int) -> list[list[Row]]:
    """``n`` vouchers of three 明細 lines each: a sheet row per line, the
    voucher's columns repeated (as zaimu_c_meisai.yaml reads them)."""
    return [
        [
            [
                f"{prefix}-{i:05d}",
                "2025-06-02",
                f"北九州商事{i % 300 + 1}",
                "消耗品 No.1",
                SCAN,
                BUDGET_CODES[(i + k) % len(BUDGET_CODES)],
                str(100 * (k + 1) + i),
                "ｺﾋﾟｰ用紙" if k == 0 else "",
            ]
            for k in range(MEISAI_LINES)
        ]
        for i in range(n)
    ]


@dataclass(frozen=True)
class Voucher:
    """One record of the 明細 scenario for the bare loop: its lines, and the
    file on disk its 添付ファイル names (a hand driver attaches it from there)."""

    lines: list[Row]
    scan: Path


def records(system: System, prefix: str, n: int, folder: Path) -> list[Any]:
    """What one record is for the bare loop: a row, or a voucher."""
    if system.name == "cm":
        return [Voucher(lines, folder / SCAN) for lines in vouchers(prefix, n)]
    return rows(prefix, n, system.name)


def scans(tmp: Path) -> Path:
    """The attachment ZIP of the 明細 scenario (and the file the bare loop attaches)."""
    (tmp / SCAN).write_bytes(b"%PDF-1.4\n" + b"x" * 3000)
    archive = tmp / "scans.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(tmp / SCAN, SCAN)
    return archive


def job(system: System, tmp: Path, url: str, ledger: SqlRecordLedger, prefix: str, n: int) -> None:
    sheet = tmp / f"{prefix}.csv"
    lines = [row for voucher in vouchers(prefix, n) for row in voucher] if system.name == "cm" else None
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        if lines is None:
            csv.writer(fh).writerows([HEADERS, *rows(prefix, n, system.name)])
        else:
            csv.writer(fh).writerows([MEISAI_HEADERS, *lines])
    work = tmp / prefix
    work.mkdir()
    inputs: tuple[InputFile, ...] = (
        InputFile("script.yaml", system.script, "application/yaml", 0),
        InputFile(sheet.name, sheet, "text/csv", 0),
    )
    if lines is not None:
        inputs += (InputFile("scans.zip", tmp / "scans.zip", "application/zip", 0),)
    options = {"rpa_ledger": ledger, "rpa_target_urls": {system.target: url}}
    outcome = run(JobContext(str(uuid.uuid4()), "bench", {}, inputs, work, lambda f, m="": None, options))
    if outcome.units != n:
        raise SystemExit(f"bench job entered {outcome.units} of {n}: {dict(outcome.summary)}")
    # Every row's voucher must come from its own 登録, not from a look-up after a failure.
    with outcome.outputs[0].path.open(encoding="utf-8-sig", newline="") as fh:
        messages = Counter(r["メッセージ"] for r in csv.DictReader(fh))
    if set(messages) != {""}:
        raise SystemExit(f"bench job rows with messages: {dict(messages)}")


def login_a(page: Any) -> None:
    page.goto("/login")
    page.fill("#user", USER)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#login")


def row_a(page: Any, r: Row) -> None:
    """The sample script's steps: fills, selects, clicks, its two ``expect``
    steps and the ``capture``."""
    page.goto("/entry")
    page.fill("#entry_date", r[1])
    for sel, val in zip(("#kan", "#kou", "#moku", "#setsu"), r[2:6], strict=True):
        page.select_option(sel, val)
    page.fill("#amount", r[6])
    page.fill("#payee", r[7])
    page.fill("#purpose", r[8])
    page.fill("#reference", r[0])
    with page.expect_navigation():
        page.click("#to-confirm")
    page.get_by_text("入力内容の確認").first.wait_for()
    with page.expect_navigation():
        page.click("#commit")
    page.locator("#voucher-no").first.wait_for()
    page.locator("#voucher-no").first.inner_text()


def th(label: str, tag: str = "input") -> str:
    return f"th:has-text('{label}') + td {tag}"


def login_b(page: Any) -> None:
    page.goto("/servlet/Main")
    page.fill(th("利用者ID"), USER)
    page.fill(th("パスワード"), PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit][value='ログイン']")


def row_b(page: Any, r: Row) -> None:
    """System B's sample script by hand, the confirm() accepted with page.once."""
    page.goto("/servlet/Main")
    page.click("span.node:text-is('歳出')")
    with page.expect_navigation():
        page.click("span.leaf:text-is('支出負担行為入力')")
    page.fill(th("起票日"), r[1])
    page.select_option(th("款", "select"), value=r[2])
    page.select_option(th("項", "select"), value=r[2] + r[3])  # waits for the XHR to fill it
    page.select_option(th("目", "select"), value=r[4])
    page.select_option(th("節", "select"), label=r[5])
    page.fill(th("金額"), r[6])
    page.fill(th("支払先"), r[7])
    page.fill(th("摘要"), r[8])
    page.fill(th("整理番号"), r[0])
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("input[type=submit][value='登　録']")
    page.get_by_text("登録しました。").first.wait_for()
    page.locator("th:text-is('伝票番号') + td").first.inner_text()


def login_c(page: Any) -> None:
    page.goto("/zaimu/Login.do")
    page.fill("[name=USER_CD]", USER)
    page.fill("[name=PASSWORD]", PASSWORD)
    with page.expect_navigation():
        page.click("input[name=btnLogin]")


def wareki(iso: str) -> tuple[str, str, str, str]:
    """By hand, as a person writing this loop would: 令和 from 2019-05-01."""
    y, m, d = (int(x) for x in iso.split("-"))
    era, first = ("令和", 2019) if (y, m) >= (2019, 5) else ("平成", 1989)
    return era, str(y - first + 1), str(m), str(d)


def zenkaku(text: str) -> str:
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def choose(page: Any, main: Any, opener: str, field: str, value: str, column: int, key: str = "") -> None:
    """A search window (opened by clicking ``opener``, or by pressing ``key``
    in it): search, 選択 on the line whose cell is exactly the value; it closes."""
    with page.expect_popup() as info:
        if key:
            main.press(opener, key)
        else:
            main.click(opener)
    window = info.value
    window.fill(f"[name={field}]", value)
    with window.expect_navigation():
        window.click("role=button[name='検索']")
    with window.expect_event("close"):
        try:
            window.click(f"table.list tr:has(td:nth-child({column}):text-is('{value}')) a:text-is('選択')")
        except PlaywrightError:
            # The click closes its own window; on a busy machine the close can
            # come before Playwright's answer to the click (the job allows it too).
            if not window.is_closed():
                raise


def entry_screen(page: Any, iso_date: str) -> Any:
    """System C: the menu frame's link to 支出負担行為入力, and the 起票日 (era
    select and boxes); the main frame."""
    if not page.url.endswith("/zaimu/Main.do"):  # the frameset's address never changes
        page.goto("/zaimu/Main.do")
    main = page.frame(name="main")
    with main.expect_navigation():
        page.frame(name="menu").click("a:text-is('支出負担行為入力')")
    main.get_by_text("画面ID：KSF010").first.wait_for()
    era, year, month, day = wareki(iso_date)
    main.select_option("[name=KIHYO_GENGO]", label=era)
    main.fill("[name=KIHYO_YY]", year)
    main.fill("[name=KIHYO_MM]", month)
    main.fill("[name=KIHYO_DD]", day)
    return main


def row_c(page: Any, r: Row) -> None:
    """System C's sample script by hand: the menu frame's link, the era select
    and boxes, two search windows, 確認, 登録 and the voucher number."""
    main = entry_screen(page, r[1])
    choose(page, main, "input[name=btnYosan]", "S_CD", "".join(r[2:6]), 1)
    choose(page, main, "input[name=btnShiharai]", "S_NM", r[7], 2)
    main.fill("[name=KINGAKU]", r[6])
    main.fill("[name=TEKIYO]", zenkaku(r[8]))
    main.fill("[name=SEIRI_NO]", r[0])
    with main.expect_navigation():
        main.click("input[name=btnKakunin]")
    main.get_by_text("以下の内容で登録します。").first.wait_for()
    with main.expect_navigation():
        main.click("input[name=btnToroku]")
    main.get_by_text("登録が完了しました。").first.wait_for()
    main.locator("td.lbl:text-is('伝票番号') + td").first.inner_text()


def row_cm(page: Any, voucher: Voucher) -> None:
    """zaimu_c_meisai.yaml by hand: the header, the scanned form, each 明細
    line (F7 adds one, F4 its budget code's search window), F9 確認, F12 登録."""
    head = voucher.lines[0]
    main = entry_screen(page, head[1])
    choose(page, main, "[name=SHIHARAI_CD]", "S_NM", head[2], 2, key="F4")
    main.fill("[name=TEKIYO]", zenkaku(head[3]))
    main.fill("[name=SEIRI_NO]", head[0])
    main.set_input_files("[name=TENPU]", files=[voucher.scan])
    for n, line in enumerate(voucher.lines, 1):
        if n > 1:
            main.press("[name=SEIRI_NO]", "F7")
        choose(page, main, f"[name=M_YOSAN_CD_{n}]", "S_CD", line[5], 1, key="F4")
        main.fill(f"[name=M_KINGAKU_{n}]", line[6])
        main.fill(f"[name=M_TEKIYO_{n}]", unicodedata.normalize("NFKC", line[7]))
    with main.expect_navigation():
        main.press("[name=SEIRI_NO]", "F9")
    main.get_by_text("以下の内容で登録します。").first.wait_for()
    with main.expect_navigation():
        main.press("body", "F12")
    main.get_by_text("登録が完了しました。").first.wait_for()
    re.search("SK7-[0-9]{6}", main.locator("body").first.inner_text())


@dataclass(frozen=True)
class System:
    name: str
    script: Path
    target: str
    credential: str
    login: Callable[[Any], None]
    row: Callable[[Any, Any], None]
    contexts: tuple[int, ...]
    standin: str = ""  # the stand-in it runs on (its name when empty)
    switches: dict[str, Any] | None = None  # that stand-in's quirks switched on

    def __post_init__(self) -> None:
        if not self.standin:
            object.__setattr__(self, "standin", self.name)


SYSTEMS = {
    "a": System("a", SAMPLES / "shishutsu_futan.yaml", "zaimu-standin", "ZAIMU_DEMO", login_a, row_a, (1, 2)),
    "b": System("b", SAMPLES / "saishutsu_b.yaml", "saishutsu-b", "SAISHUTSU_DEMO", login_b, row_b, (1,)),
    "c": System("c", SAMPLES / "zaimu_c.yaml", "zaimu-c", "ZAIMU_C_DEMO", login_c, row_c, (1,)),
    "cm": System(
        "cm",
        SAMPLES / "zaimu_c_meisai.yaml",
        "zaimu-c",
        "ZAIMU_C_DEMO",
        login_c,
        row_cm,
        (1,),
        standin="c",
        switches={"meisai": "on", "attach": "on", "keys": "on"},
    ),
}


def bare(system: System, url: str, prefix: str, n: int, folder: Path) -> None:
    """What a person would write by hand: log in, then the script's steps,
    with none of the job's checks, ledger or results."""
    with browser.launch({}) as chromium:
        page = chromium.new_context(base_url=url).new_page()
        system.login(page)
        for r in records(system, prefix, n, folder):
            system.row(page, r)


TICK = os.sysconf("SC_CLK_TCK")


def our_processes() -> dict[int, tuple[str, int, float]]:
    """(name, RSS in kB, CPU seconds) of every process this benchmark started,
    at any depth (not anybody else's)."""
    parents, seen = {}, {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = dict(
                line.split(":", 1)
                for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if ":" in line
            )
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, KeyError, ValueError):
            continue
        parents[int(pid)] = int(status["PPid"])
        rss = int(status["VmRSS"].split()[0]) if "VmRSS" in status else 0
        seen[int(pid)] = (status["Name"].strip(), rss, (int(stat[11]) + int(stat[12])) / TICK)

    def ours(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return {pid: v for pid, v in seen.items() if ours(pid)}


CPU_PARTS = ("python", "browser", "app")


def cpu_seconds(app: Child) -> dict[str, float]:
    """CPU time used so far by this process and by the app."""
    own = os.times()
    stat = Path(f"/proc/{app.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return {"python": own.user + own.system, "app": (int(stat[11]) + int(stat[12])) / TICK}


def measure(work: Callable[[str], None], contexts: int, app: Child) -> tuple[float, float, dict[str, float]]:
    """(seconds, peak Chromium RSS in MB, CPU seconds by part) for ``contexts`` parallel runs.

    The browser's CPU (each run's Playwright driver, its Chromium and every
    process Chromium starts) is sampled from /proc every half second, each
    process's last figure kept: a Chromium that exits before its renderers
    does not wait for them, so ``os.times()``'s children would miss them."""
    peak, spent, done = [0.0], [0.0], threading.Event()
    before = set(our_processes())  # the stand-ins and their children
    browser_cpu: dict[int, float] = {}

    def sample() -> None:
        # Reading /proc costs this process CPU in proportion to wall time (and
        # to how many processes the machine runs): not the measured side's.
        while not done.wait(0.5):
            new = {pid: v for pid, v in our_processes().items() if pid not in before}
            browser_cpu.update({pid: cpu for pid, (_, _, cpu) in new.items()})
            rss = sum(kb for name, kb, _ in new.values() if "chrom" in name)
            peak[0] = max(peak[0], round(rss / 1024, 1))
            spent[0] = time.thread_time()

    failures: list[BaseException] = []

    def run_one(prefix: str) -> None:
        try:
            work(prefix)
        except BaseException as exc:  # a side that stopped early would look fast
            failures.append(exc)

    threads = [
        threading.Thread(target=run_one, args=(f"P{uuid.uuid4().hex[:6].upper()}",)) for _ in range(contexts)
    ]
    sampler = threading.Thread(target=sample)
    sampler.start()
    cpu, start = cpu_seconds(app), time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, after = time.monotonic() - start, cpu_seconds(app)
    done.set()
    sampler.join()
    if failures:
        raise SystemExit(f"bench run failed, figures dropped: {failures[0]!r}"[:2000])
    used = {part: after[part] - cpu[part] for part in ("python", "app")}
    used["python"] -= spent[0]
    used["browser"] = sum(browser_cpu.values())
    return elapsed, peak[0], used


@dataclass
class Totals:
    """One (system, contexts) pair's measurements, summed over the rounds."""

    seconds: dict[str, list[float]]  # each round's
    cpu: dict[str, dict[str, float]]
    peak: dict[str, float]
    cpu_by_round: dict[str, list[float]]  # each round's CPU seconds, all parts

    @classmethod
    def empty(cls) -> Totals:
        return cls(
            {side: [] for side in SIDES},
            {side: dict.fromkeys(CPU_PARTS, 0.0) for side in SIDES},
            dict.fromkeys(SIDES, 0.0),
            {side: [] for side in SIDES},
        )

    def add(self, side: str, elapsed: float, mem: float, used: dict[str, float]) -> None:
        self.seconds[side].append(elapsed)
        self.cpu_by_round[side].append(sum(used[part] for part in CPU_PARTS))
        for part in CPU_PARTS:
            self.cpu[side][part] += used[part]
        self.peak[side] = max(self.peak[side], mem)

    def report(self, records: int) -> dict[str, object]:
        total = {side: sum(self.seconds[side]) for side in SIDES}
        rpm = {side: round(records / total[side] * 60, 1) for side in SIDES}
        cpu = {
            side: {part: round(self.cpu[side][part] / records * 1000) for part in CPU_PARTS} for side in SIDES
        }
        job_cpu, bare_cpu = sum(self.cpu["job"].values()), sum(self.cpu["bare"].values())
        # Each round times the two sides back to back, so a round's ratio is a
        # paired comparison; the median of the rounds' ratios is what a change of
        # load in one round (another engineer's build) moves least.
        by_round = [b / j for j, b in zip(self.seconds["job"], self.seconds["bare"], strict=True)]
        cpu_by_round = [
            j / b for j, b in zip(self.cpu_by_round["job"], self.cpu_by_round["bare"], strict=True)
        ]
        return {
            "job_records_per_minute": rpm["job"],
            "bare_records_per_minute": rpm["bare"],
            "ratio": round(total["bare"] / total["job"], 3),
            "ratio_by_round": [round(r, 3) for r in by_round],
            **spread("ratio", by_round),
            "target_ratio": 0.95,
            "job_cpu_ms_per_record": round(job_cpu / records * 1000),
            "bare_cpu_ms_per_record": round(bare_cpu / records * 1000),
            "cpu_ratio": round(job_cpu / bare_cpu, 3),
            "cpu_ratio_by_round": [round(r, 3) for r in cpu_by_round],
            **spread("cpu_ratio", cpu_by_round),
            "target_cpu_ratio": 1.05,
            "job_cpu_ms_per_record_by_part": cpu["job"],
            "bare_cpu_ms_per_record_by_part": cpu["bare"],
            "chromium_peak_rss_mb_job": self.peak["job"],
            "chromium_peak_rss_mb_bare": self.peak["bare"],
        }


SIDES = ("job", "bare")


def spread(name: str, ratios: list[float]) -> dict[str, object]:
    """The median of the rounds' ratios and their range (min, max)."""
    return {
        f"{name}_median": round(statistics.median(ratios), 3),
        f"{name}_range": [round(min(ratios), 3), round(max(ratios), 3)],
    }


def verdict(report: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """Each cell's medians against the issue's targets (rows/min at least 0.95x
    the bare loop's, CPU per record within 5 %), in one place."""
    cells: dict[str, dict[str, object]] = {}
    for system, cell in report.items():
        for key, figures in cell.items():
            if not isinstance(figures, dict):
                continue
            ratio, cpu = figures["ratio_median"], figures["cpu_ratio_median"]
            assert isinstance(ratio, float) and isinstance(cpu, float)
            cells[f"{system.removeprefix('system_')}_x{key.removeprefix('contexts_')}"] = {
                "ratio_median": ratio,
                "cpu_ratio_median": cpu,
                "meets_targets": ratio >= 0.95 and cpu <= 1.05,
            }
    return cells


@dataclass
class Bench:
    """One stand-in running, its ledger, and the two sides to time on it."""

    system: System
    app: Child
    url: str
    sides: dict[str, Callable[[int, str], None]]  # (records, prefix)
    close: Callable[[], None]


def start_bench(system: System, tmp: Path) -> Bench:
    os.environ[f"DIGILABO_CREDENTIAL_{system.credential}_USER"] = USER
    os.environ[f"DIGILABO_CREDENTIAL_{system.credential}_PASSWORD"] = PASSWORD
    app, url = start_app(tmp, system)
    if system.name == "cm":
        scans(tmp)
    engine = make_engine(f"sqlite:///{tmp / f'ledger-{system.name}.db'}")
    Base.metadata.create_all(engine, tables=list(TABLES))
    ledger = SqlRecordLedger(session_factory(engine))
    sides: dict[str, Callable[[int, str], None]] = {
        "job": lambda n, p: job(system, tmp, url, ledger, p, n),
        "bare": lambda n, p: bare(system, url, p, n, tmp),
    }

    def close() -> None:
        app.stop()
        engine.dispose()

    return Bench(system, app, url, sides, close)


def run_interleaved(benches: list[Bench], n: int, rounds: int) -> dict[str, dict[str, object]]:
    """Every system's sides in each round (job, bare on even rounds, bare,
    job on odd ones), so a change in the machine's load touches them all."""
    for b in benches:  # unmeasured: see the docstring
        name = b.system.name.upper()
        b.sides["job"](min(n, WARMUP_RECORDS), f"WARMUP-J{name}")
        b.sides["bare"](min(n, WARMUP_RECORDS), f"WARMUP-B{name}")
    totals = {(b.system.name, c): Totals.empty() for b in benches for c in b.system.contexts}
    for r in range(rounds):
        for b in benches:
            for contexts in b.system.contexts:
                for side in SIDES if r % 2 == 0 else SIDES[::-1]:
                    work = functools.partial(b.sides[side], n)
                    totals[b.system.name, contexts].add(side, *measure(work, contexts, b.app))
    report: dict[str, dict[str, object]] = {}
    for b in benches:
        report[f"system_{b.system.name}"] = {"script": b.system.script.name} | {
            f"contexts_{c}": totals[b.system.name, c].report(n * c * rounds) for c in b.system.contexts
        }
    return report


def main() -> None:
    # SIGTERM (a timeout) unwinds like Ctrl-C, so the stand-ins are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--systems", default="a,b,c")
    parser.add_argument("--busy", action="store_true", help="another process burns one core meanwhile")
    args = parser.parse_args()
    report: dict[str, object] = {
        "benchmark": "rpa_entry",
        "records_per_context": args.records,
        "rounds": args.rounds,
        "busy": args.busy,
        "load_average_at_start": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    benches: list[Bench] = []
    burner: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-rpa-") as folder:
        try:
            for name in args.systems.split(","):
                benches.append(start_bench(SYSTEMS[name], Path(folder)))
            if args.busy:
                burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            cells = run_interleaved(benches, args.records, args.rounds)
            report |= cells | {"verdict_by_median": verdict(cells)}
        finally:
            if burner is not None:
                burner.kill()
                burner.wait()
            for b in benches:
                b.close()
    report["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
