"""Bulk-entry throughput against the stand-in app: records per minute of a
job (ledger, claims, checks) vs a bare hand-written Playwright loop doing the
same steps, with 1 and 2 concurrent contexts, and Chromium's memory.
Prints one JSON object. ``python bench/rpa.py [--records N] [--rounds R]``.

Both sides are timed from launching Chromium to the last record, login
included; the job also reads and checks the records, commits each record's
state before and after typing it, and writes its results, because that is the
job. Fairness on a busy machine: one unmeasured warm-up run of each side
first (imports, Chromium's files in the page cache), then R rounds with the
order swapped each round (job, bare, bare, job, ...), so neither side always
runs first or last; the ratio is of the summed times. ``cpu_ms_per_record``
(this process, its finished children — each run's Playwright driver and its
Chromium — and the stand-in app) moves less with other load than wall time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digilabo.embedded import Child, start_standin  # noqa: E402
from jobs.db import make_engine, session_factory  # noqa: E402
from jobs.models import Base  # noqa: E402
from jobs.registry import InputFile, JobContext  # noqa: E402
from jobs.rpa import browser  # noqa: E402
from jobs.rpa.core import run  # noqa: E402
from jobs.rpa.ledger import SqlRecordLedger  # noqa: E402
from jobs.rpa.models import TABLES  # noqa: E402

SCRIPT = REPO / "jobs" / "rpa" / "samples" / "shishutsu_futan.yaml"
HEADERS = ["整理番号", "起票日", "款", "項", "目", "節", "金額", "支払先", "件名"]
USER, PASSWORD = "bench", "bench-password"


def start_app(tmp: Path) -> tuple[Child, str]:
    return start_standin(
        tmp, env={**os.environ, "STANDIN_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)}, user=USER
    )


def rows(prefix: str, n: int) -> list[list[str]]:
    return [
        [f"{prefix}-{i:05d}", "2025-06-02", "02", "01", "01", "07", str(1000 + i), f"商事{i}", "購入"]
        for i in range(n)
    ]


def job(tmp: Path, url: str, ledger: SqlRecordLedger, prefix: str, n: int) -> None:
    records = tmp / f"{prefix}.csv"
    with records.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([HEADERS, *rows(prefix, n)])
    work = tmp / prefix
    work.mkdir()
    inputs = (
        InputFile("script.yaml", SCRIPT, "application/yaml", 0),
        InputFile(records.name, records, "text/csv", 0),
    )
    options = {"rpa_ledger": ledger, "rpa_target_urls": {"zaimu-standin": url}}
    outcome = run(JobContext(str(uuid.uuid4()), "bench", {}, inputs, work, lambda f, m="": None, options))
    if outcome.units != n:
        raise SystemExit(f"bench job entered {outcome.units} of {n}: {dict(outcome.summary)}")


def bare(url: str, prefix: str, n: int) -> None:
    """What a person would write by hand: log in, then the sample script's
    steps (the same fills, selects and clicks, its two ``expect`` steps and
    the ``capture``), with none of the job's checks, ledger or results."""
    with browser.launch({}) as chromium:
        page = chromium.new_context(base_url=url).new_page()
        page.goto("/login")
        page.fill("#user", USER)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("#login")
        for r in rows(prefix, n):
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


def chromium_rss_mb() -> float:
    """RSS of the Chromium processes this benchmark started (not anybody else's)."""
    parents, rss = {}, {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = dict(
                line.split(":", 1)
                for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if ":" in line
            )
            parents[int(pid)] = int(status["PPid"])
            if "chromium" in status["Name"] and "VmRSS" in status:
                rss[int(pid)] = int(status["VmRSS"].split()[0])
        except (OSError, KeyError, ValueError):
            continue

    def ours(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return round(sum(kb for pid, kb in rss.items() if ours(pid)) / 1024, 1)


def cpu_seconds(app: Child) -> float:
    """CPU time used so far by this process, its waited-for children and the app."""
    own = os.times()
    stat = Path(f"/proc/{app.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    app_ticks = int(stat[11]) + int(stat[12])  # utime, stime
    return (
        own.user + own.system + own.children_user + own.children_system + app_ticks / os.sysconf("SC_CLK_TCK")
    )


def measure(work: Callable[[str], None], contexts: int, app: Child) -> tuple[float, float, float]:
    """(seconds, peak Chromium RSS in MB, CPU seconds) for ``contexts`` parallel runs."""
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            peak[0] = max(peak[0], chromium_rss_mb())

    threads = [
        threading.Thread(target=work, args=(f"P{uuid.uuid4().hex[:6].upper()}",)) for _ in range(contexts)
    ]
    sampler = threading.Thread(target=sample)
    sampler.start()
    cpu, start = cpu_seconds(app), time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, cpu = time.monotonic() - start, cpu_seconds(app) - cpu
    done.set()
    sampler.join()
    return elapsed, peak[0], cpu


def compare(
    sides: dict[str, Callable[[str], None]], contexts: int, n: int, rounds: int, app: Child
) -> dict[str, object]:
    """Both sides ``rounds`` times, swapping which one goes first each round."""
    seconds, cpu, peak = dict.fromkeys(sides, 0.0), dict.fromkeys(sides, 0.0), dict.fromkeys(sides, 0.0)
    names = list(sides)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            elapsed, mem, used = measure(sides[name], contexts, app)
            seconds[name] += elapsed
            cpu[name] += used
            peak[name] = max(peak[name], mem)
    records = n * contexts * rounds
    rpm = {name: round(records / seconds[name] * 60, 1) for name in names}
    return {
        "job_records_per_minute": rpm["job"],
        "bare_records_per_minute": rpm["bare"],
        "ratio": round(seconds["bare"] / seconds["job"], 3),
        "target_ratio": 0.9,
        "job_cpu_ms_per_record": round(cpu["job"] / records * 1000),
        "bare_cpu_ms_per_record": round(cpu["bare"] / records * 1000),
        "chromium_peak_rss_mb_job": peak["job"],
        "chromium_peak_rss_mb_bare": peak["bare"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    n, rounds = args.records, args.rounds
    os.environ["DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER"] = USER
    os.environ["DIGILABO_CREDENTIAL_ZAIMU_DEMO_PASSWORD"] = PASSWORD
    with tempfile.TemporaryDirectory(prefix="bench-rpa-") as folder:
        tmp = Path(folder)
        proc, url = start_app(tmp)
        engine = make_engine(f"sqlite:///{tmp / 'ledger.db'}")
        Base.metadata.create_all(engine, tables=list(TABLES))
        ledger = SqlRecordLedger(session_factory(engine))
        sides: dict[str, Callable[[str], None]] = {
            "job": lambda p: job(tmp, url, ledger, p, n),
            "bare": lambda p: bare(url, p, n),
        }
        try:
            job(tmp, url, ledger, "WARMUP-J", 5)  # unmeasured: see the module's docstring
            bare(url, "WARMUP-B", 5)
            report: dict[str, object] = {"benchmark": "rpa_entry", "records_per_context": n, "rounds": rounds}
            for contexts in (1, 2):
                report[f"contexts_{contexts}"] = compare(sides, contexts, n, rounds, proc)
            print(json.dumps(report, ensure_ascii=False, indent=2))
        finally:
            proc.stop()
            engine.dispose()


if __name__ == "__main__":
    main()
