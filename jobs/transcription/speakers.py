"""Who spoke when: segments labelled 話者1, 話者2 … by their voice prints.

Each part of a recording embeds short sliding windows of its speech
(``diarize_part``, in the part task): 1.5 s windows every 0.75 s inside each
Whisper segment, so a segment that holds two people's turns has windows of
each. The merge labels the windows of all parts together
(``label_segments``), so one person keeps one label across parts:

1. **A first grouping, too fine**: chunks of about 3 s of one segment
   (their windows' prints averaged, the meeting's mean voice taken away)
   joined by average linkage on cosine distance up to
   ``OVERSPLIT_DISTANCE``: more groups than speakers rather than fewer.
2. **Re-segmentation**: each window goes to the nearest speaker centroid,
   smoothed along each segment by Viterbi with a switching cost (a change
   inside a segment needs the voice to stay changed), twice, and again
   after each change below.
3. **How many**: the two most alike groups are joined, one pair at a time,
   while their centroids are alike enough to be one voice
   (``SAME_VOICE_CENTRED``, ``SAME_VOICE_RAW``); groups of fewer than
   ``SMALL_WINDOWS`` windows (a 「どうぞ。」, windows astride two voices) join
   their nearest speaker; then joining goes on. ``speakers`` fixes the
   count (joining goes on down to it, and stops there);
   ``min_speakers``/``max_speakers`` bound it.
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
from jobs.transcription.japanese import bare, punctuate
from jobs.transcription.phonetics import word_ends
from jobs.transcription.segments import Segment
from jobs.transcription.voices import EMBEDDING_SIZE

LABEL = "話者{}"
MAX_SPEAKERS = 20
WINDOW_S = 1.5
HOP_S = 0.75
# Shorter speech has no voice print of its own; its segment takes the
# label of the nearest window in time.
MIN_WINDOW_S = 0.4
# Windows are first grouped in chunks of up to this many (about 3 s of one
# segment): one window's print is too noisy to tell near voices apart.
CHUNK_WINDOWS = 3
# A window's score for a speaker is its cosine similarity to the centroid;
# switching speaker between two windows of one segment costs this much.
SWITCH_COST = 0.08
# How many, when the count is not given: windows are first split too finely
# (chunks apart by more than this cosine distance, average linkage), then
# the two most alike speakers are joined, one pair at a time, while their
# centroids are alike enough to be one voice. Centroids are compared in two
# ways: with the meeting's mean voice taken away (what tells the meeting's
# voices apart), and as they are (what keeps a one-voice recording whole: a
# mean taken away from one voice leaves noise). On the tuning meetings of
# bench/speakers.py (CAM++ prints), halves of one speaker's windows are
# 0.72–0.96 alike centred and 0.86–0.98 as they are; two speakers at most
# 0.41 and 0.81.
OVERSPLIT_DISTANCE = 0.7
SAME_VOICE_CENTRED = 0.55
SAME_VOICE_RAW = 0.85
SMALL_WINDOWS = 4
END_PAD_S = 0.3
MIN_RUN_S = 1.0
MAX_WORD_S = 0.5
PRINT_SIZE = EMBEDDING_SIZE  # the voice encoder's (it imports torch only when it embeds)


@dataclass(frozen=True)
class Windows:
    """Sliding windows of speech and their voice prints, times absolute."""

    times: np.ndarray  # (n, 2) start, end in seconds
    prints: np.ndarray  # (n, PRINT_SIZE), unit length

    def to_json(self) -> dict[str, Any]:
        # float16 in base64: a quarter of the size of JSON numbers, and the
        # prints cross Redis once per part.
        return {
            "times": [[round(float(a), 3), round(float(b), 3)] for a, b in self.times],
            "prints": base64.b64encode(self.prints.astype("<f2").tobytes()).decode("ascii"),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Windows:
        times = np.asarray(data["times"], dtype=np.float64).reshape(-1, 2)
        prints = np.frombuffer(base64.b64decode(data["prints"]), dtype="<f2").astype(np.float64)
        return Windows(
            times, _unit(prints.reshape(len(times), -1) if len(times) else prints.reshape(0, PRINT_SIZE))
        )

    @staticmethod
    def join(parts: Sequence[Windows]) -> Windows:
        """All parts' windows; a part embedded by another encoder (a job
        that ran across an upgrade) has prints of another size that cannot
        be compared: only the size most windows have is kept, and segments
        without windows take the label of the nearest window in time."""
        parts = [p for p in parts if len(p.times)]
        if not parts:
            return Windows(np.zeros((0, 2)), np.zeros((0, PRINT_SIZE)))
        sizes = [p.prints.shape[1] for p in parts]
        size = max(set(sizes), key=lambda d: sum(len(p.times) for p in parts if p.prints.shape[1] == d))
        parts = [p for p in parts if p.prints.shape[1] == size]
        return Windows(np.concatenate([p.times for p in parts]), np.concatenate([p.prints for p in parts]))


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
    return list(segments), Windows(np.asarray(spans, dtype=np.float64), prints)


# --- clustering -----------------------------------------------------------------------


def oversplit(chunks: np.ndarray, k_min: int, k_max: int) -> np.ndarray:
    """A group per chunk, more groups than speakers rather than fewer:
    average linkage cut at ``OVERSPLIT_DISTANCE``, or at ``k_min`` groups
    when that gives fewer (``join_alike`` brings them down to ``k_max``)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    n = len(chunks)
    if n < 3:
        return np.zeros(n, dtype=int)
    tree = linkage(chunks, method="average", metric="cosine")
    labels = np.asarray(fcluster(tree, t=OVERSPLIT_DISTANCE, criterion="distance")) - 1
    k = min(max(len(np.unique(labels)), k_min, 1), n - 1)
    if k != len(np.unique(labels)):
        labels = np.asarray(fcluster(tree, t=k, criterion="maxclust")) - 1
    return labels


