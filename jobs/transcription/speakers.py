"""Who spoke when: segments labelled 話者1, 話者2 … by their voice prints.

Each part of a recording embeds short sliding windows of its speech
(``diarize_part``, in the part task): 1.5 s windows every 0.75 s inside each
Whisper segment, so a segment that holds two people's turns has windows of
each. The merge labels the windows of all parts together
(``label_segments``), so one person keeps one label across parts:

1. **How many**: chunks of about 3 s of one segment (their windows'
   prints averaged, the meeting's mean voice taken away) make a graph,
   each two chunks tied by their cosine similarity (negative ones cut,
   squared). ``speakers`` fixes the count; otherwise a meeting whose
   windows of two segments are about as alike as windows of one segment
   (``ONE_VOICE``) is one voice, and any other has as many voices as the
   normalised Laplacian's eigengaps say: the largest k whose gap is at
   least ``GAP_SHARE`` of the widest (between ``min_speakers`` and
   ``max_speakers``, at most ``MAX_COUNTED``). The gap is
   read in each meeting's own graph: no threshold on how alike two voices
   may be, which differs from one meeting's voices to another's.
2. **Grouping**: spectral clustering of the chunks into that many groups
   (k-means on the Laplacian's first eigenvectors, Ng–Jordan–Weiss).
3. **Re-segmentation**: each window goes to the nearest speaker centroid,
   smoothed along each segment by Viterbi with a switching cost (a change
   inside a segment needs the voice to stay changed), three times; groups
   of fewer than ``SMALL_WINDOWS`` windows (a 「どうぞ。」, windows astride
   two voices) join their nearest speaker when the count was found, and
   groups whose windows are all about as alike across groups as within one
   (``ONE_VOICE_SPLIT``, the meeting's own spread) become one; the largest
   group is cut while there are fewer than ``min_speakers``.

Steps 1–3 are in ``grouping`` (pure numpy on the prints); this module makes
the windows and puts the labels onto the segments.

4. **Splitting**: each word takes the label of the window centred nearest
   it; a segment whose words carry two labels is cut at the word boundary
   where the label changes, text and words following.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from jobs.transcription.audio import SAMPLE_RATE, decode_range
from jobs.transcription.grouping import MAX_SPEAKERS, label_windows

__all__ = [
    "MAX_SPEAKERS",
    "Windows",
    "diarize_part",
    "label_segments",
    "speaker_names",
    "window_labels",
    "windows_of_segments",
]
from jobs.transcription.japanese import bare, punctuate
from jobs.transcription.phonetics import word_ends
from jobs.transcription.segments import Segment
from jobs.transcription.voices import EMBEDDING_SIZE

LABEL = "話者{}"
WINDOW_S = 1.5
HOP_S = 0.75
# Shorter speech has no voice print of its own; its segment takes the
# label of the nearest window in time.
MIN_WINDOW_S = 0.4
END_PAD_S = 0.3
# A change inside one segment needs the new voice to last this much speech
# (the windows are already smoothed along the segment, so this only keeps a
# lone window's label at a segment's edge from cutting off a word or two): a
# short reply Whisper joined to the next turn (「はい。」 0.3–0.6 s) is kept
# apart. 1.0 s before; measured 1.0 / 0.5 / 0.25 / 0 on the tuning, third
# and fresh sets with the count given: 94.7 / 95.0 / 95.0 / 95.0,
# 89.2 / 89.9 / 90.3 / 90.3, 93.4 / 93.3 / 93.3 / 93.3 %.
MIN_RUN_S = 0.25
MAX_WORD_S = 0.5
# Speech edges (``heard_speech``): Silero's own defaults, not faster-whisper's
# (2 s pauses and 0.4 s pads, made for cutting audio for Whisper).
VAD_PAUSE_MS = 100
VAD_PAD_MS = 30
PRINT_SIZE = EMBEDDING_SIZE  # the voice encoder's (it imports torch only when it embeds)


@dataclass(frozen=True)
class Windows:
    """Sliding windows of speech and their voice prints, times absolute;
    ``speech``: where the voice activity detector heard speech in the parts
    (None from a part embedded before it was kept)."""

    times: np.ndarray  # (n, 2) start, end in seconds
    prints: np.ndarray  # (n, PRINT_SIZE), unit length
    speech: np.ndarray | None = None  # (m, 2) start, end in seconds, in order

    def to_json(self) -> dict[str, Any]:
        # float16 in base64: a quarter of the size of JSON numbers, and the
        # prints cross Redis once per part.
        out: dict[str, Any] = {
            "times": _spans_json(self.times),
            "prints": base64.b64encode(self.prints.astype("<f2").tobytes()).decode("ascii"),
        }
        if self.speech is not None:
            out["speech"] = _spans_json(self.speech)
        return out

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Windows:
        times = np.asarray(data["times"], dtype=np.float64).reshape(-1, 2)
        prints = np.frombuffer(base64.b64decode(data["prints"]), dtype="<f2").astype(np.float64)
        speech = data.get("speech")
        return Windows(
            times,
            _unit(prints.reshape(len(times), -1) if len(times) else prints.reshape(0, PRINT_SIZE)),
            None if speech is None else np.asarray(speech, dtype=np.float64).reshape(-1, 2),
        )

    @staticmethod
    def join(parts: Sequence[Windows]) -> Windows:
        """All parts' windows; a part embedded by another encoder (a job
        that ran across an upgrade) has prints of another size that cannot
        be compared: only the size most windows have is kept, and segments
        without windows take the label of the nearest window in time."""
        heard = [p.speech for p in parts if p.speech is not None]
        speech = None
        if heard:
            spans = np.concatenate(heard)
            speech = spans[np.argsort(spans[:, 0])]
        parts = [p for p in parts if len(p.times)]
        if not parts:
            return Windows(np.zeros((0, 2)), np.zeros((0, PRINT_SIZE)), speech)
        sizes = [p.prints.shape[1] for p in parts]
        size = max(set(sizes), key=lambda d: sum(len(p.times) for p in parts if p.prints.shape[1] == d))
        parts = [p for p in parts if p.prints.shape[1] == size]
        return Windows(
            np.concatenate([p.times for p in parts]), np.concatenate([p.prints for p in parts]), speech
        )


def _spans_json(spans: np.ndarray) -> list[list[float]]:
    """(n, 2) start, end seconds as JSON, to the millisecond."""
    return [[round(float(a), 3), round(float(b), 3)] for a, b in spans]


def _unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9))


def window_spans(start: float, end: float) -> list[tuple[float, float]]:
    """Windows of ``WINDOW_S`` every ``HOP_S`` covering ``[start, end]``,
    the last one ending at ``end``; a shorter stretch is one window."""
    length = end - start
    if length < MIN_WINDOW_S:
        return []
    if length <= WINDOW_S:
        return [(start, end)]
    count = int(np.ceil((length - WINDOW_S) / HOP_S)) + 1
    starts = [start + k * HOP_S for k in range(count - 1)] + [end - WINDOW_S]
    return [(round(a, 3), round(a + WINDOW_S, 3)) for a in starts]


def _spoken(segment: Segment) -> tuple[float, float]:
    """Where the segment's words are spoken (Whisper's segment edges can take
    in a second of silence, and a print of mostly silence is no voice)."""
    if segment.words:
        return segment.words[0].start, segment.words[-1].end
    return segment.start, segment.end


def diarize_part(
    path: Path,
    segments: Sequence[Segment],
    start_s: float,
    end_s: float,
    *,
    expected_s: float | None = None,
    threads: int = 0,
) -> tuple[list[Segment], Windows]:
    """The part's segments and the voice prints of its speech windows
    (windows never cross a segment's edge: a turn Whisper kept apart keeps
    a print of its own)."""
    from jobs.transcription.voices import encoder

    spans = [w for seg in segments for w in window_spans(*_spoken(seg))]
    if not spans:
        return list(segments), Windows(np.zeros((0, 2)), np.zeros((0, PRINT_SIZE)))
    audio = decode_range(path, start_s, end_s, expected_s=expected_s)
    pieces = [
        audio[max(0, int((a - start_s) * SAMPLE_RATE)) : max(0, int((b - start_s) * SAMPLE_RATE))]
        for a, b in spans
    ]
    prints = encoder(threads).embed_windows(pieces)
    return list(segments), Windows(np.asarray(spans, dtype=np.float64), prints, heard_speech(audio, start_s))


def heard_speech(audio: np.ndarray, start_s: float = 0.0) -> np.ndarray:
    """(m, 2) where Silero's voice activity detector (in faster-whisper,
    its model inside the wheel) hears speech in ``audio`` (16 kHz float),
    times absolute. Silero's own defaults for its edges (0.5 threshold,
    pauses of 0.1 s apart, 30 ms pad): a pause between two turns is found,
    and an edge is within a few tens of ms. About 0.2 s of CPU for a
    minute of audio."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(
        np.asarray(audio, dtype=np.float32),
        VadOptions(min_silence_duration_ms=VAD_PAUSE_MS, speech_pad_ms=VAD_PAD_MS),
        sampling_rate=SAMPLE_RATE,
    )
    return np.array(
        [[start_s + t["start"] / SAMPLE_RATE, start_s + t["end"] / SAMPLE_RATE] for t in found],
        dtype=np.float64,
    ).reshape(-1, 2)


