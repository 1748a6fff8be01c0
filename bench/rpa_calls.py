"""Playwright calls and events per record, job vs the bare loop of
``bench/rpa.py``, on each stand-in: a figure that does not move with the
machine's load (unlike the times). Each side runs 1 and N records; the
difference over N - 1 leaves out the per-run costs (launch, login, results).
Counted in the Python client: calls answered by the driver (``replies``),
every message sent, and every event received, by object type and method.
Prints one JSON object.
``python bench/rpa_calls.py [--records N] [--systems a,b,c,cm]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from playwright._impl import connection  # noqa: E402

from bench.rpa import SIDES, SYSTEMS, start_bench  # noqa: E402

SENT: Counter[str] = Counter()
RECEIVED: Counter[str] = Counter()


def count() -> None:
    """Wrap the client's two ends of the pipe to the driver (counted, then passed on)."""
    send, dispatch = connection.Connection.send_message_to_server, connection.Connection.dispatch

    def counting_send(self: Any, obj: Any, method: str, params: Any, options: Any) -> Any:
        SENT[f"{obj._type}.{method}"] += 1
        return send(self, obj, method, params, options)

    def counting_dispatch(self: Any, message: dict[str, Any]) -> None:
        if message.get("id"):
            RECEIVED["(reply)"] += 1
        else:
            owner = self._objects.get(message.get("guid") or "")
            RECEIVED[f"{owner._type if owner else '?'}.{message.get('method')}"] += 1
        dispatch(self, message)

    connection.Connection.send_message_to_server = counting_send  # type: ignore[method-assign,assignment]
    connection.Connection.dispatch = counting_dispatch  # type: ignore[method-assign]


def per_record(many: Counter[str], one: Counter[str], n: int) -> dict[str, float]:
    keys = sorted(set(many) | set(one))
    return {k: round((many[k] - one[k]) / (n - 1), 2) for k in keys if many[k] != one[k]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=11)
    parser.add_argument("--systems", default="a,b,c")
    args = parser.parse_args()
    count()
    report: dict[str, Any] = {"benchmark": "rpa_calls", "records": args.records}
    with tempfile.TemporaryDirectory(prefix="bench-rpa-calls-") as folder:
        for name in args.systems.split(","):
            bench = start_bench(SYSTEMS[name], Path(folder))
            try:
                for side in SIDES:  # unmeasured: every screen loaded once
                    bench.sides[side](2, f"WARMUP-{side[0].upper()}{name.upper()}")
                for side in SIDES:
                    counts = []
                    for n in (1, args.records):
                        SENT.clear()
                        RECEIVED.clear()
                        bench.sides[side](n, f"C{side[0].upper()}{name.upper()}{n}")
                        counts.append((Counter(SENT), Counter(RECEIVED)))
                    (sent_1, received_1), (sent_n, received_n) = counts
                    sent = per_record(sent_n, sent_1, args.records)
                    received = per_record(received_n, received_1, args.records)
                    report[f"system_{name}_{side}"] = {
                        "replies": received.get("(reply)", 0.0),
                        "sent": round(sum(sent.values()), 2),
                        "received": round(sum(received.values()), 2),
                        "sent_by_method": sent,
                        "received_by_method": received,
                    }
            finally:
                bench.close()
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
