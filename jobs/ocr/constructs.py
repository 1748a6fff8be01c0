"""Template constructs beyond one box, one value: ``choice`` (a printed word
circled, ticked or struck among printed options), ``era_date`` (an era choice
plus 年・月・日 boxes), ``tick_set`` (tick boxes of which ``min``..``max`` are
chosen, each with an optional count) and ``table`` (rows × columns).

A construct is parsed here into parts the engines already read (digit boxes,
text boxes, tick boxes, each a plain ``Field``) and printed words whose marks
``jobs.ocr.choice`` finds; ``read_constructs`` reads a page's plain fields and
parts in one pass and ``combine`` turns each construct's parts back into its
result(s). A table becomes one result per cell (``members_2_name``), so the
review screen, CSV and XLSX treat cells as fields; forms.json also keeps its
rows as objects (``jobs.ocr.table``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.ocr.template import Box, Field

CONSTRUCT_TYPES = frozenset({"choice", "era_date", "tick_set", "table"})
ERAS = ("明治", "大正", "昭和", "平成", "令和")
PART = "__"  # joins a construct's name and its part's: birth__year
# Template keys only a construct has (the editor drops them when a field's type changes).
CONSTRUCT_KEYS = (
    "options",
    "rule",
    "min",
    "max",
    "era",
    "year",
    "month",
    "day",
    "date",
    "rows",
    "columns",
)


@dataclass(frozen=True)
class Option:
    """A printed option: its value, where the word (or tick box) is, and for
    a tick set the box its count is written in."""

    value: str
    box: Box
    count: Box | None = None


@dataclass(frozen=True)
class Construct:
    """What a construct field holds besides its own box (the review crop)."""

    options: tuple[Option, ...] = ()
    rule: str = "exactly_one"  # choice: exactly_one | at_most_one
    min_chosen: int = 0  # tick_set
    max_chosen: int = 0
    era: str = ""  # era_date: "" (circled options), "written", or a fixed era
    parts: tuple[Field, ...] = ()  # read by the engines
    rows: int = 0  # table
    columns: tuple[tuple[str, str], ...] = ()  # table: (name, label)
    optional: frozenset[str] = frozenset()  # table columns that may stay empty in a filled row


REASONS_JA = {
    "choice_none": "選択肢のどれにも印（○など）が付いていない",
    "choice_many": "複数の選択肢に印が付いている",
    "choice_faint": "選択肢の印がはっきりしない",
    "date_incomplete": "日付の一部（元号・年・月・日）が空欄",
    "tick_count": "チェックの数が選べる数（最少〜最多）に合わない",
    "count_missing": "チェックした項目の通数が空欄",
    "count_without_tick": "チェックのない項目に通数が書かれている",
    "table_partial_row": "表の行の一部だけが記入されている",
    "cells_misaligned": "右詰めの枠に空きがある（桁の読み落としの可能性）",
}


def _box(raw: Mapping[str, Any]) -> Box:
    from jobs.ocr.template import Box

    return Box(float(raw["x"]), float(raw["y"]), float(raw["w"]), float(raw["h"]))


def _options(raw: Sequence[Mapping[str, Any]]) -> tuple[Option, ...]:
    return tuple(
        Option(str(o["value"]), _box(o["box"]), _box(o["count"]["box"]) if o.get("count") else None)
        for o in raw
    )


def _part(base: Field, name: str, label: str, raw: Mapping[str, Any], **kind: Any) -> Field:
    """A plain field for one part of a construct, inheriting the engine settings."""
    return replace(
        base,
        name=f"{base.name}{PART}{name}",
        label=f"{base.label} {label}",
        box=_box(raw["box"]),
        cells=int(raw["cells"]) if raw.get("cells") else None,
        align=str(raw.get("align", "left")),
        required=False,
        review=None,
        construct=None,
        **kind,
    )


_DIGITS = {"type": "digits", "language": "eng", "allowed_chars": None, "pattern": None}


def _era_date_parts(base: Field, raw: Mapping[str, Any]) -> tuple[tuple[Field, ...], str]:
    if raw.get("date"):
        text = {"type": "text", "language": "jpn", "allowed_chars": None, "pattern": None}
        return (_part(base, "date", "日付", raw["date"], **text, suffixes=("日",), prefixes=()),), ""
    year = {
        "type": "text",
        "language": "jpn",
        "allowed_chars": "0123456789元",
        "pattern": r"元|[0-9]{1,2}",
        "suffixes": ("年",),
        "prefixes": (),
    }
    parts = [
        _part(base, "year", "年", raw["year"], **year),
        _part(base, "month", "月", raw["month"], **_DIGITS, suffixes=("月",), prefixes=()),
        _part(base, "day", "日", raw["day"], **_DIGITS, suffixes=("日",), prefixes=()),
    ]
    era = raw.get("era", {})
    if isinstance(era, str):
        return tuple(parts), era
    if era.get("box"):
        text = {"type": "text", "language": "jpn", "allowed_chars": None, "pattern": None}
        parts.insert(0, _part(base, "era", "元号", era, **text, suffixes=(), prefixes=()))
        return tuple(parts), "written"
    return tuple(parts), ""


def _tick_parts(base: Field, options: tuple[Option, ...]) -> tuple[Field, ...]:
    parts: list[Field] = []
    for k, option in enumerate(options, start=1):
        tick = {"type": "checkbox", "allowed_chars": None, "pattern": None, "prefixes": (), "suffixes": ()}
        parts.append(_part(base, f"{k}", option.value, {"box": _box_dict(option.box)}, **tick))
        if option.count is not None:
            count = {**_DIGITS, "type": "number", "prefixes": (), "suffixes": ("通", "部", "枚")}
            part = _part(base, "", f"{option.value} 通数", {"box": _box_dict(option.count)}, **count)
            parts.append(replace(part, name=count_name(base.name, k)))
    return tuple(parts)


def _box_dict(box: Box) -> dict[str, float]:
    return {"x": box.x, "y": box.y, "w": box.w, "h": box.h}


def _table_parts(
    base: Field, raw: Mapping[str, Any]
) -> tuple[tuple[Field, ...], tuple[tuple[str, str], ...]]:
    from jobs.ocr.template import DEFAULT_PREFIXES, DEFAULT_SUFFIXES, DIGIT_TYPES

    rows = int(raw["rows"])
    height = base.box.h / rows
    parts = []
    for row in range(1, rows + 1):
        y = base.box.y + (row - 1) * height
        for column in raw["columns"]:
            kind = str(column["type"])
            box = {"x": column["x"], "y": y, "w": column["w"], "h": height}
            settings = {
                "type": kind,
                "language": str(column.get("language", "eng" if kind in DIGIT_TYPES else "jpn")),
                "allowed_chars": column.get("allowed_chars"),
                "pattern": column.get("pattern"),
                "prefixes": tuple(column.get("prefixes", DEFAULT_PREFIXES.get(kind, ()))),
                "suffixes": tuple(column.get("suffixes", DEFAULT_SUFFIXES.get(kind, ()))),
            }
            cell = {k: v for k, v in column.items() if k in ("cells", "align")}
            part = _part(base, "", "", {"box": box, **cell}, **settings)
            parts.append(
                replace(
                    part,
                    name=cell_name(base.name, row, str(column["name"])),
                    label=f"{base.label}{row} {column['label']}",
                    review=column.get("review"),
                )
            )
    return tuple(parts), tuple((str(c["name"]), str(c["label"])) for c in raw["columns"])


def count_name(tick_set: str, option: int) -> str:
    return f"{tick_set}_{option}_count"


def cell_name(table: str, row: int, column: str) -> str:
    return f"{table}_{row}_{column}"


def parse(base: Field, raw: Mapping[str, Any]) -> Construct | None:
    """The construct a raw field holds (None for a plain field)."""
    kind = base.type
    if kind == "choice":
        return Construct(options=_options(raw["options"]), rule=str(raw.get("rule", "exactly_one")))
    if kind == "era_date":
        era_raw = raw.get("era", {})
        options = _options(era_raw.get("options", [])) if isinstance(era_raw, Mapping) else ()
        parts, era = _era_date_parts(base, raw)
        return Construct(options=options, era=era, parts=parts)
    if kind == "tick_set":
        options = _options(raw["options"])
        high = int(raw.get("max", len(options)))
        return Construct(
            options=options,
            min_chosen=int(raw.get("min", 0)),
            max_chosen=high,
            parts=_tick_parts(base, options),
        )
    if kind == "table":
        parts, columns = _table_parts(base, raw)
        optional = frozenset(str(c["name"]) for c in raw["columns"] if c.get("optional"))
        return Construct(parts=parts, rows=int(raw["rows"]), columns=columns, optional=optional)
    return None


def output_fields(spec: Field) -> list[Field]:
    """The fields a construct's results are recorded under: itself, its
    tick set's counts, or a table's cells."""
    if spec.construct is None:
        return [spec]
    if spec.type == "table":
        return list(spec.construct.parts)
    if spec.type == "tick_set":
        return [spec, *(p for p in spec.construct.parts if PART not in p.name)]
    return [spec]


def construct_boxes(spec: Field) -> list[Box]:
    """Every box of a construct besides its own (for the template preview)."""
    if spec.construct is None:
        return []
    options = [o.box for o in spec.construct.options if spec.type != "tick_set"]
    return options + [p.box for p in spec.construct.parts]


def plain_fields(specs: Sequence[Field]) -> list[Field]:
    """What the engines read: plain fields as they are, constructs' parts."""
    out: list[Field] = []
    for spec in specs:
        out += list(spec.construct.parts) if spec.construct is not None else [spec]
    return out


