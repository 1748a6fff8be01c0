"""Speaker labels on synthesised meetings: real Whisper, the real voice
encoder from the resemblyzer wheel, attribution measured against the turns
the meeting was made of."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from docx import Document

from jobs.errors import JobInputError
from jobs.registry import JobContext
from jobs.transcription.kind import KIND, join_parts, validate_params
from jobs.transcription.segments import Segment
from jobs.transcription.speakers import cluster, label_segments, pauses, split_sentences
from jobs.transcription.voices import encoder
from tests.support.speech import VOICES, attribution, say

MIN_ATTRIBUTION = 0.90


def spans(data: dict) -> list[tuple[float, float, str]]:
    return [(s["start"], s["end"], s["speaker"]) for s in data["segments"]]


def test_four_speakers_are_told_apart(meeting_run: tuple[dict, list, Path]) -> None:
    data, turns, work = meeting_run
    assert data["speakers"] == ["話者1", "話者2", "話者3", "話者4"]
    score = attribution(turns, spans(data))
    assert score >= MIN_ATTRIBUTION, (score, spans(data))
    txt = (work / "transcript.txt").read_text(encoding="utf-8").splitlines()
    assert txt[0].startswith("話者1: ") and all(line.startswith("話者") for line in txt)
    assert "\n話者2: " in (work / "transcript.srt").read_text(encoding="utf-8")
    assert "<v 話者3>" in (work / "transcript.vtt").read_text(encoding="utf-8")
    turns_in_docx = [
        p.text for p in Document(str(work / "minutes.docx")).paragraphs if p.text.startswith("話者")
    ]
    assert [t.split("　")[0] for t in turns_in_docx[:4]] == ["話者1", "話者2", "話者3", "話者1"]


def test_two_and_three_speakers_subsets_are_attributed(meeting_run: tuple[dict, list, Path]) -> None:
    """The same run scored on the first two and three turns' speakers alone
    would hide a merge of voices; score each speaker's share instead."""
    data, turns, _ = meeting_run
    for speaker in range(4):
        own = [t for t in turns if t[2] == speaker]
        labels = {s[2] for s in spans(data) for t in own if min(t[1], s[1]) - max(t[0], s[0]) > 1.0}
        assert len(labels) == 1, (speaker, labels)


def test_one_voice_keeps_one_label(speech_wav: Path, make_ctx: Callable[..., JobContext]) -> None:
    ctx = make_ctx(speech_wav, {"diarize": True})
    outcome = KIND.run(ctx)
    assert outcome.summary["speakers"] == 1
    text = (ctx.work_dir / "transcript.txt").read_text(encoding="utf-8")
    assert {line.split(": ")[0] for line in text.splitlines()} == {"話者1"}


@pytest.fixture(scope="module")
def clips() -> dict[tuple[int, int], np.ndarray]:
    sentences = ("避難所の備蓄を確認しました。", "来週の会議で報告します。")
    return {
        (v, i): (say(s, VOICES[v]) / 32768).astype(np.float32)
        for v in range(3)
        for i, s in enumerate(sentences)
    }


def test_parts_keep_one_labelling(clips: dict[tuple[int, int], np.ndarray]) -> None:
    """Two parts, the second with the speakers in the other order: the merge
    clusters all voice prints together, so each voice keeps its label."""
    model = encoder(2)

    def part(order: list[tuple[int, int]], offset: float) -> dict:
        segments = [
            Segment(offset + 5 * k, offset + 5 * k + 3, f"{v}-{i}。") for k, (v, i) in enumerate(order)
        ]
        return {
            "segments": [s.to_json() for s in segments],
            "embeddings": [list(model.embed(clips[key])) for key in order],
            "language": "ja",
            "seconds": 20.0,
        }

    results = [part([(0, 0), (1, 0)], 0.0), part([(1, 1), (0, 1)], 20.0)]
    segments, _, seconds = join_parts(results)
    assert seconds == 40.0
    assert [(s.text, s.speaker) for s in segments] == [
        ("0-0。", "話者1"),
        ("1-0。", "話者2"),
        ("1-1。", "話者2"),
        ("0-1。", "話者1"),
    ]


def test_a_given_count_is_kept(clips: dict[tuple[int, int], np.ndarray]) -> None:
    model = encoder(2)
    keys = sorted(clips)
    prints = [list(model.embed(clips[k])) for k in keys]
    assert cluster(prints) == [0, 0, 1, 1, 2, 2]
    assert len(set(cluster(prints, 2))) == 2
    # A segment too short to embed takes its nearest neighbour's label.
    segments = [Segment(i, i + 1, "x") for i in range(3)]
    assert [s.speaker for s in label_segments(segments, [prints[0], None, prints[2]])] == [
        "話者1",
        "話者1",
        "話者2",
    ]


def test_sentences_run_together_are_cut_at_pauses() -> None:
    audio = np.concatenate([np.ones(16_000) * 0.3, np.zeros(8_000), np.ones(32_000) * 0.3]).astype(np.float32)
    quiet = pauses(audio, 10.0)
    assert quiet == pytest.approx([11.25], abs=0.06)
    whole = Segment(10.0, 13.5, "はい。説明します。")
    first, second = split_sentences(whole, quiet)
    assert (first.text, first.end, second.text, second.start) == (
        "はい。",
        pytest.approx(11.25, abs=0.06),
        "説明します。",
        first.end,
    )
    assert split_sentences(Segment(10.0, 13.5, "はい、説明します。"), quiet) == [
        Segment(10.0, 13.5, "はい、説明します。")
    ]


@pytest.mark.parametrize("value", [-1, 21, "2", True, 1.5])
def test_bad_speaker_count_is_refused(value: object) -> None:
    with pytest.raises(JobInputError) as caught:
        validate_params({"speakers": value})
    assert caught.value.details["field"] == "speakers"


def test_a_count_turns_speakers_on() -> None:
    assert validate_params({})["diarize"] is False
    assert validate_params({"speakers": 3})["diarize"] is True
    assert validate_params({"diarize": True})["speakers"] == 0
    # "auto" (the portal's and the CLI's way): labels on, the count found from the voices.
    assert (
        validate_params({"speakers": "auto"})["diarize"],
        validate_params({"speakers": "auto"})["speakers"],
    ) == (
        True,
        0,
    )
