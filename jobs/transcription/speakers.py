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
4. **Splitting**: each word takes the label of the window centred nearest
   it; a segment whose words carry two labels is cut at the word boundary
   where the label changes, text and words following.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache, partial
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
# How many, when the count is not given: the eigengap is read for 2 to
# MAX_COUNTED voices (more give too few chunks per voice to show a gap;
# ``speakers`` or ``min_speakers`` reach past it), and the largest k whose
# gap is at least GAP_SHARE of the widest is taken (a meeting's far voices
# make the widest gap, a near pair a later one nearly as wide: on the
# tuning meetings of bench/speakers.py the right gap is 0.73–1.0 of the
# widest, a wrong later one at most 0.31). ONE_VOICE: windows of two
# segments are 0.47–0.70 as alike as windows of one segment over a whole
# tuning meeting (up to 0.86 on a third set of voices made to check the
# method, never tuned on), 0.76–0.97 over one speaker's windows alone;
# ONE_VOICE_SPLIT catches the rest of those, read against the meeting's own
# spread: the least alike two groups' windows are on average this share as
# alike as two non-overlapping windows of one group. One speaker's windows
# cut by the eigengap are 0.74–0.99 (tuning meetings), two voices of a
# tuning meeting at most 0.50; 0.62 lies midway. (The fixed test before,
# centroids 0.65 alike, left one tuning speaker cut in five: centroids 0.41
# alike, 0.92 by this measure.) A near pair the encoder hears as alike as
# one voice's sentences is told from one voice by neither test (on a fresh
# check set: ONE_VOICE 0.89–0.94, this measure 0.75–0.83, centroids
# 0.67–0.73): ``speakers`` or ``min_speakers`` is needed there.
MAX_COUNTED = 10
GAP_SHARE = 0.5
ONE_VOICE = 0.88
ONE_VOICE_SPLIT = 0.62
RESEGMENT_ROUNDS = 3
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


def affinity(chunks: np.ndarray) -> np.ndarray:
    """How alike each two chunks are: cosine similarity, negative ones
    taken as none, squared (so that a few weakly alike chunks of two voices
    do not tie them together as firmly as many strongly alike ones)."""
    alike = np.clip(chunks @ chunks.T, 0.0, None) ** 2
    np.fill_diagonal(alike, 0.0)
    return np.asarray(alike)


