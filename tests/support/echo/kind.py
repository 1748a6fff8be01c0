"""A tiny job kind for testing the machinery. It never ships: the tests plug
it in through DIGILABO_EXTRA_JOB_KINDS. Like a product kind it is one folder:
this core, its CLI sub-command (``cli.py``), its portal pieces
(``portal.py`` and ``templates/``) and its sample (``samples/``).

``echo`` upper-cases text files. Parameters let a test steer it:
``sleep`` (seconds, in small steps with progress reports), ``trace_dir``
(each run appends its pid there, so a test can find and kill the process and
count executions), ``transient_times`` (raise a TransientError on the first N
runs), ``fail`` (``input``: a JobInputError).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobs.errors import JobInputError, TransientError
from jobs.registry import JobContext, JobKind, JobOutcome, OutputFile


def validate(params: Mapping[str, Any]) -> dict[str, Any]:
    sleep = params.get("sleep", 0)
    if not isinstance(sleep, int | float) or not 0 <= sleep <= 120:
        raise JobInputError("invalid_parameters", "sleep は0〜120の数値で指定してください。", field="sleep")
    return dict(params)


def _runs(trace: Path | None) -> int:
    return len(trace.read_text().split()) if trace and trace.exists() else 0


def run(ctx: JobContext) -> JobOutcome:
    trace = Path(ctx.params["trace_dir"]) / f"{ctx.job_id}.runs" if ctx.params.get("trace_dir") else None
    if trace:
        with trace.open("a") as out:
            out.write(f"{os.getpid()}\n")
    if trace and _runs(trace) <= int(ctx.params.get("transient_times", 0)):
        raise TransientError(None, "相手システムが一時的に応答しません。")
    if ctx.params.get("fail") == "input":
        raise JobInputError("bad_text", "テキストの内容が読み取れません。", field="files")
    steps = max(1, int(float(ctx.params.get("sleep", 0)) / 0.1))
    for step in range(steps):
        ctx.progress(step / steps, f"{step}/{steps}")
        time.sleep(float(ctx.params.get("sleep", 0)) / steps)
    outputs, lines = [], 0
    for item in ctx.inputs:
        text = item.path.read_text(encoding="utf-8")
        lines += len(text.splitlines())
        out = ctx.work_dir / f"{Path(item.name).stem}.upper.txt"
        out.write_text(text.upper(), encoding="utf-8")
        outputs.append(OutputFile(out.name, out, "text/plain"))
    ctx.progress(1.0, "完了")
    return JobOutcome(outputs=tuple(outputs), units=float(lines), summary={"lines": lines})


SAMPLES = Path(__file__).parent / "samples"


def sample() -> tuple[dict[str, Any], list[Path]]:
    return {}, [SAMPLES / "hello.txt"]


ECHO = JobKind(
    name="echo",
    label_ja="大文字化（テスト用）",
    queue="cpu",
    service="echo",
    unit_name="lines",
    unit_label_ja="行",
    default_seconds_per_unit=60.0,
    accepted_media_types=frozenset({"text/plain"}),
    run=run,
    validate_params=validate,
    max_files=3,
    soft_time_limit=60,
    time_limit=90,
    sample=sample,
    cli="tests.support.echo.cli:register",
    portal="tests.support.echo.portal:PORTAL",
)
