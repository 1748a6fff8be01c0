"""Fair-share benchmark: prints one JSON object.

On a real cpu worker (``--processes``, default one process) over a real
Redis, with the test kind ``echo`` sleeping a fixed time per job (or one-page
OCR jobs, ``--kind ocr``), once with first-come-first-served
dispatch (``DIGILABO_DISPATCH_MODE=direct``) and once with fair dispatch:

- fairness: a batch of N jobs from department A, then one job from B and
  one from C: how long B and C waited to start, in median job runtimes
  (target <= 2), and A's whole batch time against its time alone (the mean
  of a run before and one after, which also shows how much the load moved);
- urgent (fair only): an operator's 至急 job submitted while N normal jobs
  wait: its wait in median job runtimes (target <= 1);
- overhead: on an idle pool, tiny jobs (sleep 0) one at a time: submission
  to start, p50 and p99 (target: fair adds <= 5 ms to p99); and M tiny jobs
  at once: jobs per second (target: fair loses <= 2 %).

``--jobs N --tiny M`` scale it (defaults run in a few minutes; the issue's
figure is ``--jobs 200``). ``--kind ocr`` makes every job of the fairness case
a one-page OCR job (a generated form, below) instead of ``echo``.

Then the split case (fair dispatch): one OCR job of ``--pages N`` pages (parts
of ``--part-pages``): the batch's pages per minute with one cpu worker process
and with two (target: two >= 1.8x one), and, with two, how long a one-page job
of another department sent while the batch runs waits to start, in mean part
runtimes (target <= 2). ``--pages 0`` skips it; the issue's figure is
``--pages 500 --part-pages 25``.

``--database postgres`` runs each mode on a throw-away PostgreSQL database
(the tests' server, ``DIGILABO_TEST_POSTGRES_URL``) instead of a SQLite file.

The OCR pages are generated (``tests/jobs/ocr/synth.py``): 給付金支給申請書
forms filled with random values, each page different, as a text-layer PDF,
which the reader takes from the text layer instead of running tesseract, so
a 500-page run takes minutes. ``--scans`` uses the bundled scans repeated
instead (tesseract on every field: the real cost of a scanned batch).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))

import pypdfium2 as pdfium  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from composition.runtime import Runtime  # noqa: E402
from digilabo.embedded import start_redis  # noqa: E402
from digilabo.stack import Stack  # noqa: E402
from intake_api.main import create_app  # noqa: E402
from jobs import auth  # noqa: E402
from jobs.db import migrate, unit_of_work  # noqa: E402
from jobs.models import Job, JobPart  # noqa: E402
from jobs.ocr.kind import sample as ocr_sample  # noqa: E402
from tests.conftest import make_settings, throwaway_postgres_database  # noqa: E402
from tests.jobs.ocr import synth  # noqa: E402


class Bench:
    def __init__(
        self, root: Path, redis_url: str, mode: str, database: str = "sqlite", **overrides: Any
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.drop_database: Callable[[], None] | None = None
        url = f"sqlite:///{root / 'db.sqlite'}"
        if database == "postgres":
            url, self.drop_database = throwaway_postgres_database("digilabo_bench")
        self.settings = make_settings(root, url, redis_url, dispatch_mode=mode, **overrides)
        migrate(self.settings.database_url)
        # No pool here: each case starts its cpu worker (``workers``).
        self.stack = Stack(self.settings, pools=(), log_dir=root / "logs", api=False)
        self.stack.start()
        self.worker: subprocess.Popen[bytes] | None = None
        self.runtime = Runtime(self.settings)
        self.api = TestClient(create_app(self.settings, self.runtime)).__enter__()

    def token(self, department: str, role: str = "department") -> dict[str, str]:
        with unit_of_work(self.runtime.factory) as session:
            user = auth.ensure_user(
                f"{department}-{uuid.uuid4().hex[:6]}", session=session, department_code=department, role=role
            )
            return {"Authorization": f"Bearer {auth.create_token(user, session=session)}"}

    def submit(self, headers: dict[str, str], sleep: float, urgent: bool = False) -> str:
        data = {"kind": "echo", "parameters": json.dumps({"sleep": sleep})}
        if urgent:
            data["urgent"] = "true"
        response = self.api.post(
            "/api/v1/jobs", headers=headers, data=data, files=[("files", ("a.txt", b"a\n"))]
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def times(self, ids: list[str]) -> dict[str, tuple[float, float | None, float | None]]:
        with self.runtime.factory() as session:
            rows = session.execute(
                select(Job.id, Job.submitted_at, Job.started_at, Job.finished_at).where(Job.id.in_(ids))
            ).all()
        return {
            i: (s.timestamp(), a.timestamp() if a else None, f.timestamp() if f else None)
            for i, s, a, f in rows
        }

    def wait_all(self, ids: list[str], timeout: float = 900) -> dict[str, tuple[float, float, float]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.times(ids)
            if all(v[2] is not None for v in found.values()) and len(found) == len(ids):
                self.check_not_failed(ids)
                return found  # type: ignore[return-value]
            time.sleep(0.05)
        raise TimeoutError("jobs did not finish")

    def check_not_failed(self, ids: list[str]) -> None:
        """A figure over failed jobs would measure nothing: stop with their reasons."""
        with self.runtime.factory() as session:
            failed = session.execute(
                select(Job.id, Job.error_message).where(Job.id.in_(ids), Job.state == "failed")
            ).all()
        if failed:
            raise RuntimeError(f"{len(failed)} jobs failed, e.g. {failed[0][0]}: {failed[0][1]}")

    def wait_started(self, ids: list[str], timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not all(v[1] for v in self.times(ids).values()) and time.monotonic() < deadline:
            time.sleep(0.05)

    def workers(self, processes: int) -> None:
        """One cpu worker with ``processes`` pool processes (replacing any before)."""
        self.stop_workers()
        log = open(self.settings.var_dir / f"worker-{processes}.log", "wb")  # noqa: SIM115
        argv = [sys.executable, "-m", "digilabo", "worker", "--pool", "cpu", f"--concurrency={processes}"]
        self.worker = subprocess.Popen(argv, env=self.stack.child_env(), stdout=log, stderr=log)

    def worker_cpu_s(self) -> float:
        """User + system CPU seconds of the worker's processes so far (its
        main process and its pool processes, which live as long as it does)."""
        assert self.worker is not None
        tick = os.sysconf("SC_CLK_TCK")
        pids = {self.worker.pid}
        for task in Path(f"/proc/{self.worker.pid}/task").iterdir():  # a child of any thread
            pids |= {int(p) for p in (task / "children").read_text().split()}
        total = 0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def worker_cpu_split(self) -> tuple[float, float]:
        """(main process, pool processes) CPU seconds, as ``worker_cpu_s``."""
        assert self.worker is not None
        fields = Path(f"/proc/{self.worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
        main = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return main, self.worker_cpu_s() - main

    def stop_workers(self) -> None:
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(60)
            self.worker = None

    def submit_files(
        self,
        headers: dict[str, str],
        kind: str,
        files: list[Path],
        params: dict[str, Any],
        urgent: bool = False,
    ) -> str:
        data = {"kind": kind, "parameters": json.dumps(params)}
        if urgent:
            data["urgent"] = "true"
        response = self.api.post(
            "/api/v1/jobs",
            headers=headers,
            data=data,
            files=[("files", (p.name, p.read_bytes())) for p in files],
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def parts_started(self, job_id: str) -> list[float]:
        with self.runtime.factory() as session:
            rows = session.scalars(
                select(JobPart.started_at).where(JobPart.job_id == job_id, JobPart.started_at.is_not(None))
            ).all()
        return sorted(s.timestamp() for s in rows if s is not None)

    def close(self) -> None:
        self.stop_workers()
        self.api.__exit__(None, None, None)
        self.stack.stop()
        self.runtime.close()
        if self.drop_database is not None:
            self.drop_database()


def median_run(found: dict[str, tuple[float, float, float]], ids: list[str]) -> float:
    return statistics.median(found[i][2] - found[i][1] for i in ids)


Submit = Callable[..., str]  # (headers, urgent=False) -> job id


def job_maker(bench: Bench, kind: str, sleep: float, scans: bool) -> Submit:
    """How the fairness and urgent cases make one job: ``echo`` sleeping
    ``sleep``, or a one-page OCR job (16 different pages, in turn)."""
    if kind == "echo":
        return lambda headers, urgent=False: bench.submit(headers, sleep, urgent)
    params, _ = ocr_sample()
    pages = [many_pages(1, bench.settings.var_dir, scans=scans, seed=i) for i in range(16)]
    turn = itertools.count()

    def submit(headers: dict[str, str], urgent: bool = False) -> str:
        page = pages[next(turn) % len(pages)]
        return bench.submit_files(headers, "ocr", [page], params, urgent=urgent)

    return submit


def fairness(bench: Bench, n: int, submit: Submit) -> dict[str, Any]:
    """A's batch alone, then with B's and C's jobs sent just after it, then
    alone again: the two alone runs show how much the machine's load moved."""
    a, b, c = bench.token("bench-a"), bench.token("bench-b"), bench.token("bench-c")
    bench.wait_all([submit(a) for _ in range(3)])  # warm the worker up

    def alone() -> float:
        found = bench.wait_all([submit(a) for _ in range(n)], timeout=3600)
        return max(v[2] for v in found.values()) - min(v[0] for v in found.values())

    before = alone()
    batch = [submit(a) for _ in range(n)]
    late = [submit(b), submit(c)]
    found = bench.wait_all(batch + late, timeout=3600)
    after = alone()
    run = median_run(found, batch)
    batch_s = max(found[i][2] for i in batch) - min(found[i][0] for i in batch)
    return {
        "jobs_from_a": n,
        "median_run_s": round(run, 3),
        "b_wait_s": round(found[late[0]][1] - found[late[0]][0], 2),
        "b_wait_runs": round((found[late[0]][1] - found[late[0]][0]) / run, 2),
        "c_wait_runs": round((found[late[1]][1] - found[late[1]][0]) / run, 2),
        "a_batch_s": round(batch_s, 2),
        "a_alone_before_s": round(before, 2),
        "a_alone_after_s": round(after, 2),
        "a_batch_vs_alone": round(batch_s / ((before + after) / 2), 3),
    }


