"""Operator pages: queues, all jobs with filters, failed jobs, glossaries."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from intake_api.deps import RuntimeDep, SessionDep
from intake_api.portal.web import CsrfChecked, OperatorUser, PortalRoute, redirect, render
from jobs import store
from jobs.errors import STATE_LABELS_JA, JobInputError
from jobs.lifecycle import FINISHED, State
from queues.inspect import workers_online
from services import fairshare, glossary, overview, scripts
from services import jobs as service

router = APIRouter(prefix="/portal/ops", route_class=PortalRoute, include_in_schema=False)
PAGE = 50


@router.get("/queues")
def queues(request: Request, runtime: RuntimeDep, session: SessionDep, _user: OperatorUser) -> Response:
    workers = workers_online(runtime.celery, timeout=1.0)
    rows = overview.queue_rows(session=session, workers=workers)
    running = overview.running_jobs(session=session)
    labels = {k.name: k.label_ja for k in runtime.registry.all()}
    return render(
        request,
        "ops_queues.html",
        {
            "rows": rows,
            "running": running,
            "kind_labels": labels,
            "ping_failed": workers is None,
            "setup_problems": scripts.setup_problems(session, runtime.settings.kind_options()),
            "shares": fairshare.shares(
                runtime.settings,
                session=session,
                units={k.name: k.quota_unit for k in runtime.registry.all() if k.quota_unit},
            ),
        },
    )


def _day(raw: str, label: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise JobInputError("invalid_date", f"「{label}」は日付（YYYY-MM-DD）で指定してください。") from None


def _state(raw: str) -> State | None:
    if not raw:
        return None
    try:
        return State(raw)
    except ValueError:
        raise JobInputError("invalid_state", "状態の指定が正しくありません。") from None


def _jobs_page(
    request: Request,
    runtime: Any,
    session: Any,
    user: Any,
    filters: dict[str, str],
    offset: int,
    template: str,
) -> Response:
    page = service.list_jobs(
        runtime,
        session,
        user.viewer,
        state=_state(filters["state"]),
        kind=filters["kind"] or None,
        department=filters["department"] or None,
        submitted_from=_day(filters["submitted_from"], "受付日（から）"),
        submitted_to=_day(filters["submitted_to"], "受付日（まで）"),
        limit=PAGE,
        offset=max(0, offset),
    )
    return render(
        request,
        template,
        {
            "jobs": page.data,
            "count": page.count,
            "offset": offset,
            "page_size": PAGE,
            "filters": filters,
            "states": STATE_LABELS_JA,
            "kinds": runtime.registry.all(),
            "departments": store.list_departments(session=session),
            "active_ids": [j.id for j in page.data if j.state not in FINISHED],
        },
    )


@router.get("/jobs")
def all_jobs(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    user: OperatorUser,
    state: str = "",
    kind: str = "",
    department: str = "",
    submitted_from: str = "",
    submitted_to: str = "",
    offset: int = 0,
) -> Response:
    filters = {
        "state": state,
        "kind": kind,
        "department": department,
        "submitted_from": submitted_from,
        "submitted_to": submitted_to,
    }
    return _jobs_page(request, runtime, session, user, filters, offset, "ops_jobs.html")


@router.get("/failed")
def failed_jobs(
    request: Request, runtime: RuntimeDep, session: SessionDep, user: OperatorUser, offset: int = 0
) -> Response:
    filters = dict.fromkeys(("kind", "department", "submitted_from", "submitted_to"), "")
    return _jobs_page(
        request, runtime, session, user, {**filters, "state": "failed"}, offset, "ops_failed.html"
    )


@router.get("/glossary")
def glossary_page(
    request: Request, session: SessionDep, user: OperatorUser, department: str = "", saved: int = 0
) -> Response:
    departments = store.list_departments(session=session)
    chosen = next((d for d in departments if d.code == department), departments[0] if departments else None)
    return render(
        request,
        "ops_glossary.html",
        {
            "departments": departments,
            "chosen": chosen,
            "terms": "\n".join(chosen.glossary or []) if chosen else "",
            "saved": bool(saved),
            "error": "",
            "limit": glossary.MAX_TERMS,
        },
    )


@router.post("/glossary", dependencies=[CsrfChecked])
def save_glossary(
    request: Request,
    session: SessionDep,
    user: OperatorUser,
    department: Annotated[str, Form()],
    terms: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    lines = [t.strip() for t in terms.replace("、", "\n").splitlines() if t.strip()]
    try:
        code, _ = glossary.replace(session, user.viewer, lines, department)
    except JobInputError as exc:
        if exc.code != "too_many_terms":
            raise
        departments = store.list_departments(session=session)
        return render(
            request,
            "ops_glossary.html",
            {
                "departments": departments,
                "chosen": store.department_for(user.viewer, department, session=session),
                "terms": terms,
                "saved": False,
                "error": exc.message,
                "limit": glossary.MAX_TERMS,
            },
            status=422,
        )
    return redirect(f"/portal/ops/glossary?department={code}&saved=1")
