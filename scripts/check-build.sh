#!/usr/bin/env bash
# Builds the sdist, then the wheel from it, as a user's pip would: in an
# isolated environment with the newest setuptools that pyproject.toml's
# [build-system] allows. Fails when the build fails, when the build backend
# prints a deprecation (setuptools announces removals this way, e.g. the
# TOML-table `license` removed on 2027-02-18) or any Python warning, or when
# the wheel lacks the licence file.
# Usage: scripts/check-build.sh [python]   (default .venv/bin/python)
set -euo pipefail
python=${1:-.venv/bin/python}
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log=$out/build.log
if ! "$python" -m build --outdir "$out/dist" . >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "check-build: building the sdist and wheel failed (log above)" >&2
    exit 1
fi
# setuptools logs its deprecations as "WARNING `...` is deprecated" banners,
# not through the warnings module, so the log is what tells.
if grep -niE 'deprecat|[A-Za-z]+Warning:' "$log" >"$out/found"; then
    cat "$out/found" >&2
    echo "check-build: the build backend warned (lines above); fix pyproject.toml before setuptools drops it" >&2
    exit 1
fi
wheel=$(ls "$out"/dist/*.whl)
"$python" -m zipfile -l "$wheel" >"$out/wheel.txt"
if ! grep -q 'dist-info/licenses/LICENSE' "$out/wheel.txt"; then
    echo "check-build: $(basename "$wheel") carries no LICENSE" >&2
    exit 1
fi
used=$(grep -A3 'Installed build dependency versions' "$log" | grep -m1 -o 'setuptools==[0-9.]*' || true)
echo "check-build: $(cd "$out/dist" && echo *) built with ${used:-setuptools}, no warnings"