def urgent(bench: Bench, n: int, submit: Submit) -> dict[str, Any]:
    a, operator = bench.token("bench-u"), bench.token("bench-ops", "operator")
    batch = [submit(a) for _ in range(n)]
    bench.wait_started(batch[:1])
    job = submit(operator, urgent=True)
    found = bench.wait_all([*batch, job], timeout=3600)
    run = median_run(found, batch)
    return {"waiting": n, "urgent_wait_runs": round((found[job][1] - found[job][0]) / run, 2)}


def overhead(bench: Bench, singles: int, tiny: int) -> dict[str, Any]:
    a = bench.token("bench-o")
    latencies = []
    for _ in range(singles):
        job = bench.submit(a, 0)
        found = bench.wait_all([job])
        latencies.append((found[job][1] - found[job][0]) * 1000)
    latencies.sort()
    started = time.monotonic()
    ids = [bench.submit(a, 0) for _ in range(tiny)]
    found = bench.wait_all(ids)
    span = max(v[2] for v in found.values()) - min(v[0] for v in found.values())
    return {
        "idle_start_ms_p50": round(statistics.median(latencies), 1),
        "idle_start_ms_p99": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "tiny_jobs": tiny,
        "tiny_jobs_per_s": round(tiny / span, 2),
        "wall_s": round(time.monotonic() - started, 1),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def released(bench: Bench, ids: list[str]) -> dict[str, float]:
    """When the fair dispatcher marked each job released (just before its send)."""
    with bench.runtime.factory() as session:
        rows = session.execute(select(Job.id, Job.released_at).where(Job.id.in_(ids))).all()
    return {i: r.timestamp() for i, r in rows if r is not None}


def idle_starts(benches: dict[str, Bench], singles: int) -> dict[str, Any]:
    """Tiny jobs one at a time on idle pools, the two modes taking turns
    (ABBA, so a load change hits both alike): submission -> start in each,
    and under fair dispatch its two shares: submission -> released (intake's
    commit, the wake-up and the dispatcher's pass up to its claim) and
    released -> start (the send, Redis and the worker, as under direct)."""
    tokens = {mode: b.token("bench-o") for mode, b in benches.items()}
    start: dict[str, list[float]] = {mode: [] for mode in benches}
    to_release: list[float] = []
    after_release: list[float] = []
    for i in range(singles):
        for mode in ("direct", "fair") if i % 4 in (0, 3) else ("fair", "direct"):
            bench = benches[mode]
            job = bench.submit(tokens[mode], 0)
            submitted, begun, _ = bench.wait_all([job])[job]
            start[mode].append((begun - submitted) * 1000)
            if mode == "fair":
                out = released(bench, [job])[job]
                to_release.append((out - submitted) * 1000)
                after_release.append((begun - out) * 1000)
    found: dict[str, Any] = {"singles": singles}
    for mode, values in start.items():
        found[f"{mode}_start_ms_p50"] = round(statistics.median(values), 1)
        found[f"{mode}_start_ms_p99"] = round(percentile(values, 0.99), 1)
    found["fair_minus_direct_ms_p50"] = round(found["fair_start_ms_p50"] - found["direct_start_ms_p50"], 1)
    found["fair_minus_direct_ms_p99"] = round(found["fair_start_ms_p99"] - found["direct_start_ms_p99"], 1)
    found["fair_submit_to_release_ms_p50"] = round(statistics.median(to_release), 1)
    found["fair_submit_to_release_ms_p99"] = round(percentile(to_release, 0.99), 1)
    found["fair_release_to_start_ms_p50"] = round(statistics.median(after_release), 1)
    found["fair_release_to_start_ms_p99"] = round(percentile(after_release, 0.99), 1)
    return found


def tiny_batches(benches: dict[str, Bench], tiny: int) -> dict[str, Any]:
    """``tiny`` tiny jobs per mode, sent at once in two blocks per mode in
    ABBA order (direct, fair, fair, direct): jobs per second of each mode,
    over its blocks' spans (first submission to last finish)."""
    spans: dict[str, float] = {mode: 0.0 for mode in benches}
    tokens = {mode: b.token("bench-t") for mode, b in benches.items()}
    block = tiny // 2
    blocks = []
    cpu: dict[str, float] = {mode: 0.0 for mode in benches}
    for mode in ("direct", "fair", "fair", "direct"):
        bench = benches[mode]
        worker, own = bench.worker_cpu_s(), own_cpu_s()
        ids = [bench.submit(tokens[mode], 0) for _ in range(block)]
        cpu[mode] += own_cpu_s() - own  # intake, not the polling below (it lasts as long as the block)
        found = bench.wait_all(ids, timeout=3600)
        cpu[mode] += bench.worker_cpu_s() - worker
        span = max(v[2] for v in found.values()) - min(v[0] for v in found.values())
        spans[mode] += span
        blocks.append(f"{mode} {block / span:.2f}/s, load {os.getloadavg()[0]:.1f}")
    rates = {mode: 2 * block / span for mode, span in spans.items()}
    per_job = {mode: 1000 * seconds / (2 * block) for mode, seconds in cpu.items()}
    return {
        "tiny_blocks": blocks,
        "tiny_jobs_per_mode": 2 * block,
        "direct_jobs_per_s": round(rates["direct"], 2),
        "fair_jobs_per_s": round(rates["fair"], 2),
        "fair_vs_direct": round(rates["fair"] / rates["direct"], 3),
        # The worker's processes and intake's, per job: what the dispatcher
        # costs in CPU (the Redis server's share is not counted).
        "direct_cpu_ms_per_job": round(per_job["direct"], 1),
        "fair_cpu_ms_per_job": round(per_job["fair"], 1),
    }


def own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def run_overhead(base: str, args: argparse.Namespace) -> dict[str, Any]:
    """Both modes at once, each its own database, Redis database and cpu
    worker (one process), idle but for the bench: the interleaved overhead
    case."""
    with tempfile.TemporaryDirectory(prefix="bench-fair-overhead-") as tmp:
        benches: dict[str, Bench] = {}
        try:
            for mode, db in (("direct", 6), ("fair", 7)):
                benches[mode] = Bench(Path(tmp) / mode, f"{base}/{db}", mode, args.database)
                benches[mode].workers(1)
            for bench in benches.values():  # warm both workers up
                bench.wait_all([bench.submit(bench.token("bench-w"), 0) for _ in range(3)], timeout=600)
            load = os.getloadavg()[0]
            out = idle_starts(benches, args.singles) | tiny_batches(benches, args.tiny)
            return out | {"loadavg_1min_before_after": [round(load, 2), round(os.getloadavg()[0], 2)]}
        finally:
            for bench in benches.values():
                bench.close()


def many_pages(n: int, folder: Path, *, scans: bool = False, seed: int = 0) -> Path:
    """An ``n``-page batch: generated forms, each page different, as a
    text-layer PDF; ``scans``: the bundled scans repeated, image only."""
    path = folder / f"batch-{n}-{seed}.pdf"
    if not scans:
        rng = random.Random(seed)
        path.write_bytes(synth.form_pdf([synth.random_form(rng).printed for _ in range(n)], seed=seed))
        return path
    _, sample_scans = ocr_sample()
    out = pdfium.PdfDocument.new()
    sources = [pdfium.PdfDocument(p) for p in sample_scans]
    for i in range(n):
        out.import_pages(sources[i % len(sources)], [0])
    out.save(str(path))
    return path


def split_batch(bench: Bench, pages: int, part_pages: int, scans: bool) -> dict[str, Any]:
    params, _ = ocr_sample()
    folder = bench.settings.var_dir
    batch = many_pages(pages, folder, scans=scans)
    one_page = [many_pages(1, folder, scans=scans, seed=100 + i) for i in range(3)]
    a, b = bench.token("bench-sa"), bench.token("bench-sb")
    out: dict[str, Any] = {
        "pages": pages,
        "part_pages": part_pages,
        "parts": -(-pages // part_pages),
        "pages_from": "bundled scans (tesseract)" if scans else "generated text-layer forms",
        "cpu": {},
    }
    for processes in (1, 2):
        bench.workers(processes)
        bench.wait_all([bench.submit_files(a, "ocr", one_page[:1], params)], timeout=600)  # warm up
        main_before, pool_before = bench.worker_cpu_split()
        job = bench.submit_files(a, "ocr", [batch], params)
        _, begun, ended = bench.wait_all([job], timeout=3600)[job]
        main_after, pool_after = bench.worker_cpu_split()
        cpu = (main_after - main_before, pool_after - pool_before)
        out[f"pages_per_min_{processes}_worker"] = round(pages / ((ended - begun) / 60), 1)
        out["cpu"][processes] = stages(bench, job, begun, ended, cpu, pages, processes)
    out["speedup_2_vs_1"] = round(out["pages_per_min_2_worker"] / out["pages_per_min_1_worker"], 2)
    # On two idle cores each pool process has a core of its own, so one
    # process's batch takes its CPU seconds, and two share the parts between
    # them while the split and the merge run alone. Their wall times with
    # two processes bound their CPU time from above (on a busy machine the
    # wall time is mostly waiting for a core): a cautious projection.
    alone = out["cpu"][1]["cpu_s_pool"]
    serial = min(alone, out["cpu"][2]["split_s"] + out["cpu"][2]["merge_s"])
    out["parallel_fraction_at_least"] = round(1 - serial / alone, 3)
    out["speedup_2_idle_cores_projected"] = round(alone / (serial + (alone - serial) / 2), 2)
    # Another department's one-page job while the batch runs on two processes.
    job = bench.submit_files(a, "ocr", [batch], params)
    deadline = time.monotonic() + 600
    while len(bench.parts_started(job)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    one = bench.submit_files(b, "ocr", one_page[1:2], params)
    found = bench.wait_all([job, one], timeout=3600)
    span = found[job][2] - found[job][1]
    part_run = 2 * span / out["parts"]  # two processes busy for the span, over the parts
    out["mean_part_run_s"] = round(part_run, 2)
    out["other_dept_wait_s"] = round(found[one][1] - found[one][0], 2)
    out["other_dept_wait_part_runs"] = round((found[one][1] - found[one][0]) / part_run, 2)
    return out


def stages(
    bench: Bench, job: str, begun: float, ended: float, cpu: tuple[float, float], pages: int, processes: int
) -> dict[str, float]:
    """Where a split batch's time went: the split (job start -> first part
    start), the parts (-> the last part's result written), the merge (-> the
    job finished), and the worker's CPU seconds (its processes' user + system
    time: its main process, and its pool processes against ``processes``
    cores for the whole span: how busy they could keep them)."""
    started = bench.parts_started(job)
    results = bench.runtime.artifacts.job_work_dir(job) / "attempt-1" / "parts"
    last = max((p.stat().st_mtime for p in results.glob("*.json")), default=ended)
    wall = ended - begun
    return {
        "wall_s": round(wall, 2),
        "split_s": round(started[0] - begun, 2),
        "parts_s": round(last - started[0], 2),
        "merge_s": round(ended - last, 2),
        "cpu_s_main_process": round(cpu[0], 2),  # the consumer and the dispatcher
        "cpu_s_pool": round(cpu[1], 2),  # the parts, the split and the merge
        "cpu_ms_per_page": round(1000 * sum(cpu) / pages, 1),
        "pool_busy_of_its_cores": round(cpu[1] / (wall * processes), 2),
    }


def run_split(redis_url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-fair-split-") as tmp:
        bench = Bench(
            Path(tmp),
            redis_url,
            "fair",
            args.database,
            ocr_part_pages=args.part_pages,
            max_ocr_pages=5000,
            max_upload_bytes=1 << 30,
        )
        try:
            return split_batch(bench, args.pages, args.part_pages, args.scans)
        finally:
            bench.close()


def run_mode(mode: str, redis_url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-fair-{mode}-") as tmp:
        bench = Bench(Path(tmp), redis_url, mode, args.database)
        try:
            bench.workers(args.processes)
            submit = job_maker(bench, args.kind, args.sleep, args.scans)
            steps: dict[str, Callable[[], dict[str, Any]]] = {
                "fairness": lambda: fairness(bench, args.jobs, submit),
                "overhead": lambda: overhead(bench, args.singles, args.tiny),
            }
            if mode == "fair":
                steps["urgent"] = lambda: urgent(bench, args.jobs, submit)
            return {name: step() for name, step in steps.items()}
        finally:
            bench.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20, help="jobs in department A's batch")
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds one job runs")
    parser.add_argument("--singles", type=int, default=40, help="tiny jobs one at a time")
    parser.add_argument("--tiny", type=int, default=150, help="tiny jobs at once")
    parser.add_argument(
        "--kind",
        choices=("echo", "ocr"),
        default="echo",
        help="the fairness case's jobs: echo or one-page OCR",
    )
    parser.add_argument("--pages", "--split-pages", type=int, default=60, help="split case: pages (0: skip)")
    parser.add_argument("--part-pages", type=int, default=10, help="pages per part in the split case")
    parser.add_argument(
        "--scans", action="store_true", help="OCR the bundled scans instead of generated pages"
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="each mode's database: a SQLite file, or a throw-away PostgreSQL database",
    )
    parser.add_argument("--modes", default="direct,fair", help="fairness case: the modes to run")
    parser.add_argument("--processes", type=int, default=1, help="cpu worker processes, fairness case")
    parser.add_argument(
        "--only",
        choices=("fairness", "split", "overhead"),
        help="run one case only (overhead: both modes side by side, interleaved)",
    )
    args = parser.parse_args()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-fair-redis-") as tmp:
        child, url = start_redis(Path(tmp), appendonly=False)
        base = url.rsplit("/", 1)[0]
        try:
            if args.only == "overhead":
                out["overhead"] = run_overhead(base, args)
            elif args.only != "split":
                out |= {
                    mode: run_mode(mode, f"{base}/{db}", args)
                    for mode, db in (("direct", 3), ("fair", 4))
                    if mode in args.modes.split(",")
                }
            if args.only not in ("fairness", "overhead") and args.pages:
                out["split"] = run_split(f"{base}/5", args)
        finally:
            child.stop()
    # What the machine was doing is measured, not assumed: cores and the load at the end.
    out["settings"] = vars(args) | {
        "machine": f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end"
    }
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
