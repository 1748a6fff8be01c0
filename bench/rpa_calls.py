"""Playwright calls and events per record, job vs the bare loop of
``bench/rpa.py``, on each stand-in: a figure that does not move with the
machine's load (unlike the times). Each side runs 1 and N records; the
difference over N - 1 leaves out the per-run costs (launch, login, results).
Counted in the Python client: calls answered by the driver (``replies``),
every message sent, and every event received, by object type and method.
With ``--cdp``, one level down instead: the Chrome DevTools Protocol
commands the driver sends to Chromium and the events Chromium sends back
(the driver's ``DEBUG=pw:protocol`` log), i.e. what each side makes the
browser do. Prints one JSON object.
``python bench/rpa_calls.py [--records N] [--systems a,b,c,cm] [--cdp]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


CDP_LINE = re.compile(r"pw:protocol (SEND ►|◀ RECV) (\{.*)")


def cdp_counts(log: str) -> Counter[str]:
    """Commands sent to Chromium (``send.``) and events from it (``event.``), by
    CDP method, from a ``pw:protocol`` log; replies are not counted."""
    counts: Counter[str] = Counter()
    for match in CDP_LINE.finditer(log):
        try:
            method = json.loads(match.group(2)).get("method")
        except ValueError:
            continue  # a line the driver cut short
        if method:
            counts[("send." if match.group(1).startswith("SEND") else "event.") + method] += 1
    return counts


@contextmanager
def driver_log(folder: Path) -> Iterator[Callable[[], str]]:
    """The protocol log of every Playwright driver started inside the block.
    The driver inherits this process's stderr (fd 2) when it starts and
    writes its DEBUG log there, so fd 2 points at a file meanwhile."""
    path = folder / "driver.log"
    saved, previous = os.dup(2), os.environ.get("DEBUG")
    os.environ["DEBUG"] = "pw:protocol"
    with path.open("w") as fh:
        sys.stderr.flush()
        os.dup2(fh.fileno(), 2)
        try:
            yield lambda: path.read_text(errors="replace")
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if previous is None:
                os.environ.pop("DEBUG", None)
            else:
                os.environ["DEBUG"] = previous


def per_record(many: Counter[str], one: Counter[str], n: int) -> dict[str, float]:
    keys = sorted(set(many) | set(one))
    return {k: round((many[k] - one[k]) / (n - 1), 2) for k in keys if many[k] != one[k]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=11)
    parser.add_argument("--systems", default="a,b,c")
    parser.add_argument("--cdp", action="store_true", help="count what the driver asks of Chromium instead")
    args = parser.parse_args()
    count()
    report: dict[str, Any] = {
        "benchmark": "rpa_calls_cdp" if args.cdp else "rpa_calls",
        "records": args.records,
    }
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
                        if args.cdp:
                            with driver_log(Path(folder)) as log:
                                bench.sides[side](n, f"C{side[0].upper()}{name.upper()}{n}")
                                cdp = cdp_counts(log())
                            counts.append(
                                (
                                    Counter({k: v for k, v in cdp.items() if k.startswith("send.")}),
                                    Counter({k: v for k, v in cdp.items() if k.startswith("event.")}),
                                )
                            )
                            continue
                        bench.sides[side](n, f"C{side[0].upper()}{name.upper()}{n}")
                        counts.append((Counter(SENT), Counter(RECEIVED)))
                    (sent_1, received_1), (sent_n, received_n) = counts
                    if args.cdp:
                        sent = per_record(sent_n, sent_1, args.records)
                        events = per_record(received_n, received_1, args.records)
                        report[f"system_{name}_{side}"] = {
                            "commands": round(sum(sent.values()), 2),
                            "events": round(sum(events.values()), 2),
                            "per_run": {"commands": sum(sent_1.values()), "events": sum(received_1.values())},
                            "commands_by_method": sent,
                            "events_by_method": events,
                            "per_run_by_method": dict(sorted((sent_1 + received_1).items())),
                        }
                        continue
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
