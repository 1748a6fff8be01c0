"""Japanese speech with known text, synthesised offline by pyopenjtalk-plus,
written as audio files with PyAV. Also used once to make the bundled demo
recording (``python -m tests.support.speech``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

# Sentences a municipal meeting might contain, with digits where Whisper
# writes digits (the error rate compares characters).
SENTENCES = (
    "ただいまから令和7年度第3回防災対策検討会議を開催します。",
    "はじめに危機管理室から補正予算の概要について説明します。",
    "小倉北区の避難所に非常用発電機を整備する費用を計上しました。",
    "続いて市民への周知方法について意見をいただきたいと思います。",
)


def synthesise(sentences: Sequence[str], pause_s: float = 1.2, rate: int = 16_000) -> np.ndarray:
    """Mono int16 at ``rate`` Hz: each sentence, then a pause."""
    import pyopenjtalk

    pieces = []
    for sentence in sentences:
        wave, source_rate = pyopenjtalk.tts(sentence)
        wave = np.asarray(wave, dtype=np.float64)
        # Plain linear resampling is enough for test speech.
        positions = np.arange(0, len(wave), source_rate / rate)
        pieces.append(np.interp(positions, np.arange(len(wave)), wave))
        pieces.append(np.zeros(int(pause_s * rate)))
    return np.clip(np.concatenate(pieces), -32768, 32767).astype(np.int16)


def write_audio(samples: np.ndarray, path: Path, rate: int = 16_000, codec: str | None = None) -> Path:
    """Encode with PyAV; the container follows the suffix (wav, mp3, m4a, flac, ogg)."""
    codecs = {".wav": "pcm_s16le", ".mp3": "libmp3lame", ".m4a": "aac", ".flac": "flac", ".ogg": "libopus"}
    codec = codec or codecs[path.suffix]
    out_rate = 48_000 if codec == "libopus" else rate
    with av.open(str(path), "w", format="ipod" if path.suffix == ".m4a" else None) as container:
        stream = container.add_stream(codec, rate=out_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=out_rate)
        for chunk in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(chunk):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


if __name__ == "__main__":
    target = (
        Path(__file__).resolve().parents[2] / "jobs" / "transcription" / "samples" / "sample_meeting.flac"
    )
    write_audio(synthesise(SENTENCES), target)
    print(target, target.stat().st_size)
