"""Installing the portal's routers and static files on the FastAPI app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from intake_api.portal import (
    routes_account,
    routes_admin,
    routes_docs,
    routes_jobs,
    routes_ops,
    routes_review,
    routes_savings,
    routes_scripts,
    routes_templates,
    routes_tokens,
    routes_transcript,
)

STATIC = Path(__file__).parent / "static"
ROUTERS = (
    routes_account.root,
    routes_account.router,
    routes_jobs.router,
    routes_ops.router,
    routes_review.router,
    routes_transcript.router,
    routes_templates.router,
    routes_scripts.router,
    routes_savings.router,
    routes_admin.router,
    routes_tokens.router,
    routes_docs.router,
)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/portal/static", StaticFiles(directory=STATIC), name="portal-static")