# --- labels onto segments --------------------------------------------------------------


def window_labels(
    windows: Windows,
    speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
) -> np.ndarray:
    """A speaker number per window (order of ``windows``, any numbering)."""
    return label_windows(windows.times, windows.prints, speakers, min_speakers, max_speakers)


def _split_text(text: str, chars_before: list[int]) -> list[str]:
    """``text`` cut after the given counts of its letters (punctuation and
    spaces not counted; it stays with the piece before)."""
    pieces, start, seen, cuts = [], 0, 0, list(chars_before)
    for i, ch in enumerate(text):
        if cuts and seen == cuts[0] and bare(ch):
            pieces.append(text[start:i])
            start = i
            cuts.pop(0)
        if bare(ch):
            seen += 1
    pieces.append(text[start:])
    return pieces


def _runs(labels: Sequence[int]) -> list[tuple[int, int, int]]:
    """(first, last + 1, label) of each run of equal labels."""
    out: list[tuple[int, int, int]] = []
    for i, label in enumerate(labels):
        if out and out[-1][2] == label:
            out[-1] = (out[-1][0], i + 1, label)
        else:
            out.append((i, i + 1, label))
    return out


def _steady(words: Sequence[Any], labels: Sequence[int]) -> list[int]:
    """Word labels with runs shorter than ``MIN_RUN_S`` of speech given to
    the longer neighbouring run: a speaker change inside one segment needs
    the new voice to last (a window at a segment's edge that takes in its
    onset or tail is no new speaker)."""
    labels = list(labels)
    while True:
        runs = _runs(labels)
        # A word's time is capped: alignment often hands a pause to the word
        # before or after it (「です、」 over 1.3 s).
        spoken = [sum(min(w.end - w.start, MAX_WORD_S) for w in words[a:b]) for a, b, _ in runs]
        short = [k for k, s in enumerate(spoken) if s < MIN_RUN_S]
        if len(runs) < 2 or not short:
            return labels
        k = min(short, key=lambda i: spoken[i])
        neighbours = [j for j in (k - 1, k + 1) if 0 <= j < len(runs)]
        j = max(neighbours, key=lambda i: spoken[i])
        a, b, _ = runs[k]
        labels[a:b] = [runs[j][2]] * (b - a)


