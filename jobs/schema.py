"""Which schema revision a database is at, and whether this code knows it.

A database written by a newer release (a downgrade: the code is older than
the data) must not be opened: alembic would fail with "Can't locate
revision", and the old code would misread columns it does not know. We
refuse it up front, naming the revision, before anything is written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, create_engine, inspect, text

from jobs.db import MIGRATIONS
from jobs.errors import DigilaboError


class SchemaTooNew(DigilaboError):
    code = "schema_too_new"

    def __init__(self, revision: str, heads: list[str]) -> None:
        super().__init__(
            None,
            f"The database is at schema revision {revision}, which this release does not know "
            f"(its newest is {', '.join(heads)}): it was written by a newer digilabo. Install that "
            f"release again, or restore a backup made by this one. / データベースのスキーマ "
            f"（リビジョン {revision}）はこの版より新しい版で作られたため、開けません。",
            revision=revision,
            heads=heads,
        )


def _scripts() -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def known_revisions() -> set[str]:
    return {rev.revision for rev in _scripts().walk_revisions()}


def head_revisions() -> list[str]:
    return sorted(_scripts().get_heads())


def revisions_of(conn: Connection) -> list[str]:
    """The revisions stamped in the database (empty: not migrated yet)."""
    if not inspect(conn).has_table("alembic_version"):
        return []
    return sorted(str(r) for r in conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def refuse_newer(url: str) -> list[str]:
    """Raise SchemaTooNew when the database is at a revision this code lacks;
    return its revisions otherwise."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = revisions_of(conn)
    finally:
        engine.dispose()
    known = known_revisions()
    for revision in found:
        if revision not in known:
            raise SchemaTooNew(revision, head_revisions())
    return found
