"""The one place where job kinds register themselves.

A job kind is a pure core plus a few facts the machinery needs: which queue
runs it, which uploads it accepts, how its parameters are checked and how its
work is counted in the time-saved ledger. The worker, the intake API and the
CLI all look kinds up here, so adding a kind never touches the machinery.

Kinds shipped with the product are listed in ``BUILTIN_KINDS`` as import
paths; deployments (and the test suite) can add more with the
``DIGILABO_EXTRA_JOB_KINDS`` setting, which is how the tests plug in a tiny
kind that never ships.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from jobs.errors import JobInputError, UnknownJobKind

# Import paths ("module:ATTRIBUTE") of the kinds that ship with the product.
# Each issue that adds a kind adds one line here.
BUILTIN_KINDS: tuple[str, ...] = (
    "jobs.transcription.kind:KIND",
    "jobs.ocr.kind:KIND",
    "jobs.rpa.kind:KIND",
)


class ProgressReporter(Protocol):
    def __call__(self, fraction: float, message: str = "") -> None:
        """Report progress in [0, 1] with an optional short Japanese note."""


@dataclass(frozen=True)
class InputFile:
    """An uploaded input as the core sees it: a readable path on disk."""

    name: str
    path: Path
    media_type: str
    size: int


# Set by ``digilabo restore`` on a job that was queued or running at backup
# time: it may have gone on, on the lost machine, after the snapshot (an entry
# job typing records the restored ledger never heard of).
RESTORED_PARAM = "restored_from_backup"


@dataclass(frozen=True)
class JobContext:
    """Everything a core needs to run one job, and nothing about Celery/HTTP."""

    job_id: str
    department: str
    params: Mapping[str, Any]
    inputs: tuple[InputFile, ...]
    work_dir: Path
    progress: ProgressReporter
    # The kind's typed options (``JobKind.options_from``, built once per
    # process by the composition root), or the plain settings mapping for a
    # kind that declares no options type.
    options: Any = field(default_factory=dict)
    # The department's glossary (terms the transcription model should prefer).
    glossary: tuple[str, ...] = ()

    @property
    def restored(self) -> bool:
        """Whether this job came back from a backup unfinished (``RESTORED_PARAM``)."""
        return bool(self.params.get(RESTORED_PARAM))


@dataclass(frozen=True)
class OutputFile:
    """A file the core produced under ``work_dir``; stored as an artifact."""

    name: str
    path: Path
    media_type: str


@dataclass(frozen=True)
class JobOutcome:
    """What a core returns.

    ``units`` is the amount of work done in the kind's unit (audio minutes,
    forms, records). ``seconds_per_unit`` overrides the service baseline when
    the job's own definition (an OCR template, an entry script) carries one.
    ``needs_review`` ends the job in the needs_review state instead of
    succeeded; the ledger entry is then written when the review finishes.
    """

    outputs: tuple[OutputFile, ...] = ()
    units: float = 0.0
    seconds_per_unit: float | None = None
    needs_review: bool = False
    summary: Mapping[str, Any] = field(default_factory=dict)


ParamsValidator = Callable[[Mapping[str, Any]], dict[str, Any]]
Core = Callable[[JobContext], JobOutcome]
PartSpec = dict[str, Any]


@dataclass(frozen=True)
class FanOut:
    """A kind whose work splits into parts that may run on different workers
    (a long recording split at silences). Part specs and part results are
    plain JSON: they are kept in the job's work folder on shared storage."""

    plan: Callable[[JobContext], list[PartSpec]]
    run_part: Callable[[JobContext, PartSpec], dict[str, Any]]
    merge: Callable[[JobContext, list[dict[str, Any]]], JobOutcome]


def run_parts(fanout: FanOut, ctx: JobContext, parts: list[PartSpec]) -> JobOutcome:
    """Run planned parts one after another in this process, then merge.
    Each part reports its own progress through ``ctx``."""
    return fanout.merge(ctx, [fanout.run_part(ctx, spec) for spec in parts])


def sequential(fanout: FanOut) -> Core:
    """A fan-out kind's plain core: every part in one process (CLI, tests)."""
    return lambda ctx: run_parts(fanout, ctx, fanout.plan(ctx))


@dataclass(frozen=True)
class ReviewHook:
    """A kind whose jobs may end in needs_review for a person to finish:
    ``pending(job, session=, artifacts=)`` lists what waits for them,
    ``apply(job, kind, decisions, seconds_spent, session=, artifacts=, viewer=,
    tz=)`` applies one batch and finishes the job (``jobs.finish``) when
    nothing is left; ``split(job, decisions, session=, artifacts=)``, when
    given, returns (the decisions that apply, {(form, field): message} for
    those it would refuse) without changing anything."""

    pending: Callable[..., list[dict[str, Any]]]
    apply: Callable[..., dict[str, Any]]
    split: Callable[..., tuple[list[Mapping[str, Any]], dict[tuple[int, str], str]]] | None = None


