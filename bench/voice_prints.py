"""Voice prints per window against prints pooled per stretch: prints one JSON object.

On the speaker bench's meetings (``bench/speakers.py``; Whisper's segments
with word times must already be kept under ``var/bench-speakers``, e.g.
``python bench/speakers.py --set tuning --prepare``), the windows the job
embeds are embedded two ways in turn, in the same run and at the same
load: each window through the whole network on its own
(``VoiceEncoder.embed_windows``, the way before) and each segment's
speech through the frame-level part once with each window pooled from its
frames (``VoiceEncoder.embed_stretches``, the job's way). Reports the cosine
between the two prints of each window and the encoder's seconds per
meeting both ways, on the clock and in CPU (best of ``--repeats``, the two
ways alternated).

    python bench/voice_prints.py --set tuning [--meetings 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.speakers import CACHE, RATE, VOICE_SETS, make_meeting  # noqa: E402
from jobs.transcription.segments import segment_from_json  # noqa: E402
from jobs.transcription.speakers import _spoken, window_spans  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", choices=sorted(VOICE_SETS), default="tuning")
    parser.add_argument("--meetings", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from jobs.transcription.voices import encoder

    model = encoder(args.threads)
    cosines: list[np.ndarray] = []
    rows = []
    for index in range(args.meetings):
        meeting = make_meeting(args.set, index)
        cached = CACHE / f"{meeting['name']}-words.json"
        segments = [segment_from_json(s) for s in json.loads(cached.read_text(encoding="utf-8"))["segments"]]
        audio = meeting["samples"].astype(np.float32) / 32768

        def at(t: float) -> int:
            return max(0, int(t * RATE))

        stretches = [(_spoken(s), window_spans(*_spoken(s))) for s in segments]
        stretches = [(st, sp) for st, sp in stretches if sp]
        pieces = [audio[at(a) : at(b)] for _, spans in stretches for a, b in spans]
        whole = [audio[at(a) : at(b)] for (a, b), _ in stretches]
        offsets = [[(at(wa) - at(a), at(wb) - at(a)) for wa, wb in sp] for (a, _), sp in stretches]
        old_s, new_s, old_cpu, new_cpu = [], [], [], []
        for _ in range(args.repeats):
            start, cpu = time.perf_counter(), time.process_time()
            old = model.embed_windows(pieces)
            old_s.append(time.perf_counter() - start)
            old_cpu.append(time.process_time() - cpu)
            start, cpu = time.perf_counter(), time.process_time()
            new = model.embed_stretches(whole, offsets)
            new_s.append(time.perf_counter() - start)
            new_cpu.append(time.process_time() - cpu)
        cos = np.sum(old * new, axis=1)
        cosines.append(cos)
        rows.append(
            {
                "meeting": meeting["name"],
                "audio_s": round(len(audio) / RATE, 1),
                "windows": len(pieces),
                "window_audio_s": round(sum(len(p) for p in pieces) / RATE, 1),
                "stretch_audio_s": round(sum(len(w) for w in whole) / RATE, 1),
                "encoder_windows_s": round(min(old_s), 2),
                "encoder_pooled_s": round(min(new_s), 2),
                "encoder_windows_cpu_s": round(min(old_cpu), 2),
                "encoder_pooled_cpu_s": round(min(new_cpu), 2),
                "cosine_min": round(float(cos.min()), 4),
                "cosine_mean": round(float(cos.mean()), 4),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    every = np.concatenate(cosines)
    old_total = sum(r["encoder_windows_s"] for r in rows)
    new_total = sum(r["encoder_pooled_s"] for r in rows)
    old_cpu_total = sum(r["encoder_windows_cpu_s"] for r in rows)
    new_cpu_total = sum(r["encoder_pooled_cpu_s"] for r in rows)
    print(
        json.dumps(
            {
                "bench": "voice_prints",
                "set": args.set,
                "meetings": len(rows),
                "windows": len(every),
                "cosine": {
                    "min": round(float(every.min()), 4),
                    "p1": round(float(np.percentile(every, 1)), 4),
                    "p5": round(float(np.percentile(every, 5)), 4),
                    "median": round(float(np.median(every)), 4),
                    "mean": round(float(every.mean()), 4),
                },
                "encoder_s_per_meeting_windows": round(old_total / len(rows), 2),
                "encoder_s_per_meeting_pooled": round(new_total / len(rows), 2),
                "pooled_vs_windows": round(new_total / old_total, 3),
                "encoder_cpu_s_per_meeting_windows": round(old_cpu_total / len(rows), 2),
                "encoder_cpu_s_per_meeting_pooled": round(new_cpu_total / len(rows), 2),
                "pooled_vs_windows_cpu": round(new_cpu_total / old_cpu_total, 3),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
