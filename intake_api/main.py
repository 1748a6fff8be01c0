"""The FastAPI application: routers, Japanese JSON errors, limits."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from composition.runtime import Runtime
from config.settings import Settings, get_settings
from intake_api.errors import validation_message
from intake_api.portal.app import install as install_portal
from intake_api.portal.web import error_page as portal_error_page
from intake_api.routes import (
    admin,
    glossary,
    jobs,
    review,
    savings,
    scripts,
    templates,
    tokens,
    transcripts,
)
from jobs.db import READ_ONLY
from jobs.errors import DigilaboError
from monitoring.metrics import api_metrics

log = logging.getLogger(__name__)

_HTTP_MESSAGES_JA = {
    401: ("unauthorized", "認証が必要です。"),
    404: ("not_found", "指定されたURLは存在しません。"),
    405: ("method_not_allowed", "このURLではその操作はできません。"),
    413: ("request_too_large", "送信されたデータが大きすぎます。"),
}


# The same refusals as the API's, in words for a person at a browser.
PORTAL_MESSAGES_JA = {
    404: "このページは見つかりません。アドレスを確かめるか、メニューから選んでください。",
    405: "このアドレスは直接開けません。メニューやボタンから操作してください。",
}


FIELD_TOO_LARGE_JA = (
    "送信された項目（ファイル以外）が大きすぎます。parameters などの項目は1項目1MiBまでです。"
)


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": {"code": code, "message": message, "details": details or {}}}
    )


class BodyLimit:
    """Refuse a request whose body is larger than the upload limit plus form
    overhead before reading it (Content-Length), and stop reading a chunked
    body that grows past it; the route's own streaming check is per file."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._reject(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise DigilaboError("request_too_large", "送信されたデータが大きすぎます。")
            return message

        await self.app(scope, limited, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        code, message = _HTTP_MESSAGES_JA[413]
        response = error_response(413, code, f"{message}（上限 {self.limit:,} バイト）")
        await response(scope, receive, send)


class RequestTimer:
    """Request latency by route template (never the raw path: job ids would
    make a label per job) and status class."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            if route != "/metrics":
                api_metrics().request_seconds.labels(scope["method"], route, f"{status[0] // 100}xx").observe(
                    time.perf_counter() - started
                )


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        app.state.runtime = runtime or Runtime(settings)
        try:
            yield
        finally:
            if own:
                app.state.runtime.close()

    app = FastAPI(
        title="digilabo",
        summary="Digi-Labo job-concentration service: transcription, template OCR, bulk entry",
        version="0.1.0",
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.include_router(jobs.router)
    app.include_router(savings.router)
    app.include_router(admin.router)
    app.include_router(glossary.router)
    app.include_router(templates.router)
    app.include_router(review.router)
    app.include_router(scripts.router)
    app.include_router(transcripts.router)
    app.include_router(tokens.router)
    install_portal(app)

    @app.exception_handler(DigilaboError)
    async def _domain_error(_request: Request, exc: DigilaboError) -> JSONResponse:
        status = 413 if exc.code == "request_too_large" else exc.http_status
        response = error_response(status, exc.code, exc.message, _jsonable(exc.details))
        if status == 429 and "retry_after_s" in exc.details:
            response.headers["Retry-After"] = str(int(exc.details["retry_after_s"]))
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        message, problems = validation_message(exc)
        return error_response(422, "invalid_request", message, {"problems": problems})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and str(exc.detail).startswith("Part exceeded maximum size"):
            # A form field (not a file) past Starlette's 1 MiB per field.
            return error_response(422, "field_too_large", FIELD_TOO_LARGE_JA)
        code, message = _HTTP_MESSAGES_JA.get(exc.status_code, ("http_error", "リクエストを処理できません。"))
        if request.url.path.startswith("/portal"):
            # A person typed or bookmarked the address: a page, never JSON.
            return portal_error_page(
                request, exc.status_code, PORTAL_MESSAGES_JA.get(exc.status_code, message), code
            )
        return error_response(exc.status_code, code, message)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        api_metrics().precreate(request.app.state.runtime.registry.names())
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["health"])
    def healthz(request: Request) -> JSONResponse:
        rt: Runtime = request.app.state.runtime
        checks = {"database": _check(lambda: _ping_db(rt)), "broker": _check(lambda: _ping_broker(rt))}
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            status_code=200 if ok else 503, content={"status": "ok" if ok else "degraded", **checks}
        )

    # The request cap, but never more than every file at the per-file limit
    # plus 1 MiB for the form fields.
    limit = min(settings.max_request_bytes, settings.max_upload_bytes * settings.max_files_per_job + 1024**2)
    app.add_middleware(BodyLimit, limit=limit)
    app.add_middleware(RequestTimer)
    return app


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | list | type(None)) else str(v)
        for k, v in details.items()
    }


def _check(probe: Any) -> str:
    try:
        probe()
    except Exception as exc:
        log.warning("health check failed: %s", exc)
        return "unavailable"
    return "ok"


def _ping_db(rt: Runtime) -> None:
    # Read-only: a health probe must not queue for SQLite's write lock.
    with rt.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        conn.execute(text("SELECT 1"))


def _ping_broker(rt: Runtime) -> None:
    with rt.celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
