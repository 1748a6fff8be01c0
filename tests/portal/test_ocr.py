"""OCR pages over HTTP with the real app, database and cpu worker: the bundled
sample batch submitted through the form, reviewed on the review screen until
the job succeeds (with the review time taken off the saving), and templates
uploaded, checked by line and edited into a new version."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from jobs.ocr.kind import SAMPLES, sample
from jobs.wareki import to_seireki, to_wareki
from tests.conftest import Service
from tests.integration.helpers import wait_until
from tests.portal.conftest import HOSTILE, Person

TEMPLATE = SAMPLES / "kyufukin-shinsei.yaml"
REFERENCE = SAMPLES / "kyufukin-shinsei.pdf"
DATES = {"birth_date": "生年月日", "application_date": "申請日"}  # the sample's date fields
ITEM_RE = re.compile(r'name="(field|form|shown)_(\d+)" value="([^"]*)"')


def _state(person: Person, job_id: str) -> str:
    return str(person.client.get(f"/portal/api/jobs?ids={job_id}").json()["jobs"][0]["state"])


def _items(html: str) -> list[dict[str, str]]:
    """The review form's items: field, form and the value shown."""
    found: dict[str, dict[str, str]] = {}
    for key, index, value in ITEM_RE.findall(html):
        found.setdefault(index, {"index": index})[key] = value
    return [found[i] for i in sorted(found, key=int)]


def _decide(items: list[dict[str, str]], values: dict[str, str] | None = None) -> dict[str, str]:
    """Form data: each item confirmed as shown unless ``values`` gives a correction."""
    data: dict[str, str] = {}
    for item in items:
        i = item["index"]
        data |= {f"field_{i}": item["field"], f"form_{i}": item["form"], f"shown_{i}": item["shown"]}
        data[f"value_{i}"] = (values or {}).get(f"{item['form']}:{item['field']}", item["shown"])
    return data


