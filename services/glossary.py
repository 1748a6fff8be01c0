"""A department's glossary (terms transcription should prefer), for the API
and the operators' page."""

from __future__ import annotations

from sqlalchemy.orm import Session

from jobs import store
from jobs.errors import JobInputError
from jobs.models import Department
from jobs.transcription.japanese import glossary_terms

MAX_TERMS = 100


def read(session: Session, viewer: store.Viewer, department: str | None = None) -> Department:
    return store.department_for(viewer, department, session=session)


def replace(
    session: Session, viewer: store.Viewer, terms: list[str], department: str | None = None
) -> tuple[str, list[str]]:
    """Replace the list (NFKC-normalised, de-duplicated), audited. Returns
    the department code and the stored terms."""
    if len(terms) > MAX_TERMS:
        raise JobInputError("too_many_terms", f"用語は{MAX_TERMS}件までです（{len(terms)}件あります）。")
    dept = store.department_for(viewer, department, session=session)
    stored = store.set_glossary(dept, glossary_terms(terms, limit=MAX_TERMS))
    store.audit("glossary", session=session, viewer=viewer, department=dept.code, terms=len(stored))
    return dept.code, stored
