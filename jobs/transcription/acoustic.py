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
    import numpy as np
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer

    audio = np.asarray(audio, dtype=np.float32)[: _CHUNK_S * SAMPLE_RATE]
    tokenizer = Tokenizer(
        model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
    )
    features = model.feature_extractor(audio)
    frames = min(features.shape[-1], model.feature_extractor.nb_max_frames)
    encoded = model.encode(pad_or_trim(features, model.feature_extractor.nb_max_frames))
    tokens = [tokenizer.encode(text) for text in texts]
    # The prompt faster-whisper builds when it transcribes with these
    # hotwords (transcribe.py passes them the same way), so the texts are
    # scored as the recognition weighed them.
    start = model.get_prompt(tokenizer, [], without_timestamps=True, hotwords=" ".join(hotwords) or None)
    out = []
    for each in tokens:  # the encoded audio is one batch item: one text at a time
        (result,) = model.model.align(encoded, start, [each], frames)
        out.append(sum(math.log(max(p, _FLOOR)) for p in result.text_token_probs))
    return out


_PAD_S = 0.2  # audio either side of a segment: its times are Whisper's guesses


def segment_judge(
    model: Callable[[], Any], path: Path, language: str = "ja", hotwords: Sequence[str] = ()
) -> Callable[[Segment], Callable[[Sequence[str]], list[float]]]:
    """For a segment of the recording at ``path``, a scorer of texts against
    its audio (``text_scores``, with the ``hotwords`` the recognition had).
    ``model`` gives the worker's one model and is called only when a text
    is scored: most segments hold no stretch to judge, and a job with none
    loads nothing."""

    def hear(seg: Segment) -> Callable[[Sequence[str]], list[float]]:
        def score(texts: Sequence[str]) -> list[float]:
            if seg.end - seg.start + 2 * _PAD_S > _CHUNK_S:
                return [0.0] * len(texts)  # longer than the model's window: no opinion
            audio = decode_range(path, max(0.0, seg.start - _PAD_S), seg.end + _PAD_S)
            return text_scores(model(), audio, texts, language, hotwords)

        return score

    return hear
