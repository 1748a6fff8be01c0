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
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from composition.runtime import Runtime  # noqa: E402
from digilabo.embedded import start_redis  # noqa: E402
from digilabo.stack import Stack  # noqa: E402
from intake_api.main import create_app  # noqa: E402
from jobs import auth  # noqa: E402
from jobs.db import migrate, unit_of_work  # noqa: E402
from jobs.models import Job  # noqa: E402
from tests.conftest import make_settings  # noqa: E402


class Bench:
    def __init__(self, root: Path, redis_url: str, mode: str) -> None:
        self.settings = make_settings(root, f"sqlite:///{root / 'db.sqlite'}", redis_url, dispatch_mode=mode)
        migrate(self.settings.database_url)
        self.stack = Stack(self.settings, pools=("cpu",), log_dir=root / "logs", api=False)
        self.stack.start()
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

    def close(self) -> None:
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fair-redis-") as tmp:
        child, url = start_redis(Path(tmp), appendonly=False)
        try:
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