def _cuttable(text: str, letters: Sequence[int]) -> set[int]:
    """Indices of the timed words before which ``text`` may be cut: where a
    dictionary word ends. Whisper's Japanese "words" are tokens of a letter
    or two, so a cut between two of them can fall inside 会議 (「検討会。」
    「議を開催します」)."""
    ends = word_ends(text)
    at_end = {len(bare(text[:e])) for e in ends}
    counts = [0]
    for n in letters:
        counts.append(counts[-1] + n)
    return {j for j in range(1, len(letters)) if counts[j] in at_end}


def _at_pauses(
    words: Sequence[Any], runs: list[tuple[int, int, int]], cuttable: set[int]
) -> list[tuple[int, int, int]]:
    """Each change moved to the widest pause between words within a hop of
    where the windows put it (people take the floor at a pause, and the
    windows place a change only to within a hop), and never inside a
    dictionary word: the nearest word end within two hops when no end lies
    within one."""
    bounds = [b for _, b, _ in runs[:-1]]
    moved = []
    for k, b in enumerate(bounds):
        low = bounds[k - 1] + 1 if k else 1
        high = bounds[k + 1] - 1 if k + 1 < len(bounds) else len(words) - 1
        span = range(low, high + 1)
        near = [j for j in span if j in cuttable and abs(words[j].start - words[b].start) <= HOP_S]
        if not near:
            near = [j for j in span if j in cuttable and abs(words[j].start - words[b].start) <= 2 * HOP_S]
            near = near and [min(near, key=lambda j: abs(j - b))]
        moved.append(max(near or [b], key=lambda j: (words[j].start - words[j - 1].end, -abs(j - b))))
    edges = [0, *moved, len(words)]
    if any(b <= a for a, b in pairwise(edges)):
        return runs
    return [(a, c, run[2]) for (a, c), run in zip(pairwise(edges), runs, strict=True)]


