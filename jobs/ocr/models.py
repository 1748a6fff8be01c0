"""Stored template versions (migration 0004)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jobs.models import Base, new_id, utcnow


class OcrTemplate(Base):
    """One version of a template: frozen once stored (a job keeps the version it used)."""

    __tablename__ = "ocr_templates"
    __table_args__ = (UniqueConstraint("template_id", "version", name="uq_ocr_template_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    template_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))
    fields: Mapped[int] = mapped_column(Integer)
    seconds_per_form: Mapped[float] = mapped_column()
    # Template.to_dict(): definition + reference page PNGs (base64).
    stored: Mapped[dict[str, Any]] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
