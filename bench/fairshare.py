"""Fair-share benchmark: prints one JSON object.

On a real cpu worker (one process) over a real Redis, with the test kind
``echo`` sleeping a fixed time per job, once with first-come-first-served
dispatch (``DIGILABO_DISPATCH_MODE=direct``) and once with fair dispatch:

- fairness: a batch of N jobs from department A, then one job from B and
  one from C: how long B and C waited to start, in median job runtimes
  (target <= 2), and A's whole batch time against its time alone;
- urgent (fair only): an operator's 至急 job submitted while N normal jobs
  wait: its wait in median job runtimes (target <= 1);
- overhead: on an idle pool, tiny jobs (sleep 0) one at a time: submission
  to start, p50 and p99 (target: fair adds <= 5 ms to p99); and M tiny jobs
  at once: jobs per second (target: fair loses <= 2 %).

``--jobs N --tiny M`` scale it (defaults run in a few minutes).

``--split-pages N`` runs the split case instead (fair dispatch, real OCR with
tesseract on the bundled 給付金支給申請書 scans repeated to an N-page PDF, parts
of ``--part-pages`` pages): the batch's pages per minute with one cpu worker
process and with two (target: two >= 1.8x one), and, with two, how long a
one-page job of another department sent while the batch runs waits to start,
in mean part runtimes (target <= 2).
"""

from __future__ import annotations

import argparse
import json
import os
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
from tests.conftest import make_settings  # noqa: E402


