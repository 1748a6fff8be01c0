"""Where to cut a long recording: at the quietest moment near each boundary.

The file is scanned once, streaming, and only a loudness value per 100 ms is
kept (36,000 floats for an hour), so planning never holds the audio. A cut in
a pause means no word is split between two parts.
"""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

import numpy as np

from jobs.transcription.audio import SAMPLE_RATE, iter_windows

FRAME_S = 0.1
QUIET_MARGIN_DB = 6.0


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


def part_count(duration_s: float, part_s: float) -> int:
    """How many parts: none longer than about 1.25 × ``part_s``."""
    return max(1, math.ceil(duration_s / part_s - 0.25))


def cut_points(levels: np.ndarray, duration_s: float, part_s: float, search_s: float = 30.0) -> list[float]:
    """Boundaries at even fractions of the recording, each moved to a pause
    (a half second near the quietest) within ``search_s`` (at most a quarter
    part) of its target. Even parts matter: four parts on two workers take two rounds,
    but drifting cuts once made five parts of a 10-minute file, three rounds."""
    count = part_count(duration_s, part_s)
    step = duration_s / count
    search = min(search_s, step / 4)
    window = max(1, int(0.5 / FRAME_S))
    cuts: list[float] = []
    for k in range(1, count):
        target = k * step
        lo = max(0, int((target - search) / FRAME_S))
        hi = min(int((target + search) / FRAME_S), len(levels) - window)
        if hi <= lo:
            cut = target
        else:
            smoothed = np.convolve(levels[lo : hi + window], np.ones(window) / window, mode="valid")
            # Of the pauses about as quiet as the quietest, the one nearest
            # the target: parts stay even, and no word is cut.
            quiet = np.flatnonzero(smoothed <= smoothed.min() + QUIET_MARGIN_DB)
            centre = target / FRAME_S - lo - window / 2
            best = int(quiet[np.argmin(np.abs(quiet - centre))])
            cut = (lo + best + window / 2) * FRAME_S
        cuts.append(round(cut, 2))
    return cuts


def plan_ranges(path: Path, duration_s: float, part_s: float) -> list[tuple[float, float]]:
    """``[(start, end), …]`` covering the file; one range when it is short."""
    if part_count(duration_s, part_s) == 1:
        return [(0.0, duration_s)]
    cuts = cut_points(loudness(path), duration_s, part_s)
    edges = [0.0, *cuts, duration_s]
    return list(pairwise(edges))
