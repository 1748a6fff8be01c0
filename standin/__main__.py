"""``python -m standin --port N [--db FILE] [--port-file FILE] [--system a|b|c] [--quirks K=V,…]``.

``--system a`` (the default) is the 財務会計システム of the demo; ``--system b``
is a different one (tree menu, one URL for every POST, a confirm dialog
before 登録; see ``standin/b_pages.py``), for the entry tests and the bench;
``--system c`` an older frame-based one in Shift_JIS whose quirks are the
switches ``--quirks`` sets (see ``standin/c_switches.py``).

``--port 0`` binds a free port chosen by the system; ``--port-file`` then
tells the caller which one (tests never guess a free port). The password
comes from ``STANDIN_PASSWORD`` so it is not visible in the process list.
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

import uvicorn

from standin import app, b, c
from standin.c_switches import SwitchError, parse_quirks

DEMO_USER, DEMO_PASSWORD = "demo", "demo-password"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m standin", description="財務会計システム（検証用）")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", type=Path, default=Path("var/standin.db"))
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--user", default=os.environ.get("STANDIN_USER", DEMO_USER))
    parser.add_argument("--system", choices=("a", "b", "c"), default="a")
    parser.add_argument("--quirks", default="", help="system c: switches, e.g. frames=iframe,charset=euc-jp")
    args = parser.parse_args(argv)
    password = os.environ.get("STANDIN_PASSWORD", DEMO_PASSWORD)
    args.db.parent.mkdir(parents=True, exist_ok=True)
    if args.system == "c":
        try:
            application = c.create_app(args.db, args.user, password, parse_quirks(args.quirks))
        except SwitchError as exc:
            parser.error(str(exc))
    else:
        application = (b.create_app if args.system == "b" else app.create_app)(args.db, args.user, password)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Without it, h11 writes headers and body separately and every page waits
    # 40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    if args.port_file:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(port))
        tmp.replace(args.port_file)  # the reader never sees a half-written number
    print(f"standin: http://{args.host}:{port}/", flush=True)
    config = uvicorn.Config(
        application,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
