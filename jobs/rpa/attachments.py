"""Files attached to vouchers (``upload`` steps): a ZIP that comes with the
job beside the records, its files named in a column of the records.

Nothing from the ZIP is ever written to disk: a file is read from the archive
into memory when its step runs and handed to the browser as a payload, so a
member's path (``../../etc/passwd``, an absolute path, a link) has no place
to go. A record names a file by its bare name (no folder); the name must be
in the archive exactly once, or the row is refused before anything is typed.
"""

from __future__ import annotations

import contextlib
import mimetypes
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.errors import JobInputError

MAX_FILES = 2000
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_TOTAL_BYTES = 500 * 1024 * 1024
ZIP_SUFFIX = ".zip"


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as the person who zipped it saw it: Windows'
    Explorer stores Japanese names in Shift_JIS without the UTF-8 flag, which
    Python then reads as cp437."""
    name = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("cp932")
    return unicodedata.normalize("NFC", name.replace("\\", "/"))


def _is_file(info: zipfile.ZipInfo) -> bool:
    # Unix zips keep the file type in the high bits (a symlink is not a file);
    # Windows ones and Python's writestr() keep none, or permissions only.
    kind = stat.S_IFMT(info.external_attr >> 16)
    return not info.is_dir() and kind in (0, stat.S_IFREG)


def bare_name(value: str) -> str | None:
    """The file name a cell gives, or None when it is not a bare name."""
    name = unicodedata.normalize("NFC", value.strip())
    if not name or name in (".", "..") or any(c in name for c in "/\\\x00") or ":" in name:
        return None
    return name


@dataclass(frozen=True)
class Attachments:
    path: Path
    # Bare name → member (as stored in the archive); names found twice map to None.
    members: dict[str, zipfile.ZipInfo | None]

    @classmethod
    def open(cls, path: Path) -> Attachments:
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, OSError):
            raise JobInputError("invalid_attachments", "添付ファイルのZIPを読めません。") from None
        files = [i for i in infos if _is_file(i)]
        if len(files) > MAX_FILES:
            raise JobInputError("invalid_attachments", f"添付ファイルは{MAX_FILES}個までにしてください。")
        if sum(i.file_size for i in files) > MAX_TOTAL_BYTES:
            raise JobInputError("invalid_attachments", "添付ファイルのZIPが大きすぎます（展開後500MBまで）。")
        members: dict[str, zipfile.ZipInfo | None] = {}
        for info in files:
            name = _member_name(info).rsplit("/", 1)[-1]
            if not name or name.startswith(".") or _member_name(info).startswith("__MACOSX/"):
                continue  # macOS' resource forks and hidden files
            members[name] = None if name in members else info
        return cls(path, members)

    def problem(self, value: str) -> str | None:
        """Why the file a cell names cannot be attached (Japanese), or None."""
        name = bare_name(value)
        if name is None:
            return f"添付ファイル名「{value}」はフォルダを含まないファイル名にしてください"
        if name not in self.members:
            return f"添付ファイル「{name}」がZIPにありません"
        info = self.members[name]
        if info is None:
            return f"添付ファイル「{name}」がZIPの中に複数あります"
        if info.file_size > MAX_FILE_BYTES:
            return f"添付ファイル「{name}」が大きすぎます（20MBまで）"
        return None

    def payload(self, value: str) -> dict[str, Any]:
        """The file for the browser (name, type, bytes); checked before typing."""
        name = bare_name(value)
        info = self.members.get(name or "")
        if name is None or info is None:
            raise ValueError(f"添付ファイル「{value}」がありません。")
        with zipfile.ZipFile(self.path) as archive, archive.open(info) as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # the declared size may lie
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"添付ファイル「{name}」が大きすぎます（20MBまで）。")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return {"name": name, "mimeType": kind, "buffer": data}


def is_attachments(name: str, media_type: str = "") -> bool:
    """Whether a job input is the attachment ZIP (the records are CSV or XLSX)."""
    return name.lower().endswith(ZIP_SUFFIX) or media_type in (
        "application/zip",
        "application/x-zip-compressed",
    )


def missing_problem(value: str) -> str:
    return f"添付ファイル「{value}」がありません（ジョブに添付ファイルのZIPが付いていません）"