def join_alike(
    prints: np.ndarray,
    raw: np.ndarray,
    labels: np.ndarray,
    runs: Sequence[slice],
    keep_at_least: int,
    at_most: int = MAX_SPEAKERS,
) -> np.ndarray:
    """The two most alike speakers joined (and the windows re-segmented),
    one pair at a time, while there are more than ``at_most`` or their
    centroids are alike enough to be one voice: ``SAME_VOICE_CENTRED`` with
    the meeting's mean voice taken away (``prints``), or ``SAME_VOICE_RAW``
    as the encoder gave them (``raw``); never below ``keep_at_least``."""
    labels = labels.copy()
    while len(np.unique(labels)) > max(1, keep_at_least):
        groups, centred = _centroids(prints, labels)
        _, plain = _centroids(raw, labels)
        alike = np.maximum(centred @ centred.T - SAME_VOICE_CENTRED, plain @ plain.T - SAME_VOICE_RAW)
        np.fill_diagonal(alike, -np.inf)
        i, j = np.unravel_index(int(np.argmax(alike)), alike.shape)
        if alike[i, j] < 0 and len(groups) <= at_most:
            return labels
        labels[labels == groups[j]] = groups[i]
        labels = resegment(prints, labels, runs)
    return labels


def split_to(prints: np.ndarray, labels: np.ndarray, runs: Sequence[slice], at_least: int) -> np.ndarray:
    """The largest group cut in two while there are fewer than ``at_least``
    groups (re-segmentation can empty a group, and ``min_speakers`` or
    ``speakers`` are honoured): its segments' runs of windows by average
    linkage on their mean prints, or its windows when it holds one run."""
    from scipy.cluster.hierarchy import fcluster, linkage

    labels = labels.copy()
    while len(np.unique(labels)) < min(at_least, len(labels)):
        groups, counts = np.unique(labels, return_counts=True)
        largest = groups[int(counts.argmax())]
        pieces = [np.arange(r.start, r.stop)[labels[r] == largest] for r in runs]
        pieces = [p for p in pieces if len(p)]
        if len(pieces) < 2:
            pieces = [np.array([i]) for i in np.flatnonzero(labels == largest)]
        if len(pieces) < 2:
            return labels
        means = _unit(np.array([prints[p].mean(0) for p in pieces]))
        halves = np.asarray(fcluster(linkage(means, "average", "cosine"), 2, "maxclust"))
        new = int(labels.max()) + 1
        for piece, half in zip(pieces, halves, strict=True):
            if half == 2:
                labels[piece] = new
    return labels


