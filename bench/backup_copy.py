"""Ways to copy and hash a backup's stored files, each against ``cp -a`` of
the same files on the same disk (docs/operations.md quotes its figures).

    python bench/backup_copy.py --files 400 --kb 1000 --rounds 6

makes ``--files`` random files of ``--kb`` kilobytes in the store's layout
(``aa/bb/<sha256>``), then, round after round, times ``cp -a`` + ``sync`` and
each way of copying every file (hashing it against its name) + ``sync``,
each into a fresh folder, in turn. On a busy machine seconds drift between
rounds, so each way is compared with the ``cp -a`` timed just before it
(the median of those paired ratios) and its CPU seconds are reported too.
The last line is JSON.

The ways: ``one_pass`` is ``jobs.backup.copy_checked`` (read into a reused
buffer, hash, write); ``kernel_copy_then_hash`` copies in the kernel
(``shutil.copyfile``) and hashes the copy (the previous backup);
``hash_beside_kernel_copy`` hashes the source on one thread while another
copies it in the kernel. Each runs on ``--threads`` threads, as a backup does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from jobs.backup import copy_checked, file_sha256

Copy = Callable[[str, str, str], None]


def kernel_copy_then_hash(source: str, target: str, sha256: str) -> None:
    shutil.copyfile(source, target)
    if file_sha256(target) != sha256:
        raise ValueError(source)


HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hasher")


def hash_beside_kernel_copy(source: str, target: str, sha256: str) -> None:
    digest = HASHER.submit(file_sha256, source)
    shutil.copyfile(source, target)
    if digest.result() != sha256:
        raise ValueError(source)


WAYS: dict[str, Copy] = {
    "one_pass": copy_checked,
    "kernel_copy_then_hash": kernel_copy_then_hash,
    "hash_beside_kernel_copy": hash_beside_kernel_copy,
}


def make_files(root: Path, count: int, size: int) -> list[str]:
    names = []
    for _ in range(count):
        data = os.urandom(size)
        sha = hashlib.sha256(data).hexdigest()
        (root / sha[:2] / sha[2:4]).mkdir(parents=True, exist_ok=True)
        (root / sha[:2] / sha[2:4] / sha).write_bytes(data)
        names.append(f"{sha[:2]}/{sha[2:4]}/{sha}")
    return names


def copy_all(way: Copy, source: Path, target: Path, names: list[str], threads: int) -> None:
    for folder in {name.rsplit("/", 1)[0] for name in names}:
        os.makedirs(target / folder, exist_ok=True)

    def one(name: str) -> None:
        way(f"{source}/{name}", f"{target}/{name}", name.rsplit("/", 1)[1])

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, names))
    os.sync()


def cp_a(source: Path, target: Path) -> None:
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)
    subprocess.run(["sync"], check=True)


def timed(work: Callable[[], None]) -> tuple[float, float]:
    """Wall and CPU seconds (this process and its children)."""
    subprocess.run(["sync"], check=True)
    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before, strict=True))
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--kb", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument("--folder", type=Path, default=Path("/var/tmp/bench-backup-copy"))
    args = parser.parse_args()
    ways = args.ways.split(",")
    root = args.folder
    shutil.rmtree(root, ignore_errors=True)
    source, target = root / "source", root / "target"
    names = make_files(source, args.files, args.kb * 1024)
    load = os.getloadavg()[0]
    walls: dict[str, list[float]] = {"cp_a": []}
    cpus: dict[str, list[float]] = {"cp_a": []}
    paired: dict[str, list[float]] = {}
    for n in range(args.rounds):
        for name in ways:
            wall, cpu = timed(lambda: cp_a(source, target))
            shutil.rmtree(target)
            walls["cp_a"].append(wall)
            cpus["cp_a"].append(cpu)
            wall, cpu = timed(partial(copy_all, WAYS[name], source, target, names, args.threads))
            shutil.rmtree(target)
            walls.setdefault(name, []).append(wall)
            cpus.setdefault(name, []).append(cpu)
            paired.setdefault(name, []).append(wall / walls["cp_a"][-1])
        print(
            f"round {n + 1}: load {os.getloadavg()[0]:.1f} "
            + json.dumps({k: round(v[-1], 2) for k, v in walls.items()})
        )
    shutil.rmtree(root, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "backup_copy",
                "files": args.files,
                "megabytes": round(args.files * args.kb * 1024 / 1e6),
                "threads": args.threads,
                "load_at_start": round(load, 1),
                "load_at_end": round(os.getloadavg()[0], 1),
                "over_cp_a_paired_median": {k: round(statistics.median(v), 2) for k, v in paired.items()},
                "over_cp_a_medians": {
                    k: round(statistics.median(v) / statistics.median(walls["cp_a"]), 2)
                    for k, v in walls.items()
                },
                "cpu_s_median": {k: round(statistics.median(v), 2) for k, v in cpus.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
