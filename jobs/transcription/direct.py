"""Transcribing files without the queue (``digilabo transcribe``): the same
core, one recording after another in this process, files named after each
recording."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobs.registry import InputFile, JobContext, ProgressReporter
from jobs.transcription.formats import FORMATS
from jobs.transcription.japanese import glossary_terms
from jobs.transcription.kind import (
    audio_judge,
    correction_terms,
    join_parts,
    plan,
    run_part,
    speaker_hints,
    validate_params,
    write_outputs,
)
from jobs.transcription.options import TranscriptionOptions


def read_glossary(path: Path) -> list[str]:
    """One term per line (or separated by 、 or commas); # starts a comment."""
    text = path.read_text(encoding="utf-8-sig")
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    return glossary_terms(t for line in lines for t in line.replace("、", ",").split(","))


def file_context(
    audio: Path,
    work_dir: Path,
    *,
    params: Mapping[str, Any] | None = None,
    options: TranscriptionOptions | Mapping[str, Any],
    progress: ProgressReporter,
    glossary: tuple[str, ...] = (),
) -> JobContext:
    """A job context for one recording outside the queue (CLI, tests, bench)."""
    return JobContext(
        job_id=audio.stem,
        department="",
        params=validate_params(params or {}),
        inputs=(InputFile(audio.name, audio, "", audio.stat().st_size),),
        work_dir=work_dir,
        progress=progress,
        options=options,
        glossary=glossary,
    )


def transcribe_file(
    audio: Path,
    out_dir: Path,
    *,
    formats: Sequence[str] = FORMATS,
    params: dict[str, Any] | None = None,
    options: TranscriptionOptions | Mapping[str, Any],
    progress: ProgressReporter,
) -> list[Path]:
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown format(s): {', '.join(unknown)} (known: {', '.join(FORMATS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="digilabo-") as work:
        ctx = file_context(audio, Path(work), params=params, options=options, progress=progress)
        segments, language, seconds = join_parts(
            [run_part(ctx, spec) for spec in plan(ctx)],
            terms=correction_terms(ctx),
            hear=audio_judge(ctx),
            **speaker_hints(ctx.params),
        )
        meta = {
            "language": language,
            "duration": round(seconds, 3),
            "model": TranscriptionOptions.of(options).model_name,
        }
        files = write_outputs(out_dir, audio.stem, segments, meta, ctx.params, tuple(formats))
    return [f.path for f in files]
