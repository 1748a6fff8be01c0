"""Bulk entry without the queue (``digilabo rpa``): the same core, run here,
with the record ledger in the given database so exactly-once holds across
CLI runs and queued jobs alike."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from jobs.registry import InputFile, JobContext, JobOutcome, ProgressReporter
from jobs.rpa.core import run


def enter_file(
    script: Path | str,
    records: Path,
    out: Path,
    *,
    dry_run: bool,
    options: Any,  # EntryOptions (or the plain mapping)
    progress: ProgressReporter,
    attachments: Path | None = None,
) -> JobOutcome:
    """``script`` is a YAML file, or the text of an approved script;
    ``attachments`` a ZIP of the files ``upload`` steps attach."""
    with tempfile.TemporaryDirectory(prefix="digilabo-rpa-") as work:
        inputs = [InputFile(records.name, records, "", records.stat().st_size)]
        if attachments is not None:
            inputs.append(
                InputFile(attachments.name, attachments, "application/zip", attachments.stat().st_size)
            )
        params: dict[str, Any] = {"dry_run": dry_run, "invalid_rows": "skip"}
        if isinstance(script, Path):
            inputs.append(InputFile(script.name, script, "", script.stat().st_size))
        else:
            params["script_text"] = script
        ctx = JobContext(
            job_id=str(uuid.uuid4()),  # the record ledger keys rows by job id
            department="",
            params=params,
            inputs=tuple(inputs),
            work_dir=Path(work),
            progress=progress,
            options=options,
        )
        outcome = run(ctx)
        out.parent.mkdir(parents=True, exist_ok=True)
        produced = {o.name: o.path for o in outcome.outputs}
        # The file the output's suffix names: .xlsx, .json (state codes, for
        # programs) or else the CSV.
        chosen = {".xlsx": "results.xlsx", ".json": "results.json"}.get(out.suffix, "results.csv")
        shutil.copyfile(produced[chosen], out)
    return outcome
