"""File responses shared by the API and the portal: a job's stored files,
an export as an attachment."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from composition.runtime import Runtime
from jobs.store import Viewer
from services import jobs as service


def send_file(
    job_id: str, name: str, role: str, runtime: Runtime, session: Session, viewer: Viewer
) -> FileResponse:
    """An input or output as a download (the portal sends files this way too)."""
    path, artifact = service.download(job_id, name, role, runtime, session, viewer)
    return FileResponse(path, media_type=artifact.media_type, filename=artifact.name)


def attachment(body: bytes, media_type: str, filename: str) -> Response:
    # filename* carries the Japanese name; plain filename is an ASCII fallback.
    ascii_name = "savings" + filename.removeprefix("削減時間")
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
        },
    )
