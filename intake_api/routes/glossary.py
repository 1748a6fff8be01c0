"""/api/v1/glossary: the department's terms for transcription (hotwords)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from intake_api.deps import CurrentViewer, SessionDep
from services import glossary

router = APIRouter(prefix="/api/v1/glossary", tags=["glossary"])


class GlossaryPublic(BaseModel):
    department: str
    terms: list[str]


class GlossaryUpdate(BaseModel):
    terms: list[str] = Field(
        max_length=glossary.MAX_TERMS, description="place names, section names, budget terms …"
    )


@router.get("", response_model=GlossaryPublic)
def read_glossary(
    session: SessionDep, viewer: CurrentViewer, department: str | None = None
) -> GlossaryPublic:
    dept = glossary.read(session, viewer, department)
    return GlossaryPublic(department=dept.code, terms=list(dept.glossary or []))


@router.put("", response_model=GlossaryPublic)
def replace_glossary(
    body: GlossaryUpdate, session: SessionDep, viewer: CurrentViewer, department: str | None = None
) -> GlossaryPublic:
    """Replace the list; terms are NFKC-normalised and de-duplicated."""
    code, terms = glossary.replace(session, viewer, body.terms, department)
    return GlossaryPublic(department=code, terms=terms)
