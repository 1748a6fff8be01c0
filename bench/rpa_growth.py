"""Does anything grow over a job? Per-record browser CPU by block of records,
and what the page and Playwright's client hold after the first and the last
record, job vs the bare loop of ``bench/rpa.py``, one long run of each.

A cost that accumulates (JS handles or listeners left in the page, detached
documents kept alive, events buffered, client objects never released) shows
as a rising ``browser_ms_per_record_by_block`` and as page figures that grow
from the first record to the last; a fixed per-record cost shows as a flat
line above the bare loop's. The page figures are Chromium's own
(``Performance.getMetrics``: documents, frames, nodes, JS event listeners,
JS heap) taken right after a forced garbage collection, so only what is still
reachable counts; ``client_objects`` are the Playwright objects the Python
client holds. Browser CPU is the run's Playwright driver, Chromium and its
renderers, read from /proc before each record. Prints one JSON object.
``python bench/rpa_growth.py [--records N] [--block K] [--systems b]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.rpa import SYSTEMS, System, our_processes, records, start_bench  # noqa: E402
from jobs.rpa import browser  # noqa: E402
from jobs.rpa.session import TargetSession  # noqa: E402

METRICS = ("Documents", "Frames", "Nodes", "JSEventListeners", "JSHeapUsedSize")


class Probe:
    """CPU before each record, and the page's figures at the first and last one."""

    def __init__(self, ignore: set[int]) -> None:
        self.ignore = ignore  # the stand-ins and anything else started before
        self.cpu: list[tuple[float, float]] = []  # (this process, browser) seconds
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def before_record(self) -> None:
        browser_cpu = sum(c for pid, (_, _, c) in our_processes().items() if pid not in self.ignore)
        self.cpu.append((time.process_time(), browser_cpu))

    def page_figures(self, context: Any, page: Any) -> dict[str, float]:
        cdp = context.new_cdp_session(page)
        try:
            cdp.send("Performance.enable")
            cdp.send("HeapProfiler.collectGarbage")
            got = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        finally:
            cdp.detach()
        figures = {name: got[name] for name in METRICS}
        figures["client_objects"] = len(page._impl_obj._connection._objects)
        return figures

    def report(self, block: int) -> dict[str, object]:
        steps = list(zip(self.cpu, self.cpu[1:], strict=False))
        browser_ms = [(b[1] - a[1]) * 1000 for a, b in steps]
        python_ms = [(b[0] - a[0]) * 1000 for a, b in steps]

        def by_block(values: list[float]) -> list[int]:
            return [
                round(sum(values[i : i + block]) / len(values[i : i + block]))
                for i in range(0, len(values), block)
            ]

        return {
            "browser_ms_per_record_by_block": by_block(browser_ms),
            "python_ms_per_record_by_block": by_block(python_ms),
            "page_after_first_record": self.first,
            "page_after_last_record": self.last,
        }


def job_side(bench_job: Callable[[int, str], None], probe: Probe, n: int) -> None:
    """The job as the benchmark runs it, watched from its session. Both sides
    are sampled before each record, so the last record's CPU is left out of
    both (the job's ends inside its results), and the page figures are taken
    before the second and the last record."""
    plain = TargetSession.next_record
    seen = [0]

    def watched(session: TargetSession) -> None:
        if seen[0] == 1:
            probe.first = probe.page_figures(session.context, session.page)
        if seen[0] == n - 1:
            probe.last = probe.page_figures(session.context, session.page)
        probe.before_record()
        seen[0] += 1
        plain(session)

    TargetSession.next_record = watched  # type: ignore[method-assign]
    try:
        bench_job(n, f"G-J{os.getpid()}")
    finally:
        TargetSession.next_record = plain  # type: ignore[method-assign]


def bare_side(system: System, url: str, probe: Probe, n: int, folder: Path) -> None:
    with browser.launch({}) as chromium:
        context = chromium.new_context(base_url=url)
        page = context.new_page()
        system.login(page)
        for i, r in enumerate(records(system, f"G-B{os.getpid()}", n, folder)):
            if i == 1:
                probe.first = probe.page_figures(context, page)
            if i == n - 1:
                probe.last = probe.page_figures(context, page)
            probe.before_record()
            system.row(page, r)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=40)
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--systems", default="b")
    args = parser.parse_args()
    report: dict[str, object] = {"benchmark": "rpa_growth", "records": args.records, "cpus": os.cpu_count()}
    report["load_average_at_start"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-rpa-growth-") as folder:
        for name in args.systems.split(","):
            bench = start_bench(SYSTEMS[name], Path(folder))
            try:
                bench.sides["job"](2, f"WARMUP-J{name.upper()}")  # unmeasured
                ignore = set(our_processes())
                job_probe, bare_probe = Probe(ignore), Probe(ignore)
                job_side(bench.sides["job"], job_probe, args.records + 1)
                bare_side(bench.system, bench.url, bare_probe, args.records + 1, Path(folder))
                report[f"system_{name}"] = {
                    "job": job_probe.report(args.block),
                    "bare": bare_probe.report(args.block),
                }
            finally:
                bench.close()
    report["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
