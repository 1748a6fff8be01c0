"""System C's own SQLite database: vouchers with their detail lines (明細)
and the name of an attached file, and the prefix search of its 照会 screen."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from standin.c_rules import Checked

SCHEMA = """
CREATE TABLE IF NOT EXISTS vouchers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    voucher_no TEXT NOT NULL UNIQUE,
    entry_date TEXT NOT NULL, payee_code TEXT NOT NULL, payee TEXT NOT NULL,
    purpose TEXT NOT NULL, reference TEXT NOT NULL, amount INTEGER NOT NULL,
    attachment TEXT NOT NULL, attachment_bytes INTEGER NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_vouchers_reference ON vouchers(reference);
CREATE TABLE IF NOT EXISTS voucher_lines (
    voucher_id INTEGER NOT NULL REFERENCES vouchers(id), line_no INTEGER NOT NULL,
    budget_code TEXT NOT NULL, amount INTEGER NOT NULL, note TEXT NOT NULL,
    attachment TEXT NOT NULL DEFAULT '', attachment_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (voucher_id, line_no)
);
"""
COLUMNS = (
    "id, voucher_no, entry_date, payee_code, payee, purpose, reference, amount, attachment, attachment_bytes"
)


class VoucherStore:
    def __init__(self, path: Path, voucher_prefix: str = "SK7") -> None:
        self.voucher_prefix = voucher_prefix
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.executescript(SCHEMA)
        self.lock = threading.Lock()

    def add(self, c: Checked) -> str:
        with self.lock:
            self.conn.execute("BEGIN")
            next_id = int(self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM vouchers").fetchone()[0])
            voucher = f"{self.voucher_prefix}-{next_id:06d}"
            self.conn.execute(
                f"INSERT INTO vouchers ({COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - fixed names
                (
                    next_id,
                    voucher,
                    c.entry_date.isoformat(),
                    c.payee_code,
                    c.payee,
                    c.purpose,
                    c.reference,
                    c.total,
                    c.attachment,
                    c.attachment_bytes,
                    datetime.now(UTC).isoformat(),
                ),
            )
            self.conn.executemany(
                "INSERT INTO voucher_lines VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        next_id,
                        n,
                        line.budget_code,
                        line.amount,
                        line.note,
                        line.attachment,
                        line.attachment_bytes,
                    )
                    for n, line in enumerate(c.lines, 1)
                ],
            )
            self.conn.execute("COMMIT")
            return voucher

    def search(self, prefix: str, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """Vouchers whose 整理番号 starts with ``prefix``, newest first: (count, one page)."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where = "WHERE reference LIKE ? ESCAPE '\\'"
        with self.lock:
            count = int(self.conn.execute(f"SELECT COUNT(*) FROM vouchers {where}", (pattern,)).fetchone()[0])  # noqa: S608
        rows = self._select(f"{where} ORDER BY id DESC LIMIT ? OFFSET ?", (pattern, limit, offset))
        return count, rows

    def all(self) -> list[dict[str, Any]]:
        """Every voucher as the other stand-ins report theirs (款・項・目・節 of
        its first line, the total as ``amount``), with its ``lines``."""
        return self._select("ORDER BY id", ())

    def _select(self, tail: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.lock:
            cur = self.conn.execute(f"SELECT {COLUMNS} FROM vouchers {tail}", args)  # noqa: S608 - fixed names
            names = [d[0] for d in cur.description]
            found = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            for v in found:
                lines = self.conn.execute(
                    "SELECT budget_code, amount, note, attachment, attachment_bytes FROM voucher_lines"
                    " WHERE voucher_id = ? ORDER BY line_no",
                    (v.pop("id"),),
                ).fetchall()
                v["lines"] = [
                    {"budget_code": b, "amount": a, "note": n, "attachment": f, "attachment_bytes": size}
                    for b, a, n, f, size in lines
                ]
                first = v["lines"][0]["budget_code"] if v["lines"] else ""
                v.update(
                    zip(
                        ("kan", "kou", "moku", "setsu"),
                        (first[i : i + 2] for i in range(0, 8, 2)),
                        strict=True,
                    )
                )
        return found
