"""Intake load benchmark: prints one JSON object.

20 concurrent clients submit small jobs for 60 s (``--seconds``) against the
embedded stack (API + Redis, no workers, so every accepted job stays queued),
then the same clients call ``/healthz`` for the same time as the bare baseline.
Twice: saturated (each client sends again as soon as it is answered) and
paced (each client once per ``--interval`` second, 20 submissions/s in all,
far above a city's daily load). Reports p50/p99 latency of both, errors, and
checks that every accepted job is in the database and in the queue (target
p99 < 50 ms, 0 errors).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from config.settings import Settings  # noqa: E402
from digilabo.embedded import free_port  # noqa: E402
from digilabo.stack import Stack  # noqa: E402
from jobs import auth  # noqa: E402
from jobs.db import make_engine, session_factory, unit_of_work  # noqa: E402
from jobs.models import Job  # noqa: E402
from queues.app import make_celery  # noqa: E402
from tests.support.speech import write_audio  # noqa: E402


def load(
    url: str, token: str, seconds: float, clients: int, call: str, audio: bytes, interval: float = 0.0
) -> dict:
    """``interval`` 0: each client sends its next request as soon as the last
    is answered (saturation: by Little's law latency is then clients ÷
    throughput, whatever the server does). Otherwise each client sends one
    request per ``interval`` on a fixed schedule, and latency counts from the
    scheduled time, so a server falling behind still shows in the figure.

    Every client first opens its connection and sends one unmeasured request,
    and the clock starts when all of them are ready: starting 20 threads and
    building 20 HTTP clients under one GIL took up to 0.7 s, and it showed as
    seconds-late first requests, the bench's own start-up, not the server."""
    latencies: list[float] = []
    accepted: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_at = [0.0]
    # The clock starts (in the barrier's action) once every client is ready.
    ready = threading.Barrier(clients, action=lambda: start_at.__setitem__(0, time.monotonic()))

    def send(http: httpx.Client) -> tuple[bool, object]:
        try:
            if call == "submit":
                r = http.post(
                    "/api/v1/jobs",
                    data={"kind": "transcription"},
                    files=[("files", ("memo.wav", audio, "audio/wav"))],
                )
            else:
                r = http.get("/healthz")
        except httpx.HTTPError as exc:
            return False, exc
        ok = r.status_code in (200, 202)
        if ok and call == "submit":
            with lock:
                accepted.append(r.json()["id"])  # warm-up jobs too: all are checked below
        return ok, r

    def client(index: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            send(http)  # warm-up, unmeasured
            ready.wait()
            next_at = start_at[0] + interval * index / clients  # spread the clients over one interval
            while time.monotonic() < start_at[0] + seconds:
                if interval:
                    time.sleep(max(0.0, next_at - time.monotonic()))
                    start = time.perf_counter() - max(0.0, time.monotonic() - next_at)
                    next_at += interval
                else:
                    start = time.perf_counter()
                ok, r = send(http)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if not ok:
                        errors.append(str(getattr(r, "status_code", r)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "errors": len(errors),
        "accepted": accepted,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument(
        "--interval", type=float, default=1.0, help="paced run: seconds between one client's submissions"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        root = Path(tmp)
        settings = Settings(var_dir=root, api_port=free_port())
        audio = write_audio(
            (np.sin(np.arange(8000) / 5) * 3000).astype(np.int16), root / "tone.wav"
        ).read_bytes()
        with Stack(settings, pools=(), log_dir=root / "logs") as stack:
            engine = make_engine(settings.database_url)
            with unit_of_work(session_factory(engine)) as session:
                user = auth.ensure_user("bench", session=session, department_code="bench")
                token = auth.create_token(user, session=session)
            runs = {}
            for mode, interval in (("saturated", 0.0), ("paced", args.interval)):
                for call in ("submit", "healthz"):
                    runs[(mode, call)] = load(
                        stack.api_url, token, args.seconds, args.clients, call, audio, interval
                    )
            ids = set(runs[("saturated", "submit")].pop("accepted")) | set(
                runs[("paced", "submit")].pop("accepted")
            )
            for mode in ("saturated", "paced"):
                runs[(mode, "healthz")].pop("accepted")
            with session_factory(engine)() as session:
                in_db = {j for (j,) in session.query(Job.id).filter(Job.state == "queued").all()}
            with make_celery(settings, redis_url=stack.redis_url).connection_for_read() as conn:
                queued = conn.default_channel.client.llen("gpu")
            engine.dispose()
    figures = {
        mode: {
            "submit": runs[(mode, "submit")],
            "baseline_healthz": runs[(mode, "healthz")],
            "p99_ratio_to_baseline": round(
                runs[(mode, "submit")]["p99_ms"] / max(runs[(mode, "healthz")]["p99_ms"], 0.001), 2
            ),
        }
        for mode in ("saturated", "paced")
    }
    print(
        json.dumps(
            {
                "bench": "intake",
                "clients": args.clients,
                "seconds": args.seconds,
                "paced_interval_s": args.interval,
                **figures,
                "target_p99_ms_max": 50,
                "accepted_jobs": len(ids),
                "all_accepted_in_database": ids <= in_db,
                "all_accepted_in_queue": queued == len(ids),
            }
        )
    )


if __name__ == "__main__":
    main()
