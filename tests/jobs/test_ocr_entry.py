"""OCR into entry without workers: the ``from_ocr`` section of an entry script
(checked with the script, then against the stored template at approval), the
records sheet made from a reviewed forms.json, and the time saved by the pair
on real SQLite (review time beyond the OCR job's own saving is taken off
the entry job's); the entry job made from an urgent OCR job is urgent
(audited as inherited) and waits for its sender."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs import ledger, store
from jobs.artifacts import ArtifactStore
from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.errors import JobInputError
from jobs.finish import record_savings
from jobs.models import Job
from jobs.ocr.kind import KIND as OCR
from jobs.ocr_entry import check_script, check_setup, records, reference_for, start_entry
from jobs.restore import claim_unsent
from jobs.rpa.kind import KIND as ENTRY
from jobs.rpa.kind import SAMPLES
from jobs.rpa.script import ScriptError, parse_script

BASE = (SAMPLES / "shishutsu_futan.yaml").read_text(encoding="utf-8")
GOOD = """
from_ocr:
  template: kyufukin-shinsei
  columns:
    reference: $reference
    entry_date: application_date
    kan: {value: "02"}
    kou: {value: "01"}
    moku: {value: "02"}
    setsu: {value: "08"}
    amount: amount
    payee: name
    purpose: {value: 給付金}
"""


def script(section: str = GOOD):  # type: ignore[no-untyped-def]
    return parse_script(BASE + section)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("payee: name", "payee: name\n    bank: account_number"), "「bank」は records.columns にありません"),
        (("    amount: amount\n", ""), "必須の列「金額」（amount）"),
        (("reference: $reference", "reference: $serial"), "「$serial」はありません"),
    ],
)
def test_a_wrong_mapping_is_refused_with_its_line(change: tuple[str, str], named: str) -> None:
    with pytest.raises(ScriptError) as caught:
        script(GOOD.replace(*change))
    assert named in caught.value.message and caught.value.line


def test_the_script_alone_has_no_mapping() -> None:
    assert parse_script(BASE).from_ocr is None
    mapping = script().from_ocr
    assert mapping is not None and mapping.fields == ["application_date", "amount", "name"]


def _form(index: int, status: str = "ok", template: str = "kyufukin-shinsei@1", **values: object) -> dict:
    fields = {k: {"value": v, "text": str(v), "review": True, "reviewed": True} for k, v in values.items()}
    return {
        "index": index,
        "file": f"scan-{index}.pdf",
        "status": status,
        "message": "",
        "template": template,
    } | {"fields": fields}


def test_only_confirmed_forms_of_the_template_become_records() -> None:
    doc = {
        "forms": [
            _form(1, application_date="2025-05-02", amount=120000, name="中村明美"),
            _form(2, status="template_mismatch"),
            _form(3, template="other-form@1", application_date="2025-05-03", amount=1, name="x"),
            _form(4, application_date="2025-05-04", amount=5000, name="渡邊健"),
        ]
    }
    made = records(doc, script(), "7f40e626-0000-4000-8000-000000000000")
    rows = list(csv.DictReader(io.StringIO(made.csv.decode("utf-8-sig"))))
    assert made.rows == 2 and [s["form"] for s in made.skipped] == [2, 3]
    assert "帳票不一致" in made.skipped[0]["reason"] and "別の帳票" in made.skipped[1]["reason"]
    assert [r["整理番号"] for r in rows] == ["7F40E626-0001", "7F40E626-0004"]
    assert rows[0]["支払先"] == "中村明美" and rows[0]["金額"] == "120000"
    assert rows[0]["起票日"] == "2025-05-02" and rows[0]["節"] == "08" and rows[0]["OCR帳票番号"] == "1"
    assert reference_for("7f40e626-0000", 4) == "7F40E626-0004"


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> sessionmaker[Session]:
    """One migrated database for the module: each test makes jobs of its own."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ocr-entry') / 'db.sqlite'}"
    migrate(url)
    return session_factory(make_engine(url))


