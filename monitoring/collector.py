"""The cluster collector behind ``digilabo exporter``: reads Redis, Celery
and the database at scrape time, so every figure is exact and one exporter
serves the whole cluster."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from composition.runtime import Runtime
from config.settings import QUEUES
from jobs import fairshare
from jobs.models import Job, LedgerEntry
from jobs.wareki import fiscal_year_of
from queues.inspect import workers_online

log = logging.getLogger(__name__)

# kombu's Redis transport keeps one list per priority level: "queue" for the
# default and "queue\x06\x16N" for the others.
PRIORITY_SEP = "\x06\x16"
PRIORITIES = range(10)
STATES = ("queued", "running", "needs_review")


class ClusterCollector(Collector):
    def __init__(self, runtime: Runtime, *, ping_timeout: float = 1.0, ping_every: float = 5.0) -> None:
        self.runtime = runtime
        self.ping_timeout = ping_timeout
        self.ping_every = ping_every
        self._workers: dict[str, int] = {}
        self._pinged = 0.0

    def collect(self) -> Iterator[Any]:
        yield from self._queues()
        yield from self._database()
        yield from self._departments()
        yield self._workers_online()

    # -- Redis ----------------------------------------------------------------------

    def _queues(self) -> Iterator[Any]:
        length = GaugeMetricFamily(
            "digilabo_queue_length", "Messages waiting in a queue (all priorities).", labels=["queue"]
        )
        unacked = GaugeMetricFamily(
            "digilabo_queue_unacked",
            "Messages delivered to a worker, not yet acknowledged.",
            labels=["queue"],
        )
        try:
            with self.runtime.celery.connection_for_read() as conn:
                client = conn.default_channel.client
                pipe = client.pipeline()
                for queue in QUEUES:
                    pipe.llen(queue)
                    for p in PRIORITIES:
                        pipe.llen(f"{queue}{PRIORITY_SEP}{p}")
                counts = pipe.execute()
                per_queue = len(PRIORITIES) + 1
                waiting = {q: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, q in enumerate(QUEUES)}
                held = unacked_by_queue(client.hvals("unacked"))
        except Exception as exc:  # the exporter must answer even when Redis is down
            log.warning("queue metrics unavailable: %s", exc)
            return
        for queue in QUEUES:
            length.add_metric([queue], waiting[queue])
            unacked.add_metric([queue], held.get(queue, 0))
        yield length
        yield unacked

    # -- database -------------------------------------------------------------------

    def _database(self) -> Iterator[Any]:
        now = datetime.now(UTC)
        tz = self.runtime.settings.timezone
        with self.runtime.factory() as session:
            states = session.execute(
                select(Job.queue, Job.kind, Job.state, func.count())
                .where(Job.state.in_(STATES))
                .group_by(Job.queue, Job.kind, Job.state)
            ).all()
            oldest = dict(
                session.execute(
                    select(Job.queue, func.min(Job.enqueued_at))
                    .where(Job.state == "queued")
                    .group_by(Job.queue)
                ).all()
            )
            running = session.execute(
                select(Job.queue, Job.kind, Job.started_at).where(Job.state == "running")
            ).all()
            saved = session.execute(
                select(
                    LedgerEntry.service, LedgerEntry.department_code, func.sum(LedgerEntry.saved_seconds)
                ).group_by(LedgerEntry.service, LedgerEntry.department_code)
            ).all()
            year = fiscal_year_of(now, tz)
            this_year = session.execute(
                select(LedgerEntry.service, func.sum(LedgerEntry.saved_seconds))
                .where(LedgerEntry.fiscal_year == year)
                .group_by(LedgerEntry.service)
            ).all()
        yield self._jobs_gauge(states)
        yield self._oldest_gauge(oldest, now)
        yield self._overdue_gauge(running, now)
        total = CounterMetricFamily(
            "digilabo_time_saved_seconds",
            "Staff time saved (the ledger's sum).",
            labels=["service", "department"],
        )
        for service in self.runtime.registry.services():
            total.add_metric([service, ""], 0.0)
        for service, department, seconds in saved:
            total.add_metric([service, department], float(seconds or 0.0))
        yield total
        fiscal = GaugeMetricFamily(
            "digilabo_time_saved_fiscal_year_seconds",
            "Staff time saved in the current fiscal year (April–March).",
            labels=["service"],
        )
        known = dict.fromkeys(self.runtime.registry.services(), 0.0) | {
            s: float(v or 0) for s, v in this_year
        }
        for service, seconds in known.items():
            fiscal.add_metric([service], seconds)
        yield fiscal
        yield GaugeMetricFamily(
            "digilabo_time_saved_target_seconds",
            "Annual target for time saved.",
            value=self.runtime.settings.annual_target_hours * 3600,
        )

    def _jobs_gauge(self, rows: Sequence[Any]) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily(
            "digilabo_jobs",
            "Jobs not finished, by state (in progress = running).",
            labels=["queue", "kind", "state"],
        )
        counts = {(k.queue, k.name, s): 0 for k in self.runtime.registry.all() for s in STATES}
        counts.update({(q, k, s): n for q, k, s, n in rows})
        for (queue, kind, state), count in sorted(counts.items()):
            gauge.add_metric([queue, kind, state], count)
        return gauge

    def _overdue_gauge(self, running: Sequence[Any], now: datetime) -> GaugeMetricFamily:
        """Running longer than the hard time limit: the worker that had it is
        gone and nothing will finish it (the reliability reaper's work)."""
        gauge = GaugeMetricFamily(
            "digilabo_jobs_running_overdue",
            "Jobs running past their hard time limit.",
            labels=["queue", "kind"],
        )
        counts = {(k.queue, k.name): 0 for k in self.runtime.registry.all()}
        for queue, kind, started in running:
            limit = self._hard_limit(kind)
            if started and (now - started).total_seconds() > limit:
                counts[(queue, kind)] = counts.get((queue, kind), 0) + 1
        for (queue, kind), count in sorted(counts.items()):
            gauge.add_metric([queue, kind], count)
        return gauge

    def _hard_limit(self, kind: str) -> float:
        if kind not in self.runtime.registry:
            return float(self.runtime.settings.longest_hard_limit)
        job_kind = self.runtime.registry.get(kind)
        return float(min(self.runtime.settings.time_limit(job_kind.queue)[1], job_kind.time_limit))

    def _oldest_gauge(self, oldest: dict[str, datetime | None], now: datetime) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily(
            "digilabo_queue_oldest_job_age_seconds",
            "Age of the oldest job waiting in a queue (0 when none).",
            labels=["queue"],
        )
        for queue in QUEUES:
            since = oldest.get(queue)
            # Clamped at zero: a retry scheduled for later is not waiting yet.
            gauge.add_metric([queue], max(0.0, (now - since).total_seconds()) if since else 0.0)
        return gauge

    def _departments(self) -> Iterator[Any]:
        """Fair share: each department's waiting jobs and its oldest wait, by
        pool, and each pool's wait target (the alert compares the two)."""
        now = datetime.now(UTC)
        with self.runtime.factory() as session:
            rows = fairshare.waiting_by_department(session=session)
            work = fairshare.waiting_work(session=session)
        queued = GaugeMetricFamily(
            "digilabo_department_queued_jobs",
            "Jobs waiting (not started), by pool and department.",
            labels=["queue", "department"],
        )
        oldest = GaugeMetricFamily(
            "digilabo_department_oldest_wait_seconds",
            "How long the department's oldest waiting job has waited, by pool.",
            labels=["queue", "department"],
        )
        for (queue, department), (count, since) in sorted(rows.items()):
            queued.add_metric([queue, department], count)
            # Clamped at zero: a retry scheduled for later is not waiting yet.
            oldest.add_metric([queue, department], max(0.0, (now - since).total_seconds()) if since else 0.0)
        target = GaugeMetricFamily(
            "digilabo_wait_target_seconds",
            "How long a department's job may wait in the pool (DIGILABO_WAIT_TARGETS_S).",
            labels=["queue"],
        )
        for queue in QUEUES:
            target.add_metric([queue], float(self.runtime.settings.wait_targets_s.get(queue, 3600.0)))
        yield queued
        yield oldest
        yield target
        yield self._work(work)

    def _work(self, work: dict[tuple[str, str, str], tuple[int, float]]) -> GaugeMetricFamily:
        """Waiting work in each kind's quota unit (OCR pages, recording
        minutes): queued jobs and the parts of split jobs not started."""
        units = {k.name: k.quota_unit for k in self.runtime.registry.all() if k.quota_unit}
        gauge = GaugeMetricFamily(
            "digilabo_department_queued_work",
            "Work waiting per department, in pages (OCR) or recording minutes (transcription).",
            labels=["queue", "department", "unit"],
        )
        totals: dict[tuple[str, str, str], float] = {}
        for (queue, department, kind), (_, amount) in work.items():
            if kind in units:
                key = (queue, department, units[kind])
                totals[key] = totals.get(key, 0.0) + amount
        for key, amount in sorted(totals.items()):
            gauge.add_metric(list(key), amount)
        return gauge

    # -- Celery ---------------------------------------------------------------------

    def _workers_online(self) -> GaugeMetricFamily:
        if time.monotonic() - self._pinged > self.ping_every:
            self._workers = self._ping()
            self._pinged = time.monotonic()
        gauge = GaugeMetricFamily(
            "digilabo_workers_online", "Worker nodes answering a ping, by pool.", labels=["pool"]
        )
        for pool in QUEUES:
            gauge.add_metric([pool], self._workers.get(pool, 0))
        return gauge

    def _ping(self) -> dict[str, int]:
        return workers_online(self.runtime.celery, self.ping_timeout) or {}


def unacked_by_queue(values: list[bytes]) -> dict[str, int]:
    """kombu stores each unacked message as JSON [payload, exchange, routing_key]."""
    counts: dict[str, int] = {}
    for raw in values:
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        counts[routing_key] = counts.get(routing_key, 0) + 1
    return counts