def split_at_changes(segment: Segment, word_labels: Sequence[int]) -> list[tuple[Segment, int]]:
    """The segment cut at each word boundary where the label changes."""
    words = segment.words or ()
    word_labels = _steady(words, word_labels)
    runs = _runs(word_labels)
    if len(runs) < 2:
        return [(segment, word_labels[0])]
    letters = [len(bare(w.text)) for w in words]
    if sum(letters) != len(bare(segment.text)):
        # Cleaning changed the letters (a loop collapsed): cut in proportion.
        scale = len(bare(segment.text)) / max(1, sum(letters))
        letters = [round(n * scale) for n in letters]
    runs = _at_pauses(words, runs, _cuttable(segment.text, letters))
    cuts = [sum(letters[:b]) for _, b, _ in runs[:-1]]
    texts = _split_text(segment.text, cuts)
    if len(texts) != len(runs) or not all(bare(t) for t in texts):
        return [(segment, max(set(word_labels), key=list(word_labels).count))]
    out = []
    for k, ((a, b, label), text) in enumerate(zip(runs, texts, strict=True)):
        start = segment.start if k == 0 else words[a].start
        end = segment.end if k == len(runs) - 1 else words[b - 1].end
        text = punctuate(text.strip().lstrip("、，,").rstrip("、，,"))
        out.append((replace(segment, start=start, end=max(end, start), text=text, words=words[a:b]), label))
    return out


def _nearest(centres: np.ndarray, t: float) -> int:
    return int(np.argmin(np.abs(centres - t)))


def label_segments(
    segments: Sequence[Segment],
    windows: Windows,
    speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
) -> list[Segment]:
    """The segments with ``speaker`` set to 話者1, 話者2 … (numbered in order
    of first appearance), cut where the speaker changes inside one."""
    if len(windows.times) == 0:
        return [replace(s, speaker=LABEL.format(1)) for s in segments]
    labels = window_labels(windows, speakers, min_speakers, max_speakers)
    centres = windows.times.mean(axis=1)
    pieces: list[tuple[Segment, int]] = []
    for seg in segments:
        inside = np.flatnonzero((centres >= seg.start) & (centres <= seg.end))
        pool = inside if len(inside) else np.arange(len(centres))
        if not seg.words or len(inside) < 2:
            middle = (seg.start + seg.end) / 2
            pieces.append((seg, int(labels[pool[_nearest(centres[pool], middle)]])))
            continue
        word_labels = [int(labels[pool[_nearest(centres[pool], (w.start + w.end) / 2)]]) for w in seg.words]
        pieces += split_at_changes(seg, word_labels)
    order: dict[int, int] = {}
    for _, label in pieces:
        order.setdefault(label, len(order))
    labelled = [
        replace(
            seg,
            end=_padded_end(seg, pieces[k + 1][0] if k + 1 < len(pieces) else None),
            speaker=LABEL.format(order[label] + 1),
        )
        for k, (seg, label) in enumerate(pieces)
    ]
    return labelled if windows.speech is None else [to_speech(s, windows.speech) for s in labelled]


def to_speech(segment: Segment, speech: np.ndarray) -> Segment:
    """The segment's edges moved in to where speech starts and stops inside
    it: Whisper's segments take in the pause before a turn and the padding
    after it (a tenth of the time on the speaker bench was silence labelled
    as someone). A segment in which nothing was heard keeps its edges."""
    inside = speech[(speech[:, 1] > segment.start) & (speech[:, 0] < segment.end)]
    if not len(inside):
        return segment
    start = max(segment.start, float(inside[0, 0]))
    end = min(segment.end, float(inside[-1, 1]))
    return replace(segment, start=round(start, 3), end=round(max(end, start), 3))


def _padded_end(segment: Segment, following: Segment | None) -> float:
    """With word times, Whisper ends a segment where its last word's
    alignment ends, often before the voice does (0.25–0.4 s on the tests'
    meeting): the segment keeps up to ``END_PAD_S`` more, never past half
    the gap to the next segment."""
    if not segment.words:
        return segment.end
    room = END_PAD_S if following is None else max(0.0, (following.start - segment.end) / 2)
    return round(segment.end + min(END_PAD_S, room), 3)


def windows_of_segments(segments: Sequence[Segment], embeddings: Sequence[Sequence[float] | None]) -> Windows:
    """Part results from before sliding windows (one print per segment)."""
    kept = [(s, e) for s, e in zip(segments, embeddings, strict=True) if e is not None]
    if not kept:
        return Windows(np.zeros((0, 2)), np.zeros((0, PRINT_SIZE)))
    return Windows(
        np.array([[s.start, s.end] for s, _ in kept]), _unit(np.array([e for _, e in kept], dtype=np.float64))
    )


def speaker_names(segments: Sequence[Segment]) -> list[str]:
    """The speakers in order of first appearance."""
    return list(dict.fromkeys(s.speaker for s in segments if s.speaker))
