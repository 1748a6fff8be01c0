"""The city's wards heard as some other 「<noun>区」, and a term heard with
a lone kanji the dictionary reads only as a name (issue #26, third round):
loose matches the audio decides, never replacements of the text alone."""

from __future__ import annotations

import pytest

from jobs.transcription.base_glossary import base_terms, judge_hotwords
from jobs.transcription.glossary import Match, correct_text, heard_better, loose_replacements
from jobs.transcription.phonetics import words
from jobs.transcription.places import MAX_PLACE_LOSS

WARDS = ["門司区", "小倉北区", "小倉南区", "若松区", "八幡東区", "八幡西区", "戸畑区"]
TERMS = base_terms("北九州市", WARDS)
TOBATA_HEARD = "土砂区の祭りは今年も予定通り開催します。"  # Whisper base, for 戸畑区の祭りは…


def _places(text: str) -> dict[tuple[int, int], set[str]]:
    found: dict[tuple[int, int], set[str]] = {}
    for m in loose_replacements(text, TERMS):
        if m.loss == MAX_PLACE_LOSS:
            found.setdefault((m.start, m.end), set()).add(m.term)
    return found


def test_a_noun_and_a_lone_ku_near_the_citys_wards_is_asked_of_the_audio() -> None:
    # The text alone cannot say which ward (土砂区 is nearer 門司区 than
    # 戸畑区) nor whether one was said: it changes nothing.
    assert correct_text(TOBATA_HEARD, TERMS) == TOBATA_HEARD
    assert {"戸畑区", "門司区"} <= _places(TOBATA_HEARD)[(0, 3)]


@pytest.mark.parametrize(
    "text",
    [
        "地区の代表の方にもご出席いただきました。",
        "この学区では児童の数が増えています。",
        "選挙区の区割りが変わりました。",
        "福岡市東区の事例を参考にします。",
        "中央区の担当者と話しました。",
        "A区の工事は予定どおり終わりました。",
        "第3区の投票所はこちらです。",
        "戸畑区の公民館で講座を開いています。",
    ],
)
def test_words_wards_and_areas_named_otherwise_are_no_place_match(text: str) -> None:
    assert _places(text) == {}


def test_a_place_match_is_not_taken_inside_a_compound() -> None:
    # 「…国ら南区」: not 南区 alone after the nouns before it.
    assert all(start == 0 for start, _ in _places("国ら南区の農家と連携します。"))


def test_the_audio_may_put_a_ward_further_below_the_heard_text_than_other_terms() -> None:
    place = [m for m in loose_replacements(TOBATA_HEARD, TERMS) if m.term == "戸畑区"]
    assert place and all(m.loss == MAX_PLACE_LOSS for m in place)

    def below(loss: float):  # type: ignore[no-untyped-def]
        return lambda texts: [0.0] + [-loss] * (len(texts) - 1)

    assert [m.term for m in heard_better(TOBATA_HEARD, place, below(5.0))] == ["戸畑区"]
    assert heard_better(TOBATA_HEARD, place, below(MAX_PLACE_LOSS + 1)) == []
    # Any other loose match keeps the stricter bound.
    assert heard_better(TOBATA_HEARD, [Match(0, 3, "戸畑区", 0.44)], below(5.0)) == []


def test_the_audio_check_is_prompted_with_the_citys_name_and_wards() -> None:
    got = judge_hotwords(("危機管理室", "小倉北区"), "北九州市", ["小倉北区", "戸畑区"])
    assert got == ("危機管理室", "小倉北区", "北九州市", "戸畑区")
    assert judge_hotwords(("危機管理室",)) == ("危機管理室",)


def test_a_lone_kanji_known_only_as_a_name_has_its_other_reading() -> None:
    # Sudachi reads 修 alone as the name オサム; シュウ is its other one.
    (shuu,) = [w for w in words("北急修室") if w.surface == "修"]
    assert ("sh", "u", "u") in shuu.readings
    # 定 has common readings: its names' (サダム) stay out.
    (sada,) = [w for w in words("定") if w.surface == "定"]
    assert ("s", "a", "d", "a", "m", "u") not in sada.readings


def test_a_term_heard_with_another_trailing_kanji_is_asked_of_the_audio() -> None:
    heard = "北急修室として初めての取組になります。"
    assert correct_text(heard, TERMS) == heard  # never 「北九州市室」
    assert any((m.start, m.end, m.term) == (0, 4, "北九州市") for m in loose_replacements(heard, TERMS))


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        # Whisper base writes a ward it has no tokens for in kana; Sudachi
        # then cuts the kana into a particle and pieces (や|はた|に|しく).
        ("やはたにしくでは空き家が増えています。", "八幡西区では空き家が増えています。"),
        ("相談件数が最も多いのはやはたにしくでした。", "相談件数が最も多いのは八幡西区でした。"),
        ("来月からやはたひがしくでも受け付けます。", "来月から八幡東区でも受け付けます。"),
        ("やはた東区の坂の多い地域です。", "八幡東区の坂の多い地域です。"),
    ],
)
def test_a_ward_heard_in_kana_is_put_back_though_sudachi_cut_a_particle_off(heard: str, meant: str) -> None:
    assert correct_text(heard, TERMS) == meant


@pytest.mark.parametrize(
    "text",
    [
        "欠けた文字がないか確認します。",  # 「文字が」 ends on its particle: モジガ is no 門司区
        "課とともに進めます。",
        "はやくしてください。",
        "もう少しはやめにお知らせします。",
    ],
)
def test_phrases_with_kana_particles_stay(text: str) -> None:
    assert correct_text(text, TERMS) == text


@pytest.mark.parametrize(
    "text", ["門司港の周辺で健康イベントを開きます。", "戸畑駅から歩いて五分の場所です。"]
)
def test_a_proper_noun_the_dictionary_knows_stays_as_written(text: str) -> None:
    # One word each (門司港 モジコー is a long vowel and a vowel from
    # 門司区): a name Whisper wrote is that name, not a misheard ward.
    assert correct_text(text, TERMS) == text


@pytest.mark.parametrize(
    ("heard", "ward"),
    [
        ("飛ばた駅から歩いて5分の場所です。", "戸畑区"),
        ("文字庫の周辺で健康イベントを開きます。", "門司区"),
        ("ワカマキュの商店街です。", "若松区"),  # 若松 said, with no 区
    ],
)
def test_a_ward_heard_with_another_ending_is_never_put_in(heard: str, ward: str) -> None:
    # 戸畑駅, 門司港 and 若松 said: neither the text nor the audio (prompted
    # with the wards, it prefers them) can tell them from the ward.
    assert correct_text(heard, TERMS) == heard
    assert ward not in {m.term for m in loose_replacements(heard, TERMS)}
    assert correct_text(heard, TERMS, score=lambda texts: [0.0] + [1.0] * (len(texts) - 1)) == heard
