"""Who spoke when: segments labelled 話者1, 話者2 … by their voice prints.

Each part of a recording embeds its own segments (``diarize_part``, in the
part task); the merge clusters the embeddings of all parts together
(``label_segments``), so one person keeps one label across parts. The
clustering is average-linkage agglomerative on cosine distance: with no
speaker count given, clusters join while their voices are more alike than
``SAME_VOICE_DISTANCE``; with a count, they join down to that count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from jobs.transcription.audio import SAMPLE_RATE, decode_range
from jobs.transcription.segments import Segment

LABEL = "話者{}"
# Shortest speech worth a voice print; shorter segments take a neighbour's label.
MIN_EMBED_S = 0.8
# Average cosine distance below which two clusters are one voice. Voices of
# one person are within ~0.10 of each other here; different synthetic
# voices 0.20 or more (tests/jobs/transcription/test_speakers.py).
SAME_VOICE_DISTANCE = 0.17
MAX_SPEAKERS = 20
PAUSE_S = 0.3
_SENTENCE_END = re.compile(r"(?<=[。？！?!])")


def pauses(audio: np.ndarray, offset: float, min_s: float = PAUSE_S) -> np.ndarray:
    """Centres (absolute seconds) of the quiet stretches of ``min_s`` or more:
    100 ms frames 30 dB or more below the loud end of the recording."""
    frame = SAMPLE_RATE // 10
    usable = len(audio) - len(audio) % frame
    if usable == 0:
        return np.zeros(0)
    levels = 10 * np.log10(np.mean(audio[:usable].astype(np.float64).reshape(-1, frame) ** 2, axis=1) + 1e-10)
    quiet = np.concatenate([[False], levels < np.percentile(levels, 95) - 30, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(int)))
    runs = edges.reshape(-1, 2)
    long = runs[(runs[:, 1] - runs[:, 0]) * 0.1 >= min_s]
    return np.asarray(offset + (long[:, 0] + long[:, 1]) * 0.05)


def split_sentences(segment: Segment, quiet: np.ndarray) -> list[Segment]:
    """A segment of several sentences cut into one per sentence, each cut at
    the pause nearest to where the characters put it: Whisper often runs
    several speakers' sentences into one segment, and people seldom take
    the floor mid-sentence or without a pause."""
    sentences = [t for t in _SENTENCE_END.split(segment.text) if t.strip()]
    inside = quiet[(quiet > segment.start) & (quiet < segment.end)]
    if len(sentences) < 2 or len(inside) == 0:
        return [segment]
    total = sum(len(t) for t in sentences)
    length = segment.end - segment.start
    cuts, done = [], 0
    for text in sentences[:-1]:
        done += len(text)
        guess = segment.start + length * done / total
        cuts.append(round(float(inside[np.argmin(np.abs(inside - guess))]), 3))
    edges = [segment.start, *cuts, segment.end]
    if any(b <= a for a, b in pairwise(edges)):
        return [segment]  # fewer pauses than sentences: keep it whole
    return [
        replace(segment, start=a, end=b, text=t.strip(), words=None)
        for (a, b), t in zip(pairwise(edges), sentences, strict=True)
    ]


def diarize_part(
    path: Path,
    segments: Sequence[Segment],
    start_s: float,
    end_s: float,
    *,
    expected_s: float | None = None,
    threads: int = 0,
) -> tuple[list[Segment], list[list[float] | None]]:
    """The part's segments cut into sentences, and a voice print per
    segment (None: too short to tell)."""
    from jobs.transcription.voices import encoder

    if not segments:
        return [], []
    audio = decode_range(path, start_s, end_s, expected_s=expected_s)
    quiet = pauses(audio, start_s)
    pieces = [p for seg in segments for p in split_sentences(seg, quiet)]
    model = encoder(threads)
    prints: list[list[float] | None] = []
    for seg in pieces:
        a = max(0, int((seg.start - start_s) * SAMPLE_RATE))
        b = min(len(audio), int((seg.end - start_s) * SAMPLE_RATE))
        if b - a < MIN_EMBED_S * SAMPLE_RATE:
            prints.append(None)
            continue
        prints.append([round(float(x), 5) for x in model.embed(audio[a:b])])
    return pieces, prints


def _linkage_labels(vectors: np.ndarray, count: int | None) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(vectors) == 1:
        return np.zeros(1, dtype=int)
    tree = linkage(vectors, method="average", metric="cosine")
    if count:
        return np.asarray(fcluster(tree, t=min(count, len(vectors)), criterion="maxclust")) - 1
    return np.asarray(fcluster(tree, t=SAME_VOICE_DISTANCE, criterion="distance")) - 1


def cluster(embeddings: Sequence[Sequence[float] | None], count: int | None = None) -> list[int]:
    """A speaker number per segment, numbered 0, 1 … in order of first
    appearance; segments with no embedding take the nearest labelled one's."""
    known = [i for i, e in enumerate(embeddings) if e is not None]
    if not known:
        return [0] * len(embeddings)
    vectors = np.array([embeddings[i] for i in known], dtype=np.float64)
    raw = _linkage_labels(vectors, count)
    order: dict[int, int] = {}
    for r in raw:
        order.setdefault(int(r), len(order))
    by_index = {i: order[int(r)] for i, r in zip(known, raw, strict=True)}
    return [by_index.get(i, by_index[min(known, key=lambda k: abs(k - i))]) for i in range(len(embeddings))]


def label_segments(
    segments: Sequence[Segment], embeddings: Sequence[Sequence[float] | None], count: int | None = None
) -> list[Segment]:
    """The segments with ``speaker`` set to 話者1, 話者2 …"""
    numbers = cluster(embeddings, count)
    return [replace(s, speaker=LABEL.format(n + 1)) for s, n in zip(segments, numbers, strict=True)]


def speaker_names(segments: Sequence[Segment]) -> list[str]:
    """The speakers in order of first appearance."""
    return list(dict.fromkeys(s.speaker for s in segments if s.speaker))
