"""The multiprocess folder must be in the environment before prometheus_client
is first imported (it picks its value class at import time), so this module
imports nothing of it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def prepare_multiprocess_dir(folder: Path) -> Path:
    """An empty folder for this worker's metric files (children inherit the
    setting through the fork)."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder
