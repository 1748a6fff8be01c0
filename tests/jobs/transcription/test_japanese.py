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
