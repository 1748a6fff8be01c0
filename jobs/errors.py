"""One exception tree for the domain, each with a short code and a Japanese
message a department user can act on.

``code`` is stable (the UI and tests key on it); ``message`` is shown to people.
Structured fields (job id, field name, record number…) go in ``details``.
"""

from __future__ import annotations

import errno
from typing import Any


class DigilaboError(Exception):
    """Base of every error this service raises on purpose."""

    code: str = "error"
    http_status: int = 400

    def __init__(self, code: str | None = None, message: str = "", **details: Any) -> None:
        if code:
            self.code = code
        self.message = message or "処理中にエラーが発生しました。"
        self.details = details
        super().__init__(f"{self.code}: {self.message}")


class JobInputError(DigilaboError):
    """The job's input is wrong; the job fails (or the upload is refused) and
    retrying the same input will not help."""

    code = "invalid_input"
    http_status = 422


class TransientError(DigilaboError):
    """Something outside the job failed for now (a target system's 5xx, a
    network blip). The task is retried with backoff, up to a maximum."""

    code = "transient"
    http_status = 503


class UnknownJobKind(DigilaboError):
    code = "unknown_kind"
    http_status = 422

    def __init__(self, kind: str, known: list[str]) -> None:
        shown = "、".join(known) if known else "（なし）"
        super().__init__(
            None,
            f"ジョブの種類「{kind}」はありません。利用できる種類: {shown}",
            kind=kind,
            known=known,
        )


class InvalidTransition(DigilaboError):
    code = "invalid_transition"
    http_status = 409

    def __init__(self, job_id: str, current: str, target: str) -> None:
        super().__init__(
            None,
            f"このジョブは現在「{STATE_LABELS_JA.get(current, current)}」のため、"
            f"「{STATE_LABELS_JA.get(target, target)}」にできません。",
            job_id=job_id,
            current=current,
            target=target,
        )


class NotFound(DigilaboError):
    code = "not_found"
    http_status = 404

    def __init__(self, what: str = "ジョブ") -> None:
        super().__init__(None, f"{what}が見つかりません。")


class Purged(DigilaboError):
    """The file existed but its retention period ended."""

    code = "artifact_purged"
    http_status = 410

    def __init__(self, name: str) -> None:
        super().__init__(None, f"ファイル「{name}」は保存期間を過ぎたため削除されました。", name=name)


class Forbidden(DigilaboError):
    code = "forbidden"
    http_status = 403


class UploadRejected(DigilaboError):
    """An upload broke a size or media-type rule; nothing was stored."""

    code = "upload_rejected"
    http_status = 422


class UploadTooLarge(UploadRejected):
    code = "file_too_large"
    http_status = 413


class StorageError(DigilaboError):
    """The artifact store could not write (disk full, permissions)."""

    code = "storage_error"
    http_status = 507


# What a write fails with when the disk (or the service user's quota) is full.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


STATE_LABELS_JA: dict[str, str] = {
    "queued": "待機中",
    "running": "処理中",
    "succeeded": "完了",
    "failed": "失敗",
    "needs_review": "確認待ち",
    "cancelled": "取消",
}


class JobCancelled(DigilaboError):
    """Raised into a running core when someone cancelled its job."""

    code = "cancelled"
    http_status = 409
