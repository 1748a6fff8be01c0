"""Entry scripts for bulk financial-system entry: operators upload, a second
operator (or an admin) approves, departments run approved versions only.
For the API and the portal; every change is audited here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from jobs import ocr_entry, store
from jobs.errors import JobInputError, UploadRejected
from jobs.rpa import scripts
from jobs.rpa.portal import approved_newest, install_samples
from jobs.rpa.portal import setup_problems as _setup_problems
from jobs.rpa.script import parse_script

MAX_SCRIPT_BYTES = 256 * 1024


def decode(body: bytes) -> str:
    """An uploaded script's text (at most MAX_SCRIPT_BYTES, UTF-8)."""
    if len(body) > MAX_SCRIPT_BYTES:
        raise UploadRejected("file_too_large", "入力スクリプトが大きすぎます（上限256KB）。")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRejected("invalid_script", "入力スクリプトはUTF-8で保存してください。") from None


def public(row: scripts.RpaScript, *, with_text: bool = False) -> dict[str, Any]:
    out = {
        "id": row.script_id,
        "version": row.version,
        "name": row.name,
        "target": row.target,
        "status": row.status,
        "sha256": row.sha256,
        "uploaded_by": row.uploaded_by,
        "approved_by": row.approved_by,
        "approved_at": row.approved_at.isoformat() if row.approved_at else None,
    }
    return out | ({"text": row.text} if with_text else {})


def list_all(session: Session) -> list[dict[str, Any]]:
    """Every version of every script, newest first within an id."""
    return [public(row) for row in scripts.list_scripts(session=session)]


def list_with_samples(session: Session) -> list[dict[str, Any]]:
    """As ``list_all``, the bundled samples installed first (portal list)."""
    install_samples(session=session)
    return list_all(session)


def in_use(session: Session) -> set[tuple[str, int]]:
    """(id, version) of the newest approved version of every script."""
    return {(r.script_id, r.version) for r in approved_newest(session=session)}


def setup_problems(session: Session, options: Mapping[str, Any]) -> list[dict[str, str]]:
    """Approved scripts intake refuses for want of a setting, with the
    setting (for operators' eyes only: the queues page)."""
    return _setup_problems(session=session, options=options)


def get(session: Session, script_id: str, version: int | None = None) -> dict[str, Any]:
    return public(scripts.get(script_id, version, session=session, approved_only=False), with_text=True)


def validate(text: str) -> dict[str, Any]:
    """{"valid", "line", "message"} for a script's text."""
    try:
        parse_script(text)
    except JobInputError as exc:
        return {"valid": False, "line": exc.details.get("line"), "message": exc.message}
    return {"valid": True, "line": None, "message": ""}


def upload(session: Session, viewer: store.Viewer, script_id: str, text: str) -> dict[str, Any]:
    """Store the next version, pending approval; the same text again stores
    nothing (``created`` is False)."""
    before = {(r.script_id, r.version) for r in scripts.list_scripts(session=session)}
    row, _ = scripts.upload(script_id, text, session=session, viewer=viewer)
    created = (row.script_id, row.version) not in before
    store.audit("script_upload", session=session, viewer=viewer, script=f"{row.script_id}@{row.version}")
    return public(row) | {"created": created}


def approve(session: Session, viewer: store.Viewer, script_id: str, version: int) -> dict[str, Any]:
    """A second operator approves; a script that reads a reviewed OCR job
    (``from_ocr``) is refused while its template lacks a field it maps."""
    pending = scripts.get(script_id, version, session=session, approved_only=False)
    ocr_entry.check_script(parse_script(pending.text), session=session)
    row = scripts.approve(script_id, version, session=session, viewer=viewer)
    store.audit("script_approve", session=session, viewer=viewer, script=f"{row.script_id}@{row.version}")
    return public(row)
