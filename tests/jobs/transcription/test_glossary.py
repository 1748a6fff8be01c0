"""Glossary terms put back by sound, on Whisper's real mishearings of the
test meetings, never into correct words, era years put back without any
glossary; and measured on the real meeting run and the sample meeting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jobs.registry import JobContext
from jobs.transcription.base_glossary import base_terms
from jobs.transcription.glossary import correct_segments, correct_text, loose_replacements, replacements
from jobs.transcription.phonetics import words
from jobs.transcription.segments import Segment, Word
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
        # Near 「令和7年度」 only through 「7年度」: それは is far from 令和.
        "それは7年度の課題として整理します。",
        # Well-formed words a third of a term's sound away stay as written.
        "ご意見は後日回答いたします。",  # 後日 / 門司区
        "高齢化が進んでいます。",  # 高齢化 / 定例会
    ],
)
def test_other_words_stay(text: str) -> None:
    assert correct_text(text, [*GLOSSARY, *base_terms("北九州市", ["門司区", "小倉北区"])]) == text


def test_a_term_never_cuts_into_a_correct_word() -> None:
    """The sample meeting's first sentence as Whisper wrote it, with a
    department glossary holding 防災行政無線: 「防災対策検」 sounds a little
    like it, but 検 is part of 検討; and the era comes back without a term."""
    heard = "ただ今から0は7年度第3回防災対策検討会議を開催します。"
    fixed = correct_text(heard, ["防災行政無線", "危機管理室", "小倉北区", "補正予算"])
    assert fixed == "ただ今から令和7年度第3回防災対策検討会議を開催します。"


@pytest.mark.parametrize(
    "heard",
    [
        "国らきた国は20か所の指定避難所があります。",
        "機械管理室と連携して防災対策検討会議の準備を進めます。",
        "ただ今から0は7年度第3回防災対策検討会議を開催します。",
    ],
)
def test_replacements_start_and_end_at_word_boundaries(heard: str) -> None:
    found = replacements(heard, ["防災行政無線", "危機管理室", "小倉北区", "防災対策検討"])
    bounds = {w.start for w in words(heard)} | {w.end for w in words(heard)}
    assert found and all(m.start in bounds and m.end in bounds for m in found), found
    assert "防災行政無線" not in [m.term for m in found]


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("以上で0は7年度の報告を終わります。", "以上で令和7年度の報告を終わります。"),
        ("例は6年4月から始まります。", "令和6年4月から始まります。"),
        ("0は7年度の予算", "令和7年度の予算"),
        # Stay: not an era before the year, or no era has that year.
        ("前は5年ごとに見直していました。", "前は5年ごとに見直していました。"),
        ("それは7年度の話です。", "それは7年度の話です。"),
        ("0は70年前の建物です。", "0は70年前の建物です。"),
    ],
)
def test_era_years_come_back_without_a_glossary(heard: str, meant: str) -> None:
    assert correct_text(heard, []) == meant


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        # A lone kanji read with the dictionary's other reading (改 as カイ,
        # 写 as シャ, not Sudachi's one reading of it standing alone).
        ("一般改計の総額は過去最大です。", "一般会計の総額は過去最大です。"),
        ("指定管理写の選定は公募です。", "指定管理者の選定は公募です。"),
        # A consonant heard palatalised (キ/キョ) costs half.
        ("住民巨大帳の写しを交付します。", "住民基本台帳の写しを交付します。"),
        # A pause inside a long compound (Whisper's 「、」).
        ("会計年度、任用職員を募集します。", "会計年度任用職員を募集します。"),
        ("会計粘土、医療職員の処遇を改善します。", "会計年度任用職員の処遇を改善します。"),
        ("防災行政 無線の放送です。", "防災行政無線の放送です。"),  # or a space
    ],
)
def test_reading_variants_and_pauses(heard: str, meant: str) -> None:
    assert correct_text(heard, [*GLOSSARY, *base_terms("北九州市", ["門司区", "小倉北区"])]) == meant


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        # Kanji of the same sound in the term's place (最/歳 サイ; 入 and 出
        # alone have no on-reading in the dictionary, so sound cannot tell).
        ("最入歳出の見込みです。", "歳入歳出の見込みです。"),
        ("住民基本台町を閲覧します。", "住民基本台帳を閲覧します。"),
        # Stay: other kanji of other sounds, or too little of the term.
        ("小倉南区の避難所です。", "小倉南区の避難所です。"),
        ("八幡東区の住民です。", "八幡東区の住民です。"),
        ("土砂区役所", "土砂区役所"),
    ],
)
def test_terms_written_with_other_kanji_of_the_same_sound(heard: str, meant: str) -> None:
    terms = ["歳入歳出", "住民基本台帳", "小倉北区", "八幡西区", "戸畑区"]
    assert correct_text(heard, terms) == meant


@pytest.mark.parametrize(
    "text",
    [
        "回復してきました。",  # き is 来る helping して, not a broken-off piece
        "発言を二つに分けます。",  # 二 may read ジ, but つ is a counter, not a piece
        "訂正は二重線でお願いします。",  # お is 願い's prefix
        "一般会計、特別会計の決算です。",  # two terms listed, not one cut by a pause
        "会議は 10時から 始めます。",  # a space is not read (OpenJTalk says キゴー)
        "計画の中間見直しに着述します。",  # a stretch never starts on a particle
    ],
)
def test_phrases_stay_with_the_looser_sound_rules(text: str) -> None:
    terms = [*GLOSSARY, "防災行政無線", *base_terms("北九州市", ["門司区", "小倉北区"])]
    assert correct_text(text, terms) == text


def test_a_broken_word_far_from_a_term_is_left_to_the_audio() -> None:
    """「撤明会」 (Whisper's 説明会, 撤明 no word) is 0.28 of 定例会's sound
    away: near enough to be a candidate, as a broken word is a mishearing,
    too far for the text alone to say which word was meant (the two share
    only 会); the audio judges it. A broken word as near as a well-formed
    one may be (「撤例会」, 0.17) is still put back by the text."""
    terms = base_terms("北九州市", ["門司区", "小倉北区"])
    heard = "先月の撤明会には五十人ほどが来られました。"
    assert correct_text(heard, terms) == heard
    loose = [heard[m.start : m.end] for m in loose_replacements(heard, terms) if m.term == "定例会"]
    assert loose == ["撤明会"]
    assert correct_text("次の撤例会に議案を出します。", terms) == "次の定例会に議案を出します。"


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("令和七年度の予算", "令和7年度の予算"),
        ("平成二十八年の地震", "平成28年の地震"),
        ("0は十二年度に", "令和12年度に"),
        ("令和元年度から", "令和元年度から"),  # 元 stays
        ("三年後を予定しています。", "三年後を予定しています。"),  # no era before it
    ],
)
def test_era_years_in_kanji_numerals_are_written_in_digits(heard: str, meant: str) -> None:
    assert correct_text(heard, []) == meant


def test_the_city_wards_from_the_settings_join_the_built_in_terms(tmp_path: Path) -> None:
    from config.settings import Settings
    from jobs.transcription.kind import correction_terms
    from jobs.transcription.options import options_from

    settings = Settings(var_dir=tmp_path, city_name="北九州市", city_wards="門司区、小倉北区,八幡西区")
    options = options_from(settings.kind_options())
    assert options.city_wards == ("門司区", "小倉北区", "八幡西区")
    child = Settings(
        var_dir=tmp_path, **{k: v for k, v in settings.model_dump().items() if k == "city_wards"}
    )
    assert child.city_wards == settings.city_wards
    ctx = JobContext(
        "j", "", {"glossary": ["危機管理室"]}, (), tmp_path, lambda *a: None, options, ("防災行政無線",)
    )
    terms = correction_terms(ctx)
    assert terms[:2] == ("防災行政無線", "危機管理室") and "八幡西区" in terms and "一般会計" in terms


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


def test_the_sample_meeting_reads_reiwa_and_keeps_its_title(make_ctx: Callable[..., JobContext]) -> None:
    """The demo recording with a department glossary holding 防災行政無線."""
    from jobs.transcription.kind import KIND, sample

    params, files = sample()
    ctx = make_ctx(files[0], params, glossary=("防災行政無線",))
    KIND.run(ctx)
    first = (ctx.work_dir / "transcript.txt").read_text(encoding="utf-8").splitlines()[0]
    assert "令和7年度" in first and "防災対策検討会議" in first and "防災行政無線" not in first, first


def test_word_timings_follow_a_corrected_segment() -> None:
    """The era put back over 「0は」: the words it touched become one word
    holding 令和, timed from the first to the last; the others are kept."""
    pieces = [("0", 0.0, 0.3), ("は", 0.3, 0.5), ("7", 0.5, 0.7), ("年度", 0.7, 1.0), ("の", 1.0, 1.1)]
    words = tuple(Word(a, b, t, 0.9) for t, a, b in pieces)
    seg = Segment(0.0, 1.1, "0は7年度の", words=words)
    (fixed,) = correct_segments([seg], [])
    assert fixed.text == "令和7年度の"
    assert fixed.words is not None and "".join(w.text for w in fixed.words) == fixed.text
    assert (fixed.words[0].text, fixed.words[0].start, fixed.words[0].end) == ("令和", 0.0, 0.5)
    assert fixed.words[1:] == words[2:]
