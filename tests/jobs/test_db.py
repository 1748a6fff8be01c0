"""SQLite transactions: writers take the lock up front, readers never wait."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from jobs import auth
from jobs.db import make_engine, migrate, read_only, session_factory, unit_of_work


def test_a_reader_does_not_wait_for_a_writer_but_a_writer_does(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    migrate(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        user = auth.ensure_user("reader", session=session, department_code="d1")
        token = auth.create_token(user, session=session)

    # Another process's writer (a worker, say) holds the write lock.
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE users SET display_name = 'held' WHERE id = ?", (user.id,))
    try:
        started = time.monotonic()
        with read_only(factory) as session:
            checked = auth.check_token(token, session=session)
        # The busy timeout is 30 s: a read that queued for the lock would take that long.
        assert time.monotonic() - started < 1.0
        assert checked.viewer.department_code == "d1"

        touched = threading.Event()

        def touch() -> None:
            with unit_of_work(factory) as session:
                auth.touch_token(checked.token_id, session=session)
            touched.set()

        writer = threading.Thread(target=touch)
        writer.start()
        assert not touched.wait(0.5), "a write transaction must wait for the lock"
    finally:
        other.execute("COMMIT")
        other.close()
    writer.join(10)
    assert touched.is_set()
    with read_only(factory) as session:
        assert auth.check_token(token, session=session).last_used_at is not None
    engine.dispose()
