"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from jobs import sessions as _sessions  # noqa: F401
from jobs.db import make_engine, migrate
from jobs.models import Base
from jobs.ocr import models as _ocr  # noqa: F401 - registers its tables
from jobs.rpa import models as _rpa  # noqa: F401
from jobs.rpa import scripts as _scripts  # noqa: F401


def test_migrations_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    engine.dispose()
    assert diff == [], diff


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == ("0012_release_order_index",)
    engine.dispose()