ReadPlain = Callable[[list["Field"]], list[Any]]


def keyed_extra(raw: Mapping[str, Any]) -> int:
    """Fields a construct adds to manual keying beyond its own one."""
    if raw.get("type") == "table":
        return int(raw.get("rows", 1)) * len(raw.get("columns", [])) - 1
    if raw.get("type") == "tick_set":
        return sum(1 for o in raw.get("options", []) if o.get("count"))
    return 0


def _boxes(raw: Mapping[str, Any]) -> list[tuple[list[str | int], Mapping[str, Any]]]:
    """Every extra box of a construct, with its path in the field."""
    found: list[tuple[list[str | int], Mapping[str, Any]]] = []
    for i, option in enumerate(raw.get("options", [])):
        found.append((["options", i, "box"], option["box"]))
        if option.get("count"):
            found.append((["options", i, "count", "box"], option["count"]["box"]))
    era = raw.get("era")
    if isinstance(era, Mapping):
        for i, option in enumerate(era.get("options", [])):
            found.append((["era", "options", i, "box"], option["box"]))
        if era.get("box"):
            found.append((["era", "box"], era["box"]))
    for part in ("year", "month", "day", "date"):
        if raw.get(part):
            found.append(([part, "box"], raw[part]["box"]))
    return found


def _construct_problems(raw: Mapping[str, Any]) -> list[tuple[str, list[str | int]]]:
    kind = raw["type"]
    found: list[tuple[str, list[str | int]]] = []
    if kind in ("choice", "tick_set") and not raw.get("options"):
        found.append(("options に選択肢を2つ以上書いてください。", ["type"]))
    values = [str(o["value"]) for o in raw.get("options", [])]
    if len(set(values)) != len(values):
        found.append(("options の value が重複しています。", ["options"]))
    if kind == "tick_set":
        low, high = int(raw.get("min", 0)), int(raw.get("max", len(values)))
        if not 0 <= low <= high <= len(values):
            found.append(
                (f"min・max は 0 ≦ min ≦ max ≦ 選択肢の数（{len(values)}）にしてください。", ["max"])
            )
    if kind == "era_date":
        has_parts = all(raw.get(p) for p in ("year", "month", "day"))
        if has_parts == bool(raw.get("date")):
            found.append(
                ("era_date には year・month・day の枠か、date の枠のどちらかを書いてください。", ["type"])
            )
        era = raw.get("era")
        if isinstance(era, str) and era not in ERAS:
            found.append((f"era は {'・'.join(ERAS)} のどれかにしてください。", ["era"]))
    if kind == "table":
        if not raw.get("rows") or not raw.get("columns"):
            found.append(("table には rows と columns を書いてください。", ["type"]))
        box = raw["box"]
        for i, column in enumerate(raw.get("columns", [])):
            if column["x"] < box["x"] or column["x"] + column["w"] > box["x"] + box["w"] + 0.01:
                found.append(("列が表の枠（box）の外にはみ出しています。", ["columns", i]))
    if kind not in CONSTRUCT_TYPES:
        extra = [k for k in CONSTRUCT_KEYS if k in raw]
        if extra:
            found.append(
                (f"{extra[0]} は choice・era_date・tick_set・table の項目にだけ書けます。", [extra[0]])
            )
    if raw.get("align") == "right" and not raw.get("cells"):
        found.append(("align: right は cells（1文字ずつの枠）の項目にだけ指定できます。", ["align"]))
    return found


def problems(data: Mapping[str, Any], node: Any) -> list[Any]:
    """What the schema cannot say about constructs: options, ranges, boxes on the page."""
    from jobs.ocr.yamldoc import problem

    width, height = data["page_size"]["width_mm"], data["page_size"]["height_mm"]
    found = []
    for i, raw in enumerate(data["fields"]):
        for message, path in _construct_problems(raw):
            found.append(problem(message, node, ["fields", i, *path]))
        for path, box in _boxes(raw):
            if box["x"] + box["w"] > width or box["y"] + box["h"] > height:
                found.append(problem("枠がページの外にはみ出しています。", node, ["fields", i, *path]))
    return found
