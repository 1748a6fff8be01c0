"""The bad-input corpus: every case goes through the real API and, where it is
accepted, a real worker; each names the error code it must end with.

A case is refused at intake (HTTP 4xx, a Japanese message, nothing stored) or
accepted and then fails as a job with a reason a person can act on. After the
corpus, a normal job of each kind still succeeds and no corpus job was
redelivered (a worker that crashed on an input would show as attempts > 1).
Run alone with ``pytest -m corpus``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from jobs.ocr.kind import SAMPLES as OCR_SAMPLES
from tests.conftest import Service
from tests.corpus import inputs
from tests.integration.helpers import counts, raw_multipart, submit, wait_finished

pytestmark = [pytest.mark.corpus, pytest.mark.parametrize("service", ["sqlite"], indirect=True)]

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
OCR = {"template": "kyufukin-shinsei"}
Submit = Callable[[Service, dict[str, str]], httpx.Response]


def job(kind: str, files: Callable[[], list[tuple[str, bytes]]], params: Mapping[str, Any] = {}) -> Submit:
    return lambda service, headers: submit(service.api, headers, files(), dict(params), kind=kind)


def template_upload(definition: Callable[[], bytes], reference: Callable[[], bytes]) -> Submit:
    return lambda service, _headers: service.api.post(
        "/api/v1/templates",
        headers=service.token("ops", "operator"),
        files=[
            ("definition", ("t.yaml", definition())),
            ("reference", ("kyufukin-shinsei.pdf", reference())),
        ],
    )


def script_upload(text: Callable[[], bytes]) -> Submit:
    return lambda service, _headers: service.api.post(
        "/api/v1/scripts",
        headers=service.token("ops", "operator"),
        data={"script_id": f"corpus-{uuid.uuid4().hex[:6]}"},
        files=[("file", ("s.yaml", text()))],
    )


@dataclass(frozen=True)
class Case:
    id: str
    send: Submit
    code: str
    # HTTP status when refused at intake; 202 when accepted and the job must fail.
    status: int = 202
    says: tuple[str, ...] = field(default_factory=tuple)  # words the message must contain


REFERENCE = (OCR_SAMPLES / "kyufukin-shinsei.pdf").read_bytes
TEMPLATE = (OCR_SAMPLES / "kyufukin-shinsei.yaml").read_bytes
LIMIT = 1024 * 1024  # max_upload_bytes of the test settings

CASES = [
    # Audio
    Case("audio-zero-length", job("transcription", lambda: [("会議.wav", b"")]), "empty_file", 422, ("空",)),
    Case(
        "pdf-renamed-as-audio",
        job("transcription", lambda: [("会議.mp3", inputs.blank_pdf(1))]),
        "unsupported_media_type",
        422,
        ("会議.mp3", "PDF"),
    ),
    Case(
        "audio-truncated",
        job("transcription", lambda: [("cut.wav", inputs.truncated_wav())]),
        "audio_unreadable",
        says=("cut.wav", "途切れ"),
    ),
    Case(
        "audio-hours-long",
        job("transcription", lambda: [("long.flac", inputs.hours_long_flac())]),
        "audio_too_long",
        says=("long.flac", "長すぎます", "300分"),
    ),
    # Scans
    Case(
        "image-decompression-bomb",
        job("ocr", lambda: [("bomb.png", inputs.decompression_bomb_png())], OCR),
        "image_too_large",
        says=("bomb.png", "画素数", "1,600,000,000画素"),
    ),
    Case(
        "pdf-thousands-of-pages",
        job("ocr", lambda: [("many.pdf", inputs.blank_pdf(3000))], OCR),
        "too_many_pages",
        says=("3000ページ",),
    ),
    Case(
        "pdf-encrypted",
        job("ocr", lambda: [("secret.pdf", inputs.encrypted_pdf())], OCR),
        "pdf_encrypted",
        says=("secret.pdf", "パスワード"),
    ),
    Case(
        "template-reference-encrypted",
        template_upload(TEMPLATE, inputs.encrypted_pdf),
        "invalid_template",
        422,
        ("reference", "パスワード"),
    ),
    # Documents people upload
    Case(
        "template-billion-laughs",
        template_upload(inputs.billion_laughs_yaml, REFERENCE),
        "invalid_template",
        422,
        ("エイリアス", "2行目"),
    ),
    Case(
        "script-billion-laughs",
        script_upload(inputs.billion_laughs_yaml),
        "invalid_script",
        422,
        ("エイリアス",),
    ),
    Case(
        "script-smuggles-python",
        script_upload(lambda: inputs.script_with("{{ row.__class__.__mro__[1].__subclasses__() }}")),
        "invalid_script",
        422,
        ("差し込み記号",),
    ),
    Case(
        "script-smuggles-attribute",
        script_upload(lambda: inputs.script_with("{{ row.__globals__ }}")),
        "invalid_script",
        422,
        ("row.__globals__",),
    ),
    Case(
        "script-smuggles-jinja-block",
        script_upload(lambda: inputs.script_with("{{ row.amount }}{% import os %}{{ lipsum }}")),
        "invalid_script",
        422,
        ("lipsum",),
    ),
    # Any upload
    Case(
        "oversize-upload",
        job("echo", lambda: [("big.txt", b"x" * (LIMIT + 1))]),
        "file_too_large",
        413,
        ("big.txt", "大きすぎます"),
    ),
    Case(
        "filename-only-folders",
        job("echo", lambda: [("../../", b"x\n")]),
        "invalid_filename",
        422,
        ("ファイル名",),
    ),
]


def raw_parameters(text: Callable[[], str]) -> Submit:
    """A submission whose parameters field is ``text`` as sent (json.dumps
    could not even build the deep ones)."""
    return lambda service, headers: service.api.post(
        "/api/v1/jobs",
        headers=headers,
        data={"kind": "echo", "parameters": text()},
        files=[("files", ("a.txt", b"x\n", "text/plain"))],
    )


def declared_length(length: int) -> Submit:
    return lambda service, headers: service.api.post(
        "/api/v1/jobs",
        headers={**headers, "Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(length)},
        content=b"--x--\r\n",
    )


PARAMETER_CASES = [
    Case(
        "parameters-nested-5000-deep",
        raw_parameters(lambda: '{"a": ' + "[" * 5000 + "]" * 5000 + "}"),
        "parameters_too_deep",
        422,
        ("parameters", "入れ子", "5001段"),
    ),
    Case(
        "parameters-nested-50000-deep",
        raw_parameters(lambda: "[" * 50000 + "]" * 50000),
        "parameters_too_large",
        422,
        ("parameters", "100,000バイト"),
    ),
    Case(
        "parameters-10-MB",
        raw_parameters(lambda: '{"a": "' + "x" * 10_000_000 + '"}'),
        "field_too_large",
        422,
        ("大きすぎます", "parameters"),
    ),
    Case(
        "request-declares-3-GB", declared_length(3_000_000_000), "request_too_large", 413, ("大きすぎます",)
    ),
]
CASES += PARAMETER_CASES


@pytest.fixture(scope="module")
def corpus_jobs() -> list[str]:
    """Ids of every corpus job, checked for redelivery at the end."""
    return []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_gets_its_code(service: Service, dept: str, case: Case, corpus_jobs: list[str]) -> None:
    headers = service.token(dept)
    before = counts(service.runtime)
    response = case.send(service, headers)
    assert response.status_code == case.status, response.text
    if case.status != 202:
        error = response.json()["error"]
        message = error["message"]
        assert error["code"] == case.code, error
        assert counts(service.runtime) == before, "a refused upload stored something"
    else:
        job_id = response.json()["id"]
        corpus_jobs.append(job_id)
        finished = wait_finished(service.api, headers, job_id, timeout=180)
        assert finished["state"] == "failed", finished
        assert finished["error_code"] == case.code, finished
        message = finished["error_message"]
    assert JAPANESE.search(message), message
    for word in case.says:
        assert word in message, (word, message)
    assert "Traceback" not in message


def test_tiff_with_a_corrupt_page_reads_the_others(service: Service, dept: str) -> None:
    import pypdfium2 as pdfium

    scans = [
        pdfium.PdfDocument(p)[0].render(scale=300 / 72).to_pil()
        for p in sorted(OCR_SAMPLES.glob("scan-*.pdf"))
    ]
    body = inputs.tiff_with_corrupt_page(scans, corrupt=1)
    headers = service.token(dept)
    job_id = submit(service.api, headers, [("scans.tif", body)], OCR, kind="ocr").json()["id"]
    finished = wait_finished(service.api, headers, job_id, timeout=180)
    assert finished["state"] == "needs_review", finished
    forms = json.loads(
        service.api.get(f"/api/v1/jobs/{job_id}/artifacts/forms.json", headers=headers).content
    )["forms"]
    status = {f["pages"][0]: f["status"] for f in forms}
    assert status == {1: "ok", 2: "unreadable", 3: "ok"}, forms
    broken = next(f for f in forms if f["status"] == "unreadable")
    assert "2ページ目" in broken["message"]


def test_hostile_file_names_are_cleaned_not_followed(service: Service, dept: str) -> None:
    headers = service.token(dept)
    long_name = "議事録" * 150 + ".txt"
    files = [("../../etc/passwd.txt", b"a\n"), ("..\\..\\a\x00b\x07.txt", b"b\n"), (long_name, b"c\n")]
    body, content_type = raw_multipart(files)
    response = service.api.post(
        "/api/v1/jobs", headers={**headers, "Content-Type": content_type}, content=body
    )
    assert response.status_code == 202, response.text
    job = wait_finished(service.api, headers, response.json()["id"])
    assert job["state"] == "succeeded", (job["error_code"], job["error_message"])
    names = sorted((i["name"] for i in job["inputs"]), key=len)
    assert names[:2] == ["ab.txt", "passwd.txt"], names
    assert names[2].startswith("議事録") and names[2].endswith(".txt"), names
    assert len(names[2].encode("utf-8")) <= 180, names  # file systems allow 255 bytes
    root = service.settings.var_dir
    assert not any(p.name == "passwd.txt" for p in root.parent.rglob("passwd.txt"))
    assert len(job["outputs"]) == 3  # outputs named after the cleaned inputs, all served
    for output in job["outputs"]:
        assert service.api.get(output["url"], headers=headers).status_code == 200


def test_request_larger_than_the_body_limit_is_refused_before_reading(service: Service, dept: str) -> None:
    headers = {**service.token(dept), "Content-Type": "multipart/form-data; boundary=x"}
    declared = service.settings.max_upload_bytes * service.settings.max_files_per_job + 2 * LIMIT
    before = counts(service.runtime)
    response = service.api.post(
        "/api/v1/jobs", headers={**headers, "Content-Length": str(declared)}, content=b"--x--\r\n"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert JAPANESE.search(response.json()["error"]["message"])
    assert counts(service.runtime) == before


def test_after_the_corpus_every_kind_still_works(service: Service, dept: str, corpus_jobs: list[str]) -> None:
    """Runs last in this module: nothing above broke a worker or a queue."""
    from jobs.ocr.kind import sample as ocr_sample
    from jobs.transcription.kind import sample as transcription_sample

    headers = service.token(dept)
    params, files = transcription_sample()
    speech = submit(
        service.api, headers, [(files[0].name, files[0].read_bytes())], params, kind="transcription"
    )
    params, scans = ocr_sample()
    forms = submit(service.api, headers, [(scans[0].name, scans[0].read_bytes())], params, kind="ocr")
    for response in (speech, forms):
        finished = wait_finished(service.api, headers, response.json()["id"], timeout=240)
        assert finished["state"] in ("succeeded", "needs_review"), finished
        assert finished["attempts"] == 1
    operator = service.token("ops", "operator")
    assert corpus_jobs, "the corpus jobs ran first"
    for job_id in corpus_jobs:
        assert service.api.get(f"/api/v1/jobs/{job_id}", headers=operator).json()["attempts"] == 1
