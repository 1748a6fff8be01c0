"""Word times leave Whisper's text as it is without them (issue #26): the
real embedded model on the tests' four-speaker meeting, which takes Whisper
two 30 s windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.transcription import model as whisper
from jobs.transcription.japanese import bare
from jobs.transcription.transcribe import Options, transcribe_range
from tests.support.speech import MEETING, meeting, write_audio


@pytest.fixture(scope="module")
def meeting_audio(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    samples, _ = meeting(MEETING)
    return write_audio(samples, tmp_path_factory.mktemp("align") / "meeting.flac"), len(samples) / 16_000


def test_word_times_do_not_change_the_text(meeting_audio: tuple[Path, float], model_cache: Path) -> None:
    """With word times faster-whisper starts the next window where the last
    word's alignment ends, and so decodes other text; the job decodes as
    without them and aligns afterwards. The words carry the text's letters
    in order, inside their segment and in time order."""
    audio, seconds = meeting_audio
    model = whisper.load_model(model_cache, cpu_threads=2)
    plain, _ = transcribe_range(model, audio, 0.0, seconds, Options())
    worded, _ = transcribe_range(model, audio, 0.0, seconds, Options(word_timestamps=True))
    assert plain[-1].end > 30  # more than one window
    assert [s.text for s in worded] == [s.text for s in plain]
    assert all(s.words is None for s in plain)
    ends = []
    for segment in worded:
        words = segment.words or ()
        assert words, segment
        assert bare("".join(w.text for w in words)) == bare(segment.text)
        assert segment.start <= words[0].start and words[-1].end <= segment.end + 1e-6
        ends += [t for w in words for t in (w.start, w.end)]
    assert ends == sorted(ends) and ends[-1] > 30
