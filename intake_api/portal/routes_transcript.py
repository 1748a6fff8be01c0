"""The transcript editor: a succeeded transcription job's segments, each with
a play button (the recording streamed from the job's input with HTTP range
requests), its text to correct, the job's speakers to rename, and turns to
merge or split. Saving calls ``services.transcripts.save``: every output is
written again and the editing time, measured by the page from its opening
to the save (bounded by the service), lowers the job's saving.

The form works without JavaScript (the time then runs from the page being
served; a split then needs the position typed by the script); the script
(static/transcript-editor.js) plays segments, sends the measured time and
the cursor position of a split. Whoever may see the job may edit it."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData

from intake_api.deps import RuntimeDep, SessionDep
from intake_api.portal.kinds import fragment, portal_kind
from intake_api.portal.web import CsrfChecked, CurrentUser, PortalRoute, measured_seconds, redirect, render
from jobs.errors import JobInputError
from services import jobs as jobs_service
from services import transcripts

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)

_ACTION = re.compile(r"(merge|split)-([0-9]{1,5})")
_MAX_SPEAKERS = 200
SAVED_JA = "保存しました。議事録などのファイルを作り直しました。"
UNCHANGED_JA = "変更はありませんでした。"
CHANGED_JA = (
    "このページを開いた後に、ほかの人がこの文字起こしを保存しました。今回の修正は保存していません。"
    "入力した内容はそのまま残してあります。最新の内容と見比べてから、もう一度「保存する」を押してください。"
)


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _typed(value: object) -> str:
    return str(value or "").replace("\r\n", "\n").strip()


def form_edits(
    segments: Sequence[Mapping[str, Any]], speakers: Sequence[str], form: FormData
) -> list[dict[str, Any]]:
    """The edits the posted form asks for, in an order whose indices hold:
    changed texts, then renamed speakers, then one merge or split."""
    edits: list[dict[str, Any]] = []
    for i, segment in enumerate(segments):
        key = f"text_{i}"
        if key in form and _typed(form.get(key)) != _typed(segment.get("text")):
            edits.append({"op": "text", "index": i, "text": _typed(form.get(key))})
    for k in range(min(len(speakers), _MAX_SPEAKERS)):
        old, new = _typed(form.get(f"rename_from_{k}")), _typed(form.get(f"rename_to_{k}"))
        if old in speakers and new and new != old:
            edits.append({"op": "rename", "from": old, "to": new})
    found = _ACTION.fullmatch(str(form.get("action") or ""))
    if found and found.group(1) == "merge":
        edits.append({"op": "merge", "index": int(found.group(2))})
    elif found:
        try:
            at = int(str(form.get("split_at") or ""))
        except ValueError:
            raise JobInputError("invalid_edit", "分割する位置（文字数）を指定してください。") from None
        edits.append({"op": "split", "index": int(found.group(2)), "at": at})
    return edits


def _rows(segments: Sequence[Mapping[str, Any]], typed: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "start": float(s.get("start", 0.0)),
            "end": float(s.get("end", 0.0)),
            "from": clock(float(s.get("start", 0.0))),
            "to": clock(float(s.get("end", 0.0))),
            "speaker": s.get("speaker") or "",
            "text": typed.get(f"text_{i}", s.get("text", "")),
        }
        for i, s in enumerate(segments)
    ]


def _page(
    request: Request,
    runtime: Any,
    session: Any,
    user: Any,
    job_id: str,
    typed: Mapping[str, str] | None = None,
    error: JobInputError | transcripts.TranscriptChanged | None = None,
) -> Response:
    found = transcripts.load(runtime, session, user.viewer, job_id)
    job = jobs_service.get_job(job_id, runtime, session, user.viewer)
    kind = runtime.registry.get(job.kind)
    portal_kind(kind)  # installs the kind's template folder
    notice = {"saved": SAVED_JA, "unchanged": UNCHANGED_JA}.get(request.query_params.get("done", ""), "")
    context = {
        "job": job,
        "human_seconds": found.job.human_seconds or 0.0,
        "rows": _rows(found.transcript["segments"], typed or {}),
        "speakers": found.speakers,
        "version": found.version,
        "audio_src": f"/portal/jobs/{job.id}/inputs/{found.audio}" if found.audio else "",
        "opened_at": f"{time.time():.3f}",
        "notice": "" if error else notice,
        "error": error.message if error else "",
    }
    status = 200 if error is None else error.http_status
    return render(request, fragment(kind, "editor.html"), context, status=status)


@router.get("/jobs/{job_id}/transcript")
def editor_page(
    request: Request, job_id: str, runtime: RuntimeDep, session: SessionDep, user: CurrentUser
) -> Response:
    return _page(request, runtime, session, user, job_id)


@router.post("/jobs/{job_id}/transcript", dependencies=[CsrfChecked])
async def save(
    request: Request, job_id: str, runtime: RuntimeDep, session: SessionDep, user: CurrentUser
) -> Response:
    form = await request.form()
    found = await run_in_threadpool(transcripts.load, runtime, session, user.viewer, job_id)
    typed = {str(k): _typed(v) for k, v in form.items() if str(k).startswith("text_")}
    try:
        edits = form_edits(found.transcript["segments"], found.speakers, form)
        if not edits:
            return redirect(f"/portal/jobs/{job_id}/transcript?done=unchanged")
        seconds = measured_seconds(
            str(form.get("seconds_spent") or ""), str(form.get("opened_at") or ""), now=time.time()
        )
        version = str(form.get("version") or "")[:64]
        await run_in_threadpool(
            transcripts.save, runtime, session, user.viewer, job_id, edits, seconds, version
        )
    except JobInputError as exc:
        # A refused edit saves nothing: the page again, with what was typed.
        return await run_in_threadpool(_page, request, runtime, session, user, job_id, typed, exc)
    except transcripts.TranscriptChanged:
        # Saved elsewhere meanwhile: the newest version, with what was typed over it.
        changed = transcripts.TranscriptChanged(message=CHANGED_JA)
        return await run_in_threadpool(_page, request, runtime, session, user, job_id, typed, changed)
    return redirect(f"/portal/jobs/{job_id}/transcript?done=saved")
