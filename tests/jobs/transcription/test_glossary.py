"""Glossary terms put back by sound (OpenJTalk phonemes), on Whisper's real
mishearings of the test meetings, and measured on the real meeting run."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.transcription.glossary import correct_segments, correct_text
from jobs.transcription.segments import Segment
from tests.jobs.transcription.conftest import GLOSSARY
from tests.support.speech import MEETING


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        # What Whisper base wrote for the synthesised meetings.
        ("国らきたくの避難所に整備します。", "小倉北区の避難所に整備します。"),
        ("国らきた国は20か所の指定避難所があります。", "小倉北区は20か所の指定避難所があります。"),
        ("機械管理室と連携して周知を進めます。", "危機管理室と連携して周知を進めます。"),
        ("以上で0は7年度の報告を終わります。", "以上で令和7年度の報告を終わります。"),
        ("ただ今から冷えは7年度第3回会議を開催します。", "ただ今から令和7年度第3回会議を開催します。"),
        # ... and in a later run of the same meeting (北 read as a proper noun inside it).
        ("国立北区の避難所は何か所ありますか?", "小倉北区の避難所は何か所ありますか?"),
    ],
)
def test_misheard_terms_are_put_back(heard: str, meant: str) -> None:
    assert correct_text(heard, GLOSSARY) == meant


@pytest.mark.parametrize(
    "text",
    [
        "北九州市の小倉南区と小倉北区の避難所。",  # a real ward's name, not a mishearing
        "国際会議の予算を確保します。",
        "子育て支援センターの利用者は前年度と比べて一割ほど増えています。",
        "補正予算の総額は3億円です。",
    ],
)
def test_other_words_stay(text: str) -> None:
    assert correct_text(text, GLOSSARY) == text


def test_segments_keep_times_and_speakers() -> None:
    seg = Segment(1.0, 2.0, "国らきたくの避難所。", speaker="話者2")
    assert correct_segments([seg], GLOSSARY) == [Segment(1.0, 2.0, "小倉北区の避難所。", speaker="話者2")]
    assert correct_segments([seg], []) == [seg]


def test_terms_in_the_meeting_come_out_right(meeting_run: tuple[dict, list, Path]) -> None:
    data, _, _ = meeting_run
    said = "".join(text for _, text in MEETING)
    present = {term: said.count(term) for term in GLOSSARY}
    right = {term: min(data["text"].count(term), n) for term, n in present.items()}
    assert sum(right.values()) >= 0.9 * sum(present.values()), (right, data["text"])
