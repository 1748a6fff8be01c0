"""An OCR job waiting for review without running the engines: the third
test form's template (tests/jobs/ocr/forms/jumin.yaml) and one form whose
readings are given, written by the kind's own writers (forms_document,
regenerate) and stored as a job in needs_review. The review-screen tests
need flagged constructs to correct, not a recognition run (the constructs
tests read real scans)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from composition.runtime import Runtime
from jobs import store
from jobs.db import unit_of_work
from jobs.lifecycle import State, transition
from jobs.ocr.document import forms_document
from jobs.ocr.fields import FieldResult
from jobs.ocr.kind import regenerate
from jobs.ocr.reader import OK, FormResult
from jobs.ocr.template import parse_template
from jobs.outputs import add_output
from tests.jobs.ocr import jumin

JUMIN = Path(__file__).parents[1] / "jobs" / "ocr" / "forms" / "jumin.yaml"
SCAN = "jumin-0001.png"


def _readings() -> list[FieldResult]:
    """One form as the engines might have left it: a choice whose marks were
    too faint to tell, a birth date whose era circle was missed, a table row
    with its 続柄 empty; the rest accepted."""
    faint = "男:0.0012 女:0.0015"
    eras = "明治:0.000 大正:0.000 昭和:0.000 平成:0.000 令和:0.000"
    return [
        FieldResult("name", "山田 花子", "山田 花子", "山田 花子", 96.0),
        FieldResult("sex", None, "", faint, 50.0, ["choice_faint"], engine="mark"),
        FieldResult(
            "birth", None, "", f"{eras} year:55 month:3 day:1", 50.0, ["date_incomplete"], engine="mark"
        ),
        FieldResult("members_1_name", "山田 太郎", "山田 太郎", "山田 太郎", 95.0),
        FieldResult("members_1_relation", "夫", "夫", "夫", 93.0),
        FieldResult("members_1_birth", "1978-06-02", "1978-06-02", "昭和53年6月2日", 92.0),
        FieldResult("members_2_name", "山田 一郎", "山田 一郎", "山田 一郎", 91.0, ["table_partial_row"]),
        FieldResult("members_2_relation", None, "", "", 0.0, ["table_partial_row"]),
        FieldResult(
            "members_2_birth", "2010-04-05", "2010-04-05", "平成22年4月5日", 90.0, ["table_partial_row"]
        ),
    ]


def review_job(runtime: Runtime, department: str) -> str:
    """The id of an OCR job of ``department`` waiting for review."""
    template = parse_template(JUMIN.read_text(encoding="utf-8"), {"reference.pdf": jumin.form_pdf(None)})
    form = FormResult(1, SCAN, [1], OK, template, _readings(), source="scan")
    doc = forms_document([form], [template])
    with tempfile.TemporaryDirectory() as folder:
        outputs = [(out, runtime.artifacts.put_file(out.path)) for out in regenerate(Path(folder), doc)]
    with unit_of_work(runtime.factory) as session:
        store.ensure_department(department, f"{department}課", session=session)
        job = store.create_job(
            session=session,
            kind="ocr",
            queue="cpu",
            department_code=department,
            submitted_by=None,
            parameters={"template": template.to_dict(), "template_name": template.name},
        )
        for out, blob in outputs:
            add_output(session, job.id, out, blob)
        transition(session, job.id, State.RUNNING)
        transition(session, job.id, State.NEEDS_REVIEW, summary=doc["summary"])
        return job.id
