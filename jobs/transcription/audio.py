"""Probe and decode audio with PyAV into 16 kHz mono float32.

Decoding is range-based (``decode_range``) and streaming (``iter_windows``) so
a long recording never sits in memory whole: callers hold at most one chunk.
Every failure a user can fix (wrong file, empty, cut off, too long or big)
becomes a ``JobInputError`` whose Japanese message names the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from jobs.errors import JobInputError

SAMPLE_RATE = 16_000
AudioArray = npt.NDArray[np.float32]

# Seeking lands on a packet boundary before the target; start this much
# earlier so the first wanted sample is never skipped.
_SEEK_MARGIN_S = 1.0


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    duration_s: float
    size_bytes: int
    codec: str
    container: str


def _label(path: Path) -> str:
    return f"「{path.name}」"


def _unreadable(path: Path, why: str, **details: Any) -> JobInputError:
    return JobInputError(
        "audio_unreadable",
        f"音声ファイル{_label(path)}を読み取れません（{why}）。ファイルが壊れていないか確認してください。",
        file=path.name,
        **details,
    )


def _open(path: Path) -> Any:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise _unreadable(path, "音声・動画の形式として認識できません", reason=str(exc)) from None


def _audio_stream(container: Any, path: Path) -> Any:
    if not container.streams.audio:
        raise JobInputError(
            "audio_no_stream",
            f"ファイル{_label(path)}に音声が含まれていません。音声ファイル（wav、mp3、m4a など）を指定してください。",
            file=path.name,
        )
    return container.streams.audio[0]


def _stream_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return None


def header_seconds(path: Path) -> float:
    """The duration a file's header states (0 when it states none or the
    file does not open): cheap enough for intake, which never decodes."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                return 0.0
            return _stream_duration(container, container.streams.audio[0]) or 0.0
    except (av.FFmpegError, OSError):
        return 0.0


def probe_audio(path: Path, *, max_seconds: float | None = None, max_bytes: int | None = None) -> AudioInfo:
    """Check that ``path`` is audio within the limits; raise ``JobInputError`` if not.

    When the container does not state a duration the file is decoded once to
    measure it (still streaming, so memory stays small).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise _unreadable(path, "ファイルが見つかりません") from None
    if size == 0:
        raise JobInputError("audio_empty", f"音声ファイル{_label(path)}が空です（0バイト）。", file=path.name)
    if max_bytes is not None and size > max_bytes:
        raise JobInputError(
            "audio_too_large",
            f"音声ファイル{_label(path)}が大きすぎます（{size / 2**20:.0f}MB、上限 {max_bytes / 2**20:.0f}MB）。",
            file=path.name,
            size=size,
            limit=max_bytes,
        )
    with _open(path) as container:
        stream = _audio_stream(container, path)
        duration = _stream_duration(container, stream)
        codec, fmt = stream.codec_context.name, container.format.name
    if duration is None:
        duration = sum(len(w) for _, w in iter_windows(path, 60.0)) / SAMPLE_RATE
    declared = _wav_declared_seconds(path) if fmt == "wav" else None
    if declared is not None and declared > duration + 1.0:
        # FFmpeg measures a WAV by its file size, so a cut-off upload looks
        # whole; the header still says how long it should be.
        raise _unreadable(
            path,
            f"ファイルが途中で途切れています（{duration:.0f}秒まで、本来は約{declared:.0f}秒）",
            decoded_s=duration,
            expected_s=declared,
        )
    if duration <= 0:
        raise JobInputError(
            "audio_empty", f"音声ファイル{_label(path)}に音声がありません（長さ0秒）。", file=path.name
        )
    if max_seconds is not None and duration > max_seconds:
        raise JobInputError(
            "audio_too_long",
            f"音声ファイル{_label(path)}が長すぎます（{duration / 60:.0f}分、上限 {max_seconds / 60:.0f}分）。"
            "分割してから登録してください。",
            file=path.name,
            duration=duration,
            limit=max_seconds,
        )
    return AudioInfo(path=path, duration_s=duration, size_bytes=size, codec=codec, container=fmt)


def _wav_declared_seconds(path: Path) -> float | None:
    """Duration the RIFF header promises (data chunk size / byte rate)."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"fmt ":
            byte_rate = int.from_bytes(head[pos + 16 : pos + 20], "little")
        elif chunk == b"data":
            # 0 and 0xFFFFFFFF mean "unknown" (streamed recordings).
            return size / byte_rate if byte_rate and 0 < size < 0xFFFFFFFF else None
        pos += 8 + size + (size & 1)
    return None


