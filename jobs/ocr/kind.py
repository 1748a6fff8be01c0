"""The template-OCR job kind (帳票OCR): what the registry loads.

Parameters carry the template itself, already resolved from its id and
version at intake: ``{"template": Template.to_dict()}``, or
``{"templates": [...]}`` for a mixed batch where each page picks the
candidate it aligns best with. The core reads every page, writes forms.csv,
forms.xlsx, forms.json and a PNG crop per flagged field, and ends the job in
needs_review when any field (or page) needs a person. A big batch is read in
parts (``jobs.ocr.parts``), on several workers when a worker splits it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobs.errors import JobInputError
from jobs.ocr import parts
from jobs.ocr.document import forms_document
from jobs.ocr.options import OcrOptions, OcrParams, options_from
from jobs.ocr.outputs import to_csv, write_tables
from jobs.ocr.pages import count_pages
from jobs.ocr.reader import read_forms
from jobs.ocr.template import Template, template_from_dict
from jobs.ocr.workbook import write_xlsx
from jobs.registry import FanOut, InputFile, JobKind, OutputFile, ReviewHook, lazy, sequential

log = logging.getLogger(__name__)
SCAN_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/tiff"})
MAX_CANDIDATES = 10
DEFAULT_SECONDS_PER_FORM = 180.0
SAMPLES = Path(__file__).parent / "samples"


def validate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``{"template": dict}`` or ``{"templates": [dict, ...]}``; each dict is
    checked again here so a bad one is refused at intake, not in the worker."""
    if "templates" in params:
        raw = params["templates"]
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CANDIDATES:
            raise JobInputError(
                "invalid_parameters",
                f"templates は帳票定義を1〜{MAX_CANDIDATES}件並べたリストで指定してください。",
                field="templates",
            )
        for item in raw:
            template_from_dict(item)
        return OcrParams(tuple(raw), candidates=True, entry_script=_entry_script(params)).as_json()
    if not isinstance(params.get("template"), Mapping):
        raise JobInputError(
            "invalid_parameters", "帳票定義（template）を指定してください。", field="template"
        )
    template_from_dict(params["template"])
    return OcrParams((params["template"],), entry_script=_entry_script(params)).as_json()


def _entry_script(params: Mapping[str, Any]) -> str | None:
    """「確認後に入力」's script as intake resolved it (``id@version``)."""
    ref = params.get("entry_script")
    if ref in (None, ""):
        return None
    if not isinstance(ref, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{1,63}@[0-9]+", ref):
        raise JobInputError(
            "invalid_parameters",
            "確認後に入力する入力スクリプトのIDが正しくありません。",
            field="entry_script",
        )
    return ref


def regenerate(work_dir: Path, doc: Mapping[str, Any]) -> list[OutputFile]:
    """forms.json/csv/xlsx again after review (crops are kept from the job)."""
    return write_tables(work_dir, doc)


def read_files(templates: Sequence[Template], scans: Sequence[Path], out: Path) -> dict[str, Any]:
    """The queue-less CLI: read scans and write one file chosen by its suffix
    (.csv, .xlsx or .json). Returns the summary."""
    if out.suffix not in (".csv", ".xlsx", ".json"):
        raise ValueError(f"output must end in .csv, .xlsx or .json: {out}")
    forms = read_forms([(p.name, p) for p in scans], templates)
    doc = forms_document(forms, templates)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        out.write_bytes(to_csv(doc))
    elif out.suffix == ".xlsx":
        write_xlsx(out, doc)
    else:
        out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    summary: dict[str, Any] = doc["summary"]
    return summary


def sample() -> tuple[dict[str, Any], list[Path]]:
    """The bundled 給付金支給申請書 template (installed on first use) and three scans of it."""
    return {"template": "kyufukin-shinsei"}, sorted(SAMPLES.glob("scan-*"))


# A batch of more than ``OcrOptions.part_pages`` pages runs as parts on any
# free cpu worker (``jobs.ocr.parts``); the queue-less paths read them in turn.
FANOUT = FanOut(plan=parts.plan, run_part=parts.run_part, merge=parts.merge)
candidates = parts.candidates


def pages(inputs: Sequence[InputFile]) -> float:
    """The batch's pages, for the quota of waiting work."""
    return float(sum(count_pages(f.path) for f in inputs))


KIND = JobKind(
    name="ocr",
    label_ja="帳票OCR",
    queue="cpu",
    service="ocr",
    unit_name="forms",
    unit_label_ja="帳票（枚）",
    unit_ja="枚",
    default_seconds_per_unit=DEFAULT_SECONDS_PER_FORM,
    accepted_media_types=SCAN_TYPES,
    run=sequential(FANOUT),
    fanout=FANOUT,
    measure=pages,
    quota_unit="pages",
    validate_params=validate_params,
    options_type=OcrOptions,
    options_from=options_from,
    params_type=OcrParams,
    min_files=1,
    max_files=50,
    soft_time_limit=3600,
    time_limit=3900,
    sample=sample,
    resolve_params=lazy("jobs.ocr.store:resolve_params"),
    public_params=lazy("jobs.ocr.store:public_params"),
    on_success=lazy("jobs.ocr_entry:start_entry"),
    review=ReviewHook(
        pending=lazy("jobs.ocr.review:pending"),
        apply=lazy("jobs.ocr.review:apply_review"),
        split=lazy("jobs.ocr.review:split_refused"),
    ),
    cli="jobs.ocr.cli:register",
    portal="jobs.ocr.portal:PORTAL",
)
