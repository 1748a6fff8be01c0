"""Wire schemas, kept apart from the ORM models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorPublic(BaseModel):
    error: ErrorBody


class ArtifactPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    role: str
    size: int
    media_type: str
    sha256: str
    url: str | None = None


class JobPublic(BaseModel):
    id: str
    kind: str
    kind_label: str
    queue: str
    department: str
    state: str
    urgent: bool = False
    state_label: str
    progress: float
    progress_message: str
    parameters: dict[str, Any]
    error_code: str | None
    error_message: str | None
    attempts: int
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: dict[str, Any]
    saved_seconds: float | None = None
    # 「確認後に入力」: an entry job names the OCR job it types; an OCR job sent
    # with it names its entry script, its entry job once made (else a note
    # why not yet / not at all), and the pair's saving once both succeeded.
    source_job_id: str | None = None
    entry_script: str | None = None
    entry_job_id: str | None = None
    entry_note: str | None = None
    pair_saved_seconds: float | None = None
    inputs: list[ArtifactPublic] = []
    outputs: list[ArtifactPublic] = []


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int


class JobAccepted(BaseModel):
    id: str
    state: str
    url: str


class KindPublic(BaseModel):
    name: str
    label: str
    queue: str
    service: str
    unit_name: str
    unit_label: str
    accepted_media_types: list[str]
    max_files: int


class SavingsPublic(BaseModel):
    group_by: list[str]
    fiscal_year: int | None
    fiscal_year_label: str | None
    rows: list[dict[str, Any]]
    total_seconds: float
    total_hours: float
    target_hours: float
    target_progress: float | None


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_name: str
    department_code: str | None
    action: str
    job_id: str | None
    detail: dict[str, Any]


class DepartmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    baseline_overrides: dict[str, float]
    speaker_labels_default: bool


class DepartmentUpdate(BaseModel):
    name: str = Field(default="", max_length=200)
    baseline_overrides: dict[str, Annotated[float, Field(gt=0, le=86_400)]] = {}
    # Transcriptions label speakers when the request does not say (None: keep).
    speaker_labels_default: bool | None = None


class TokenPublic(BaseModel):
    """A token's metadata; the token itself is shown only when created."""

    id: str
    user_name: str
    department_code: str
    role: str
    label: str
    status: str  # active | expired | revoked
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreate(BaseModel):
    user_name: Annotated[str, Field(min_length=1, max_length=100)]
    department_code: Annotated[str, Field(min_length=1, max_length=32)]
    role: Annotated[str, Field(pattern="^(department|operator|admin)$")] = "department"
    label: Annotated[str, Field(max_length=100)] = ""
    expires_in: Annotated[str | None, Field(description="lifetime: 90d, 12h, 30m or 2w")] = None


class TokenCreated(TokenPublic):
    token: str