def _submit_sample(staff: Person) -> str:
    params, scans = sample()
    answer = staff.post(
        "/portal/jobs/new",
        {"kind": "ocr", "template": params["template"]},
        token_from="/portal/jobs/new?kind=ocr",
        files=[("files", (p.name, p.read_bytes(), "application/pdf")) for p in scans],
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"].rsplit("/", 1)[1])


def test_ocr_batch_is_reviewed_on_the_review_screen(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    staff, ops, other = person(dept), person(f"{dept}o", "operator"), person(f"{dept}x")
    new_form = staff.client.get("/portal/jobs/new?kind=ocr")
    assert 'name="template"' in new_form.text and 'value="kyufukin-shinsei"' in new_form.text
    job_id = _submit_sample(staff)
    wait_until(lambda: _state(staff, job_id) == "needs_review", 180, "the OCR job to need review")

    assert job_id in ops.client.get("/portal/ops/review").text
    assert staff.client.get("/portal/ops/review").status_code == 403
    job_page = staff.client.get(f"/portal/jobs/{job_id}").text
    assert f"/portal/jobs/{job_id}/review" in job_page
    # Its CSV/XLSX hold values nobody has confirmed yet, and say so.
    assert job_page.count("確認前の値です") >= 2
    assert "給付金支給申請書（第1版）" in job_page  # the form's name, not its id
    assert re.search(r"給付金支給申請書_[0-9]{4}-[0-9]{2}-[0-9]{2}\.csv", job_page)  # saved under it
    listing = staff.client.get("/portal/jobs").text
    assert "給付金支給申請書・" in listing  # 内容: the form's name and how many
    assert other.client.get(f"/portal/jobs/{job_id}/review").status_code == 404

    page = ops.client.get(f"/portal/jobs/{job_id}/review")
    items = _items(page.text)
    assert page.status_code == 200 and len(items) >= 2
    assert "読み取りの確信度が低い" in page.text or "定義により常に確認" in page.text
    crop = re.search(rf'src="(/portal/jobs/{job_id}/files/review-[^"]+\.png)"', page.text)
    assert crop and ops.client.get(crop.group(1)).content.startswith(b"\x89PNG")

    # A refused correction stays pending, escaped, with its message; the other decision is saved.
    name = next(i for i in items if i["field"] == "name")
    other = next(i for i in items if i is not name and i["field"] not in DATES)
    refused = ops.post(
        f"/portal/jobs/{job_id}/review",
        _decide([name, other], {f"{name['form']}:name": HOSTILE}),
        token_from="/portal/ops/review",
    )
    assert refused.status_code == 422 and "氏名" in refused.text
    assert HOSTILE not in refused.text and "&lt;script&gt;" in refused.text
    left = _items(refused.text)
    assert len(left) == len(items) - 1 and (other["form"], other["field"]) not in {
        (i["form"], i["field"]) for i in left
    }
    assert re.search(r'class="error-text refused" role="alert">帳票[0-9]+の「氏名」', refused.text)
    assert "1項目の修正は保存できませんでした" in refused.text and _state(ops, job_id) == "needs_review"
    items = [i for i in items if i is not other]

    # One field corrected, with an absurd time: the server caps it (300 s per field).
    first = ops.post(
        f"/portal/jobs/{job_id}/review",
        {**_decide([name], {f"{name['form']}:name": "髙橋一郎"}), "seconds_spent": "1e9"},
        token_from="/portal/ops/review",
    )
    assert first.status_code == 303 and first.headers["location"] == f"/portal/jobs/{job_id}/review"
    page = ops.client.get(first.headers["location"]).text
    rest = _items(page)
    assert len(rest) == len(items) - 1
    # A date: 和暦 in the main box, 西暦 in the box beside it; a correction in either is taken.
    # (Which date field the sample leaves for review depends on the OCR engines' readings.)
    birth = next(i for i in rest if i["field"] in DATES)
    box = re.search(rf'name="seireki_{birth["index"]}" value="([0-9]+)年([0-9]+)月([0-9]+)日"', page)
    assert box, page
    read = date(*map(int, box.groups()))
    assert birth["shown"] == to_wareki(read)
    fixed = read + timedelta(days=1)
    seireki = {
        f"seireki_{birth['index']}": to_seireki(fixed),
        f"shown_seireki_{birth['index']}": to_seireki(read),
    }
    url = f"/api/v1/jobs/{job_id}/artifacts/forms.json"
    before = service.api.get(url, headers=service.token(dept)).text
    done = ops.post(
        f"/portal/jobs/{job_id}/review",
        {**_decide(rest), **seireki, "seconds_spent": "40"},
        token_from="/portal/ops/review",
    )
    assert done.status_code == 303
    final = ops.client.get(done.headers["location"])
    assert "確認が終わり、ジョブは完了しました" in final.text and 'id="review-form"' not in final.text

    job = service.api.get(f"/api/v1/jobs/{job_id}", headers=service.token(dept)).json()
    assert job["state"] == "succeeded"
    assert job["saved_seconds"] == job["summary"]["forms_read"] * job["summary"]["seconds_per_unit"] - 340
    forms = service.api.get(f"/api/v1/jobs/{job_id}/artifacts/forms.json", headers=service.token(dept))
    assert "髙橋一郎" in forms.text and fixed.isoformat() in forms.text
    assert forms.text.count(read.isoformat()) < before.count(read.isoformat())  # the date read is gone
    # Result files by their Japanese names; the crops under their field's label.
    page = staff.client.get(f"/portal/jobs/{job_id}").text
    assert "読み取り結果（Excel）" in page and "読み取り結果（CSV）" in page
    crops = page.split('id="crop-files"')[1].split("</dl>")[0]
    assert (
        "<dt>氏名</dt>" in crops
        and f"<dt>{DATES[birth['field']]}</dt>" in crops
        and "review-" not in crops.split("href")[0]
    )
    assert job_id not in ops.client.get("/portal/ops/review").text


def _upload(ops: Person, yaml_text: str, action: str = "upload") -> Any:
    return ops.post(
        "/portal/templates/new",
        {"action": action},
        token_from="/portal/templates/new",
        files=[
            ("definition", ("t.yaml", yaml_text.encode(), "application/yaml")),
            ("reference", (REFERENCE.name, REFERENCE.read_bytes(), "application/pdf")),
        ],
    )


def _edit_form(fields: list[dict[str, Any]], base_version: int) -> dict[str, str]:
    data = {"base_version": str(base_version)}
    for i, f in enumerate(fields):
        data |= {
            f"orig_{i}": f.get("orig", f["name"]),
            f"name_{i}": f["name"],
            f"label_{i}": f["label"],
            f"type_{i}": f["type"],
            f"page_{i}": "1",
        }
        data |= {f"{k}_{i}": str(f["box"][k]) for k in ("x", "y", "w", "h")}
        if f.get("required"):
            data[f"required_{i}"] = "on"
    return data


def test_templates_upload_validation_and_box_editing(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    ops, staff = person(f"{dept}o", "operator"), person(dept)
    template_id = f"t-{dept}"
    text = TEMPLATE.read_text(encoding="utf-8").replace("id: kyufukin-shinsei", f"id: {template_id}")
    text = text.replace("name: 給付金支給申請書", f'name: "{HOSTILE}申請書"')
    assert staff.client.get("/portal/templates/new").status_code == 403
    assert staff.client.get("/portal/templates").status_code == 200

    broken = text.replace("type: postal_code", "type: zipcode")
    line = broken.splitlines().index("    type: zipcode") + 1
    refused = _upload(ops, broken)
    assert refused.status_code == 422 and f"{line}行目" in refused.text and "zipcode" in refused.text
    assert "使えません" in refused.text and 'class="bad"' in refused.text
    checked = _upload(ops, text, action="validate")
    assert checked.status_code == 200 and "問題は見つかりませんでした" in checked.text

    saved = _upload(ops, text)
    assert saved.status_code == 303 and saved.headers["location"].endswith("version=1&saved=1")
    page = ops.client.get(saved.headers["location"])
    assert "第1版として保存しました" in page.text and "郵便番号" in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text
    listing = ops.client.get("/portal/templates")
    assert template_id in listing.text and HOSTILE not in listing.text
    for image in ("preview.png", "reference.png"):
        png = ops.client.get(f"/portal/templates/{template_id}/{image}?version=1")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    editor = ops.client.get(f"/portal/templates/{template_id}/edit")
    assert editor.status_code == 200 and 'id="canvas"' in editor.text

    stored = service.api.get(f"/api/v1/templates/{template_id}", headers=service.token(dept)).json()["fields"]
    edit_url = f"/portal/templates/{template_id}/edit"
    same = ops.post(edit_url, _edit_form(stored, 1), token_from=edit_url)
    assert same.status_code == 303 and "unchanged=1" in same.headers["location"]
    off_page = [
        *stored,
        {"orig": "", "name": "extra", "label": "追記", "type": "text", "box": dict.fromkeys("xywh", 200)},
    ]
    bad = ops.post(edit_url, _edit_form(off_page, 1), token_from=edit_url)
    assert bad.status_code == 422 and "はみ出して" in bad.text and "14番目" in bad.text
    assert staff.post(edit_url, _edit_form(stored, 1), token_from="/portal/jobs/new").status_code == 403

    moved = [{**stored[0], "box": {**stored[0]["box"], "x": 60.5}}, *stored[1:]]
    added = [
        *moved,
        {
            "orig": "",
            "name": "extra",
            "label": "追記",
            "type": "free_text",
            "box": {"x": 20, "y": 230, "w": 100, "h": 12},
        },
    ]
    edited = ops.post(edit_url, _edit_form(added, 1), token_from=edit_url)
    assert edited.status_code == 303 and edited.headers["location"].endswith("version=2&saved=1")
    assert "第2版として保存しました" in ops.client.get(edited.headers["location"]).text
    definition = ops.client.get(f"/portal/templates/{template_id}/definition.yaml?version=2").text
    assert "version: 2" in definition and "name: extra" in definition
    assert "box: {x: 60.5, y: 52, w: 62, h: 10}" in definition
    newest = service.api.get(f"/api/v1/templates/{template_id}", headers=service.token(dept)).json()
    assert newest["version"] == 2 and newest["field_count"] == 14
    assert f'value="{template_id}"' in staff.client.get("/portal/jobs/new?kind=ocr").text
