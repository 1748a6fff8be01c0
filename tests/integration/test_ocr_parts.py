"""A multi-page OCR batch on a real cpu worker over real Redis runs as parts
of one page (``ocr_part_pages`` is 1 in the suite): the parts merged are one
job (forms in batch order, reviewed, one ledger entry), and another
department's job sent meanwhile starts between the parts."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from jobs.models import JobPart, LedgerEntry
from jobs.ocr.kind import sample
from tests.conftest import Service
from tests.integration.helpers import submit, wait_finished, wait_until
from tests.integration.test_fairshare import started


def test_a_batch_in_parts_reads_as_one_and_lets_another_department_in(service: Service) -> None:
    suffix = service.backend[:2]
    a, b = service.token(f"pa{suffix}"), service.token(f"pb{suffix}")
    params, scans = sample()
    big = submit(service.api, a, [(p.name, p.read_bytes()) for p in scans], params, kind="ocr")
    assert big.status_code == 202, big.text
    big_id = big.json()["id"]
    wait_until(lambda: started(service, [big_id]), 60, "the batch to start")
    small = submit(service.api, b, [("one.txt", b"a\n")], {"sleep": 0})
    small_id = small.json()["id"]

    job = wait_finished(service.api, a, big_id, timeout=180)
    assert wait_finished(service.api, b, small_id)["state"] == "succeeded"
    with service.runtime.factory() as session:
        parts = session.execute(
            select(JobPart.idx, JobPart.started_at).where(JobPart.job_id == big_id).order_by(JobPart.idx)
        ).all()
        entries = session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.job_id == big_id)
        )
    assert len(parts) == len(scans) == 3 and all(s for _, s in parts)
    # B's job went between A's parts: one worker process, and at most one
    # message waiting in Redis, so at most two parts start before it.
    before_b = [i for i, s in parts if s < started(service, [small_id])[small_id]]
    assert len(before_b) <= 2, (before_b, parts)

    assert job["state"] == "needs_review" and job["summary"]["forms_read"] == 3
    assert entries == 0  # a job in review is counted when the review ends, once
    # tests/jobs/ocr/test_parts.py compares parts with one reading field by
    # field; here: one document, forms in batch order, numbered across parts.
    got = json.loads(service.api.get(f"/api/v1/jobs/{big_id}/artifacts/forms.json", headers=a).content)
    assert [(f["index"], f["file"], f["pages"]) for f in got["forms"]] == [
        (i + 1, p.name, [1]) for i, p in enumerate(scans)
    ]
    assert got["summary"]["forms_read"] == 3 and job["summary"]["fields_pending"] > 0
    pending = service.api.get(f"/api/v1/jobs/{big_id}/review", headers=a).json()["pending"]
    assert [p["form"] for p in pending] == sorted(p["form"] for p in pending)
    crop = service.api.get(pending[0]["crop_url"], headers=a)
    assert crop.status_code == 200 and crop.content.startswith(b"\x89PNG")
    done = service.api.post(
        f"/api/v1/jobs/{big_id}/review",
        headers=a,
        json={"corrections": [{"form": i["form"], "field": i["field"], "confirm": True} for i in pending]},
    ).json()
    assert done["state"] == "succeeded"
    with service.runtime.factory() as session:
        assert (
            session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.job_id == big_id))
            == 1
        )
