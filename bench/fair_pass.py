"""What the fair dispatcher costs per job, alone: prints one JSON object.

No worker, no intake: ``--jobs`` waiting jobs of one department (each with its
task id, as intake leaves them) in a SQLite file, a private Redis, and a
stand-in for the worker that takes one message at a time (the oldest of the
highest priority) and makes the task start's check
(``queues.fair.wake_at_task_start``); a pass runs when it wakes one, as the
dispatcher thread in the worker's main process does. Measured: this
process's CPU per job for the passes and the checks, the passes per job, the
Redis commands and SQL statements per job, and, for scale, the CPU of one
direct send (``queues.dispatch.enqueue``, what intake does per job under
direct dispatch). The stand-in's own reads of Redis are left out of every
figure.

CPU time and counts, not wall time, so a busy machine moves the figures
less than the overhead case of ``bench/fairshare.py``; compare two commits
by running each from its own tree, alternately.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis  # noqa: E402
from sqlalchemy import delete, event  # noqa: E402

from digilabo.embedded import start_redis  # noqa: E402
from jobs.db import make_engine, migrate, session_factory, unit_of_work  # noqa: E402
from jobs.models import Job  # noqa: E402
from jobs.registry import build_registry  # noqa: E402
from queues.app import make_celery  # noqa: E402
from queues.dispatch import enqueue  # noqa: E402
from queues.fair import PRIORITY_SEP, WAKE_KEY, Dispatcher, wake_at_task_start  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.queues.test_fair import echo_job  # noqa: E402


def cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def run(jobs: int, root: Path, redis_url: str) -> dict[str, Any]:
    settings = make_settings(root, f"sqlite:///{root / 'db.sqlite'}", redis_url)
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = session_factory(engine)
    client = redis.Redis.from_url(redis_url)
    registry = build_registry(settings.extra_job_kinds)
    celery = make_celery(settings)
    dispatcher = Dispatcher(settings, factory, registry, celery, client)
    keys = ["cpu", *(f"cpu{PRIORITY_SEP}{p}" for p in (3, 6, 9))]

    def add_jobs() -> list[str]:
        with unit_of_work(factory) as session:
            made = [echo_job("bench", session) for _ in range(jobs)]
            for job in made:
                job.task_id = f"task-{job.id}"
            return [job.id for job in made]

    add_jobs()
    dispatcher.run_pass(("cpu",), recover=False)  # warm: statements cached, connections open
    client.delete(*keys)
    with unit_of_work(factory) as session:  # the warm-up's jobs are done with
        session.execute(delete(Job))
    add_jobs()

    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    client.config_resetstat()
    passes, taken, spent, pops = 1, 0, 0.0, 0

    def take() -> bytes | None:
        """The oldest message of the highest priority (the stand-in's reads)."""
        nonlocal pops
        for key in keys:
            pops += 1
            found: bytes | None = client.rpop(key)  # type: ignore[assignment]
            if found:
                return found
        return None

    started = cpu_s()
    dispatcher.run_pass(("cpu",), recover=False)
    spent += cpu_s() - started
    while True:
        if take() is None:
            break
        taken += 1
        started = cpu_s()
        if wake_at_task_start(client, "cpu", settings.dispatch_depth):
            client.delete(WAKE_KEY)  # as the dispatcher's loop takes the wake-up
            dispatcher.run_pass(("cpu",), recover=False)
            passes += 1
        spent += cpu_s() - started
    event.remove(engine, "before_cursor_execute", count)
    commands = {k.removeprefix("cmdstat_"): v["calls"] for k, v in client.info("commandstats").items()}
    commands["rpop"] -= pops
    for own in ("config|resetstat", "info"):
        commands.pop(own, None)

    kind = registry.get("echo")
    ids = add_jobs()
    started = cpu_s()
    for job_id in ids:
        enqueue(celery, settings, kind, job_id, task_id=f"direct-{job_id}")
    direct = cpu_s() - started
    engine.dispose()
    return {
        "jobs": taken,
        "passes_per_job": round(passes / taken, 3),
        "fair_cpu_ms_per_job": round(1000 * spent / taken, 3),
        "direct_send_cpu_ms_per_job": round(1000 * direct / len(ids), 3),
        "sql_statements_per_job": round(statements / taken, 2),
        "redis_commands_per_job": {k: round(v / taken, 2) for k, v in sorted(commands.items()) if v},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fair-pass-") as tmp:
        child, url = start_redis(Path(tmp) / "redis", appendonly=False)
        try:
            out = run(args.jobs, Path(tmp), url)
        finally:
            child.stop()
    out["machine"] = f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end"
    out["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
