"""Word times that leave Whisper's text as it is without them.

faster-whisper's ``word_timestamps=True`` does two things: it aligns each
30 s window's tokens to the audio (cross-attention, ``add_word_timestamps``)
and, when a window does not end on a timestamp, it starts the next window at
the last aligned word's end instead of at the last timestamp. The second
changes where every later window starts and so what Whisper writes: on the
speaker bench's tuning meetings the text with word times was 0.011 further
from the script (CER) than without (issue #26).

:class:`AligningWhisper` decodes exactly as without word times and aligns
each window's segments afterwards, with the window's own encoder output (kept
from the decoding, not computed again) and faster-whisper's own alignment, so
the words and their times are what ``word_timestamps=True`` gives for the
same tokens, and the text is the text without them. Written against
faster-whisper 1.2.1's ``WhisperModel`` (its ``encode``,
``_split_segments_by_timestamps``, ``generate_segments`` and
``add_word_timestamps``; ``tests/jobs/transcription/test_core.py`` checks
the text and the word times).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from faster_whisper import WhisperModel
from faster_whisper.transcribe import Word
from faster_whisper.utils import get_end


@dataclass
class _Aligning:
    """One decoding's alignment state (per thread: one model serves the
    threads of a worker)."""

    tokenizer: Any
    prepend: str
    append: str
    last_speech: float = 0.0
    encoded: Any = None
    # The window's segments by ``id`` of their token list, which the
    # decoder's Segment shares with its segment dict.
    segments: dict[int, dict[str, Any]] = field(default_factory=dict)


class AligningWhisper(WhisperModel):  # type: ignore[misc]
    """``WhisperModel`` whose word times do not move the decoding windows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()

    def _state(self) -> _Aligning | None:
        state: _Aligning | None = getattr(self._local, "state", None)
        return state

    def encode(self, features: Any) -> Any:
        output = super().encode(features)
        state = self._state()
        if state is not None:
            state.encoded = output
        return output

    def _split_segments_by_timestamps(
        self,
        tokenizer: Any,
        tokens: list[int],
        time_offset: float,
        segment_size: int,
        segment_duration: float,
        seek: int,
    ) -> tuple[list[dict[str, Any]], int, bool]:
        segments, next_seek, single_ending = super()._split_segments_by_timestamps(
            tokenizer, tokens, time_offset, segment_size, segment_duration, seek
        )
        state = self._state()
        if state is not None and segments:
            # Copies: the alignment moves a segment's edges to its words,
            # and the decoder drops a segment whose start equals its end, so
            # aligning in place could keep or drop another set of segments
            # than without word times.
            aligned = [dict(s) for s in segments]
            # The window's encoder output is the last one computed: the
            # decoder encodes each window just before splitting its tokens.
            self.add_word_timestamps(
                [aligned],
                state.tokenizer,
                state.encoded,
                segment_size,
                state.prepend,
                state.append,
                last_speech_timestamp=state.last_speech,
            )
            end = get_end(aligned)
            if end is not None:
                state.last_speech = end
            state.segments = {id(s["tokens"]): s for s in aligned}
        return segments, next_seek, single_ending

    def generate_segments(
        self,
        features: Any,
        tokenizer: Any,
        options: Any,
        log_progress: Any,
        encoder_output: Any = None,
    ) -> Iterator[Any]:
        if not options.word_timestamps:
            yield from super().generate_segments(features, tokenizer, options, log_progress, encoder_output)
            return
        state = _Aligning(tokenizer, options.prepend_punctuations, options.append_punctuations)
        state.encoded = encoder_output
        self._local.state = state
        try:
            # Decoded as without word times: the windows start where the
            # timestamps say, so the text is the same.
            plain = replace(options, word_timestamps=False)
            for segment in super().generate_segments(
                features, tokenizer, plain, log_progress, encoder_output
            ):
                aligned = state.segments.get(id(segment.tokens))
                if aligned is None or not aligned.get("words"):
                    yield replace(segment, words=[])
                    continue
                yield replace(
                    segment,
                    start=aligned["start"],
                    end=aligned["end"],
                    words=[Word(**w) for w in aligned["words"]],
                )
        finally:
            # A decoding left unfinished (a cancelled job) ends here when
            # it is collected, perhaps after the next one began.
            if self._state() is state:
                self._local.state = None
