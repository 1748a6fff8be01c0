"""/api/v1/glossary: the department's terms for transcription (hotwords)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from intake_api.deps import CurrentViewer, SessionDep
from jobs import store
from jobs.transcription.japanese import glossary_terms

router = APIRouter(prefix="/api/v1/glossary", tags=["glossary"])

MAX_TERMS = 100


class GlossaryPublic(BaseModel):
    department: str
    terms: list[str]


class GlossaryUpdate(BaseModel):
    terms: list[str] = Field(max_length=MAX_TERMS, description="place names, section names, budget terms …")


@router.get("", response_model=GlossaryPublic)
def read_glossary(
    session: SessionDep, viewer: CurrentViewer, department: str | None = None
) -> GlossaryPublic:
    dept = store.department_for(viewer, department, session=session)
    return GlossaryPublic(department=dept.code, terms=list(dept.glossary or []))


@router.put("", response_model=GlossaryPublic)
def replace_glossary(
    body: GlossaryUpdate, session: SessionDep, viewer: CurrentViewer, department: str | None = None
) -> GlossaryPublic:
    """Replace the list; terms are NFKC-normalised and de-duplicated."""
    dept = store.department_for(viewer, department, session=session)
    terms = store.set_glossary(dept, glossary_terms(body.terms, limit=MAX_TERMS))
    store.audit("glossary", session=session, viewer=viewer, department=dept.code, terms=len(terms))
    return GlossaryPublic(department=dept.code, terms=terms)
