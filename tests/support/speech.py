"""Japanese speech with known text, synthesised offline by pyopenjtalk-plus,
written as audio files with PyAV. Also used once to make the bundled demo
recording (``python -m tests.support.speech``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Voice:
    """A synthetic speaker. pyopenjtalk-plus ships one voice (mei); others
    are made from it: ``half_tone`` moves the pitch, ``speed`` the pace,
    and ``formant`` plays the result faster or slower (> 1: a shorter vocal
    tract, higher pitch; < 1: a longer one), which changes the voice's
    timbre the way a different person's does."""

    half_tone: float = 0.0
    speed: float = 1.0
    formant: float = 1.0


# Four voices Resemblyzer's encoder tells apart: across voices no pair of
# sentences is more alike than 0.80 (cosine), within a voice none less than
# 0.90. A pitch change alone is not a new voice to it (0.94 to the original).
VOICES = (
    Voice(half_tone=-4.0, speed=0.8, formant=1.1),
    Voice(half_tone=-12.0, speed=1.2, formant=0.85),
    Voice(half_tone=6.0, speed=1.1, formant=0.9),
    Voice(half_tone=-9.0, speed=1.3, formant=0.7),
)

# A meeting of four people: (speaker number, what they say). Glossary terms
# (小倉北区, 危機管理室, 補正予算, 令和7年度) recur; bench/transcription.py
# measures the glossary on other sentences (its MORE).
MEETING = (
    (0, "ただいまから令和7年度第3回防災対策検討会議を開催します。"),
    (1, "危機管理室から補正予算の概要について説明します。"),
    (2, "小倉北区の避難所に非常用発電機を整備します。"),
    (0, "小倉北区の避難所は何か所ありますか。"),
    (3, "小倉北区には二十か所の指定避難所があります。"),
    (1, "補正予算の総額は三億円です。"),
    (2, "危機管理室と連携して周知を進めます。"),
    (3, "以上で令和7年度の報告を終わります。"),
)


def meeting(
    lines: Sequence[tuple[int, str]],
    voices: Sequence[Voice] = VOICES,
    pause_s: float = 1.0,
    rate: int = 16_000,
) -> tuple[np.ndarray, list[tuple[float, float, int]]]:
    """Mono int16 speech of ``lines``, each in its speaker's voice, and the
    reference turns ``(start s, end s, speaker)`` of voiced speech."""
    pieces: list[np.ndarray] = []
    turns: list[tuple[float, float, int]] = []
    at = 0
    for speaker, sentence in lines:
        wave = say(sentence, voices[speaker], rate)
        # The turn is the voiced part of the clip (as bench/speakers.py
        # takes it): the TTS pads each sentence with up to 0.5 s of
        # silence, which a labelled segment trimmed to speech rightly leaves
        # out. The audio keeps the padding.
        voiced = np.flatnonzero(np.abs(wave) > 30)
        turns.append(((at + voiced[0]) / rate, (at + voiced[-1] + 1) / rate, speaker))
        pieces += [wave, np.zeros(int(pause_s * rate))]
        at += len(wave) + int(pause_s * rate)
    return np.clip(np.concatenate(pieces), -32768, 32767).astype(np.int16), turns


def attribution(
    turns: Sequence[tuple[float, float, int]], segments: Sequence[tuple[float, float, str]]
) -> float:
    """Share of reference speech time whose output segment carries the label
    that the best one-to-one mapping of labels to speakers gives that
    speaker (time outside every output segment counts as wrong)."""
    from scipy.optimize import linear_sum_assignment

    labels = sorted({label for _, _, label in segments})
    speakers = sorted({s for _, _, s in turns})
    overlap = np.zeros((len(speakers), max(1, len(labels))))
    for t0, t1, speaker in turns:
        for s0, s1, label in segments:
            overlap[speakers.index(speaker), labels.index(label)] += max(0.0, min(t1, s1) - max(t0, s0))
    rows, cols = linear_sum_assignment(-overlap)
    total = sum(t1 - t0 for t0, t1, _ in turns)
    return float(overlap[rows, cols].sum() / total)


def say(sentence: str, voice: Voice = Voice(), rate: int = 16_000) -> np.ndarray:
    """One sentence as float samples (int16 scale) at ``rate`` Hz."""
    import pyopenjtalk

    wave, source_rate = pyopenjtalk.tts(sentence, speed=voice.speed, half_tone=voice.half_tone)
    wave = np.asarray(wave, dtype=np.float64)
    # Plain linear resampling is enough for test speech.
    positions = np.arange(0, len(wave), source_rate * voice.formant / rate)
    return np.interp(positions, np.arange(len(wave)), wave)


def synthesise(
    sentences: Sequence[str],
    pause_s: float = 1.2,
    rate: int = 16_000,
    voices: Sequence[Voice] | None = None,
) -> np.ndarray:
    """Mono int16 at ``rate`` Hz: each sentence, then a pause; sentence i in
    ``voices[i]`` when given (one voice throughout otherwise)."""
    pieces = []
    for i, sentence in enumerate(sentences):
        pieces.append(say(sentence, voices[i] if voices else Voice(), rate))
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
