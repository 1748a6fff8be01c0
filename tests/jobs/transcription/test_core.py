"""The transcription core with the real embedded Whisper base model on
synthesised Japanese speech."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from docx import Document

from jobs.errors import JobInputError
from jobs.registry import JobContext
from jobs.transcription import model as whisper
from jobs.transcription.audio import decode_range, probe_audio
from jobs.transcription.japanese import character_error_rate
from jobs.transcription.kind import KIND, validate_params
from tests.jobs.transcription.conftest import REFERENCE
from tests.support.speech import write_audio

CER_BOUND = 0.25  # the base model scores about 0.12-0.20 on this speech


def transcript(ctx: JobContext) -> dict:
    return json.loads((ctx.work_dir / "transcript.json").read_text(encoding="utf-8"))


def test_transcribes_japanese_within_cer_bound(speech_wav: Path, make_ctx: Callable[..., JobContext]) -> None:
    ctx = make_ctx(
        speech_wav,
        {
            "meeting_name": "防災対策検討会議",
            "meeting_date": "2025-04-15",
            "place": "第1会議室",
            "attendees": "危機管理室長、総務課長",
        },
    )
    outcome = KIND.run(ctx)
    data = transcript(ctx)
    cer = character_error_rate(REFERENCE, data["text"])
    assert cer <= CER_BOUND, (cer, data["text"])
    for word in ("防災対策検討会議", "危機管理室", "補正予算", "避難所"):
        assert word in data["text"], word
    assert outcome.units == pytest.approx(data["duration"] / 60, rel=1e-3)
    assert 20 < data["duration"] < 40
    assert {o.name for o in outcome.outputs} == {
        "transcript.txt",
        "transcript.srt",
        "transcript.vtt",
        "transcript.json",
        "minutes.docx",
    }
    starts = [s["start"] for s in data["segments"]]
    assert starts == sorted(starts) and all(s["end"] > s["start"] for s in data["segments"])
    assert {"avg_logprob", "no_speech_prob"} <= set(data["segments"][0])
    assert data["text"].endswith("。")

    srt = (ctx.work_dir / "transcript.srt").read_text(encoding="utf-8")
    blocks = [b for b in srt.strip().split("\n\n") if b]
    assert len(blocks) == len(data["segments"])
    assert re.fullmatch(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n.+", blocks[0])
    vtt = (ctx.work_dir / "transcript.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n\n") and re.search(r"\d\d:\d\d:\d\d\.\d{3} --> ", vtt)

    doc = Document(str(ctx.work_dir / "minutes.docx"))
    cells = [c.text for row in doc.tables[0].rows for c in row.cells]
    assert cells[:2] == ["会議名", "防災対策検討会議"]
    assert "令和7年4月15日 (2025年4月15日)" in cells
    assert "第1会議室" in cells and "危機管理室長、総務課長" in cells
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "危機管理室" in body and "[00:00:0" in body


def test_word_timestamps_on_request(speech_wav: Path, make_ctx: Callable[..., JobContext]) -> None:
    ctx = make_ctx(speech_wav, {"word_timestamps": True})
    KIND.run(ctx)
    words = [w for s in transcript(ctx)["segments"] for w in s["words"]]
    assert words and all(w["end"] >= w["start"] for w in words)


def test_split_parts_give_the_same_text(
    speech: np.ndarray, tmp_path: Path, make_ctx: Callable[..., JobContext]
) -> None:
    """A 78-second recording cut into 30-second parts at pauses matches one pass."""
    audio = write_audio(np.concatenate([speech, speech, speech]), tmp_path / "long.flac")
    whole = make_ctx(audio)
    KIND.run(whole)
    split = make_ctx(audio, transcription_part_seconds=30)
    parts = KIND.fanout.plan(split)
    assert len(parts) >= 2
    assert [p["start"] for p in parts[1:]] == [p["end"] for p in parts[:-1]]
    outcome = KIND.run(split)
    assert outcome.summary["parts"] == len(parts)
    a, b = transcript(whole), transcript(split)
    assert character_error_rate(a["text"], b["text"]) <= 0.08, (a["text"], b["text"])
    starts = [s["start"] for s in b["segments"]]
    assert starts == sorted(starts)
    assert b["segments"][-1]["end"] > 60


@pytest.mark.parametrize("suffix", [".mp3", ".m4a", ".ogg", ".flac"])
def test_compressed_formats_decode_like_wav(
    speech: np.ndarray, speech_wav: Path, tmp_path: Path, suffix: str
) -> None:
    encoded = write_audio(speech, tmp_path / f"meeting{suffix}")
    reference = probe_audio(speech_wav)
    info = probe_audio(encoded)
    assert info.duration_s == pytest.approx(reference.duration_s, abs=0.15)
    decoded = decode_range(encoded, 5.0, 10.0, expected_s=info.duration_s)
    assert len(decoded) == pytest.approx(5 * 16_000, abs=160)
    assert float(np.abs(decoded).max()) > 0.05  # speech, not silence


def test_bad_audio_fails_with_a_message_naming_the_problem(
    speech: np.ndarray, speech_wav: Path, tmp_path: Path
) -> None:
    text = tmp_path / "memo.wav"
    text.write_text("これは音声ではありません", encoding="utf-8")
    with pytest.raises(JobInputError) as caught:
        probe_audio(text)
    assert caught.value.code == "audio_unreadable" and "memo.wav" in caught.value.message

    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(JobInputError, match="空です"):
        probe_audio(empty)

    cut = tmp_path / "cut.wav"
    cut.write_bytes(speech_wav.read_bytes()[: speech_wav.stat().st_size // 2])
    with pytest.raises(JobInputError) as caught:
        probe_audio(cut)
    assert caught.value.code == "audio_unreadable" and "途切れ" in caught.value.message

    mp3 = write_audio(speech, tmp_path / "full.mp3")
    cut_mp3 = tmp_path / "cut.mp3"
    cut_mp3.write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 2])
    with pytest.raises(JobInputError) as caught:
        decode_range(cut_mp3, 0, None, expected_s=probe_audio(cut_mp3).duration_s)
    assert "途切れ" in caught.value.message

    with pytest.raises(JobInputError) as caught:
        probe_audio(speech_wav, max_seconds=10)
    assert caught.value.code == "audio_too_long" and "上限" in caught.value.message
    with pytest.raises(JobInputError) as caught:
        probe_audio(speech_wav, max_bytes=1000)
    assert caught.value.code == "audio_too_large"


def test_english_only_model_is_refused_for_japanese(model_cache: Path, tmp_path: Path) -> None:
    english = tmp_path / "whisper-base.en"
    shutil.copytree(model_cache, english)
    with pytest.raises(JobInputError) as caught:
        whisper.resolve_model_dir(english, tmp_path / "cache", "ja")
    assert caught.value.code == "model_english_only" and "英語専用" in caught.value.message
    with pytest.raises(JobInputError) as caught:
        whisper.resolve_model_dir(tmp_path / "missing", tmp_path / "cache", "ja")
    assert caught.value.code == "model_not_found"


def test_model_assembly_is_atomic_and_reused(model_cache: Path) -> None:
    assert (model_cache / "model.bin").stat().st_size == whisper.embedded_model_size()
    before = (model_cache / "model.bin").stat().st_mtime_ns
    assert whisper.ensure_embedded_model(model_cache) == model_cache
    assert (model_cache / "model.bin").stat().st_mtime_ns == before
    assert not list(model_cache.parent.glob(".*tmp-*"))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"language": "日本語"}, "language"),
        ({"meeting_date": "令和7年4月1日"}, "meeting_date"),
        ({"beam_size": 0}, "beam_size"),
        ({"attendees": [1, 2]}, "attendees"),
        ({"meeting_name": "x" * 201}, "meeting_name"),
    ],
)
def test_bad_parameters_name_the_field(params: dict, field: str) -> None:
    with pytest.raises(JobInputError) as caught:
        validate_params(params)
    assert caught.value.details["field"] == field


def test_parameters_are_normalised() -> None:
    clean = validate_params(
        {
            "meeting_name": "ﾎﾞｳｻｲ会議　第３回",
            "attendees": "室長，課長\n係長",
            "glossary": ["小倉北区", "小倉北区"],
        }
    )
    assert clean["meeting_name"] == "ボウサイ会議 第3回"
    assert clean["attendees"] == ["室長", "課長", "係長"]
    assert clean["glossary"] == ["小倉北区"]
