"""File responses shared by the API and the portal: a job's stored files,
an export as an attachment."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import quote

from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from composition.runtime import Runtime
from jobs.store import Viewer
from services import jobs as service
from services.downloads import download_name


def send_file(
    job_id: str, name: str, role: str, runtime: Runtime, session: Session, viewer: Viewer
) -> FileResponse:
    """An input or output as a download (the portal sends files this way too)."""
    path, artifact = service.download(job_id, name, role, runtime, session, viewer)
    if role != "output":
        return FileResponse(path, media_type=artifact.media_type, filename=artifact.name)
    shown = download_name(job_id, name, session=session, viewer=viewer, tz=runtime.settings.timezone)
    fallback = re.sub(r'[^\x20-\x7e]|["\\]', "_", PurePosixPath(artifact.name).name)
    return FileResponse(
        path,
        media_type=artifact.media_type,
        headers={"Content-Disposition": disposition(shown, fallback)},
    )


def disposition(filename: str, fallback: str) -> str:
    """RFC 6266 with RFC 5987's ``filename*`` for the Japanese name; the plain
    ``filename`` is the ASCII name old clients save under."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def attachment(body: bytes, media_type: str, filename: str) -> Response:
    # filename* carries the Japanese name; plain filename is an ASCII fallback.
    ascii_name = "savings" + filename.removeprefix("削減時間")
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": disposition(filename, ascii_name)}
    )