def _centroids(prints: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    groups = np.unique(labels)
    return groups, _unit(np.array([prints[labels == g].mean(0) for g in groups]))


def _viterbi(scores: np.ndarray, cost: float) -> np.ndarray:
    """The best path through (windows × speakers) scores with ``cost`` per switch."""
    n, k = scores.shape
    total = scores[0].copy()
    back = np.zeros((n, k), dtype=int)
    for t in range(1, n):
        stay = total
        switch = total.max() - cost
        back[t] = np.where(stay >= switch, np.arange(k), int(total.argmax()))
        total = np.maximum(stay, switch) + scores[t]
    path = np.zeros(n, dtype=int)
    path[-1] = int(total.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def resegment(prints: np.ndarray, labels: np.ndarray, runs: Sequence[slice]) -> np.ndarray:
    """Each window to its nearest centroid, smoothed within each run of one
    segment's windows."""
    groups, centres = _centroids(prints, labels)
    scores = prints @ centres.T
    out = np.empty(len(prints), dtype=int)
    for run in runs:
        out[run] = groups[_viterbi(scores[run], SWITCH_COST)]
    return out


def absorb_small(prints: np.ndarray, labels: np.ndarray, keep_at_least: int) -> np.ndarray:
    """Groups of fewer than ``SMALL_WINDOWS`` windows (under about 3 s of
    speech: a 「どうぞ。」, or windows that straddle two voices and sound like
    neither) join their nearest speaker, the least distinct first."""
    labels = labels.copy()
    while True:
        groups, counts = np.unique(labels, return_counts=True)
        small = [g for g, c in zip(groups, counts, strict=True) if c < SMALL_WINDOWS]
        big = [g for g in groups if g not in small]
        if not small or not big or len(groups) <= keep_at_least:
            return labels
        _, centres = _centroids(prints, labels)
        index = {g: i for i, g in enumerate(groups)}
        others = [index[h] for h in big]
        candidates = []
        for g in small:
            distance = 1 - centres[others] @ centres[index[g]]
            candidates.append((float(distance.min()), g, big[int(distance.argmin())]))
        _, g, nearest = min(candidates)
        labels[labels == g] = nearest


def window_labels(
    windows: Windows,
    speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
) -> np.ndarray:
    """A speaker number per window (order of ``windows``, any numbering)."""
    n = len(windows.times)
    if n == 0:
        return np.zeros(0, dtype=int)
    order = np.argsort(windows.times[:, 0], kind="stable")
    times = windows.times[order]
    # The meeting's mean voice taken away: what all windows share (room,
    # microphone, language) says nothing about who speaks.
    prints = _unit(windows.prints[order] - windows.prints.mean(0))
    if speakers:
        k_min = k_max = speakers
    else:
        k_min, k_max = max(1, min_speakers or 1), min(MAX_SPEAKERS, max_speakers or MAX_SPEAKERS)
    # Windows of one segment overlap; a new segment starts where they stop.
    starts = [0, *(np.flatnonzero(times[1:, 0] >= times[:-1, 1] - 1e-6) + 1).tolist(), n]
    runs = [slice(a, b) for a, b in pairwise(starts) if b > a]
    chunks = [
        np.arange(x, y)
        for run in runs
        for x, y in pairwise(
            np.linspace(run.start, run.stop, -(-(run.stop - run.start) // CHUNK_WINDOWS) + 1)
            .round()
            .astype(int)
        )
        if y > x
    ]
    chunk_labels = oversplit(_unit(np.array([prints[c].mean(0) for c in chunks])), k_min, k_max)
    labels = np.zeros(n, dtype=int)
    for c, label in zip(chunks, chunk_labels, strict=True):
        labels[c] = label
    for _ in range(2):
        labels = resegment(prints, labels, runs)
    raw = _unit(windows.prints[order])
    labels = join_alike(prints, raw, labels, runs, k_min)
    labels = resegment(prints, absorb_small(prints, labels, keep_at_least=1), runs)
    labels = join_alike(prints, raw, labels, runs, k_min, k_max)
    labels = split_to(prints, labels, runs, k_min)
    out = np.empty(n, dtype=int)
    out[order] = labels
    return out


# --- labels onto segments --------------------------------------------------------------


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
    return [
        replace(
            seg,
            end=_padded_end(seg, pieces[k + 1][0] if k + 1 < len(pieces) else None),
            speaker=LABEL.format(order[label] + 1),
        )
        for k, (seg, label) in enumerate(pieces)
    ]


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
