"""System C's switches: the fault switches of A and B plus its quirks, set
with ``--quirks key=value,…`` at start or ``POST /_admin/switches`` (only the
keys given change; the 登録 count starts again)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from standin.store import Switches

CHOICES: dict[str, tuple[str, ...]] = {
    "frames": ("frameset", "iframe"),
    "frame_check": ("on", "off"),
    "charset": ("shift_jis", "euc-jp"),
    "popups": ("on", "off"),
    "era": ("select", "text"),
    "zenkaku": ("on", "off"),
    "menu": ("list", "hover"),
    "meisai": ("off", "on"),
    "keys": ("off", "on"),
    "attach": ("off", "on"),
    "line_attach": ("off", "on"),
}
CODECS = {"shift_jis": ("cp932", "Shift_JIS"), "euc-jp": ("euc_jp", "EUC-JP")}


class SwitchError(ValueError):
    pass


@dataclass
class Quirks(Switches):
    frames: str = "frameset"
    frame_check: str = "on"
    charset: str = "shift_jis"
    popups: str = "on"
    era: str = "select"
    zenkaku: str = "on"
    session_seconds: float = 900.0
    session_requests: int = 0
    page_size: int = 10
    menu: str = "list"
    meisai: str = "off"
    keys: str = "off"
    attach: str = "off"
    line_attach: str = "off"  # with meisai: a file (領収書) on each 明細 line

    def on(self, name: str) -> bool:
        return getattr(self, name) in ("on", "iframe", "text", "hover")

    @property
    def codec(self) -> str:
        return CODECS[self.charset][0]

    @property
    def charset_label(self) -> str:
        return CODECS[self.charset][1]

    def changed(self, data: dict[str, Any]) -> Quirks:
        """These switches with ``data`` applied and the 登録 count reset."""
        known = {f.name: f for f in fields(self)}
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if key == "submits":
                continue
            if key not in known:
                raise SwitchError(f"unknown switch {key!r}")
            values[key] = _coerce(key, raw, getattr(self, key))
        return replace(self, **values, submits=0)


def _coerce(key: str, raw: Any, current: Any) -> Any:
    if key in CHOICES:
        value = {True: "on", False: "off"}.get(raw, raw) if isinstance(raw, bool) else str(raw).lower()
        if value not in CHOICES[key]:
            raise SwitchError(f"{key} must be one of {', '.join(CHOICES[key])}")
        return value
    if isinstance(current, list):
        items = raw if isinstance(raw, list) else [x for x in str(raw).split("/") if x]
        return [int(x) for x in items]
    try:
        return type(current)(raw)
    except (TypeError, ValueError) as exc:
        raise SwitchError(f"{key} must be a number") from exc


def parse_quirks(spec: str) -> dict[str, str]:
    """``frames=iframe,charset=euc-jp`` → a dict (lists as ``fail_submits=2/5``)."""
    pairs = [p.strip() for p in spec.split(",") if p.strip()]
    if any("=" not in p for p in pairs):
        raise SwitchError("--quirks takes key=value pairs separated by commas")
    return dict(p.split("=", 1) for p in pairs)
