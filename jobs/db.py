"""Engines, sessions and migrations.

SQLite is the default (one file under ./var); PostgreSQL for deployments.
SQLite is shared by the API and every worker process, so it runs in WAL mode
with a busy timeout: writers queue for a moment instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


READ_ONLY = "digilabo_read_only"


def _sqlite_begin(conn: Connection) -> None:
    """pysqlite's own transaction handling defers BEGIN and breaks
    SELECT-then-UPDATE atomicity, so we send BEGIN IMMEDIATE ourselves: the
    write lock up front. A read-only transaction sends a plain BEGIN instead:
    in WAL mode it reads a snapshot and never waits for a writer, where
    BEGIN IMMEDIATE would queue behind every writer in SQLite's busy handler
    (which sleeps and polls, so waits come in steps of up to 100 ms)."""
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we send BEGIN ourselves (see above)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_only(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction that only reads: it never takes SQLite's write lock
    (see ``_sqlite_begin``) and is rolled back at the end. A write inside it
    is a bug, and SQLite may refuse it with "database is locked"."""
    session = factory()
    try:
        session.connection(execution_options={READ_ONLY: True})
        yield session
    finally:
        session.rollback()
        session.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database to the newest schema (idempotent)."""
    from alembic import command

    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    from jobs.schema import refuse_newer

    refuse_newer(url)  # a database from a newer release: refused, its revision named
    command.upgrade(alembic_config(url), "heads")
