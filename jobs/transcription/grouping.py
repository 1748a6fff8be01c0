"""Grouping voice prints into speakers (steps 1–3 of ``speakers``'s
docstring): how many, which windows belong together, and re-segmentation.
Pure numpy on prints and window times; the windows and the labels onto
segments live in ``speakers``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache, partial
from itertools import pairwise

import numpy as np

MAX_SPEAKERS = 20
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


def _unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9))


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


def label_windows(
    window_times: np.ndarray,
    window_prints: np.ndarray,
    speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
) -> np.ndarray:
    """A speaker number per window (``window_times`` (n, 2) and their unit
    ``window_prints``, in any order; any numbering)."""
    n = len(window_times)
    if n == 0:
        return np.zeros(0, dtype=int)
    order = np.argsort(window_times[:, 0], kind="stable")
    times = window_times[order]
    # The meeting's mean voice taken away: what all windows share (room,
    # microphone, language) says nothing about who speaks.
    prints = _unit(window_prints[order] - window_prints.mean(0))
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
    raw = _unit(window_prints[order])  # as the encoder gave them, for the one-voice tests
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
