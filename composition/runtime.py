"""The composition root: builds the engine, stores, registry and Celery app
from the settings, once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from jobs import throttle
from jobs.artifacts import ArtifactStore
from jobs.db import make_engine, read_only, session_factory, unit_of_work
from jobs.housekeeping import purge_expired, reap_overdue, sweep_orphan_blobs
from jobs.registry import Registry, build_registry, kind_options
from jobs.runner import JobRunner, RunnerConfig
from jobs.verify import verify_store, write_status


@dataclass
class Runtime:
    settings: Settings
    engine: Engine = field(init=False)
    factory: sessionmaker[Session] = field(init=False)
    artifacts: ArtifactStore = field(init=False)
    registry: Registry = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings.database_url)
        self.factory = session_factory(self.engine)
        self.artifacts = ArtifactStore(self.settings.storage)
        self.artifacts.ensure()
        self.registry = build_registry(self.settings.extra_job_kinds)

    @cached_property
    def celery(self) -> Celery:
        from queues.app import make_celery

        return make_celery(self.settings)

    @cached_property
    def runner(self) -> JobRunner:
        return JobRunner(
            self.factory,
            self.artifacts,
            self.registry,
            RunnerConfig(
                timezone=self.settings.timezone,
                baselines=dict(self.settings.baselines),
                kind_options=self.kind_options(),
                # Only workers run jobs, and a worker can hand parts to others.
                fan_out=True,
                heartbeat_timeout_s=self.settings.heartbeat_timeout_s,
            ),
        )

    def kind_options(self) -> dict[str, Any]:
        """What job cores see, by kind name: each kind's typed options, built
        by its ``options_from`` from the settings values plus the kinds'
        resources (the record ledger) on this process's database."""
        return kind_options(self.registry, self.settings.kind_options(), self.factory)

    def hard_limits(self) -> dict[str, float]:
        """Each kind's effective hard time limit, seconds."""
        return {
            k.name: float(min(self.settings.time_limit(k.queue)[1], k.time_limit))
            for k in self.registry.all()
        }

    def housekeeping(self, now: datetime | None = None) -> dict[str, Any]:
        """The retention purge, the stuck-job reaper and the sweep of stored
        files no job refers to, in one transaction each."""
        with unit_of_work(self.factory) as session:
            purged = purge_expired(
                session=session,
                artifacts=self.artifacts,
                retention_days=self.settings.retention_days,
                now=now,
            )
        with unit_of_work(self.factory) as session:
            reaped = reap_overdue(session=session, limits=self.hard_limits(), now=now)
            # Failed logins are kept only as long as the throttle looks back.
            throttle.prune(session=session, older_than_s=self.settings.login_window_s, now=now)
        # File times are real time: a test's moved clock must not make the blob of
        # an upload still in progress look old.
        with read_only(self.factory) as session:
            orphans = sweep_orphan_blobs(session=session, artifacts=self.artifacts)
        self.artifacts.sweep_tmp()
        return {
            "purged_jobs": purged.jobs,
            "purged_artifacts": purged.artifacts,
            "blobs_deleted": purged.blobs_deleted,
            "orphan_blobs_deleted": orphans,
            "reaped": reaped,
        }

    def verify_store(self) -> dict[str, int]:
        """Check every stored file against its row (``jobs.verify``) and
        record the result where the exporter reads it."""
        with read_only(self.factory) as session:
            report = verify_store(session=session, artifacts=self.artifacts)
        write_status(report, self.artifacts)
        return report.counts()

    def close(self) -> None:
        self.engine.dispose()
