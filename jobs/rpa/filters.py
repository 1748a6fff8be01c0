"""Value filters: a record's value turned into what the target's field takes
(和暦 parts, 全角 or 半角, padded, formatted, mapped through a code table,
split, truncated), declared in the script per column or per derived value.

Filters run when the rows are checked, before anything is typed: a value a
filter cannot convert makes the row invalid with a reason naming the rule,
so a bad value never reaches the target half-typed. Every spec is checked
when the script is parsed (at approval), so a wrong rule fails there.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jobs import wareki

NAMES = ("wareki", "split", "zenkaku", "hankaku", "pad", "format", "map", "truncate")
WAREKI_PARTS = ("era", "year", "month", "day", "full", "era_year")
ERAS = ("明治", "大正", "昭和", "平成", "令和")
MAX_MAP_ROWS = 10_000


class FilterError(ValueError):
    """The value cannot be converted by this rule (the reason is Japanese)."""


class SpecError(ValueError):
    """The rule itself is wrong (found when the script is parsed)."""


@dataclass(frozen=True)
class Filter:
    name: str
    apply: Callable[[str], str]

    def __call__(self, value: str) -> str:
        try:
            return self.apply(value)
        except FilterError as exc:
            raise FilterError(f"規則「{self.name}」で変換できません（{exc}）") from None


# --- 全角 / 半角 ------------------------------------------------------------------------

_HALF_KANA = "".join(chr(c) for c in range(0xFF61, 0xFFA0))
# Full-width katakana and punctuation to half-width; voiced forms become two characters.
_FULL_TO_HALF_KANA: dict[str, str] = {}
for _half in _HALF_KANA:
    _FULL_TO_HALF_KANA.setdefault(unicodedata.normalize("NFKC", _half), _half)
for _full in "ガギグゲゴザジズゼゾダヂヅデドバビブベボヴ":
    _FULL_TO_HALF_KANA[_full] = _FULL_TO_HALF_KANA[unicodedata.normalize("NFD", _full)[0]] + "ﾞ"
for _full in "パピプペポ":
    _FULL_TO_HALF_KANA[_full] = _FULL_TO_HALF_KANA[unicodedata.normalize("NFD", _full)[0]] + "ﾟ"
_FULL_TO_HALF_KANA["　"] = " "


def zenkaku(value: str) -> str:
    """ASCII letters, digits, symbols and half-width katakana to full width."""
    # NFKC composes ｶﾞ into ガ; applied to half-width kana runs only, so nothing else changes.
    value = re.sub(f"[{_HALF_KANA}]+", lambda m: unicodedata.normalize("NFKC", m.group(0)), value)
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)


def hankaku(value: str) -> str:
    """Full-width ASCII, katakana and hiragana to half width; anything else
    (漢字) has no half-width form and is refused."""
    out = []
    for c in value:
        if "\uff01" <= c <= "\uff5e":
            out.append(chr(ord(c) - 0xFEE0))
        elif "\u3041" <= c <= "\u3096":  # hiragana: its katakana's half-width form
            out.append(_FULL_TO_HALF_KANA.get(chr(ord(c) + 0x60), c))
        elif c in _FULL_TO_HALF_KANA:
            out.append(_FULL_TO_HALF_KANA[c])
        elif ord(c) < 0x7F or c in _HALF_KANA:
            out.append(c)
        else:
            raise FilterError(f"半角にできない文字「{c}」があります")
    return "".join(out)


# --- the rules --------------------------------------------------------------------------


def _iso(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"日付（YYYY-MM-DD）ではありません: {value}") from None


def _wareki(arg: Any) -> Callable[[str], str]:
    spec = arg if isinstance(arg, Mapping) else {"part": arg or "full"}
    part, gannen = spec.get("part", "full"), spec.get("gannen")
    if part not in WAREKI_PARTS:
        raise SpecError(f"wareki の part は {'、'.join(WAREKI_PARTS)} のいずれかです")
    # 元年: written out in a full date; a 年 box usually takes the number 1.
    gannen = bool(part == "full" if gannen is None else gannen)
    # The eras the target's screen offers (an era select often starts at 昭和):
    # a date in another era is refused before typing, not at the select.
    eras = spec.get("eras", ERAS)
    if not isinstance(eras, list | tuple) or not eras or any(e not in ERAS for e in eras):
        raise SpecError(f"wareki の eras は {'、'.join(ERAS)} から選んだ並びです")

    def apply(value: str) -> str:
        day = _iso(value)
        try:
            era, year = wareki.era_year(day)
        except ValueError:
            raise FilterError(f"和暦にできない日付です: {value}") from None
        if era not in eras:
            raise FilterError(
                f"{era}の日付は対象システムで扱えません（使える元号: {'、'.join(eras)}）: {value}"
            )
        year_text = "元" if gannen and year == 1 else str(year)
        return {
            "era": era,
            "year": year_text,
            "month": str(day.month),
            "day": str(day.day),
            "era_year": f"{era}{year_text}",
            "full": f"{era}{year_text}年{day.month}月{day.day}日",
        }[part]

    return apply


def _split(arg: Any) -> Callable[[str], str]:
    if not isinstance(arg, Mapping) or "index" not in arg or ("separator" in arg) == ("widths" in arg):
        raise SpecError("split には index と、separator か widths のどちらか一方を書いてください")
    index, sep, widths = int(arg["index"]), arg.get("separator"), arg.get("widths")
    if widths is not None and (not isinstance(widths, list) or not all(isinstance(w, int) for w in widths)):
        raise SpecError("split の widths は桁数の並び（例: [4, 2, 2]）です")

    def apply(value: str) -> str:
        if sep is not None:
            parts = value.split(str(sep))
        else:
            assert widths is not None  # checked above: separator or widths
            if len(value) != sum(widths):
                raise FilterError(f"{sum(widths)}桁ではありません: {value}")
            starts = [sum(widths[:i]) for i in range(len(widths))]
            parts = [value[s : s + w] for s, w in zip(starts, widths, strict=True)]
        if not -len(parts) <= index < len(parts):
            raise FilterError(f"{index + 1}番目の部分がありません: {value}")
        return parts[index]

    return apply


def _pad(arg: Any) -> Callable[[str], str]:
    spec = arg if isinstance(arg, Mapping) else {"width": arg}
    width, char, side = spec.get("width"), str(spec.get("char", "0")), spec.get("side", "left")
    if not isinstance(width, int) or width < 1 or len(char) != 1 or side not in ("left", "right"):
        raise SpecError("pad には width（桁数）と、1文字の char、side（left か right）を書いてください")

    def apply(value: str) -> str:
        if len(value) > width:
            raise FilterError(f"{width}桁を超えています: {value}")
        return value.rjust(width, char) if side == "left" else value.ljust(width, char)

    return apply


DATE_TOKENS = re.compile(r"YYYY|MM|DD|M|D")


def _format(arg: Any) -> Callable[[str], str]:
    if arg == "amount":

        def amount(value: str) -> str:
            if not re.fullmatch(r"-?\d+", value):
                raise FilterError(f"整数ではありません: {value}")
            return f"{int(value):,}"

        return amount
    if isinstance(arg, Mapping) and isinstance(arg.get("date"), str):
        pattern = arg["date"]

        def apply(value: str) -> str:
            day = _iso(value)
            tokens = {"YYYY": f"{day.year:04d}", "MM": f"{day.month:02d}", "DD": f"{day.day:02d}"}
            tokens |= {"M": str(day.month), "D": str(day.day)}
            return DATE_TOKENS.sub(lambda m: tokens[m.group(0)], pattern)

        return apply
    raise SpecError('format は amount か {date: "YYYY/MM/DD"} の形です')


def _read_table(path: Path) -> dict[str, str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = [r for r in csv.reader(fh) if r]
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"対応表「{path.name}」を読めません（{type(exc).__name__}）") from None
    if len(rows) > MAX_MAP_ROWS or any(len(r) < 2 for r in rows):
        raise SpecError(f"対応表「{path.name}」は2列（元の値, 変換後）のCSVにしてください")
    return {r[0].strip(): r[1].strip() for r in rows}


def _map(arg: Any, base_dir: Path | None) -> Callable[[str], str]:
    if not isinstance(arg, Mapping) or ("table" in arg) == ("csv" in arg):
        raise SpecError(
            "map には table（対応表）か csv（スクリプトと同じフォルダのCSV）のどちらかを書いてください"
        )
    if "csv" in arg:
        name = str(arg["csv"])
        if base_dir is None:
            raise SpecError("csv の対応表はファイルのスクリプトでだけ使えます。table に書いてください")
        if "/" in name or "\\" in name or name.startswith("."):
            raise SpecError("csv にはスクリプトと同じフォルダのファイル名だけを書いてください")
        table = _read_table(base_dir / name)
    elif isinstance(arg["table"], Mapping):
        table = {str(k): str(v) for k, v in arg["table"].items()}
    else:
        raise SpecError("map の table は「元の値: 変換後」の対応表です")
    default = arg.get("default")

    def apply(value: str) -> str:
        if value in table:
            return table[value]
        if default is not None:
            return str(default)
        raise FilterError(f"対応表にない値です: {value}")

    return apply


def _truncate(arg: Any) -> Callable[[str], str]:
    spec = arg if isinstance(arg, Mapping) else {"length": arg}
    length, encoding, cut = spec.get("length"), spec.get("encoding"), bool(spec.get("cut", False))
    if not isinstance(length, int) or length < 1:
        raise SpecError("truncate には length（文字数、encoding があればバイト数）を書いてください")
    if encoding is not None:
        try:
            "".encode(str(encoding))
        except LookupError:
            raise SpecError(f"文字コード「{encoding}」はありません") from None

    def size(text: str) -> int:
        return len(text.encode(str(encoding), errors="replace")) if encoding else len(text)

    unit = "バイト" if encoding else "文字"

    def apply(value: str) -> str:
        if size(value) <= length:
            return value
        if not cut:
            raise FilterError(f"{length}{unit}を超えています（切り捨てません）: {value}")
        while size(value) > length:
            value = value[:-1]
        return value

    return apply


def build(spec: Any, base_dir: Path | None = None) -> Filter:
    """One rule from its spec (``zenkaku`` or ``{pad: {width: 6}}``)."""
    if isinstance(spec, str):
        name, arg = spec, None
    elif isinstance(spec, Mapping) and len(spec) == 1:
        name, arg = next(iter(spec.items()))
    else:
        raise SpecError("規則は名前か「名前: 設定」の1項目で書いてください")
    if name not in NAMES:
        raise SpecError(f"規則「{name}」はありません（使えるもの: {', '.join(NAMES)}）")
    try:
        if name == "zenkaku":
            fn: Callable[[str], str] = zenkaku
        elif name == "hankaku":
            fn = hankaku
        elif name == "map":
            fn = _map(arg, base_dir)
        else:
            fn = {"wareki": _wareki, "split": _split, "pad": _pad, "format": _format, "truncate": _truncate}[
                name
            ](arg)
    except SpecError as exc:
        raise SpecError(f"規則「{name}」: {exc}") from None
    return Filter(str(name), fn)


def chain(specs: list[Any], base_dir: Path | None = None) -> tuple[Filter, ...]:
    return tuple(build(s, base_dir) for s in specs)


def apply_all(filters: tuple[Filter, ...], value: str) -> str:
    for f in filters:
        value = f(value)
    return value
