"""Content-addressed artifact storage.

Blobs live at ``<root>/blobs/<aa>/<bb>/<sha256>``. A blob is written to
``<root>/tmp`` while it streams in (hashing as it goes, never whole in memory),
fsynced, then renamed into place, so a reader never sees a half-written blob
and an interrupted upload leaves only a temp file that ``sweep_tmp`` removes.

Workers on other machines read the same ``<root>`` through a shared mount
(NFS, CIFS); rename is atomic on those within one directory tree.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from jobs.errors import DISK_FULL_ERRNOS, StorageError, UploadRejected, UploadTooLarge

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path
    head: bytes  # first bytes, for media-type sniffing


def private_dirs(folder: Path) -> None:
    """Create ``folder`` and missing parents as 0700 (owner only)."""
    if folder.is_dir():
        return
    private_dirs(folder.parent)
    folder.mkdir(mode=0o700, exist_ok=True)


class BlobWriter:
    """Streams one blob into the store; ``commit`` makes it visible."""

    def __init__(self, store: ArtifactStore, max_bytes: int, name: str = "") -> None:
        self._store = store
        self._max = max_bytes
        self._name = name
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = b""
        self._tmp = store.tmp_dir / f"{uuid.uuid4().hex}.part"
        self._file: BinaryIO | None = None
        with self._guard():
            # Owner-only whatever the process's umask: stored files hold
            # recordings, scans and records of people.
            fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._file = os.fdopen(fd, "wb")

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a disk error into a StorageError the user can read."""
        try:
            yield
        except OSError as exc:
            self.abort()
            if exc.errno in DISK_FULL_ERRNOS:
                raise StorageError(
                    "storage_full",
                    "保存領域の空きが足りないため、ファイルを保存できませんでした。",
                    name=self._name,
                ) from exc
            raise StorageError(None, "ファイルを保存できませんでした。", name=self._name) from exc

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._size += len(chunk)
        if self._size > self._max:
            self.abort()
            raise UploadTooLarge(
                None,
                f"ファイル「{self._name}」が大きすぎます（上限 {size_label(self._max)}）。",
                name=self._name,
                limit=self._max,
            )
        if len(self._head) < 64:
            self._head += chunk[: 64 - len(self._head)]
        self._hash.update(chunk)
        assert self._file is not None
        with self._guard():
            self._file.write(chunk)

    def commit(self) -> StoredBlob:
        assert self._file is not None
        file = self._file
        with self._guard():
            file.flush()
            os.fsync(file.fileno())
        file.close()
        self._file = None
        digest = self._hash.hexdigest()
        final = self._store.path_for(digest)
        if final.exists():
            # Same content already stored: keep the existing blob, and mark it
            # used now, so the orphan sweep's grace period starts again.
            self._tmp.unlink(missing_ok=True)
            os.utime(final)
        else:
            with self._guard():
                private_dirs(final.parent)
                os.replace(self._tmp, final)
        return StoredBlob(digest, self._size, final, self._head)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / "blobs"
        self.tmp_dir = root / "tmp"
        self.work_dir = root / "work"

    def ensure(self) -> None:
        for folder in (self.blob_dir, self.tmp_dir, self.work_dir):
            private_dirs(folder)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.blob_dir / sha256[:2] / sha256[2:4] / sha256

    def writer(self, max_bytes: int, name: str = "") -> BlobWriter:
        self.ensure()
        return BlobWriter(self, max_bytes, name)

    def put_chunks(self, chunks: Iterable[bytes], max_bytes: int, name: str = "") -> StoredBlob:
        writer = self.writer(max_bytes, name)
        try:
            for chunk in chunks:
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.commit()

    def put_file(self, path: Path, max_bytes: int | None = None) -> StoredBlob:
        with open(path, "rb") as handle:
            return self.put_chunks(iter(lambda: handle.read(CHUNK), b""), max_bytes or 1 << 62, path.name)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def blobs(self) -> Iterator[tuple[str, Path, float]]:
        """Every stored blob: (sha256, path, modification time)."""
        for path in self.blob_dir.glob("??/??/*"):
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue  # deleted while we looked
            if len(path.name) == 64:
                yield path.name, path, mtime

    def job_work_dir(self, job_id: str) -> Path:
        folder = self.work_dir / job_id
        private_dirs(folder)
        return folder

    def sweep_tmp(self, older_than_s: float = 3600.0) -> int:
        """Remove temp files left by interrupted uploads."""
        removed = 0
        cutoff = time.time() - older_than_s
        for item in self.tmp_dir.glob("*.part"):
            if item.stat().st_mtime < cutoff:
                item.unlink(missing_ok=True)
                removed += 1
        return removed


