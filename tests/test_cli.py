"""The ``digilabo`` command as a user runs it: token create, up (embedded
Redis with AOF, API, workers), submit --wait, jobs, export, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from digilabo.embedded import free_port, start_standin, wait_for
from tests.conftest import REPO, TEST_KINDS

DIGILABO = str(Path(sys.executable).parent / "digilabo")


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_up_serves_jobs_and_ctrl_c_stops_every_child(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
    env.update(
        DIGILABO_VAR_DIR=str(tmp_path / "var"),
        DIGILABO_EXTRA_JOB_KINDS=TEST_KINDS,
        DIGILABO_API_PORT=str(port),
        DIGILABO_ALLOW_ROOT="1",
        DIGILABO_RUN_AS="",
        PYTHONPATH=str(REPO),
    )
    run = {"env": env, "cwd": tmp_path, "capture_output": True, "text": True, "timeout": 120}
    created = subprocess.run(
        [DIGILABO, "token", "create", "--department", "kikaku", "--department-name", "企画課"], **run
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("dl_")

    up = subprocess.Popen(
        [DIGILABO, "up"],
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        api = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{api}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 90, "digilabo up")
        children = descendants(up.pid)
        assert len(children) >= 5  # redis, 3 workers (+ pool processes), api

        memo = tmp_path / "memo.txt"
        memo.write_text("議事録\nabc\n", encoding="utf-8")
        cli = ["--api", api, "--token", token]
        submitted = subprocess.run([DIGILABO, "submit", "echo", str(memo), "--wait", *cli], **run)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        listed = subprocess.run([DIGILABO, "jobs", *cli], **run)
        assert "完了" in listed.stdout
        out = tmp_path / "savings.csv"
        exported = subprocess.run([DIGILABO, "export", "--out", str(out), *cli], **run)
        assert exported.returncode == 0, exported.stderr
        assert out.read_bytes().startswith(b"\xef\xbb\xbf") and "企画課" in out.read_text(
            encoding="utf-8-sig"
        )
        # The bundled entry script runs against the stand-in `up` starts, with its credential.
        records = tmp_path / "支出.csv"
        sample = (REPO / "jobs" / "rpa" / "samples" / "records.csv").read_text(encoding="utf-8-sig")
        records.write_text("\n".join(sample.splitlines()[:3]) + "\n", encoding="utf-8")
        entry = [DIGILABO, "submit", "rpa_entry", str(records), "-p", "script=shishutsu_futan", "--wait"]
        entered = subprocess.run([*entry, *cli], **run)
        assert entered.returncode == 0, entered.stdout + entered.stderr
        bad = subprocess.run([DIGILABO, "submit", "nope", str(memo), *cli], **run)
        assert bad.returncode == 1 and "nope" in bad.stderr
        # 確認後に入力 names a script that reads OCR results; one that reads a sheet is refused.
        scan = REPO / "jobs" / "ocr" / "samples" / "scan-1.pdf"
        ocr = [DIGILABO, "submit", "ocr", str(scan), "-p", "template=kyufukin-shinsei"]
        not_for_ocr = subprocess.run([*ocr, "--entry-script", "shishutsu_futan", *cli], **run)
        assert not_for_ocr.returncode == 1 and "from_ocr" in not_for_ocr.stderr
        # 至急 is an operator's call: a department's token is refused, an operator's goes.
        urgent = [DIGILABO, "submit", "echo", str(memo), "--urgent", "--wait", "--api", api, "--token"]
        refused = subprocess.run([*urgent, token], **run)
        assert refused.returncode == 1 and "運用担当" in refused.stderr
        ops = subprocess.run(
            [DIGILABO, "token", "create", "--department", "ops", "--role", "operator"], **run
        )
        assert subprocess.run([*urgent, ops.stdout.strip()], **run).returncode == 0
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(60)
    assert code == 0
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), 10, "children to exit")
    assert (tmp_path / "var" / "redis" / "appendonlydir").is_dir()


def test_demo_runs_the_sample_meeting_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
    env.update(DIGILABO_VAR_DIR=str(tmp_path / "var"), DIGILABO_API_PORT=str(free_port()), COLUMNS="120")
    demo = subprocess.run(
        [DIGILABO, "demo"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    outputs = {p.name for p in (tmp_path / "var" / "demo").glob("*/*")}
    assert {
        "minutes.docx",
        "transcript.json",
        "transcript.srt",
        "transcript.txt",
        "transcript.vtt",
    } <= outputs
    assert {"forms.csv", "forms.xlsx", "forms.json"} <= outputs
    assert "危機管理室" in demo.stdout and "会議録の文字起こし" in demo.stdout and "合計" in demo.stdout
    assert "帳票OCR" in demo.stdout


def test_transcribe_without_the_queue(tmp_path: Path) -> None:
    from jobs.transcription.kind import sample

    audio = sample()[1][0]
    glossary = tmp_path / "terms.txt"
    glossary.write_text("小倉北区\n危機管理室 # section\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
    env["DIGILABO_VAR_DIR"] = str(tmp_path / "var")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            DIGILABO,
            "transcribe",
            str(audio),
            "-o",
            str(out),
            "--format",
            "json,srt",
            "--glossary",
            str(glossary),
            "--speakers",
            "auto",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["sample_meeting.json", "sample_meeting.srt"]
    import json

    data = json.loads((out / "sample_meeting.json").read_text(encoding="utf-8"))
    assert "危機管理室" in data["text"] and data["segments"]
    # One voice in the sample: speaker labels on, one speaker found.
    assert data["speakers"] == ["話者1"] and {s["speaker"] for s in data["segments"]} == {"話者1"}
    bad = subprocess.run(
        [DIGILABO, "transcribe", str(glossary), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "terms.txt" in bad.stdout


def test_transcribe_refuses_a_bad_speaker_count(tmp_path: Path) -> None:
    from jobs.transcription.kind import sample

    audio = sample()[1][0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
    env.update(DIGILABO_VAR_DIR=str(tmp_path / "var"), COLUMNS="200")
    run = {"env": env, "capture_output": True, "text": True, "timeout": 120}
    words = subprocess.run(
        [DIGILABO, "transcribe", str(audio), "-o", str(tmp_path), "--speakers", "many"], **run
    )
    assert words.returncode == 2 and "--speakers" in words.stderr
    # Counts and bounds are checked once, before any recording is read.
    for args, option, words in (
        (["--speakers", "99"], "--speakers", "0〜20の整数"),
        (["--min-speakers", "4", "--max-speakers", "2"], "--min-speakers", "最少話者数（min_speakers: 4）"),
        (["--max-speakers", "25"], "--max-speakers", "最多話者数（max_speakers）は0〜20"),
        (["--speakers", "5", "--max-speakers", "3"], "--speakers", "1〜3人"),
    ):
        refused = subprocess.run([DIGILABO, "transcribe", str(audio), "-o", str(tmp_path), *args], **run)
        said = " ".join(refused.stderr.replace("│", " ").split())
        assert refused.returncode == 2 and option in said and words in said, (args, refused.stderr)
    assert not list(tmp_path.glob("sample_meeting.*"))


def test_ocr_and_templates_without_the_queue(tmp_path: Path) -> None:
    from jobs.ocr.kind import SAMPLES

    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
    env["DIGILABO_VAR_DIR"] = str(tmp_path / "var")
    run = {"env": env, "capture_output": True, "text": True, "timeout": 300}
    stored = subprocess.run([DIGILABO, "template", "upload", str(SAMPLES / "kyufukin-shinsei.yaml")], **run)
    assert stored.returncode == 0 and "kyufukin-shinsei@1 stored" in stored.stdout, stored.stderr
    out = tmp_path / "forms.csv"
    read = subprocess.run(
        [DIGILABO, "ocr", str(SAMPLES / "scan-1.pdf"), "--template", "kyufukin-shinsei", "-o", str(out)],
        **run,
    )
    assert read.returncode == 0, read.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and '"forms_read": 1' in read.stdout
    # A narrow terminal still shows whole ids; --json is one array for scripts.
    listed = subprocess.run([DIGILABO, "template", "list"], **run | {"env": env | {"COLUMNS": "30"}})
    assert listed.returncode == 0 and "kyufukin-shinsei " in listed.stdout, listed.stdout
    as_json = subprocess.run([DIGILABO, "template", "list", "--json"], **run)
    import json

    assert [t["id"] for t in json.loads(as_json.stdout)] == ["kyufukin-shinsei"]


def test_rpa_without_the_queue_enters_each_record_once(tmp_path: Path) -> None:
    from jobs.rpa.kind import SAMPLES

    app, url = start_standin(tmp_path / "standin")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
        env.update(
            DIGILABO_VAR_DIR=str(tmp_path / "var"),
            DIGILABO_RPA_TARGET_URLS=f'{{"zaimu-standin": "{url}"}}',
            DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER="demo",
            DIGILABO_CREDENTIAL_ZAIMU_DEMO_PASSWORD="demo-password",
        )
        run = {"env": env, "capture_output": True, "text": True, "timeout": 300}
        argv = [DIGILABO, "rpa", "--records", str(SAMPLES / "records.csv"), "--script", "shishutsu_futan"]
        dry = subprocess.run([*argv, "-o", str(tmp_path / "dry.csv"), "--dry-run"], **run)
        assert dry.returncode == 0, dry.stderr
        assert httpx.get(f"{url}/_admin/entries").json() == []
        first = subprocess.run([*argv, "-o", str(tmp_path / "first.csv")], **run)
        assert first.returncode == 0 and '"entered": 18' in first.stdout, first.stdout + first.stderr
        second = subprocess.run([*argv, "-o", str(tmp_path / "second.csv")], **run)
        assert '"duplicate": 18' in second.stdout, second.stdout
        assert len(httpx.get(f"{url}/_admin/entries").json()) == 18
        assert "demo-password" not in first.stdout + first.stderr + (tmp_path / "first.csv").read_text(
            "utf-8-sig"
        )
    finally:
        app.stop()


def test_demo_savings_table_gives_each_amount_its_unit() -> None:
    from rich.console import Console

    from digilabo.demo import savings_table

    rows = [
        {"department": "demo", "service": "minutes", "service_label": "会議録の文字起こし", "jobs": 1}
        | {"units": 0.4, "unit": "分", "saved_hours": 0.03},
        {"department": "demo", "service": "ocr", "service_label": "帳票OCR", "jobs": 1}
        | {"units": 3, "unit": "枚", "saved_hours": 0.15},
    ]
    console = Console(width=120, record=True)
    console.print(savings_table({"fiscal_year_label": "2026年度", "rows": rows, "total_hours": 0.18}))
    text = console.export_text()
    assert "0.40 分" in text and "3.00 枚" in text
    total = next(line for line in text.splitlines() if "合計" in line)
    assert "分" not in total and "枚" not in total and "3.40" not in total and "0.18" in total
