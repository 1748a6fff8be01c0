"""A batch read as parts: the OCR kind's ``FanOut`` (``jobs.registry``).

``plan`` cuts the batch into parts of about ``OcrOptions.part_pages`` pages;
a worker splits a job of more than one part, and every part is a task of its
own that any free cpu worker takes in its department's fair turn (see
``jobs.fairshare``). ``run_part`` reads its pages and keeps the forms as
forms.json entries plus the crops of flagged fields in a folder of its own;
``merge`` numbers the forms again in batch order, moves the crops to their
final names and writes the tables, exactly as one reading of the whole batch
would have (a test compares the two).

Where a batch may be cut: between files always; inside a file only when every
candidate template is one page long. A form of several pages is recognised by
reading its pages in order (the second page is aligned against the template
the first matched), so a cut inside such a file could fall in the middle of a
form; those files stay whole.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobs.errors import JobInputError
from jobs.ocr.document import crop_name, document, form_json
from jobs.ocr.options import OcrOptions
from jobs.ocr.outputs import PNG_TYPE, write_crops, write_tables
from jobs.ocr.pages import count_pages
from jobs.ocr.reader import OK, UNREADABLE, FormResult, Slice, read_slices
from jobs.ocr.template import Template, template_from_dict
from jobs.registry import JobContext, JobOutcome, OutputFile, PartSpec

log = logging.getLogger(__name__)


def candidates(params: Mapping[str, Any]) -> list[Template]:
    raw = params["templates"] if "templates" in params else [params["template"]]
    return [template_from_dict(item) for item in raw]


def cut(pages: Sequence[int], size: int, splittable: bool) -> list[tuple[list[dict[str, Any]], int]]:
    """Parts of at most ``size`` pages (a whole file that is not splittable
    may be more): each a list of slices ``{"file", "first", "last"}`` and the
    pages before it. A file's last slice reads to the file's end (``last``
    None), whatever its page count said."""
    parts: list[tuple[list[dict[str, Any]], int]] = []
    current: list[dict[str, Any]] = []
    filled = offset = start = 0
    for number, count in enumerate(pages):
        starts = list(range(0, count, size)) if splittable else [0]
        for i, first in enumerate(starts):
            last = starts[i + 1] if i + 1 < len(starts) else None
            held = (count if last is None else last) - first
            if current and filled + held > size:
                parts.append((current, start))
                current, filled, start = [], 0, offset
            current.append({"file": number, "first": first, "last": last})
            filled += held
            offset += held
    if current:
        parts.append((current, start))
    return parts


def plan(ctx: JobContext) -> list[PartSpec]:
    templates, options = candidates(ctx.params), OcrOptions.of(ctx.options)
    counts = [count_pages(f.path) for f in ctx.inputs]
    total = max(1, sum(counts))
    if total > options.max_pages:
        raise JobInputError(
            "too_many_pages",
            f"ページ数が多すぎます（{total}ページ、1件のジョブは{options.max_pages}ページまで）。ファイルを分けて登録してください。",
            pages=total,
            limit=options.max_pages,
        )
    splittable = all(t.pages == 1 for t in templates)
    return [
        {"index": i, "slices": slices, "offset": offset, "total": total}
        for i, (slices, offset) in enumerate(cut(counts, options.part_pages, splittable))
    ]


def run_part(ctx: JobContext, spec: PartSpec) -> dict[str, Any]:
    """Read the part's pages: its forms (numbered from 1 within the part) as
    forms.json entries, the codes of unreadable ones, and where its crops are."""
    templates, options = candidates(ctx.params), OcrOptions.of(ctx.options)
    offset, total = int(spec["offset"]), int(spec["total"])
    slices = [
        Slice(ctx.inputs[s["file"]].name, ctx.inputs[s["file"]].path, s["first"], s["last"])
        for s in spec["slices"]
    ]
    done = [offset]

    def report(form: FormResult) -> None:
        done[0] += max(1, len(form.pages))
        if form.status != OK:
            log.info("job %s: form %s page %s: %s", ctx.job_id, form.file, form.pages, form.status)
        ctx.progress(min(done[0] / total, 0.99), f"{done[0]}/{total}ページを読み取りました")

    forms = read_slices(slices, templates, tessdata=options.tessdata_dir, on_form=report)
    folder = ctx.work_dir / f"crops-{int(spec['index']):05d}"
    folder.mkdir(exist_ok=True)
    write_crops(folder, forms)
    return {
        "forms": [form_json(f) for f in forms],
        "error_codes": [f.error_code for f in forms],
        "crops": str(folder),
    }


def _all_unreadable(forms: Sequence[Mapping[str, Any]], codes: Sequence[str]) -> JobInputError | None:
    if forms and all(f["status"] == UNREADABLE for f in forms):
        shown = "\n".join(f"・{f['file']}: {f['message']}" for f in forms[:5])
        # One cause for every file (an encrypted PDF, an oversized image) is
        # the job's own error code; mixed causes are just "nothing readable".
        found = set(codes)
        code = found.pop() if len(found) == 1 and "" not in found else "no_readable_pages"
        return JobInputError(code, f"読み取れるページがありませんでした。\n{shown}")
    return None


def _renumbered(work_dir: Path, results: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[OutputFile]]:
    """The parts' forms numbered in batch order, each flagged field's crop
    copied under its final name (copied, not moved: two last parts may merge
    at the same moment, and only one of them finishes the job)."""
    forms: list[dict[str, Any]] = []
    crops: list[OutputFile] = []
    for result in results:
        folder = Path(result["crops"])
        for form in result["forms"]:
            local = int(form["index"])
            form = {**form, "index": len(forms) + 1}
            for name, entry in form["fields"].items():
                if entry.get("crop"):
                    final = crop_name(form["index"], name)
                    shutil.copyfile(folder / crop_name(local, name), work_dir / final)
                    entry["crop"] = final
                    crops.append(OutputFile(final, work_dir / final, PNG_TYPE))
            forms.append(form)
    return forms, crops


def merge(ctx: JobContext, results: list[dict[str, Any]]) -> JobOutcome:
    templates = candidates(ctx.params)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    forms, crops = _renumbered(ctx.work_dir, results)
    error = _all_unreadable(forms, [c for r in results for c in r["error_codes"]])
    if error:
        raise error
    doc = document(forms, templates)
    by_key = {t.key: t for t in templates}
    read = [by_key[f["template"]] for f in forms if f["status"] == OK and f["template"] in by_key]
    units = doc["summary"]["forms_read"]
    seconds = sum(t.seconds_per_form for t in read)
    flagged = any(f["status"] != OK or any(e["review"] for e in f["fields"].values()) for f in forms)
    return JobOutcome(
        outputs=tuple(write_tables(ctx.work_dir, doc) + crops),
        units=float(units),
        seconds_per_unit=seconds / units if units else templates[0].seconds_per_form,
        needs_review=flagged,
        summary={**doc["summary"], "templates": [t.key for t in templates]},
    )
