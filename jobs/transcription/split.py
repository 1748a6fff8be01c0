"""Where to cut a long recording: at the quietest moment near each boundary.

The file is scanned once, streaming, and only a loudness value per 100 ms is
kept (36,000 floats for an hour), so planning never holds the audio. A cut in
a pause means no word is split between two parts.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np

from jobs.transcription.audio import SAMPLE_RATE, iter_windows

FRAME_S = 0.1


def loudness(path: Path) -> np.ndarray:
    """RMS per 100 ms frame over the whole file (dBFS-like, log scale)."""
    frame = int(FRAME_S * SAMPLE_RATE)
    values: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float32)
    for _, samples in iter_windows(path, 60.0):
        samples = np.concatenate([carry, samples])
        usable = len(samples) - len(samples) % frame
        blocks = samples[:usable].reshape(-1, frame)
        values.append(10 * np.log10(np.mean(blocks.astype(np.float64) ** 2, axis=1) + 1e-10))
        carry = samples[usable:]
    return np.concatenate(values) if values else np.zeros(0)


def cut_points(levels: np.ndarray, duration_s: float, part_s: float, search_s: float = 30.0) -> list[float]:
    """Boundaries about every ``part_s`` seconds, each moved to the quietest
    half second within ``search_s`` of its target."""
    cuts: list[float] = []
    last = 0.0
    window = max(1, int(0.5 / FRAME_S))
    while duration_s - last > part_s * 1.25:
        target = last + part_s
        lo = max(int((target - search_s) / FRAME_S), int((last + part_s / 2) / FRAME_S))
        hi = min(int((target + search_s) / FRAME_S), len(levels) - window)
        if hi <= lo:
            cut = target
        else:
            smoothed = np.convolve(levels[lo : hi + window], np.ones(window) / window, mode="valid")
            cut = (lo + int(np.argmin(smoothed)) + window / 2) * FRAME_S
        cuts.append(round(cut, 2))
        last = cut
    return cuts


def plan_ranges(path: Path, duration_s: float, part_s: float) -> list[tuple[float, float]]:
    """``[(start, end), …]`` covering the file; one range when it is short."""
    if duration_s <= part_s * 1.25:
        return [(0.0, duration_s)]
    cuts = cut_points(loudness(path), duration_s, part_s)
    edges = [0.0, *cuts, duration_s]
    return list(pairwise(edges))
