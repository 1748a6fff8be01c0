"""The glossary's audio check, with the real model on synthesised speech:
a term Whisper wrote as other real words comes back when the audio says
so, and a stretch the text rules find loosely near a term stays when the
audio says it was said as written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from jobs.transcription import model as whisper
from jobs.transcription.acoustic import segment_judge, text_scores, windows
from jobs.transcription.base_glossary import base_terms, judge_hotwords
from jobs.transcription.glossary import correct_segments, correct_text, loose_replacements
from jobs.transcription.segments import Segment
from tests.support.speech import VOICES, say, write_audio

TERMS = [*base_terms("北九州市", ["門司区", "小倉北区", "戸畑区"])]
HOTWORDS = ("防災行政無線", "危機管理室", "小倉北区")
RATE = 16_000
# (said, what Whisper base wrote for it in this voice)
MISHEARD = ("この事業の費用は一般会計から支出します。", "この事業の費用は一旦回転から出土します。")
AS_SAID = "前は5年ごとに計画を見直していました。"


@pytest.fixture(scope="module")
def model(model_cache: Path) -> object:
    return whisper.load_model(model_cache, cpu_threads=2)


def _wave(sentence: str) -> np.ndarray:
    return np.asarray(say(sentence, VOICES[2]), dtype=np.float32) / 32768.0


def test_the_text_rules_alone_leave_both_as_heard() -> None:
    """What the audio check is for: the text rules cannot tell these apart,
    and each holds a loose match for the audio to judge."""
    assert correct_text(MISHEARD[1], TERMS) == MISHEARD[1]
    assert correct_text(AS_SAID, TERMS) == AS_SAID
    assert loose_replacements(MISHEARD[1], TERMS) and loose_replacements(AS_SAID, TERMS)


def test_the_audio_puts_back_a_term_heard_as_other_words(model: object) -> None:
    def score(texts: list[str] | tuple[str, ...]) -> list[float]:
        return text_scores(model, _wave(MISHEARD[0]), list(texts), hotwords=HOTWORDS)

    fixed = correct_text(MISHEARD[1], TERMS, score=score)
    assert "一般会計" in fixed and "一旦回転" not in fixed, fixed


def test_the_audio_keeps_words_said_as_written(model: object) -> None:
    def score(texts: list[str] | tuple[str, ...]) -> list[float]:
        return text_scores(model, _wave(AS_SAID), list(texts), hotwords=HOTWORDS)

    assert correct_text(AS_SAID, TERMS, score=score) == AS_SAID


def test_segments_of_a_recording_are_judged_by_their_own_audio(model: object, tmp_path: Path) -> None:
    """As a job does: one file, each segment's range decoded and scored;
    the model is asked for only when a segment holds a loose match."""
    first, second = _wave(MISHEARD[0]), _wave(AS_SAID)
    pause = np.zeros(int(1.2 * RATE), dtype=np.float32)
    samples = np.concatenate([first, pause, second, pause])
    path = write_audio((samples * 32767).astype(np.int16), tmp_path / "meeting.wav")
    start = (len(first) + len(pause)) / RATE
    segments = [
        Segment(0.0, len(first) / RATE, MISHEARD[1]),
        Segment(start, start + len(second) / RATE, AS_SAID),
        Segment(start + len(second) / RATE, start + len(second) / RATE + 1.0, "ありがとうございました。"),
    ]
    asked: list[int] = []

    def load() -> object:
        asked.append(1)
        return model

    fixed = correct_segments(segments, TERMS, segment_judge(load, path, hotwords=HOTWORDS))
    assert "一般会計" in fixed[0].text, fixed[0].text
    assert fixed[1:] == segments[1:]
    # The first two segments are judged, the third not; both lie in one
    # 30 s window, so they share one pass of the encoder.
    assert len(asked) == 1
    alone = correct_segments(segments, TERMS, segment_judge(load, path, hotwords=HOTWORDS, shared=False))
    assert alone == fixed and len(asked) == 3


def test_judged_segments_share_a_window_only_within_30_seconds() -> None:
    segments = [Segment(s, s + 4.0, "x") for s in (0.0, 5.0, 10.0, 26.0, 31.0)]
    asks = [["a", "b"], [], ["a", "b"], ["a", "b"], ["a", "b"]]
    # 0–14 s share one window; 26 s ends past 30 s of it; 31 s joins 26 s.
    assert windows(segments, asks) == [(0, 2), (3, 4)]
    assert windows(segments, asks, shared=False) == [(0, 0), (2, 2), (3, 3), (4, 4)]


def test_a_segment_longer_than_a_window_keeps_its_text(tmp_path: Path) -> None:
    """No opinion from the audio is no reason to put a loose match in."""
    asked: list[int] = []
    judge = segment_judge(lambda: asked.append(1), tmp_path / "absent.wav", hotwords=HOTWORDS)
    seg = Segment(0.0, 40.0, MISHEARD[1])
    assert correct_segments([seg], TERMS, judge) == [seg] and not asked


# (said, what Whisper base wrote for it in this voice): 戸畑区 as 「土砂区」,
# a 「<noun>区」 that is no word; and a 「<noun>区」 written for no ward.
WARD_MISHEARD = ("戸畑区の祭りは今年も予定どおり開催します。", "土砂区の祭りは今年も予定通り開催します。", 3)
NO_WARD = ("まず事務局から資料の説明をお願いします。", "まず地域区から白の説明をお願いします。", 1)
CITY_WARDS = ["門司区", "小倉北区", "小倉南区", "若松区", "八幡東区", "八幡西区", "戸畑区"]


def _ward_score(model: object, said: str, voice: int) -> Callable[[Sequence[str]], list[float]]:
    wave = np.asarray(say(said, VOICES[voice]), dtype=np.float32) / 32768.0
    prompt = judge_hotwords(HOTWORDS, "北九州市", CITY_WARDS)
    return lambda texts: text_scores(model, wave, list(texts), hotwords=prompt)


def test_the_audio_picks_the_ward_heard_as_a_noun_and_ku(model: object) -> None:
    said, heard, voice = WARD_MISHEARD
    terms = base_terms("北九州市", CITY_WARDS)
    assert correct_text(heard, terms, score=_ward_score(model, said, voice)) == said.replace("どおり", "通り")


def test_a_noun_and_ku_said_for_no_ward_stays(model: object) -> None:
    said, heard, voice = NO_WARD
    terms = base_terms("北九州市", CITY_WARDS)
    assert correct_text(heard, terms, score=_ward_score(model, said, voice)) == heard
