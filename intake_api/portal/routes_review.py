"""OCR review: the jobs waiting for a person, and the screen where the flagged
fields of one job are confirmed or corrected, each beside its crop image.

Reading the pending fields and applying the decisions call the application
layer (``services.review``, the kind's review hook) with the logged-in
person as viewer: whoever may see the job may review it, as in the API
(department staff can fix their own forms); the menu entry is for operators.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData

from intake_api.deps import RuntimeDep, SessionDep
from intake_api.portal.review_items import date_item
from intake_api.portal.web import (
    CsrfChecked,
    CurrentUser,
    OperatorUser,
    PortalRoute,
    measured_seconds,
    redirect,
    render,
)
from jobs.errors import JobInputError
from jobs.lifecycle import State
from services import jobs as jobs_service
from services import review

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)

PAGE = 50
# The time a reviewer may be credited with: the page measures it, the server caps it.
MAX_SECONDS_PER_FIELD = 300.0
MAX_SECONDS = 3600.0
MAX_ITEMS = 5000
_ITEM_KEY = re.compile(r"field_([0-9]{1,4})")


@router.get("/ops/review")
def waiting(
    request: Request, runtime: RuntimeDep, session: SessionDep, user: OperatorUser, offset: int = 0
) -> Response:
    page = jobs_service.list_jobs(
        runtime, session, user.viewer, state=State.NEEDS_REVIEW, kind="ocr", limit=PAGE, offset=max(0, offset)
    )
    context = {"jobs": page.data, "count": page.count, "offset": offset, "page_size": PAGE}
    return render(request, "ops_review.html", context)


def review_seconds(raw: str, opened_at: str, fields: int, *, now: float) -> float:
    """Seconds to record: what the page measured (or, without JavaScript, the
    time since the page was served), never negative, at most
    MAX_SECONDS_PER_FIELD per decided field and MAX_SECONDS in all."""
    value = measured_seconds(raw, opened_at, now=now)
    return min(max(0.0, value), MAX_SECONDS_PER_FIELD * max(1, fields), MAX_SECONDS)


def _items(job_id: str, pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **entry,
            "shown": entry.get("text") or "",
            "checkbox": isinstance(entry.get("value"), bool),
            "crop_src": f"/portal/jobs/{job_id}/files/{entry['crop']}" if entry.get("crop") else "",
        }
        | date_item(entry)
        for entry in pending
    ]


def _page(
    request: Request,
    runtime: Any,
    session: Any,
    user: Any,
    job_id: str,
    typed: Mapping[tuple[int, str], str] | None = None,
    error: JobInputError | None = None,
    refused: Mapping[tuple[int, str], str] | None = None,
) -> Response:
    job = jobs_service.get_job(job_id, runtime, session, user.viewer)
    review.hook_for(runtime, job.kind)  # refuses a kind with nothing to review
    _, pending = review.pending(runtime, session, user.viewer, job_id)
    items = _items(job.id, pending)
    for item in items:
        item["typed"] = (typed or {}).get((item["form"], item["field"]), item["shown"])
        item["refused"] = (refused or {}).get((item["form"], item["field"]), "")
        if item.get("date") and item["typed"] != item["shown"]:
            # What was typed (from either box) stands in the 和暦 box; a 西暦
            # box still showing the old day would contradict it, so it is blank.
            item["seireki"] = ""
    failed = (error.details.get("form"), error.details.get("field")) if error else None
    message = error.message if error else ""
    if refused:
        message = f"{len(refused)}項目の修正は保存できませんでした（理由は各項目に表示）。ほかの確認は保存しました。"
    context = {
        "job": job,
        "items": items,
        "error": message,
        "failed": failed,
        "opened_at": f"{time.time():.3f}",
    }
    return render(request, "review.html", context, status=422 if error or refused else 200)


@router.get("/jobs/{job_id}/review")
def review_page(
    request: Request, job_id: str, runtime: RuntimeDep, session: SessionDep, user: CurrentUser
) -> Response:
    return _page(request, runtime, session, user, job_id)


def decisions(form: FormData) -> tuple[list[dict[str, Any]], dict[tuple[int, str], str]]:
    """Each posted item: confirmed when its value is the one shown, else
    corrected to what was typed (an emptied box clears the value)."""
    corrections: list[dict[str, Any]] = []
    typed: dict[tuple[int, str], str] = {}
    for key in form:
        found = _ITEM_KEY.fullmatch(key)
        if not found:
            continue
        index = found.group(1)
        field = str(form.get(key) or "")[:100]
        try:
            number = int(str(form.get(f"form_{index}") or ""))
        except ValueError:
            raise JobInputError(
                "invalid_review", "送信内容が正しくありません。ページを読み込み直してください。"
            ) from None
        value = str(form.get(f"value_{index}") or "").strip()
        if value == str(form.get(f"shown_{index}") or "").strip() and f"seireki_{index}" in form:
            # A date: the 和暦 box as shown, so the 西暦 box decides.
            seireki = str(form.get(f"seireki_{index}") or "").strip()
            if seireki != str(form.get(f"shown_seireki_{index}") or "").strip():
                value = seireki
        typed[(number, field)] = value
        if value == str(form.get(f"shown_{index}") or "").strip():
            corrections.append({"form": number, "field": field})
        else:
            corrections.append({"form": number, "field": field, "value": value})
    if len(corrections) > MAX_ITEMS:
        raise JobInputError("invalid_review", f"一度に確認できるのは{MAX_ITEMS}項目までです。")
    return corrections, typed


@router.post("/jobs/{job_id}/review", dependencies=[CsrfChecked])
async def submit_review(
    request: Request, job_id: str, runtime: RuntimeDep, session: SessionDep, user: CurrentUser
) -> Response:
    form = await request.form()
    corrections, typed = decisions(form)
    seconds = review_seconds(
        str(form.get("seconds_spent") or ""),
        str(form.get("opened_at") or ""),
        len(corrections),
        now=time.time(),
    )
    try:
        # Refused corrections stay pending with their message; the others are saved.
        good, refused = await run_in_threadpool(
            review.split_refused, runtime, session, user.viewer, job_id, corrections
        )
        if good:
            await run_in_threadpool(review.submit, runtime, session, user.viewer, job_id, good, seconds)
    except JobInputError as exc:
        # Refused as a whole (a tampered form): show the page again with what was typed.
        return await run_in_threadpool(_page, request, runtime, session, user, job_id, typed, exc)
    if refused:
        session.commit()  # the saved decisions, before the page reads what is left
        return await run_in_threadpool(_page, request, runtime, session, user, job_id, typed, None, refused)
    return redirect(f"/portal/jobs/{job_id}/review")
