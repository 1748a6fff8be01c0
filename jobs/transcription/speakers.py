"""Who spoke when: segments labelled 話者1, 話者2 … by their voice prints.

Each part of a recording embeds its own segments (``embed_segments``, in the
part task); the merge clusters the embeddings of all parts together
(``label_segments``), so one person keeps one label across parts. The
clustering is average-linkage agglomerative on cosine distance: with no
speaker count given, clusters join while their voices are more alike than
``SAME_VOICE_DISTANCE``; with a count, they join down to that count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from jobs.transcription.audio import SAMPLE_RATE, decode_range
from jobs.transcription.segments import Segment, Word

LABEL = "話者{}"
# Shortest speech worth a voice print; shorter segments take a neighbour's label.
MIN_EMBED_S = 0.8
# Average cosine distance below which two clusters are one voice. Voices of
# one person are within ~0.10 of each other here; different synthetic
# voices 0.20 or more (tests/jobs/transcription/test_speakers.py).
SAME_VOICE_DISTANCE = 0.17
MAX_SPEAKERS = 20
PAUSE_S = 0.4


def split_at_pauses(segments: Sequence[Segment], gap_s: float = PAUSE_S) -> list[Segment]:
    """Segments cut where their words leave a pause of ``gap_s`` or more:
    Whisper often runs several speakers' sentences into one segment, and
    people seldom change without a pause. Needs word timestamps."""
    out: list[Segment] = []
    for seg in segments:
        if not seg.words:
            out.append(seg)
            continue
        pieces: list[list[Word]] = [[seg.words[0]]]
        for word in seg.words[1:]:
            if word.start - pieces[-1][-1].end >= gap_s:
                pieces.append([])
            pieces[-1].append(word)
        if len(pieces) == 1:
            out.append(seg)
            continue
        for i, words in enumerate(pieces):
            start = seg.start if i == 0 else words[0].start
            end = seg.end if i == len(pieces) - 1 else words[-1].end
            text = "".join(w.text for w in words).strip()
            out.append(replace(seg, start=start, end=end, text=text, words=tuple(words)))
    return out


def embed_segments(
    path: Path,
    segments: Sequence[Segment],
    start_s: float,
    end_s: float,
    *,
    expected_s: float | None = None,
    threads: int = 0,
) -> list[list[float] | None]:
    """One voice print per segment of ``[start_s, end_s)`` (None: too short)."""
    from jobs.transcription.voices import encoder

    if not segments:
        return []
    audio = decode_range(path, start_s, end_s, expected_s=expected_s)
    model = encoder(threads)
    out: list[list[float] | None] = []
    for seg in segments:
        a = max(0, int((seg.start - start_s) * SAMPLE_RATE))
        b = min(len(audio), int((seg.end - start_s) * SAMPLE_RATE))
        if b - a < MIN_EMBED_S * SAMPLE_RATE:
            out.append(None)
            continue
        out.append([round(float(x), 5) for x in model.embed(audio[a:b])])
    return out


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
