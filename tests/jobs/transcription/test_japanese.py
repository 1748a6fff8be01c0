from __future__ import annotations

import pytest

from jobs.transcription.japanese import character_error_rate, clean_segments, collapse_loops, punctuate
from jobs.transcription.segments import Segment


def seg(text: str, start: float = 0.0, no_speech: float = 0.0, logprob: float = -0.2) -> Segment:
    return Segment(start, start + 1, text, logprob, no_speech)


def test_hallucinations_and_repeats_are_dropped() -> None:
    segments = [
        seg("本日の議題です", 0),
        seg("ご視聴ありがとうございました。", 1),
        seg("本日の議題です。", 2),
        seg("えー", 3, no_speech=0.9, logprob=-1.5),
        seg("以上です", 4),
    ]
    assert [s.text for s in clean_segments(segments)] == ["本日の議題です。", "以上です。"]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("はいはいはいはい", "はい"),
        ("検討します検討します検討します", "検討します"),
        ("通常の文です", "通常の文です"),
    ],
)
def test_loops_collapse(raw: str, clean: str) -> None:
    assert collapse_loops(raw) == clean


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("本日は晴れ 明日は雨", "本日は晴れ、明日は雨。"),
        ("AI の活用", "AI の活用。"),
        ("よろしいですか？", "よろしいですか？"),
    ],
)
def test_punctuation(raw: str, clean: str) -> None:
    assert punctuate(raw) == clean


def test_cer_ignores_width_and_punctuation() -> None:
    assert character_error_rate("令和７年度、予算。", "令和7年度予算") == 0
    assert character_error_rate("あいうえお", "あいうえか") == pytest.approx(0.2)


def test_cuts_are_even_and_fall_in_pauses() -> None:
    """600 s in 150 s parts: four parts (two rounds on two workers), each cut
    at the pause nearest its target."""
    import numpy as np

    from jobs.transcription.split import FRAME_S, cut_points, part_count

    levels = np.full(6000, -20.0)
    for pause in (125.0, 140.0, 310.0, 445.0):  # seconds, each 1 s of silence
        levels[int(pause / FRAME_S) : int((pause + 1) / FRAME_S)] = -90.0
    levels[int(125 / FRAME_S) : int(126 / FRAME_S)] = -95.0  # quieter, but further away
    cuts = cut_points(levels, 600.0, 150.0)
    assert len(cuts) == 3 and part_count(600.0, 150.0) == 4
    for cut, pause in zip(cuts, (140.0, 310.0, 445.0), strict=True):
        assert pause <= cut <= pause + 1, cuts  # inside the pause nearest each target
    assert part_count(150.0 * 1.25, 150.0) == 1 and part_count(190.0, 150.0) == 2
