"""Transcription benchmark: prints one JSON object.

In one run, on the same synthetic Japanese speech:
- job_vs_bare: the job core's time vs bare faster-whisper with the same model and
  settings on the same recording (target ratio <= 1.05);
- workers: a 10-minute recording through the real queue on 1 vs 2 gpu-pool worker
  processes (1 thread each), split into parts (target speed-up >= 1.8);
- memory: peak RSS of the job core on a 60-minute recording vs the process with only
  the model loaded (target < 2.5 GB);
- glossary: on held-out sentences (never used to tune the replacement) in four
  voices, character error rate and glossary terms right without the glossary,
  with it as hotwords only (bare faster-whisper), with the sound-alike
  replacement only, and with both (what the job does);
- diarization: a multi-speaker meeting with and without speaker labels: the
  seconds speaker labelling adds per audio minute, and the attribution score.

``--quick`` scales the recordings down (2 and 6 minutes) for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jobs.registry import JobContext  # noqa: E402
from jobs.transcription import model as whisper  # noqa: E402
from jobs.transcription.direct import file_context  # noqa: E402
from jobs.transcription.glossary import correct_segments  # noqa: E402
from jobs.transcription.japanese import (  # noqa: E402
    character_error_rate,
    clean_segments,
)
from jobs.transcription.kind import KIND  # noqa: E402
from jobs.transcription.phonetics import phonemes, words  # noqa: E402
from jobs.transcription.segments import Segment  # noqa: E402
from tests.support.speech import (  # noqa: E402
    MEETING,
    SENTENCES,
    attribution,
    meeting,
    synthesise,
    write_audio,
)

MORE = (
    "次に本年度の事業計画の進み具合について各課から報告をお願いします。",
    "道路の補修工事は予定どおり九月末に完了する見込みです。",
    "子育て支援センターの利用者は前年度と比べて一割ほど増えています。",
    "ご質問がなければ次の議題に移りたいと思います。",
)
GLOSSARY = ["危機管理室", "小倉北区", "補正予算", "防災対策検討会議", "非常用発電機", "令和7年度"]
# Written after the replacement was tuned, and never used to tune it.
HELD_OUT = (
    (0, "小倉北区の防災訓練は十月に実施する予定です。"),
    (1, "危機管理室の職員が各地区の避難所を巡回しました。"),
    (2, "補正予算案は次の定例会に提出します。"),
    (3, "令和7年度の事業評価を取りまとめました。"),
    (1, "非常用発電機の点検は業者に委託しています。"),
    (0, "次回の防災対策検討会議は小倉北区役所で開きます。"),
)


def speech_file(folder: Path, minutes: float) -> Path:
    base = synthesise([*SENTENCES, *MORE])
    repeats = int(np.ceil(minutes * 60 * 16_000 / len(base)))
    samples = np.tile(base, repeats)[: int(minutes * 60 * 16_000)]
    return write_audio(samples, folder / f"speech-{minutes:g}min.flac")


def context(audio: Path, work: Path, options: dict, params: dict | None = None) -> JobContext:
    work.mkdir(parents=True, exist_ok=True)
    return file_context(audio, work, params=params, options=options, progress=lambda f, m="": None)


def job_vs_bare(folder: Path, model_dir: Path, cache: Path) -> dict:
    audio = speech_file(folder, 1.0)
    options = {"model_cache_dir": str(cache), "cpu_threads": os.cpu_count() or 1}
    model = whisper.load_model(model_dir, cpu_threads=options["cpu_threads"])
    model.transcribe(str(audio), language="ja")  # warm up

    def bare() -> float:
        start = time.perf_counter()
        segments, _ = model.transcribe(
            str(audio), language="ja", beam_size=5, vad_filter=True, condition_on_previous_text=False
        )
        list(segments)
        return time.perf_counter() - start

    def job() -> float:
        start = time.perf_counter()
        KIND.run(context(audio, folder / f"work-{time.monotonic_ns()}", options))
        return time.perf_counter() - start

    # Interleaved, so a burst of other load on the machine hits both sides.
    bare_runs, job_runs = [], []
    for _ in range(3):
        bare_runs.append(bare())
        job_runs.append(job())
    bare_s, job_s = min(bare_runs), min(job_runs)
    return {
        "audio_s": 60,
        "bare_s": round(bare_s, 2),
        "job_s": round(job_s, 2),
        "bare_runs_s": [round(t, 2) for t in bare_runs],
        "job_runs_s": [round(t, 2) for t in job_runs],
        "ratio": round(job_s / bare_s, 3),
        "target_ratio_max": 1.05,
    }


def queue_run(folder: Path, audio: Path, workers: int, part_s: float) -> float:
    """Wall time of one job through Redis and real worker processes."""
    from composition.runtime import Runtime
    from config.settings import Settings
    from digilabo.embedded import python_argv, spawn, start_redis
    from jobs import intake
    from jobs.db import migrate, unit_of_work
    from jobs.store import Viewer, ensure_department
    from queues.dispatch import enqueue

    root = folder / f"queue-{workers}"
    redis, url = start_redis(root / "redis", appendonly=False)
    settings = Settings(
        var_dir=root,
        redis_url=url,
        cpu_threads=1,
        transcription_part_seconds=part_s,
        model_cache_dir=folder / "models",
    )
    migrate(settings.database_url)
    env = {**os.environ, **settings.as_env(), "PYTHONPATH": str(REPO)}
    worker = spawn(
        "worker",
        python_argv("-m", "digilabo", "worker", "--pool", "gpu", "--concurrency", str(workers)),
        env=env,
        log_path=root / "worker.log",
    )
    runtime = Runtime(settings)
    try:
        blob = runtime.artifacts.put_file(audio)
        kind = runtime.registry.get("transcription")
        with unit_of_work(runtime.factory) as session:
            ensure_department("bench", session=session)
            viewer = Viewer(user_id=None, name="bench", department_code="bench", role="department")
            job = intake.accept(
                session=session,
                kind=kind,
                viewer=viewer,
                params={},
                staged=[intake.StagedInput(audio.name, blob)],
            )
            job_id = job.id
        time.sleep(3)  # let both pool processes start before the clock runs
        start = time.perf_counter()
        enqueue(runtime.celery, settings, kind, job_id)
        while True:
            with runtime.factory() as session:
                state = session.get(type(job), job_id).state
            if state in ("succeeded", "failed"):
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - start
        if state != "succeeded":
            raise RuntimeError(f"bench job failed: see {root / 'worker.log'}")
        return elapsed
    finally:
        worker.stop()
        redis.stop()
        runtime.close()


def workers(folder: Path, minutes: float) -> dict:
    audio = speech_file(folder, minutes)
    part_s = minutes * 60 / 4  # four parts: two rounds for two workers
    one = queue_run(folder, audio, 1, part_s)
    two = queue_run(folder, audio, 2, part_s)
    return {
        "audio_min": minutes,
        "one_worker_s": round(one, 1),
        "two_workers_s": round(two, 1),
        "speedup": round(one / two, 2),
        "target_speedup_min": 1.8,
    }


def peak_rss(folder: Path, minutes: float, cache: Path) -> dict:
    audio = speech_file(folder, minutes)
    script = (
        "import json,resource,sys; sys.path.insert(0, sys.argv[1]);"
        "from bench.transcription import context; from jobs.transcription.kind import KIND, model_for;"
        "from pathlib import Path; o={'model_cache_dir': sys.argv[3], 'cpu_threads': 2};"
        "ctx=context(Path(sys.argv[2]), Path(sys.argv[4]), o);"
        "model_for(ctx); base=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
        "KIND.run(ctx) if sys.argv[5]=='job' else None;"
        "print(json.dumps([base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(REPO), str(audio), str(cache), str(folder / "rss"), "job"],
        capture_output=True,
        text=True,
        check=True,
    )
    model_kb, job_kb = json.loads(run.stdout.strip().splitlines()[-1])
    return {
        "audio_min": minutes,
        "model_only_mb": round(model_kb / 1024),
        "job_peak_mb": round(job_kb / 1024),
        "ratio": round(job_kb / model_kb, 2),
        "target_peak_mb_max": 2560,
    }


def _terms_right(reference: str, text: str) -> float:
    present = {t: reference.count(t) for t in GLOSSARY}
    right = sum(min(text.count(t), n) for t, n in present.items())
    return round(right / max(1, sum(present.values())), 3)


def glossary(folder: Path, cache: Path) -> dict:
    samples, _ = meeting(HELD_OUT)
    audio = write_audio(samples, folder / "glossary.flac")
    reference = "".join(text for _, text in HELD_OUT)
    options = {"model_cache_dir": str(cache), "cpu_threads": os.cpu_count() or 1}
    texts: dict[str, str] = {}
    plain: list[Segment] = []
    for label, terms in (("none", []), ("hotwords_and_replacement", GLOSSARY)):
        ctx = context(audio, folder / f"gl-{label}", options, {"glossary": terms})
        KIND.run(ctx)
        data = json.loads((ctx.work_dir / "transcript.json").read_text(encoding="utf-8"))
        texts[label] = data["text"]
        if not terms:
            plain = [Segment(s["start"], s["end"], s["text"]) for s in data["segments"]]
    phonemes.cache_clear()  # measured cold: the job above filled the caches
    words.cache_clear()
    started = time.perf_counter()
    texts["replacement_only"] = "".join(s.text for s in correct_segments(plain, GLOSSARY))
    replace_s = time.perf_counter() - started
    model = whisper.load_model(whisper.ensure_embedded_model(cache), cpu_threads=options["cpu_threads"])
    raw, _ = model.transcribe(
        str(audio),
        language="ja",
        beam_size=5,
        vad_filter=True,
        condition_on_previous_text=False,
        hotwords=" ".join(GLOSSARY),
    )
    hot = clean_segments(Segment(float(r.start), float(r.end), r.text) for r in raw)
    texts["hotwords_only"] = "".join(s.text for s in hot)
    return {
        label: {
            "cer": round(character_error_rate(reference, text), 4),
            "terms_right": _terms_right(reference, text),
        }
        for label, text in texts.items()
    } | {
        "sentences": len(HELD_OUT),
        "target_terms_right_min": 0.9,
        # The replacement's own cost (OpenJTalk, cold caches), per audio minute.
        "replacement_s_per_audio_minute": round(replace_s / (len(samples) / 16_000 / 60), 2),
    }


def diarization(folder: Path, cache: Path, repeats: int) -> dict:
    """The meeting of tests/support/speech.py ``repeats`` times over."""
    samples, turns = meeting(list(MEETING) * repeats)
    audio = write_audio(samples, folder / "speakers.flac")
    minutes = len(samples) / 16_000 / 60
    options = {"model_cache_dir": str(cache), "cpu_threads": os.cpu_count() or 1}
    KIND.run(context(audio, folder / "dz-warm", options, {"diarize": True}))  # loads torch and the encoder
    seconds = {}
    for label, params in (("off", {}), ("on", {"diarize": True})):
        ctx = context(audio, folder / f"dz-{label}", options, params)
        start = time.perf_counter()
        KIND.run(ctx)
        seconds[label] = time.perf_counter() - start
    data = json.loads((ctx.work_dir / "transcript.json").read_text(encoding="utf-8"))
    spans = [(s["start"], s["end"], s["speaker"]) for s in data["segments"]]
    return {
        "audio_minutes": round(minutes, 2),
        "off_s": round(seconds["off"], 2),
        "on_s": round(seconds["on"], 2),
        "added_s_per_audio_minute": round((seconds["on"] - seconds["off"]) / minutes, 2),
        "speakers_found": len(data.get("speakers", [])),
        "speakers_true": len({t[2] for t in turns}),
        "attribution": round(attribution(turns, spans), 4),
        "target_attribution_min": 0.9,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short recordings, for a smoke run")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["job_vs_bare", "glossary", "diarization", "workers", "memory"],
        help="run only these sections",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="bench-transcription-") as tmp:
        folder = Path(tmp)
        cache = folder / "models"
        model_dir = whisper.ensure_embedded_model(cache)
        sections = {
            "job_vs_bare": lambda: job_vs_bare(folder, model_dir, cache),
            "glossary": lambda: glossary(folder, cache),
            "diarization": lambda: diarization(folder, cache, 1 if args.quick else 4),
            "workers": lambda: workers(folder, 2.0 if args.quick else 10.0),
            "memory": lambda: peak_rss(folder, 6.0 if args.quick else 60.0, cache),
        }
        result: dict = {
            "bench": "transcription",
            "device": whisper.choose_device().device,
            "cores": os.cpu_count(),
        }
        for name, run in sections.items():
            if not args.only or name in args.only:
                result[name] = run()
    print(json.dumps(result, ensure_ascii=False))
    _ = resource


if __name__ == "__main__":
    main()
