"""The release this code is (kept equal to pyproject.toml's version by a
test), written into every backup's manifest beside the schema revision."""

from __future__ import annotations

RELEASE = "0.2.0.dev0"
