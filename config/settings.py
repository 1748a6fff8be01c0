"""The one settings object.

Everything configurable comes from ``DIGILABO_*`` environment variables (or a
``.env`` file) through this class. Nothing reads the environment at import
time: call ``get_settings()`` where the value is needed, and ``reset_settings()``
in tests that change the environment.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

QUEUES = ("gpu", "cpu", "rpa")


# --- each job kind's settings ------------------------------------------------------
# One group per kind, mixed into ``Settings`` (so the variables keep their
# documented DIGILABO_* names). Each group hands its kind plain values
# (``*_values``); the kind's ``JobKind.options_from`` turns them into its
# typed options in the composition root. This module imports no kind.


class TranscriptionSettings(BaseModel):
    """``transcription`` (jobs/transcription): the Whisper model and the split."""

    whisper_model_dir: Path | None = None
    model_cache_dir: Path | None = None  # default: var_dir/models
    cpu_threads: int = Field(default=0, ge=0)  # 0: as many as the worker has
    max_audio_seconds: float = Field(default=4 * 3600.0, gt=0)
    # Recordings longer than this are split at pauses into parts that run as
    # separate tasks on any free gpu-pool worker.
    transcription_part_seconds: float = Field(default=600.0, ge=30)
    # The city whose meetings are transcribed: its name and its wards join
    # the built-in glossary (DIGILABO_CITY_WARDS=門司区,小倉北区,…).
    city_name: str = Field(default="", max_length=50)
    city_wards: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("city_wards", mode="before")
    @classmethod
    def _split_wards(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lstrip().startswith("["):
            return json.loads(value)  # as as_env hands it to child processes
        if isinstance(value, str):
            return [w.strip() for w in value.replace("、", ",").split(",") if w.strip()]
        return value

    def transcription_values(self) -> dict[str, Any]:
        return {
            "city_name": self.city_name,
            "city_wards": list(self.city_wards),
            "whisper_model_dir": str(self.whisper_model_dir) if self.whisper_model_dir else None,
            "model_cache_dir": str(self.model_cache_dir.resolve()) if self.model_cache_dir else None,
            "cpu_threads": self.cpu_threads,
            "max_audio_seconds": self.max_audio_seconds,
            "transcription_part_seconds": self.transcription_part_seconds,
            "model_name": self.whisper_model_dir.name if self.whisper_model_dir else "whisper-base",
        }


class OcrSettings(BaseModel):
    """``ocr`` (jobs/ocr)."""

    # Pages one OCR job may hold (all its files together); a bigger batch is
    # refused before anything is rendered.
    max_ocr_pages: int = Field(default=1000, gt=0)
    # A batch of more pages than this runs as parts of about this many pages
    # each, on any free cpu worker, in fair turns with other departments'
    # work (forms of one page only; see docs/ocr.md).
    ocr_part_pages: int = Field(default=25, gt=0)

    def ocr_values(self) -> dict[str, Any]:
        return {"max_ocr_pages": self.max_ocr_pages, "ocr_part_pages": self.ocr_part_pages}


class EntrySettings(BaseModel):
    """``rpa_entry`` (jobs/rpa): the browser, the targets, the liveness figures."""

    # Debian's Chromium (None: /usr/bin/chromium or /usr/lib/chromium/chromium),
    # target base URLs by the script's target name (overriding the script's
    # own), a secrets file (mode 0600) for credentials not in
    # DIGILABO_CREDENTIAL_<NAME>_USER/_PASSWORD.
    chromium_path: Path | None = None
    rpa_target_urls: dict[str, str] = Field(default_factory=dict)
    rpa_secrets_file: Path | None = None
    # A running entry job renews its target slot and its in-flight claims
    # every rpa_heartbeat_seconds; a job that stopped (killed worker or CLI
    # run) loses its slot after rpa_slot_ttl and its claims after
    # rpa_stale_seconds, and the next run takes them over. A job waits up to
    # rpa_slot_wait for a free slot, then is retried later.
    rpa_heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    rpa_slot_ttl: float = Field(default=30.0, gt=0, le=3600)
    rpa_stale_seconds: float = Field(default=30.0, gt=0, le=3600)
    rpa_slot_wait: float = Field(default=90.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _check_rpa_timings(self) -> Self:
        if min(self.rpa_slot_ttl, self.rpa_stale_seconds) < 2 * self.rpa_heartbeat_seconds:
            raise ValueError(
                "DIGILABO_RPA_SLOT_TTL and _STALE_SECONDS must be at least twice _HEARTBEAT_SECONDS"
            )
        return self

    def rpa_timings(self) -> dict[str, float]:
        """The entry core's liveness figures, as plain numbers: the core turns
        them into ``jobs.rpa.liveness.Timings`` (settings import nothing of ours)."""
        return {
            "heartbeat_seconds": self.rpa_heartbeat_seconds,
            "slot_ttl": self.rpa_slot_ttl,
            "stale_seconds": self.rpa_stale_seconds,
            "slot_wait": self.rpa_slot_wait,
        }

    def entry_values(self) -> dict[str, Any]:
        return {
            "chromium_path": str(self.chromium_path) if self.chromium_path else None,
            "rpa_target_urls": dict(self.rpa_target_urls),
            "rpa_secrets_file": str(self.rpa_secrets_file) if self.rpa_secrets_file else None,
            "rpa_timings": self.rpa_timings(),
        }


class FairShareSettings(BaseModel):
    """Sharing the pools between departments (jobs.fairshare, queues.fair)."""

    # "fair": jobs wait in the database and the dispatcher (a thread in every
    # worker's main process) releases them in fair order; "direct": intake
    # sends each job to its queue at once, first come first served.
    dispatch_mode: Literal["fair", "direct"] = "fair"
    # Messages the dispatcher keeps waiting in each pool's Redis queue: more
    # lets a freed worker find work without a round trip; fewer makes a newly
    # arrived department's job start sooner.
    dispatch_depth: int = Field(default=1, ge=1, le=100)
    # While one department alone has work waiting in a pool, up to this many
    # more of its jobs wait in Redis at a lower message priority, so a worker
    # that frees up finds one without waiting for a pass; another
    # department's job released later is still taken before them. They are
    # topped up once its messages have fallen to dispatch_depth.
    dispatch_spare: int = Field(default=2, ge=0, le=100)
    # The dispatcher wakes when a job is submitted or a task starts, and at
    # least this often.
    dispatch_interval_s: float = Field(default=1.0, gt=0, le=60)
    # Round-robin weights by department code (default 1: equal turns).
    department_weights: dict[str, float] = Field(default_factory=dict)
    # Quotas, 0 = no limit: jobs one department may have waiting, and bytes
    # its jobs' files may hold in storage; per-department overrides by code,
    # e.g. {"kikaku": {"queued_jobs": 500, "stored_bytes": 10000000000}}.
    quota_queued_jobs: int = Field(default=0, ge=0)
    quota_stored_bytes: int = Field(default=0, ge=0)
    # Waiting work in the kind's own unit: OCR pages, recording minutes (of
    # queued jobs, and the parts of split jobs not started yet).
    quota_queued_pages: int = Field(default=0, ge=0)
    quota_queued_audio_minutes: int = Field(default=0, ge=0)
    department_quotas: dict[str, dict[str, int]] = Field(default_factory=dict)
    # How long a department's oldest job may wait before the alert, by pool.
    wait_targets_s: dict[str, float] = Field(
        default_factory=lambda: {"cpu": 600.0, "gpu": 1800.0, "rpa": 3600.0}
    )

    def department_weight(self, code: str) -> float:
        return float(self.department_weights.get(code, 1.0))

    def quota(self, code: str, name: str) -> int:
        """The department's limit ``name`` (queued_jobs, stored_bytes,
        queued_pages, queued_audio_minutes); 0: none."""
        default = {
            "queued_jobs": self.quota_queued_jobs,
            "stored_bytes": self.quota_stored_bytes,
            "queued_pages": self.quota_queued_pages,
            "queued_audio_minutes": self.quota_queued_audio_minutes,
        }[name]
        return int(self.department_quotas.get(code, {}).get(name, default))


class Settings(BaseSettings, TranscriptionSettings, OcrSettings, EntrySettings, FairShareSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIGILABO_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    # Where state lives. Relative paths resolve against the working directory.
    var_dir: Path = Path("var")
    database_url: str = ""
    # Empty means "start an embedded redis-server" (digilabo up / demo).
    redis_url: str = ""
    storage_dir: Path | None = None
    timezone: str = "Asia/Tokyo"

    # Intake limits.
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0)
    max_files_per_job: int = Field(default=50, gt=0)
    # A whole request (every file and field together), checked against
    # Content-Length before the body is read.
    max_request_bytes: int = Field(default=2 * 1024**3 + 16 * 1024**2, gt=0)
    # Job parameters (the JSON form field): size and nesting depth.
    max_parameters_bytes: int = Field(default=64 * 1024, gt=0)
    max_parameters_depth: int = Field(default=16, gt=0)

    # Data protection.
    retention_days: int = Field(default=90, ge=1)
    # A job page polls its job every second or two while it runs: one "view"
    # per viewer and job within this window is enough to say who looked, and
    # keeps the audit log readable. 0 audits every view.
    audit_view_window_s: float = Field(default=600.0, ge=0)
    housekeeping_interval_s: float = Field(default=3600.0, ge=10)

    # Time-saved: manual seconds per unit of work, per service. Departments,
    # templates and scripts may override these.
    baselines: dict[str, float] = Field(default_factory=dict)
    annual_target_hours: float = Field(default=30_000.0, gt=0)

    # Job kinds beyond the built-in ones ("module:NAME", comma separated).
    extra_job_kinds: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Portal sessions: the signing key, shared by every API host. Empty: a
    # key is created in var_dir (fine for one host).
    session_secret: SecretStr | None = None

    # API.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)

    # Portal login throttling: failures allowed per user name and per client
    # address within the window before logins are refused.
    login_window_s: float = Field(default=900.0, gt=0)
    login_max_failures_per_user: int = Field(default=5, gt=0)
    login_max_failures_per_address: int = Field(default=20, gt=0)

    # Processes started as root: drop to this user when it exists, else
    # refuse unless allow_root (CI containers, the demo).
    run_as: str = "digilabo"
    allow_root: bool = False

    # Workers write a heartbeat for the jobs they run; a job whose heartbeat
    # is older than the timeout lost its worker and is requeued as the next
    # attempt by the reaper, which runs every reaper_interval_s (beat).
    heartbeat_interval_s: float = Field(default=15.0, gt=0)
    heartbeat_timeout_s: float = Field(default=90.0, ge=5)
    reaper_interval_s: float = Field(default=30.0, ge=1)

    # Retries of transient errors.
    retry_max: int = Field(default=5, ge=0)
    retry_backoff_base: float = Field(default=5.0, gt=0)
    retry_backoff_max: float = Field(default=600.0, gt=0)

    # Redis gives an unacknowledged message to another worker after the
    # longest hard time limit plus this margin (a worker host that died keeps
    # its running job until then), checking every restore interval.
    visibility_margin_s: float = Field(default=3600.0, ge=1)
    broker_restore_interval_s: float = Field(default=10.0, gt=0)

    # Worker time limits per queue, seconds: (soft, hard). A job kind can
    # declare tighter ones.
    time_limits: dict[str, tuple[int, int]] = Field(
        default_factory=lambda: {
            "gpu": (4 * 3600, 4 * 3600 + 300),
            "cpu": (1800, 1900),
            "rpa": (3 * 3600, 3 * 3600 + 300),
        }
    )

    @field_validator("extra_job_kinds", mode="before")
    @classmethod
    def _split_kinds(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("DIGILABO_REDIS_URL must start with redis://, rediss:// or unix://")
        return value

    @field_validator("time_limits")
    @classmethod
    def _check_limits(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        for queue, (soft, hard) in value.items():
            if not 0 < soft < hard:
                raise ValueError(f"time limit for {queue}: soft ({soft}) must be below hard ({hard})")
        return value

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'digilabo.db').resolve()}"
        if self.storage_dir is None:
            self.storage_dir = self.var_dir / "storage"
        if self.model_cache_dir is None:
            self.model_cache_dir = self.var_dir / "models"
        if self.heartbeat_timeout_s < 3 * self.heartbeat_interval_s:
            raise ValueError("heartbeat_timeout_s must be at least three heartbeat intervals")
        return self

    def as_env(self) -> dict[str, str]:
        """These settings as DIGILABO_* variables, for child processes."""
        env = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            if name == "session_secret" and self.session_secret is not None:
                value = self.session_secret.get_secret_value()  # dumped masked otherwise
            if name == "extra_job_kinds":
                text = ",".join(value)
            elif isinstance(value, dict | list):
                text = json.dumps(value)
            else:
                text = str(value)
            env[f"DIGILABO_{name.upper()}"] = text
        return env

    @property
    def storage(self) -> Path:
        assert self.storage_dir is not None
        return self.storage_dir.resolve()

    @property
    def longest_hard_limit(self) -> int:
        return max(hard for _, hard in self.time_limits.values())

    def time_limit(self, queue: str) -> tuple[int, int]:
        return self.time_limits.get(queue, (3600, 3900))

    def kind_options(self) -> dict[str, Any]:
        """The plain values each kind's ``options_from`` turns into its typed
        options (cores never see Settings; this module imports no kind)."""
        return {
            **self.transcription_values(),
            **self.ocr_values(),
            **self.entry_values(),
            "model_cache_dir": str(Path(self.model_cache_dir or self.var_dir / "models").resolve()),
            "max_upload_bytes": self.max_upload_bytes,
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    get_settings.cache_clear()
