from __future__ import annotations

from pathlib import Path

import pytest

from jobs.artifacts import ArtifactStore, check_media_type, safe_name, sniff_media_type
from jobs.errors import UploadRejected, UploadTooLarge


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    store = ArtifactStore(tmp_path / "storage")
    store.ensure()
    return store


def test_blobs_are_content_addressed_and_deduplicated(artifacts: ArtifactStore) -> None:
    a = artifacts.put_chunks([b"hello ", b"world"], max_bytes=100)
    b = artifacts.put_chunks([b"hello world"], max_bytes=100)
    assert a.sha256 == b.sha256 == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    assert a.path.read_bytes() == b"hello world" and a.size == 11
    assert list(artifacts.tmp_dir.iterdir()) == []


def test_over_the_limit_is_refused_and_leaves_nothing(artifacts: ArtifactStore) -> None:
    with pytest.raises(UploadTooLarge) as caught:
        artifacts.put_chunks([b"x" * 60, b"x" * 60], max_bytes=100, name="big.wav")
    assert "big.wav" in caught.value.message
    assert list(artifacts.tmp_dir.iterdir()) == []
    assert not any(p.is_file() for p in artifacts.blob_dir.rglob("*"))


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "a.wav", "audio/wav"),
        (b"%PDF-1.7\n", "a.pdf", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "a.png", "image/png"),
        ("会議メモ".encode(), "a.txt", "text/plain"),
        (b"\x00\x01\x02\x03garbage", "a.txt", "application/octet-stream"),
    ],
)
def test_media_type_comes_from_the_bytes(head: bytes, name: str, expected: str) -> None:
    assert sniff_media_type(head, name) == expected


def test_wrong_media_type_is_refused_in_japanese() -> None:
    with pytest.raises(UploadRejected) as caught:
        check_media_type("image/png", frozenset({"text/plain"}), "a.png")
    assert caught.value.code == "unsupported_media_type" and "a.png" in caught.value.message
    assert "image/" not in caught.value.message and "PNG" in caught.value.message  # no MIME type shown


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("../../etc/passwd", "passwd"), ("ｶﾞｲﾀﾞﾝｽ.txt", "ガイダンス.txt"), ("a/b\\c.wav", "c.wav")],
)
def test_safe_name(raw: str, clean: str) -> None:
    assert safe_name(raw) == clean


def test_long_japanese_name_fits_a_file_system_name() -> None:
    name = safe_name("議事録" * 150 + ".txt")
    assert name.endswith(".txt") and name.startswith("議事録")
    assert len(name.encode("utf-8")) <= 180  # room for derived names within 255 bytes


def test_shift_jis_csv_is_text() -> None:
    head = "整理番号,金額,支払先\r\nA-1,1000,小倉印刷\r\n".encode("cp932")[:64]
    assert sniff_media_type(head, "支出.csv") == "text/csv"


def test_stored_files_are_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    import os

    previous = os.umask(0o022)
    try:
        store = ArtifactStore(tmp_path / "storage")
        blob = store.put_chunks([b"a recording of a meeting"], 1 << 20)
        work = store.job_work_dir("job-1")
    finally:
        os.umask(previous)
    assert blob.path.stat().st_mode & 0o777 == 0o600
    for folder in (
        store.root,
        store.blob_dir,
        blob.path.parent,
        blob.path.parent.parent,
        store.tmp_dir,
        work,
    ):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
