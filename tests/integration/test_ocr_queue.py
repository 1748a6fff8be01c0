"""Template OCR through the API and a real cpu worker with real tesseract:
templates uploaded and versioned, a batch read, flagged fields reviewed until
the job succeeds with its ledger entry."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from PIL import Image

from jobs.ocr.kind import SAMPLES, sample
from tests.conftest import Service
from tests.integration.helpers import submit, wait_finished

TEMPLATE = SAMPLES / "kyufukin-shinsei.yaml"
REFERENCE = SAMPLES / "kyufukin-shinsei.pdf"


def upload(service: Service, headers: dict[str, str], yaml_text: str):
    return service.api.post(
        "/api/v1/templates",
        headers=headers,
        files=[
            ("definition", ("t.yaml", yaml_text.encode())),
            ("reference", (REFERENCE.name, REFERENCE.read_bytes())),
        ],
    )


def test_templates_are_versioned_validated_and_previewed(service: Service, dept: str) -> None:
    operator, staff = service.token("ops", "operator"), service.token(dept)
    text = TEMPLATE.read_text(encoding="utf-8").replace("id: kyufukin-shinsei", f"id: t-{dept}")
    first = upload(service, operator, text)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["created"] is True
    assert upload(service, operator, text).status_code == 200  # same content: nothing new
    changed = text.replace("name: ", "name: 改", 1)
    refused = upload(service, operator, changed)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "template_version_exists"
    assert upload(service, staff, text).status_code == 403

    broken = "id: x\nname: 壊れた定義\nversion: 1\nfields:\n  - name: a\n    box: [1, 2]\n"
    checked = service.api.post(
        "/api/v1/templates/validate", headers=operator, files=[("definition", ("b.yaml", broken.encode()))]
    ).json()
    assert checked["valid"] is False and all(p["line"] >= 1 for p in checked["problems"])

    listed = service.api.get("/api/v1/templates", headers=staff).json()
    assert f"t-{dept}" in [t["id"] for t in listed]
    second = upload(service, operator, changed.replace("version: 1", "version: 2", 1))
    assert second.status_code == 201 and second.json()["version"] == 2, second.text
    versions = service.api.get(f"/api/v1/templates/t-{dept}/versions", headers=staff).json()
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["name"].startswith("改")
    assert service.api.get("/api/v1/templates/no-such/versions", headers=staff).status_code == 404
    png = service.api.get(f"/api/v1/templates/t-{dept}/preview.png", headers=staff)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size[0] > 500


def test_ocr_batch_is_reviewed_until_it_succeeds(service: Service, dept: str) -> None:
    api, headers = service.api, service.token(dept)
    params, scans = sample()
    response = submit(api, headers, [(p.name, p.read_bytes()) for p in scans], params, kind="ocr")
    assert response.status_code == 202, response.text
    job = wait_finished(api, headers, response.json()["id"], timeout=180)
    assert job["state"] == "needs_review", job
    assert job["parameters"]["template"] == "kyufukin-shinsei@1"
    names = {o["name"] for o in job["outputs"]}
    assert {"forms.csv", "forms.xlsx", "forms.json"} <= names

    pending = api.get(f"/api/v1/jobs/{job['id']}/review", headers=headers).json()["pending"]
    assert pending and all(item["reasons_ja"] for item in pending)
    crop = api.get(pending[0]["crop_url"], headers=headers)
    assert crop.status_code == 200 and crop.content.startswith(b"\x89PNG")

    first, rest = pending[0], pending[1:]
    corrected = api.post(
        f"/api/v1/jobs/{job['id']}/review",
        headers=headers,
        json={
            "corrections": [
                {"form": first["form"], "field": first["field"], "value": first["value"] or "確認済"}
            ],
            "seconds_spent": 20,
        },
    ).json()
    assert corrected["state"] == ("needs_review" if rest else "succeeded")
    done = api.post(
        f"/api/v1/jobs/{job['id']}/review",
        headers=headers,
        json={
            "corrections": [{"form": i["form"], "field": i["field"], "confirm": True} for i in rest],
            "seconds_spent": 40,
        },
    ).json()
    assert done["state"] == "succeeded" and done["summary"]["fields_pending"] == 0

    job = api.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()
    forms = job["summary"]["forms_read"]
    assert forms == 3
    assert job["saved_seconds"] == forms * job["summary"]["seconds_per_unit"] - 60
    book = load_workbook(
        io.BytesIO(api.get(f"/api/v1/jobs/{job['id']}/artifacts/forms.xlsx", headers=headers).content)
    )
    assert book.sheetnames
    again = api.post(f"/api/v1/jobs/{job['id']}/review", headers=headers, json={"corrections": []})
    assert again.status_code == 409


def test_unknown_template_is_refused_at_intake(service: Service, dept: str) -> None:
    _, scans = sample()
    response = submit(
        service.api,
        service.token(dept),
        [(scans[0].name, scans[0].read_bytes())],
        {"template": "no-such-form"},
        kind="ocr",
    )
    assert response.status_code == 422
    assert (
        response.json()["error"]["code"] == "unknown_template"
        and "no-such-form" in response.json()["error"]["message"]
    )
    inline = submit(
        service.api,
        service.token(dept),
        [(scans[0].name, scans[0].read_bytes())],
        {"template": {"definition": {}}},
        kind="ocr",
    )
    assert inline.status_code == 422