def _laplacian_eigen(alike: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of the symmetric normalised
    Laplacian ``I - D^-1/2 A D^-1/2`` (a chunk alike to none keeps a row
    of its own)."""
    degree = alike.sum(axis=1)
    scale = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    laplacian = np.eye(len(alike)) - scale[:, None] * alike * scale[None, :]
    values, vectors = np.linalg.eigh(laplacian)
    return values, vectors


def eigengap_count(values: np.ndarray, k_min: int, k_max: int) -> int:
    """How many voices: the k in ``[k_min, k_max]`` after which the
    Laplacian's eigenvalues (``values``, ascending) jump most. A graph of k groups that are alike
    within and unlike between has k eigenvalues near 0 and then a gap; the
    gap is read in each meeting's own graph, so it needs no threshold on
    how alike two voices may be (meetings differ in how far apart their
    voices are and how much one voice's windows spread)."""
    high = min(k_max, len(values) - 1)
    if high <= k_min:
        return max(1, min(k_min, high))
    gaps = np.diff(values[: high + 1])[k_min - 1 :]  # gaps[0]: after the k_min-th
    wide = np.flatnonzero(gaps >= GAP_SHARE * gaps.max())
    return int(wide.max()) + k_min


def one_voice(raw: np.ndarray, runs: Sequence[slice]) -> bool:
    """Whether the windows sound like one person: windows of two segments
    are on average about as alike as windows of one segment (which are one
    voice). Read on the prints as the encoder gave them: with the mean
    voice taken away, one voice leaves only noise, which the eigengap
    would cut anywhere."""
    raw = np.asarray(raw, dtype=np.float64)
    # Means over pairs from sums of prints (sum over pairs of a.b is |sum|^2),
    # not from a windows x windows matrix: a three-hour meeting has some
    # 14,000 windows, and that matrix would take gigabytes.
    sums = np.array([raw[run].sum(0) for run in runs])
    sizes = np.array([run.stop - run.start for run in runs], dtype=np.float64)
    everything = float(raw.sum(0) @ raw.sum(0))
    within = float((sums * sums).sum())
    itself = float((raw * raw).sum())
    same_pairs = float((sizes**2).sum()) - len(raw)
    other_pairs = float(len(raw)) ** 2 - float((sizes**2).sum())
    if other_pairs == 0:
        return True  # one segment
    if same_pairs == 0:
        return False  # no segment long enough to show how one voice varies
    return bool((everything - within) / other_pairs >= ONE_VOICE * (within - itself) / same_pairs)


def _overlapping_alike(raw: np.ndarray, times: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """The summed likeness and the number of ordered pairs of windows with
    one label whose times overlap (each window with itself included). A
    window overlaps only the few that start within a window's length of it,
    so this looks at those alone."""
    order = np.argsort(times[:, 0], kind="stable")
    start, end = times[order, 0], times[order, 1]
    raw, labels = raw[order], labels[order]
    longest = float((end - start).max())
    first = np.searchsorted(start, start - longest - 1e-6, side="left")
    past = np.searchsorted(start, end - 1e-6, side="left")  # those starting before i ends
    total, count = 0.0, 0
    for i in range(len(start)):
        near = np.arange(first[i], past[i])
        near = near[(end[near] - 1e-6 > start[i]) & (labels[near] == labels[i])]
        total += float((raw[near] @ raw[i]).sum())
        count += len(near)
    return total, count


def one_voice_cut(raw: np.ndarray, times: np.ndarray, labels: np.ndarray) -> bool:
    """Whether even the least alike two groups sound like one voice cut in
    pieces: their windows are on average at least ``ONE_VOICE_SPLIT`` as
    alike as two windows that do not overlap given one label in the same
    meeting (read on the prints as the encoder gave them). The measure is
    the meeting's own spread of one voice, not a fixed similarity: a voice
    whose windows vary much has groups whose centroids look far apart."""
    groups = np.unique(labels)
    if len(groups) < 2:
        return False
    raw = np.asarray(raw, dtype=np.float64)
    sums = np.array([raw[labels == g].sum(0) for g in groups])  # pair means from sums, as one_voice
    sizes = np.array([np.count_nonzero(labels == g) for g in groups], dtype=np.float64)
    overlapping, overlaps = _overlapping_alike(raw, times, labels)
    apart_pairs = float((sizes**2).sum()) - overlaps
    if apart_pairs == 0:
        return False  # no group has two windows apart: nothing to compare with
    within = (float((sums * sums).sum()) - overlapping) / apart_pairs
    cross = min(
        float(sums[i] @ sums[j]) / (sizes[i] * sizes[j])
        for i in range(len(groups))
        for j in range(i + 1, len(groups))
    )
    return bool(cross >= ONE_VOICE_SPLIT * within)


def _kmeans(points: np.ndarray, k: int, rounds: int = 50) -> np.ndarray:
    """Lloyd's k-means from farthest-point starts (deterministic: the same
    windows always get the same labels)."""
    centres = [points[int(np.argmax(np.linalg.norm(points - points.mean(0), axis=1)))]]
    while len(centres) < k:
        distance = np.min([np.linalg.norm(points - c, axis=1) for c in centres], axis=0)
        centres.append(points[int(np.argmax(distance))])
    centre = np.array(centres)
    labels = np.full(len(points), -1)
    for _ in range(rounds):
        new = np.argmin(((points[:, None, :] - centre[None]) ** 2).sum(-1), axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        centre = np.array(
            [points[labels == g].mean(0) if np.any(labels == g) else centre[g] for g in range(k)]
        )
    return labels


def spectral_groups(eigen: Callable[[], tuple[np.ndarray, np.ndarray]], size: int, k: int) -> np.ndarray:
    """``k`` groups of ``size`` chunks: k-means on the rows of the Laplacian's
    first ``k`` eigenvectors (from ``eigen``, asked only when there is a
    choice to make), each row made unit length (Ng, Jordan and Weiss, 2001)."""
    if size <= k:
        return np.arange(size)  # a group per chunk
    if k <= 1:
        return np.zeros(size, dtype=int)
    _, vectors = eigen()
    return _kmeans(_unit(vectors[:, :k]), k)


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
    alike = affinity(_unit(np.array([prints[c].mean(0) for c in chunks])))
    # The eigendecomposition is the step's costliest part on a long meeting
    # (cubic in the chunks): made once, and only if the count or the
    # grouping needs it.
    eigen = cache(partial(_laplacian_eigen, alike))
    raw = _unit(windows.prints[order])  # as the encoder gave them, for the one-voice tests
    if speakers:
        k = speakers
    elif k_max <= 1 or (k_min <= 1 and (len(chunks) < 3 or one_voice(raw, runs))):
        k = 1  # (under three chunks say nothing of how many)
    else:
        k = eigengap_count(eigen()[0], max(2, k_min), max(2, k_min, min(k_max, MAX_COUNTED)))
    chunk_labels = spectral_groups(eigen, len(chunks), k)
    labels = np.zeros(n, dtype=int)
    for c, label in zip(chunks, chunk_labels, strict=True):
        labels[c] = label
    for _ in range(RESEGMENT_ROUNDS):
        labels = resegment(prints, labels, runs)
    if not speakers:
        labels = resegment(prints, absorb_small(prints, labels, keep_at_least=k_min), runs)
        if k_min <= 1 and one_voice_cut(raw, times, labels):
            labels = np.zeros(n, dtype=int)
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