def _mono(frame: Any) -> AudioArray:
    samples: AudioArray = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
    return samples


def _resampled_frames(container: Any, stream: Any, path: Path) -> Iterator[tuple[float | None, AudioArray]]:
    """Yield (time of the source frame or None, 16 kHz mono samples)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    try:
        for frame in container.decode(stream):
            start = float(frame.time) if frame.time is not None else None
            for out in resampler.resample(frame):
                yield start, _mono(out)
                start = None
        for out in resampler.resample(None):
            yield None, _mono(out)
    except av.FFmpegError as exc:
        raise _unreadable(path, "音声データの途中で読み取りエラーが発生しました", reason=str(exc)) from None


def _seek(container: Any, stream: Any, start_s: float) -> bool:
    """Seek to a little before ``start_s``; False when the container cannot seek."""
    target = start_s - _SEEK_MARGIN_S
    if target <= 0:
        return False
    try:
        container.seek(int(target * av.time_base), any_frame=False, backward=True)
    except av.FFmpegError:
        return False
    return True


def decode_range(
    path: Path, start_s: float = 0.0, end_s: float | None = None, *, expected_s: float | None = None
) -> AudioArray:
    """Decode ``[start_s, end_s)`` of ``path`` as 16 kHz mono float32.

    Only that range is kept in memory. ``expected_s`` (the probed duration)
    lets a read that reaches the end notice a file that was cut off: the
    container promised more audio than the stream holds.
    """
    path = Path(path)
    want_start = max(0, round(start_s * SAMPLE_RATE))
    want_end = math.inf if end_s is None else round(end_s * SAMPLE_RATE)
    pieces: list[AudioArray] = []
    position: int | None = None
    with _open(path) as container:
        stream = _audio_stream(container, path)
        position = None if _seek(container, stream, start_s) else 0
        for frame_time, samples in _resampled_frames(container, stream, path):
            if position is None:
                # After a seek the first frame's timestamp says where we are.
                position = round((frame_time or 0.0) * SAMPLE_RATE)
            lo, hi = max(want_start - position, 0), min(want_end - position, len(samples))
            if hi > lo:
                pieces.append(samples[lo:hi])
            position += len(samples)
            if position >= want_end:
                break
    _check_not_truncated(path, position or 0, want_end, expected_s)
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def _check_not_truncated(path: Path, reached: int, want_end: float, expected_s: float | None) -> None:
    if expected_s is None or reached >= want_end:
        return
    expected = min(want_end, expected_s * SAMPLE_RATE)
    tolerance = max(1.0 * SAMPLE_RATE, 0.05 * expected)
    if reached + tolerance < expected:
        raise _unreadable(
            path,
            f"ファイルが途中で途切れています（{reached / SAMPLE_RATE:.0f}秒まで、本来は約{expected_s:.0f}秒）",
            decoded_s=reached / SAMPLE_RATE,
            expected_s=expected_s,
        )


def iter_windows(path: Path, window_s: float) -> Iterator[tuple[float, AudioArray]]:
    """Stream the whole file as consecutive (offset seconds, samples) windows.

    One pass, one window in memory: this is how long recordings are scanned
    for silences without decoding them whole.
    """
    path = Path(path)
    size = max(1, round(window_s * SAMPLE_RATE))
    buffer: list[AudioArray] = []
    buffered = 0
    emitted = 0
    with _open(path) as container:
        stream = _audio_stream(container, path)
        for _, samples in _resampled_frames(container, stream, path):
            buffer.append(samples)
            buffered += len(samples)
            while buffered >= size:
                joined = np.concatenate(buffer)
                yield emitted / SAMPLE_RATE, joined[:size]
                emitted += size
                buffer, buffered = [joined[size:]], buffered - size
    if buffered:
        yield emitted / SAMPLE_RATE, np.concatenate(buffer)