@dataclass(frozen=True)
class JobKind:
    """A registered job kind.

    ``service`` is the ledger's service name (one per kind); ``queue`` is one
    of ``gpu``, ``cpu``, ``rpa``. ``validate_params`` returns the cleaned
    parameters or raises ``JobInputError`` with a Japanese message.
    """

    name: str
    label_ja: str
    queue: str
    service: str
    unit_name: str
    unit_label_ja: str
    default_seconds_per_unit: float
    accepted_media_types: frozenset[str]
    run: Core
    validate_params: ParamsValidator = field(default=lambda p: dict(p))
    # The unit alone, written after an amount (「12.5 分」, 「3 枚」, 「20 件」);
    # ``unit_label_ja`` names what is counted (音声（分）) for headings.
    unit_ja: str = ""
    min_files: int = 1
    max_files: int = 50
    # Seconds: soft limit raises inside the task, hard limit kills the child.
    soft_time_limit: int = 3600
    time_limit: int = 3900
    sample: Callable[[], tuple[dict[str, Any], list[Path]]] | None = None
    fanout: FanOut | None = None
    # Intake hook: turn references in the parameters (a template id) into
    # what the core needs, with the request's database session.
    resolve_params: Callable[[Mapping[str, Any], Session], dict[str, Any]] | None = None
    # Intake hook: the parameters a department sets by default (from its
    # ``jobs.models.Department`` row: speaker labels on); the request's own
    # values win, so a request that says nothing gets the department's choice.
    department_defaults: Callable[[Any], dict[str, Any]] | None = None
    # What job pages show of the parameters (default: all of them).
    public_params: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    # Intake hook: refuse a job that cannot run (setup it needs, the shape of
    # its inputs) before it is queued; gets the cleaned parameters, the
    # staged inputs and the kind options. Raises JobInputError.
    check_intake: Callable[[Mapping[str, Any], Sequence[InputFile], Mapping[str, Any]], None] | None = None
    # Intake hook: the work the inputs hold in ``quota_unit`` ("pages",
    # "audio_minutes"), read from the files' headers without decoding them;
    # kept on the job for the per-department quotas of waiting work.
    measure: Callable[[Sequence[InputFile]], float] | None = None
    quota_unit: str = ""
    # What the core needs from the composition root beyond plain settings
    # (the record ledger on the process's database): built once per process
    # from its session factory, added to the values ``options_from`` reads.
    resources: Callable[[sessionmaker[Session]], dict[str, Any]] | None = None
    # The kind's typed options: ``options_type`` (a frozen dataclass in the
    # kind's folder) built by ``options_from(settings values)``, the one
    # function the composition root calls for the kind. None: the core gets
    # the plain mapping. ``params_type`` is the typed value its validator
    # builds from the request's JSON (the job keeps the JSON).
    options_type: type | None = None
    options_from: Callable[[Mapping[str, Any]], Any] | None = None
    params_type: type | None = None
    # Called with (model name, seconds) when the core loads a model; the
    # worker adds its metrics here for the kinds of its pool.
    load_observers: list[Callable[[str, float], None]] | None = None
    # A person finishes the kind's needs_review jobs through this hook.
    review: ReviewHook | None = None
    # Called with (session, job, artifact store) in the transaction where a
    # job of the kind succeeds (OCR: the entry job of 「確認後に入力」).
    on_success: Callable[..., Any] | None = None
    # Adapters in the kind's folder, as "module:attribute" paths that only the
    # adapter layer imports (so importing the kind never loads typer/Jinja):
    # ``cli`` registers the kind's sub-commands, ``portal`` is its portal
    # declaration (form fields, page fragments, review hook).
    cli: str | None = None
    portal: str | None = None


class Registry:
    """Kinds by name. Built once per process from import paths."""

    def __init__(self, kinds: Iterable[JobKind] = ()) -> None:
        self._kinds: dict[str, JobKind] = {}
        for kind in kinds:
            self.add(kind)

    def add(self, kind: JobKind) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name!r} registered twice")
        self._kinds[kind.name] = kind

    def get(self, name: str) -> JobKind:
        try:
            return self._kinds[name]
        except KeyError:
            raise UnknownJobKind(kind=name, known=sorted(self._kinds)) from None

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def all(self) -> list[JobKind]:
        return [self._kinds[n] for n in self.names()]

    def first(self) -> JobKind | None:
        """The first kind registered (the first of ``BUILTIN_KINDS``): what a
        new-job form shows when no kind is chosen."""
        return next(iter(self._kinds.values()), None)

    def services(self) -> list[str]:
        return sorted({k.service for k in self._kinds.values()})

    def __contains__(self, name: object) -> bool:
        return name in self._kinds


def lazy(path: str) -> Callable[..., Any]:
    """``module:function`` imported on first call: a kind's hooks may need
    modules (database tables, a browser) that importing the kind should not load."""

    def call(*args: Any, **kwargs: Any) -> Any:
        module_name, _, attr = path.partition(":")
        return getattr(importlib.import_module(module_name), attr)(*args, **kwargs)

    return call


def load_kind(path: str) -> JobKind:
    """Import ``module:ATTRIBUTE`` and check it is a JobKind."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"job kind path must look like 'module:NAME', got {path!r}")
    obj = getattr(importlib.import_module(module_name), attr)
    if not isinstance(obj, JobKind):
        raise TypeError(f"{path} is not a JobKind")
    return obj


def build_registry(extra: Iterable[str] = ()) -> Registry:
    return Registry(load_kind(p) for p in (*BUILTIN_KINDS, *extra))


def kind_options(
    registry: Registry, settings: Mapping[str, Any], factory: sessionmaker[Session]
) -> dict[str, Any]:
    """Each kind's options by kind name: the plain settings values plus the
    kinds' resources built on ``factory``, turned into the kind's typed
    options by its ``options_from`` (a kind without one gets the mapping)."""
    values = dict(settings)
    for kind in registry.all():
        if kind.resources is not None:
            values.update(kind.resources(factory))
    return {k.name: k.options_from(values) if k.options_from else dict(values) for k in registry.all()}


def load_adapter(path: str) -> Any:
    """Import a kind's adapter (``module:attribute``) when the adapter layer asks."""
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def check_params(kind: JobKind, params: Mapping[str, Any]) -> dict[str, Any]:
    """Run the kind's validator; anything but JobInputError is a bug."""
    if not isinstance(params, Mapping):
        raise JobInputError("invalid_parameters", "パラメータはJSONオブジェクトで指定してください。")
    return kind.validate_params(params)
