"""The stand-in's own SQLite database of entries, and its failure switches."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    voucher_no TEXT NOT NULL UNIQUE,
    entry_date TEXT NOT NULL, kan TEXT NOT NULL, kou TEXT NOT NULL, moku TEXT NOT NULL,
    setsu TEXT NOT NULL, amount INTEGER NOT NULL, payee TEXT NOT NULL, purpose TEXT NOT NULL,
    reference TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_entries_reference ON entries(reference);
"""
FIELDS = ("entry_date", "kan", "kou", "moku", "setsu", "amount", "payee", "purpose", "reference")


@dataclass
class Switches:
    """Failure switches; submits are counted from 1 since the last change."""

    delay_ms: int = 0
    fail_submits: list[int] = field(default_factory=list)  # HTTP 500, nothing stored
    timeout_submits: list[int] = field(default_factory=list)  # stored, then no answer for hang_seconds
    hang_seconds: float = 30.0
    submits: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Store:
    def __init__(self, path: Path, voucher_prefix: str = "R07") -> None:
        self.voucher_prefix = voucher_prefix
        # One connection behind a lock: the app is small and SQLite serialises anyway.
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.executescript(SCHEMA)
        self.lock = threading.Lock()
        self.switches = Switches()

    def add(self, values: dict[str, str]) -> str:
        with self.lock:
            cur = self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM entries")
            next_id = int(cur.fetchone()[0])
            voucher = f"{self.voucher_prefix}-{next_id:06d}"
            self.conn.execute(
                f"INSERT INTO entries (voucher_no, {', '.join(FIELDS)}, created_at) "  # noqa: S608 - fixed names
                f"VALUES (?, {', '.join('?' for _ in FIELDS)}, ?)",
                (voucher, *(values[f] for f in FIELDS), datetime.now(UTC).isoformat()),
            )
            return voucher

    def get(self, voucher: str) -> dict[str, Any] | None:
        rows = self._select("WHERE voucher_no = ?", (voucher,))
        return rows[0] if rows else None

    def search(self, reference: str) -> list[dict[str, Any]]:
        return self._select("WHERE reference = ?", (reference,))

    def all(self) -> list[dict[str, Any]]:
        return self._select("", ())

    def _select(self, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.lock:
            sql = f"SELECT voucher_no, {', '.join(FIELDS)} FROM entries {where} ORDER BY id"  # noqa: S608 - fixed names
            cur = self.conn.execute(sql, args)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
