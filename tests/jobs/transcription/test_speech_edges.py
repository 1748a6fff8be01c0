"""Segment edges moved in to the speech Silero's voice activity detector
hears (real Silero from the faster-whisper wheel, real TTS speech)."""

from __future__ import annotations

import numpy as np

from jobs.transcription.segments import Segment, Word
from jobs.transcription.speakers import Windows, heard_speech, label_segments, to_speech
from tests.support.speech import VOICES, say


def test_speech_is_heard_where_it_is_spoken() -> None:
    """A second of room noise, a sentence, half a second of noise, another:
    the pause between them is heard, and each sentence's edges within 0.1 s."""
    rng = np.random.default_rng(3)
    first = say("本日の議題は三点ございます。", VOICES[0])
    second = say("まず前回の会議録の確認をお願いいたします。", VOICES[1])
    first, second = (
        w[np.flatnonzero(np.abs(w) > 30)[0] : np.flatnonzero(np.abs(w) > 30)[-1] + 1] for w in (first, second)
    )
    audio = np.concatenate([np.zeros(16_000), first, np.zeros(8_000), second, np.zeros(8_000)])
    audio = (audio + rng.standard_normal(len(audio)) * 30) / 32768
    spoken = [(1.0, 1.0 + len(first) / 16_000)]
    spoken.append((spoken[0][1] + 0.5, spoken[0][1] + 0.5 + len(second) / 16_000))
    heard = heard_speech(audio, start_s=10.0) - 10.0
    # A pause inside a sentence may be heard as one too; the pause between
    # the two is heard, and each sentence's outer edges.
    assert not any(a < spoken[1][0] - 0.1 and b > spoken[0][1] + 0.1 for a, b in heard), heard
    for a, b in spoken:
        inside = heard[(heard[:, 1] > a) & (heard[:, 0] < b)]
        assert abs(inside[0, 0] - a) < 0.1 and abs(inside[-1, 1] - b) < 0.1, (heard, spoken)


def _segment(start: float, end: float, text: str) -> Segment:
    middle = (start + end) / 2
    return Segment(
        start, end, text, words=(Word(start, middle, text[:2], 0.9), Word(middle, end, text[2:], 0.9))
    )


def test_labelled_segments_keep_only_heard_speech() -> None:
    """Whisper's segments take in the pause before a turn and the padding
    after it; with the detector's speech the edges move in to it (a
    segment in which nothing was heard keeps its own), and the parts'
    results carry the speech across Redis (a part from before keeps none)."""
    segments = [
        _segment(0.0, 3.0, "本日の議題"),
        _segment(3.2, 6.0, "前回の確認"),
        _segment(7.0, 8.0, "はいどうぞ"),
    ]
    times = np.array([[0.5, 2.0], [1.4, 2.9], [3.6, 5.1], [4.4, 5.9]])
    prints = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    speech = np.array([[0.42, 2.61], [3.55, 5.8]])
    labelled = label_segments(segments, Windows(times, prints, speech), speakers=2)
    unheard = label_segments(segments, Windows(times, prints), speakers=2)
    assert [s.start for s in unheard] == [0.0, 3.2, 7.0] and unheard[0].end > 3.0
    assert [(s.start, s.end) for s in labelled] == [(0.42, 2.61), (3.55, 5.8), (7.0, unheard[2].end)]
    assert labelled[0].speaker != labelled[1].speaker

    kept = Windows.from_json(Windows(times, prints, speech).to_json())
    assert kept.speech is not None and np.array_equal(kept.speech, speech)
    before = Windows(times, prints).to_json()
    assert "speech" not in before and Windows.from_json(before).speech is None
    joined = Windows.join(
        [Windows(times[:2], prints[:2], speech[1:]), Windows(times[2:], prints[2:], speech[:1])]
    )
    assert joined.speech is not None and joined.speech.tolist() == speech.tolist()
    assert to_speech(segments[2], speech) == segments[2]
