"""Entry scripts in the database: uploaded, approved by a second person,
frozen once approved; and attaching the approved version to a job at intake.

A department names a script (``{"script": "id"}`` or ``"id@version"``) and
uploads only its records; intake puts the approved script's text and hash in
the job's parameters, and the core refuses anything whose hash differs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jobs.errors import Forbidden, InvalidTransition, JobInputError, NotFound
from jobs.models import Base, new_id, utcnow
from jobs.rpa.kind import SAMPLES
from jobs.rpa.script import Script, ScriptError, parse_script
from jobs.store import Viewer

ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{1,63}")


class RpaScript(Base):
    __tablename__ = "rpa_scripts"
    __table_args__ = (UniqueConstraint("script_id", "version", name="uq_rpa_script_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    script_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved
    uploaded_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def check_id(script_id: str) -> str:
    if not ID_RE.fullmatch(script_id):
        raise JobInputError(
            "invalid_script_id", "スクリプトIDは英小文字・数字・-・_ の2〜64文字で指定してください。"
        )
    return script_id


def upload(script_id: str, text: str, *, session: Session, viewer: Viewer) -> tuple[RpaScript, Script]:
    """Store the text as the next pending version (after validating it).
    Versions are never edited: the same text as the newest is not stored again."""
    script = parse_script(text)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    newest = session.scalar(
        select(RpaScript).where(RpaScript.script_id == check_id(script_id)).order_by(RpaScript.version.desc())
    )
    if newest is not None and newest.sha256 == sha:
        return newest, script
    row = RpaScript(
        script_id=script_id,
        version=(newest.version + 1) if newest else 1,
        name=script.name,
        target=script.target.name,
        sha256=sha,
        text=text,
        uploaded_by=viewer.name,
    )
    session.add(row)
    session.flush()
    return row, script


def approve(script_id: str, version: int, *, session: Session, viewer: Viewer) -> RpaScript:
    """A second person approves (an admin may approve their own upload)."""
    row = get(script_id, version, session=session, approved_only=False)
    if row.status == "approved":
        raise InvalidTransition(row.id, "approved", "approved")
    if row.uploaded_by == viewer.name and viewer.role != "admin":
        raise Forbidden(None, "登録した本人以外の運用担当者が承認してください。")
    row.status, row.approved_by, row.approved_at = "approved", viewer.name, utcnow()
    return row


def get(script_id: str, version: int | None, *, session: Session, approved_only: bool = True) -> RpaScript:
    query = select(RpaScript).where(RpaScript.script_id == script_id)
    if approved_only:
        query = query.where(RpaScript.status == "approved")
    if version is not None:
        query = query.where(RpaScript.version == version)
    row = session.scalar(query.order_by(RpaScript.version.desc()))
    if row is None and approved_only and version is None:
        row = _install_sample(script_id, session=session)
    if row is None:
        what = "承認済みの入力スクリプト" if approved_only else "入力スクリプト"
        raise NotFound(f"{what}「{script_id}{'@' + str(version) if version else ''}」")
    return row


def list_scripts(*, session: Session) -> Sequence[RpaScript]:
    return session.scalars(select(RpaScript).order_by(RpaScript.script_id, RpaScript.version.desc())).all()


def _install_sample(script_id: str, *, session: Session) -> RpaScript | None:
    """The product's bundled sample script, approved by the system on first use."""
    path = SAMPLES / f"{script_id}.yaml"
    if not path.is_file():
        return None
    system = Viewer(user_id=None, name="system", department_code="", role="admin")
    row, _ = upload(script_id, path.read_text(encoding="utf-8"), session=session, viewer=system)
    return (
        approve(script_id, row.version, session=session, viewer=system) if row.status != "approved" else row
    )


def resolve_params(params: Mapping[str, Any], session: Session) -> dict[str, Any]:
    ref = params.get("script")
    if not isinstance(ref, str) or not ref.strip():
        raise JobInputError(
            "invalid_parameters", "入力スクリプトのID（script）を指定してください。", field="script"
        )
    name, _, version = ref.strip().partition("@")
    try:
        row = get(name, int(version) if version.isdigit() else None, session=session)
    except NotFound as exc:
        raise JobInputError("script_not_approved", exc.message, field="script") from None
    out = {k: v for k, v in params.items() if k not in ("script", "script_text", "script_sha256")}
    return {
        **out,
        "script_id": row.script_id,
        "script_version": row.version,
        "script_sha256": row.sha256,
        "script_text": row.text,
    }


def public_params(params: Mapping[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in params.items() if k != "script_text"}
    if "script_id" in params:
        shown["script"] = f"{params['script_id']}@{params.get('script_version')}"
    # Two scripts with near-identical names may target different systems:
    # the job says which one (its name and address), never the credential.
    described = _describe(str(params.get("script_text") or ""))
    if described:
        shown["script_name"] = described[0]
        shown["target_system"] = {"name": described[1], "base_url": described[2]}
    return shown


@lru_cache(maxsize=64)
def _describe(text: str) -> tuple[str, str, str] | None:
    """Name, target name and address of a stored script (cached: job lists ask per row)."""
    try:
        script = parse_script(text)
    except (ScriptError, KeyError, TypeError, ValueError):
        return None
    return script.name, script.target.name, script.target.base_url


def counts(*, session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(RpaScript)) or 0)