def size_label(size: int) -> str:
    """A byte count as people read it (2 GB, 976.6 KB); the form's help and
    the refusal both use it, so a limit reads the same in both places."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    return f"{value:,.0f} {unit}" if value == int(value) else f"{value:,.1f} {unit}"


# --- media types -----------------------------------------------------------

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"fLaC", 0, "audio/flac"),
    (b"OggS", 0, "audio/ogg"),
    (b"\x1a\x45\xdf\xa3", 0, "audio/webm"),
    (b"ID3", 0, "audio/mpeg"),
    (b"PK\x03\x04", 0, "application/zip"),
)

_ZIP_BY_EXT = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

_TEXT_BY_EXT = {
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".json": "application/json",
}


def sniff_media_type(head: bytes, filename: str) -> str:
    """Media type from the content's first bytes; the name only breaks ties
    between formats that share a container (zip, text)."""
    ext = Path(filename).suffix.lower()
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/mp4" if ext == ".mp4" else "audio/mp4"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[:3] != b"\xff\xd8\xff":
        return "audio/mpeg"
    for magic, offset, media in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if media == "application/zip":
                return _ZIP_BY_EXT.get(ext, media)
            return media
    if head and _looks_textual(head):
        return _TEXT_BY_EXT.get(ext, "text/plain")
    return "application/octet-stream"


def _looks_textual(head: bytes) -> bool:
    """UTF-8, or Shift_JIS (cp932) as Excel in Japan saves CSV; a multi-byte
    character cut at the end of the sample is still text."""
    if b"\x00" in head:
        return False
    for codec in ("utf-8", "cp932"):
        try:
            head.decode(codec)
            return True
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:
                return True
    return False


# Formats in the words a person uses (the portal's form lists them too).
FORMAT_NAMES_JA = {
    "audio/wav": "WAV",
    "audio/mpeg": "MP3",
    "audio/mp4": "M4A",
    "audio/flac": "FLAC",
    "audio/ogg": "OGG",
    "audio/webm": "WebM",
    "video/mp4": "MP4（動画の音声）",
    "video/webm": "WebM（動画の音声）",
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/tiff": "TIFF",
    "text/plain": "テキスト",
    "text/csv": "CSV",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel（XLSX）",
}


def format_list(accepted: frozenset[str]) -> str:
    """「WAV、MP3、…」 in the order above; a type without a name by its subtype."""
    known = [FORMAT_NAMES_JA[t] for t in FORMAT_NAMES_JA if t in accepted]
    other = [t.split("/")[-1].upper() for t in sorted(accepted) if t not in FORMAT_NAMES_JA]
    return "、".join(dict.fromkeys([*known, *other]))


def check_media_type(media_type: str, accepted: frozenset[str], name: str) -> None:
    if media_type not in accepted:
        found = FORMAT_NAMES_JA.get(media_type)
        what = f"{found}のファイル" if found else "このジョブでは扱えない種類のファイル"
        raise UploadRejected(
            "unsupported_media_type",
            f"ファイル「{name}」は{what}です。受け付ける形式: {format_list(accepted)}。",
            name=name,
            media_type=media_type,
        )


def safe_name(name: str, limit: int = 180) -> str:
    """A file name safe to show and to use as an artifact name: no folders,
    no control characters, NFKC-normalised, at most ``limit`` bytes of UTF-8
    (keeping the extension). Bytes, not characters: file systems allow 255
    bytes per name, a Japanese character takes three, and cores derive
    names from inputs (``<stem>.upper.txt``, a link under the input's name)."""
    import unicodedata

    name = unicodedata.normalize("NFKC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*').strip(" .")
    if not name:
        raise UploadRejected("invalid_filename", "ファイル名が正しくありません。", name="")
    if len(name.encode("utf-8")) > limit:
        suffix = Path(name).suffix[:16]
        stem = name[: len(name) - len(suffix)]
        budget = limit - len(suffix.encode("utf-8"))
        stem = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
        name = stem + suffix
    return name