def test_approval_checks_the_fields_against_the_stored_template(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        check_script(script(), session=session)  # the bundled template, installed on first use
        with pytest.raises(JobInputError) as caught:
            check_script(script(GOOD.replace("payee: name", "payee: shimei")), session=session)
        assert "「shimei」" in caught.value.message and "kyufukin-shinsei@1" in caught.value.message
        with pytest.raises(JobInputError) as unknown:
            check_script(
                script(GOOD.replace("template: kyufukin-shinsei", "template: no-such")), session=session
            )
        assert "no-such" in unknown.value.message


def _pair(session: Session, review: float, forms: int, rows: int) -> tuple[str, str]:
    store.ensure_department("a", session=session)
    ocr = store.create_job(
        session=session, kind="ocr", queue="cpu", department_code="a", submitted_by=None, parameters={}
    )
    ocr.human_seconds = review
    ocr.summary = {"units": forms, "seconds_per_unit": 150.0}
    record_savings(session, ocr, OCR, tz="Asia/Tokyo")
    entry = store.create_job(
        session=session, kind="rpa_entry", queue="rpa", department_code="a", submitted_by=None, parameters={}
    )
    entry.source_job_id = ocr.id
    entry.summary = {"units": rows, "seconds_per_unit": 54.0}
    record_savings(session, entry, ENTRY, tz="Asia/Tokyo")
    return ocr.id, entry.id


@pytest.mark.parametrize(
    ("review", "forms", "rows", "ocr_saved", "entry_saved"),
    [
        (60, 2, 2, 240, 108),  # review time within the OCR job's saving
        (400, 2, 2, 0, 8),  # 100 s beyond it: taken off the entry job's
        (900, 2, 2, 0, 0),  # beyond both: the pair saves nothing, never less
    ],
)
def test_the_pair_saves_the_sum_less_the_review_time(
    factory: sessionmaker[Session], review: float, forms: int, rows: int, ocr_saved: float, entry_saved: float
) -> None:
    with unit_of_work(factory) as session:
        ocr, entry = _pair(session, review, forms, rows)
        assert ledger.job_total(ocr, session=session) == ocr_saved
        assert ledger.job_total(entry, session=session) == entry_saved
        total = ledger.pair_total([ocr, entry], session=session)
        assert total == max(0.0, forms * 150 + rows * 54 - review)


def test_an_ocr_request_names_an_approved_script_for_its_template(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.ocr.store import resolve_params
    from jobs.rpa import scripts
    from jobs.rpa.intake_check import SetupMissing

    ops = store.Viewer(user_id=None, name="ops", department_code="", role="admin")
    with unit_of_work(factory) as session:
        row, _ = scripts.upload("kyufukin-pay", BASE + GOOD, session=session, viewer=ops)
        scripts.approve("kyufukin-pay", row.version, session=session, viewer=ops)
        params = resolve_params({"template": "kyufukin-shinsei", "entry_script": "kyufukin-pay"}, session)
        assert params["entry_script"] == f"kyufukin-pay@{row.version}"
        with pytest.raises(JobInputError) as sheet:
            resolve_params({"template": "kyufukin-shinsei", "entry_script": "shishutsu_futan"}, session)
        assert sheet.value.code == "script_not_for_ocr"
        for key in ("USER", "PASSWORD"):
            monkeypatch.delenv(f"DIGILABO_CREDENTIAL_ZAIMU_DEMO_{key}", raising=False)
        with pytest.raises(SetupMissing):
            check_setup(params, {}, session=session)
        monkeypatch.setenv("DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER", "demo")
        monkeypatch.setenv("DIGILABO_CREDENTIAL_ZAIMU_DEMO_PASSWORD", "pw")
        check_setup(params, {}, session=session)


def _reviewed_ocr_job(session: Session, artifacts: ArtifactStore, script_ref: str, *, urgent: bool) -> Job:
    """A succeeded OCR job sent with 「確認後に入力」, its forms.json stored:
    two confirmed 給付金 forms."""
    store.ensure_department("a", session=session)
    job = store.create_job(
        session=session,
        kind="ocr",
        queue="cpu",
        department_code="a",
        submitted_by=None,
        parameters={"entry_script": script_ref},
    )
    if urgent:
        operator = store.Viewer(user_id=None, name="ops-sato", department_code="", role="operator")
        job.urgent = True
        store.audit("urgent", session=session, viewer=operator, job_id=job.id, released=False)
    doc = {
        "forms": [
            _form(1, application_date="2025-05-02", amount=120000, name="中村明美"),
            _form(2, application_date="2025-05-04", amount=5000, name="渡邊健"),
        ]
    }
    blob = artifacts.put_chunks([json.dumps(doc).encode()], 1 << 20, "forms.json")
    store.add_artifact(
        session=session,
        job_id=job.id,
        role="output",
        name="forms.json",
        sha256=blob.sha256,
        size=blob.size,
        media_type="application/json",
    )
    return job


@pytest.mark.parametrize("urgent", [True, False])
def test_the_entry_job_inherits_urgent_and_waits_unsent(
    factory: sessionmaker[Session], tmp_path: Path, urgent: bool
) -> None:
    from jobs.rpa import scripts

    artifacts = ArtifactStore(tmp_path)
    artifacts.ensure()
    ops = store.Viewer(user_id=None, name="ops", department_code="", role="admin")
    with unit_of_work(factory) as session:
        name = f"kyufukin-u{int(urgent)}"
        row, _ = scripts.upload(name, BASE + GOOD, session=session, viewer=ops)
        scripts.approve(name, row.version, session=session, viewer=ops)
        ocr = _reviewed_ocr_job(session, artifacts, f"{name}@{row.version}", urgent=urgent)
        entry = start_entry(session, ocr, artifacts)
        assert entry is not None and entry.source_job_id == ocr.id and ocr.summary["entry_rows"] == 2
        assert entry.urgent is urgent
        events = store.list_audit(session=session, job_id=entry.id, action="urgent")
        if urgent:
            # The audit says it was inherited, from which job, and who raised that one.
            assert [(e.actor_name, e.detail) for e in events] == [
                ("system", {"inherited_from": ocr.id, "raised_by": "ops-sato"})
            ]
        else:
            assert events == []
        # Sent by nobody yet: under direct dispatch the committer (or a
        # reaper pass) claims it once; a second claim finds nothing.
        assert entry.task_id is None and entry.enqueued_at is not None
        claimed = claim_unsent(session=session, source_job_id=ocr.id)
        assert [c.job_id for c in claimed] == [entry.id]
        assert claim_unsent(session=session, source_job_id=ocr.id) == []
