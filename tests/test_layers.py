"""The package layers as docs/architecture.md draws them: every import arrow
points down, the kinds' cores load no adapter, and the portal builds no
queries of its own and calls no API route."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

# package -> the packages (or modules) of ours it may import (itself always).
# config (the settings) is the floor; composition.runtime, above jobs and
# queues, wires them together.
MAY_IMPORT = {
    "jobs": set(),
    "config": set(),
    "queues": {"jobs", "config"},
    "composition": {"jobs", "config", "queues"},
    "monitoring": {"jobs", "config", "queues", "composition"},
    "services": {"jobs", "config", "queues", "composition", "monitoring"},
    "worker": {"jobs", "config", "queues", "composition", "monitoring"},
    "intake_api": {"jobs", "config", "queues", "composition", "monitoring", "services"},
    "standin": set(),
    "digilabo": {
        "jobs",
        "config",
        "queues",
        "composition",
        "monitoring",
        "services",
        "worker",
        "intake_api",
        "standin",
    },
}
ADAPTERS = ("fastapi", "starlette", "celery", "typer", "jinja2", "uvicorn")


def imported(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (at any depth)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _within(name: str, allowed: str) -> bool:
    return name == allowed or name.startswith(allowed + ".")


def test_every_import_arrow_points_down() -> None:
    wrong = []
    for package, allowed in MAY_IMPORT.items():
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for name in imported(path):
                top = name.split(".")[0]
                if top in MAY_IMPORT and top != package and not any(_within(name, a) for a in allowed):
                    wrong.append(f"{path.relative_to(REPO)} imports {name}")
    settings = imported(REPO / "config" / "settings.py")
    wrong += [f"config/settings.py imports {n}" for n in settings if n.split(".")[0] in MAY_IMPORT]
    assert not wrong, "\n".join(wrong)


def test_the_portal_runs_no_queries_and_calls_no_route() -> None:
    found = []
    for path in sorted((REPO / "intake_api" / "portal").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        names = imported(path)
        if "intake_api.routes" in " ".join(names) or "from intake_api.routes" in text:
            found.append(f"{path.name} imports an API route module")
        if "select(" in text or "sqlalchemy" in {n.split(".")[0] for n in names if n != "sqlalchemy.orm"}:
            found.append(f"{path.name} builds a query")
    assert not found, "\n".join(found)


def test_importing_the_kinds_loads_no_adapter() -> None:
    """The kind declarations name their CLI and portal pieces as paths; only
    the adapter layer imports them."""
    code = (
        "import sys\n"
        "from jobs.registry import build_registry\n"
        "build_registry(['tests.support.echo.kind:ECHO'])\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({ADAPTERS!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
