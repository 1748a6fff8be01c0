"""Alembic environment: runs migrations on the URL set by jobs.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from jobs import sessions as _portal_sessions  # noqa: F401
from jobs.models import Base
from jobs.ocr import models as _ocr_models  # noqa: F401 - tables for autogenerate
from jobs.rpa import models as _rpa_models  # noqa: F401
from jobs.rpa import scripts as _rpa_scripts  # noqa: F401

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=url.startswith("sqlite"),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