class Bench:
    def __init__(self, root: Path, redis_url: str, mode: str, **overrides: Any) -> None:
        self.settings = make_settings(
            root, f"sqlite:///{root / 'db.sqlite'}", redis_url, dispatch_mode=mode, **overrides
        )
        migrate(self.settings.database_url)
        # No pool given: the split case starts its own workers (``workers``).
        pools = () if overrides else ("cpu",)
        self.stack = Stack(self.settings, pools=pools, log_dir=root / "logs", api=False)
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
                return found  # type: ignore[return-value]
            time.sleep(0.05)
        raise TimeoutError("jobs did not finish")

    def workers(self, processes: int) -> None:
        """One cpu worker with ``processes`` pool processes (replacing any before)."""
        self.stop_workers()
        log = open(self.settings.var_dir / f"worker-{processes}.log", "wb")  # noqa: SIM115
        argv = [sys.executable, "-m", "digilabo", "worker", "--pool", "cpu", f"--concurrency={processes}"]
        self.worker = subprocess.Popen(argv, env=self.stack.child_env(), stdout=log, stderr=log)

    def stop_workers(self) -> None:
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(60)
            self.worker = None

    def submit_files(
        self, headers: dict[str, str], kind: str, files: list[Path], params: dict[str, Any]
    ) -> str:
        response = self.api.post(
            "/api/v1/jobs",
            headers=headers,
            data={"kind": kind, "parameters": json.dumps(params)},
            files=[("files", (p.name, p.read_bytes())) for p in files],
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def parts_started(self, job_id: str) -> list[float]:
        with self.runtime.factory() as session:
            rows = session.scalars(
                select(JobPart.started_at).where(JobPart.job_id == job_id, JobPart.started_at.is_not(None))
            ).all()
        return sorted(s.timestamp() for s in rows)

    def close(self) -> None:
        self.stop_workers()
        self.api.__exit__(None, None, None)
        self.stack.stop()
        self.runtime.close()


def median_run(found: dict[str, tuple[float, float, float]], ids: list[str]) -> float:
    return statistics.median(found[i][2] - found[i][1] for i in ids)


def fairness(bench: Bench, n: int, sleep: float) -> dict[str, Any]:
    a, b, c = bench.token("bench-a"), bench.token("bench-b"), bench.token("bench-c")
    bench.wait_all([bench.submit(a, sleep) for _ in range(3)])  # warm the worker up
    alone = [bench.submit(a, sleep) for _ in range(n)]
    found = bench.wait_all(alone)
    alone_s = max(v[2] for v in found.values()) - min(v[0] for v in found.values())
    batch = [bench.submit(a, sleep) for _ in range(n)]
    late = [bench.submit(b, sleep), bench.submit(c, sleep)]
    found = bench.wait_all(batch + late)
    run = median_run(found, batch)
    batch_s = max(found[i][2] for i in batch) - min(found[i][0] for i in batch)
    return {
        "jobs_from_a": n,
        "median_run_s": round(run, 3),
        "b_wait_runs": round((found[late[0]][1] - found[late[0]][0]) / run, 2),
        "c_wait_runs": round((found[late[1]][1] - found[late[1]][0]) / run, 2),
        "a_batch_s": round(batch_s, 2),
        "a_alone_s": round(alone_s, 2),
        "a_batch_vs_alone": round(batch_s / alone_s, 3),
    }


def urgent(bench: Bench, n: int, sleep: float) -> dict[str, Any]:
    a, operator = bench.token("bench-u"), bench.token("bench-ops", "operator")
    batch = [bench.submit(a, sleep) for _ in range(n)]
    time.sleep(sleep * 2)
    job = bench.submit(operator, sleep, urgent=True)
    found = bench.wait_all([*batch, job])
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


def many_pages(n: int, folder: Path) -> Path:
    """The bundled scans repeated to an ``n``-page image-only PDF."""
    _, scans = ocr_sample()
    out = pdfium.PdfDocument.new()
    sources = [pdfium.PdfDocument(p) for p in scans]
    for i in range(n):
        out.import_pages(sources[i % len(sources)], [0])
    path = folder / f"batch-{n}.pdf"
    out.save(str(path))
    return path


def split_batch(bench: Bench, pages: int, part_pages: int) -> dict[str, Any]:
    params, scans = ocr_sample()
    batch = many_pages(pages, bench.settings.var_dir)
    a, b = bench.token("bench-sa"), bench.token("bench-sb")
    out: dict[str, Any] = {"pages": pages, "part_pages": part_pages, "parts": -(-pages // part_pages)}
    for processes in (1, 2):
        bench.workers(processes)
        bench.wait_all([bench.submit_files(a, "ocr", scans[:1], params)], timeout=600)  # warm up
        job = bench.submit_files(a, "ocr", [batch], params)
        found = bench.wait_all([job], timeout=3600)[job]
        out[f"pages_per_min_{processes}_worker"] = round(pages / ((found[2] - found[1]) / 60), 1)
    out["speedup_2_vs_1"] = round(out["pages_per_min_2_worker"] / out["pages_per_min_1_worker"], 2)
    # Another department's one-page job while the batch runs on two processes.
    job = bench.submit_files(a, "ocr", [batch], params)
    deadline = time.monotonic() + 600
    while len(bench.parts_started(job)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    one = bench.submit_files(b, "ocr", scans[:1], params)
    found = bench.wait_all([job, one], timeout=3600)
    span = found[job][2] - found[job][1]
    part_run = 2 * span / out["parts"]  # two processes busy for the span, over the parts
    out["mean_part_run_s"] = round(part_run, 2)
    out["other_dept_wait_s"] = round(found[one][1] - found[one][0], 2)
    out["other_dept_wait_part_runs"] = round((found[one][1] - found[one][0]) / part_run, 2)
    return out


def run_split(redis_url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-fair-split-") as tmp:
        bench = Bench(
            Path(tmp),
            redis_url,
            "fair",
            ocr_part_pages=args.part_pages,
            max_ocr_pages=5000,
            max_upload_bytes=1 << 30,
        )
        try:
            return split_batch(bench, args.split_pages, args.part_pages)
        finally:
            bench.close()


def run_mode(mode: str, redis_url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-fair-{mode}-") as tmp:
        bench = Bench(Path(tmp), redis_url, mode)
        try:
            steps: dict[str, Callable[[], dict[str, Any]]] = {
                "fairness": lambda: fairness(bench, args.jobs, args.sleep),
                "overhead": lambda: overhead(bench, args.singles, args.tiny),
            }
            if mode == "fair":
                steps["urgent"] = lambda: urgent(bench, args.jobs, args.sleep)
            return {name: step() for name, step in steps.items()}
        finally:
            bench.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20, help="jobs in department A's batch")
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds one job runs")
    parser.add_argument("--singles", type=int, default=40, help="tiny jobs one at a time")
    parser.add_argument("--tiny", type=int, default=150, help="tiny jobs at once")
    parser.add_argument("--split-pages", type=int, default=0, help="run the split OCR case on N pages")
    parser.add_argument("--part-pages", type=int, default=25, help="pages per part in the split case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fair-redis-") as tmp:
        child, url = start_redis(Path(tmp), appendonly=False)
        try:
            if args.split_pages:
                out = {"split": run_split(f"{url.rsplit('/', 1)[0]}/5", args)}
            else:
                out = {
                    mode: run_mode(mode, f"{url.rsplit('/', 1)[0]}/{db}", args)
                    for mode, db in (("direct", 3), ("fair", 4))
                }
        finally:
            child.stop()
    out["settings"] = vars(args) | {"machine": "busy shared machine (2 cores, 8 engineers)"}
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
