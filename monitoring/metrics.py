"""Metric definitions, in one place. Seconds as the unit, ``digilabo_``
prefix, small label sets (kind, queue, pool, service, department, outcome:
never job ids or file names).

Three kinds of process expose metrics:
- the API (``/metrics``): submissions and request latency;
- each worker (``--metrics-port``): run and wait times, outcomes and work done,
  gathered from its prefork children with prometheus-client's multiprocess mode;
- the exporter (``digilabo exporter``, once per cluster): queue lengths, oldest
  waiting job, workers online, jobs in progress and time saved, read from
  Redis, Celery and the database at scrape time (see ``collector.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

OUTCOMES = ("succeeded", "failed", "needs_review", "cancelled")
RECORD_STATUSES = ("entered", "duplicate", "rejected", "invalid", "failed")
# Seconds: from a quick OCR page to a four-hour meeting.
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
WAIT_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)


REFUSAL_REASONS = ("setup", "input", "quota")
QUOTA_LIMITS = ("queued_jobs", "stored_bytes", "queued_pages", "queued_audio_minutes")
# Error codes that mean the service is not set up for a job (not the upload's fault).
SETUP_ERROR_CODES = frozenset({"entry_unavailable"})


def refusal_reason(error: Exception) -> str:
    code = getattr(error, "code", "")
    if code == "quota_exceeded":
        return "quota"
    return "setup" if code in SETUP_ERROR_CODES else "input"


class ApiMetrics:
    def __init__(self) -> None:
        self.submitted = Counter(
            "digilabo_jobs_submitted_total", "Jobs accepted by the intake API.", ["kind", "department"]
        )
        self.request_seconds = Histogram(
            "digilabo_http_request_duration_seconds",
            "API request latency by route template and status class.",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        # reason "setup": the service lacks a setting the job needs (an
        # operator's task, alerted on); "input": the upload itself is wrong.
        self.refused = Counter(
            "digilabo_jobs_refused_total", "Submissions refused at intake, by reason.", ["kind", "reason"]
        )

        # Submissions refused because the department is at a quota.
        self.quota_refused = Counter(
            "digilabo_quota_refusals_total",
            "Submissions refused at intake because a department quota was reached.",
            ["department", "limit"],
        )

    def precreate(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            for reason in REFUSAL_REASONS:
                self.refused.labels(kind, reason)


class WorkerMetrics:
    """Created in the worker after PROMETHEUS_MULTIPROC_DIR is set."""

    def __init__(self, pool: str) -> None:
        self.pool = pool
        self.finished = Counter(
            "digilabo_jobs_finished_total", "Jobs that ended, by outcome.", ["kind", "department", "outcome"]
        )
        self.run_seconds = Histogram(
            "digilabo_job_run_seconds",
            "Time a job (or a part of one) ran on a worker.",
            ["kind"],
            buckets=DURATION_BUCKETS,
        )
        self.wait_seconds = Histogram(
            "digilabo_job_queue_wait_seconds",
            "Enqueue to start, excluding deliberate retry delays, clamped at zero.",
            ["kind"],
            buckets=WAIT_BUCKETS,
        )
        # The fair-share view: how long each department's jobs wait in each
        # pool (departments are few: a city's sections, not users).
        self.department_wait_seconds = Histogram(
            "digilabo_department_wait_seconds",
            "Submission (or retry) to start, by pool and department.",
            ["pool", "department"],
            buckets=WAIT_BUCKETS,
        )
        self.model_load_seconds = Histogram(
            "digilabo_model_load_seconds",
            "Time to load a model into a worker process.",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
        )
        self.memory = Gauge(
            "digilabo_worker_memory_bytes",
            "Resident memory of worker processes.",
            ["pool"],
            multiprocess_mode="livesum",
        )
        # Work done: no department label (time saved carries it), so every
        # series exists at zero from the start.
        self.audio_seconds = Counter("digilabo_audio_seconds_total", "Seconds of audio transcribed.")
        self.forms = Counter("digilabo_forms_read_total", "Forms read by OCR.")
        self.review_fields = Counter("digilabo_fields_review_total", "OCR fields sent to a person's review.")
        self.records = Counter("digilabo_records_total", "Entry records by final status.", ["status"])

    def precreate(self, kinds: Iterable[str]) -> None:
        """Known label sets exist at zero from the start."""
        for kind in kinds:
            self.run_seconds.labels(kind)
            self.wait_seconds.labels(kind)
        for status in RECORD_STATUSES:
            self.records.labels(status)
        self.memory.labels(self.pool)

    def observe_outcome(self, kind: str, department: str, outcome: str, summary: Mapping[str, Any]) -> None:
        self.finished.labels(kind, department, outcome).inc()
        if outcome not in ("succeeded", "needs_review"):
            return
        if "audio_minutes" in summary:
            self.audio_seconds.inc(float(summary.get("units", 0.0)) * 60)
        if "forms_read" in summary:
            self.forms.inc(float(summary["forms_read"]))
            self.review_fields.inc(float(summary.get("fields_flagged", 0)))
        if "dry_run" in summary and not summary["dry_run"]:
            for status in RECORD_STATUSES:
                if status in summary:
                    self.records.labels(status).inc(float(summary[status]))


@cache
def api_metrics() -> ApiMetrics:
    return ApiMetrics()


_worker: WorkerMetrics | None = None


def worker_metrics(pool: str = "") -> WorkerMetrics:
    global _worker
    if _worker is None:
        _worker = WorkerMetrics(pool)
    return _worker
