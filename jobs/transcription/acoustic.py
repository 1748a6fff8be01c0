"""How likely a text is for a stretch of audio, by the Whisper model that
heard it: the glossary step asks it whether a looser match is what was said.

The model's decoder is run on the text as given (teacher forcing, through
CTranslate2's ``Whisper.align``, which faster-whisper uses for word
timestamps) and the log-probabilities of its tokens are summed. Two texts
for the same audio compare directly: the one the audio makes more probable
is the better transcript of it. The loaded model is reused (one per process,
jobs/transcription/model.py); nothing here loads one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jobs.transcription.audio import SAMPLE_RATE, decode_range
from jobs.transcription.segments import Segment

_CHUNK_S = 30  # Whisper's window: a longer stretch is cut to its first 30 s
_FLOOR = 1e-12  # a token the model gives no chance at all


def text_scores(
    model: Any, audio: Any, texts: Sequence[str], language: str = "ja", hotwords: Sequence[str] = ()
) -> list[float]:
    """The summed log-probability of each of ``texts`` (its tokens and the
    end of text) given ``audio`` (float32 mono at 16 kHz, at most 30 s are
    used), by the faster-whisper ``model``; with ``hotwords``, the decoder
    is prompted with them as faster-whisper does when it transcribes, so
    the texts are scored as the recognition weighed them."""
    return _Heard(model, audio, language, hotwords).scores(texts)


class _Heard:
    """One stretch of audio through Whisper's encoder (the costly part: a
    full 30 s window whatever the audio's length), and texts scored against
    it by the decoder, as many as asked."""

    def __init__(self, model: Any, audio: Any, language: str, hotwords: Sequence[str]) -> None:
        import numpy as np
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        audio = np.asarray(audio, dtype=np.float32)[: _CHUNK_S * SAMPLE_RATE]
        self.model = model
        self.tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        features = model.feature_extractor(audio)
        self.frames = min(features.shape[-1], model.feature_extractor.nb_max_frames)
        self.encoded = model.encode(pad_or_trim(features, model.feature_extractor.nb_max_frames))
        # The prompt faster-whisper builds when it transcribes with these
        # hotwords (transcribe.py passes them the same way), so the texts
        # are scored as the recognition weighed them.
        self.prompt = model.get_prompt(
            self.tokenizer, [], without_timestamps=True, hotwords=" ".join(hotwords) or None
        )

    def scores(self, texts: Sequence[str]) -> list[float]:
        out = []
        for text in texts:  # the encoded audio is one batch item: one text at a time
            tokens = self.tokenizer.encode(text)
            (result,) = self.model.model.align(self.encoded, self.prompt, [tokens], self.frames)
            out.append(sum(math.log(max(p, _FLOOR)) for p in result.text_token_probs))
        return out


_PAD_S = 0.2  # audio either side of a segment: its times are Whisper's guesses


def windows(
    segments: Sequence[Segment], asks: Sequence[Sequence[str]], *, shared: bool = True
) -> list[tuple[int, int]]:
    """Runs of segments ``(first, last)`` judged on one pass of the encoder:
    from a segment with texts to judge, on to the last such segment whose
    end (with ``_PAD_S`` either side) lies within the same 30 s window.
    A segment too long for a window gets one of its own (no opinion), as
    does every judged segment when not ``shared``."""
    judged = [k for k, ask in enumerate(asks) if ask]
    out: list[tuple[int, int]] = []
    at = 0
    while at < len(judged):
        first = judged[at]
        opened = max(0.0, segments[first].start - _PAD_S)
        end, last, at = segments[first].end, first, at + 1
        while shared and at < len(judged):
            ends = max(end, *(s.end for s in segments[last + 1 : judged[at] + 1]))
            if ends + _PAD_S - opened > _CHUNK_S:
                break
            end, last, at = ends, judged[at], at + 1
        out.append((first, last))
    return out


def segment_judge(
    model: Callable[[], Any],
    path: Path,
    language: str = "ja",
    hotwords: Sequence[str] = (),
    *,
    shared: bool = True,
) -> Callable[[Sequence[Segment], Sequence[Sequence[str]]], list[list[float]]]:
    """For the segments of the recording at ``path`` and the texts asked
    for each (none: not judged), their scores against the audio
    (``text_scores``, with the ``hotwords`` the recognition had).

    Judged segments that fit in one 30 s window share one pass of the
    encoder (``windows``): the window's audio runs from the first one's
    start to the last one's end, and each text is scored as the whole
    window's transcript, the segments between as they stand and the
    segment's own text replaced, so that the audio of the neighbours is
    accounted for by their words. A window of one segment is exactly that
    segment's audio and text. ``model`` gives the worker's one model and is
    called once per window: a job with nothing to judge loads nothing.
    Not ``shared``, each judged segment has a window of its own (as before
    issue #26; bench/glossary.py --cost times both)."""

    def judge(segments: Sequence[Segment], asks: Sequence[Sequence[str]]) -> list[list[float]]:
        out: list[list[float]] = [[] for _ in segments]
        for first, last in windows(segments, asks, shared=shared):
            start = max(0.0, segments[first].start - _PAD_S)
            end = max(s.end for s in segments[first : last + 1]) + _PAD_S
            if end - start > _CHUNK_S:  # longer than the model's window: no opinion, as heard
                out[first] = [0.0] + [-math.inf] * (len(asks[first]) - 1)
                continue
            heard = _Heard(model(), decode_range(path, start, end), language, hotwords)
            texts = [s.text for s in segments[first : last + 1]]
            (as_heard,) = heard.scores(["".join(texts)])
            for k in range(first, last + 1):
                if asks[k]:
                    put = ["".join([*texts[: k - first], t, *texts[k - first + 1 :]]) for t in asks[k][1:]]
                    out[k] = [as_heard, *heard.scores(put)]
        return out

    return judge
