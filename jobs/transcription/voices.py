"""Speaker embeddings: one 256-number voice print per stretch of speech.

The encoder is Resemblyzer's (a 3-layer LSTM over 40 mel bands, trained on
thousands of speakers); its weights ship inside the ``resemblyzer`` wheel, so
nothing is ever downloaded. Only the weights file is used: the package's own
module imports ``webrtcvad``, which needs ``pkg_resources`` that current
setuptools no longer has, and ``librosa``, slow to import. The mel
spectrogram below is the same computation in NumPy (librosa's defaults:
Hann window, centred frames, Slaney mel scale and norm). Torch (CPU build)
runs the LSTM and is imported only when a job asks for speakers.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s per partial utterance, as trained
PARTIAL_RATE = 1.3  # partials per second
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0
EMBEDDING_SIZE = 256

_lock = threading.Lock()


def weights_path() -> Path:
    """``pretrained.pt`` inside the installed resemblyzer wheel (not imported)."""
    return Path(str(distribution("resemblyzer").locate_file("resemblyzer/pretrained.pt")))


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    linear = f / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, linear)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    linear = m * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log_part, linear)


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(40, 201) Slaney-normalised triangular filters, librosa's default."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_points = np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(SAMPLE_RATE / 2)), N_MELS + 2)
    hz = _mel_to_hz(mel_points)
    ramps = hz[:, None] - fft_freqs[None, :]
    fdiff = np.diff(hz)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (hz[2 : N_MELS + 2] - hz[:N_MELS]))[:, None]
    return weights.astype(np.float32)


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power spectrogram of float samples at 16 kHz."""
    padded = np.pad(samples.astype(np.float32), N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    if count <= 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(count)[:, None]
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann
    power: np.ndarray = np.abs(np.fft.rfft(padded[index] * window, axis=1)) ** 2
    mel: np.ndarray = (power @ mel_filters().T).astype(np.float32)
    return mel


def normalise_volume(samples: np.ndarray) -> np.ndarray:
    """Raise quiet speech to -30 dBFS (never lowered), as in training."""
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0
    if rms <= 0:
        return samples
    gain_db = TARGET_DBFS - 20 * np.log10(rms)
    return samples * (10 ** (gain_db / 20)) if gain_db > 0 else samples


def partial_slices(frames: int) -> list[slice]:
    """1.6 s windows, 1.3 per second; the last kept if 75 % covered."""
    step = max(1, round(SAMPLE_RATE / PARTIAL_RATE / HOP))
    slices = [
        slice(i, i + PARTIAL_FRAMES) for i in range(0, max(1, frames - PARTIAL_FRAMES + step + 1), step)
    ]
    last = slices[-1]
    coverage = (frames - last.start) / PARTIAL_FRAMES
    if coverage < MIN_COVERAGE and len(slices) > 1:
        slices = slices[:-1]
    return slices


class VoiceEncoder:
    """The LSTM with the wheel's weights; one per process (see :func:`encoder`)."""

    def __init__(self, threads: int = 0) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        state = torch.load(str(weights_path()), map_location="cpu", weights_only=True)["model_state"]
        self._torch = torch
        self._lstm = torch.nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self._linear = torch.nn.Linear(256, EMBEDDING_SIZE)
        self._lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self._linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self._lstm.eval()

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """L2-normed mean of the partial embeddings of float samples at 16 kHz."""
        mel = mel_frames(normalise_volume(samples))
        slices = partial_slices(len(mel))
        need = slices[-1].stop
        if need > len(mel):
            mel = np.pad(mel, ((0, need - len(mel)), (0, 0)))
        batch = np.stack([mel[s] for s in slices])
        torch = self._torch
        with torch.inference_mode():
            _, (hidden, _) = self._lstm(torch.from_numpy(batch))
            raw = torch.relu(self._linear(hidden[-1]))
            partials = raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-9)
        mean: np.ndarray = partials.mean(dim=0).numpy().astype(np.float64)
        unit: np.ndarray = mean / max(float(np.linalg.norm(mean)), 1e-9)
        return unit

    def embed_windows(self, pieces: list[np.ndarray], batch: int = 64) -> np.ndarray:
        """(len(pieces), 256) L2-normed voice prints, one per short piece of
        float samples at 16 kHz (each one partial; the LSTM stops at each
        piece's own last frame, so a short piece is not padded with silence)."""
        torch = self._torch
        out = np.zeros((len(pieces), EMBEDDING_SIZE), dtype=np.float64)
        for first in range(0, len(pieces), batch):
            mels = [mel_frames(normalise_volume(p)) for p in pieces[first : first + batch]]
            lengths = [max(1, len(m)) for m in mels]
            padded = np.zeros((len(mels), max(lengths), N_MELS), dtype=np.float32)
            for i, m in enumerate(mels):
                padded[i, : len(m)] = m
            with torch.inference_mode():
                packed = torch.nn.utils.rnn.pack_padded_sequence(
                    torch.from_numpy(padded), lengths, batch_first=True, enforce_sorted=False
                )
                _, (hidden, _) = self._lstm(packed)
                raw = torch.relu(self._linear(hidden[-1]))
                unit = raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-9)
            out[first : first + len(mels)] = unit.numpy()
        return out


_encoders: dict[int, Any] = {}


def encoder(threads: int = 0) -> VoiceEncoder:
    """The process's one encoder (loading takes about three seconds, mostly torch)."""
    with _lock:
        if threads not in _encoders:
            _encoders[threads] = VoiceEncoder(threads)
        return _encoders[threads]  # type: ignore[no-any-return]
