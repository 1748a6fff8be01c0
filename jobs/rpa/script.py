"""The declarative entry-script format: parse safely, validate against the
JSON Schema, and name the line of every mistake.

YAML is read with the safe loader only (no tags, no objects), composed first
so each value keeps its line; the schema then checks the shape and a few
cross-checks (reference columns exist, placeholders name real columns) that
a schema cannot express.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from jobs import safeyaml
from jobs.errors import JobInputError
from jobs.rpa import filters as value_filters
from jobs.rpa import from_ocr as ocr_source
from jobs.rpa import template

SCHEMA_PATH = Path(__file__).with_name("script.schema.json")
ACTIONS = (
    "goto",
    "fill",
    "select",
    "check",
    "click",
    "dialog",
    "wait_for",
    "expect",
    "capture",
    "screenshot",
    "frame",
    "popup",
    "press",
    "hover",
    "lines",
    "upload",
    "type",
)
MAX_SCRIPT_BYTES = 256 * 1024


class ScriptError(JobInputError):
    """The script is not a valid entry script; ``line`` points at the mistake."""

    code = "invalid_script"

    def __init__(self, message: str, line: int | None = None, path: str = "") -> None:
        where = f"{line}行目: " if line else ""
        super().__init__(None, f"入力スクリプトの{where}{message}", line=line, path=path)
        self.line = line


@dataclass(frozen=True)
class Step:
    action: str
    args: dict[str, Any]
    line: int = 0
    # Nested steps of ``frame`` and ``popup`` (run inside that frame or window)
    # and of ``lines`` (run once per detail line).
    children: tuple[Step, ...] = ()
    # ``lines`` only: run before each line the screen does not show at first (行追加).
    add: tuple[Step, ...] = ()

    @property
    def submits(self) -> bool:
        return self.action in ("click", "press") and bool(self.args.get("submit"))

    def walk(self) -> list[Step]:
        """This step and every nested one, in order."""
        return [self, *(s for c in (*self.add, *self.children) for s in c.walk())]


def walk(steps: tuple[Step, ...]) -> list[Step]:
    return [s for step in steps for s in step.walk()]


# Japanese headings of captured columns every financial system has; a
# script's own ``label`` wins.
CAPTURE_LABELS = {"voucher_no": "伝票番号", "voucher": "伝票番号", "receipt_no": "受付番号"}


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    type: str
    required: bool = False
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    enum: tuple[str, ...] | None = None
    filters: tuple[value_filters.Filter, ...] = ()


@dataclass(frozen=True)
class Derived:
    """A value made from a column by filters (``{{ row.<name> }}`` in steps)."""

    name: str
    source: str
    filters: tuple[value_filters.Filter, ...]


@dataclass(frozen=True)
class Lines:
    """明細: consecutive rows with the same reference make one voucher; these
    columns vary from line to line, every other column is the voucher's own."""

    columns: tuple[str, ...]
    max: int | None = None


@dataclass(frozen=True)
class Window:
    weekdays: tuple[int, ...]
    start: str
    end: str
    timezone: str


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str
    credential: str
    login: tuple[Step, ...]
    logged_in: str
    login_error: str | None
    validation_messages: str
    concurrency: int = 1
    timeout_seconds: float = 15.0
    max_processing_seconds: float = 5.0
    retries: int = 3
    new_page_every: int = 50
    window: Window | None = None
    # The login page or the target's "session ended" message: seen during a
    # row, the runner logs in again and retries the row from its start.
    session_expired: str | None = None
    max_relogins_per_row: int = 2


@dataclass(frozen=True)
class Lookup:
    steps: tuple[Step, ...]
    found: str
    capture: tuple[dict[str, Any], ...]
    # With ``text``: only the ``found`` elements whose text is the rendered
    # value (``exact``) or contains it (``contains``) count as the entry.
    text: str | None = None
    cell: str | None = None  # within each found element: where the text is (default: all of it)
    match: str = "exact"
    next_page: str | None = None  # a 次へ link or button, followed until found or gone
    max_pages: int = 20


@dataclass(frozen=True)
class Script:
    name: str
    target: Target
    columns: tuple[Column, ...]
    reference: tuple[str, ...]
    steps: tuple[Step, ...]
    lookup: Lookup
    baseline_seconds_per_record: float
    check_before_entry: bool = False
    derived: tuple[Derived, ...] = ()
    lines: Lines | None = None
    # Records taken from a reviewed OCR job instead of an uploaded sheet.
    from_ocr: ocr_source.FromOcr | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def capture_columns(self) -> list[str]:
        """Output columns in the order the steps and the lookup capture them."""
        cols = [s.args["column"] for s in walk(self.steps) if s.action == "capture"]
        cols += [c["column"] for c in self.lookup.capture]
        return list(dict.fromkeys(cols))

    @property
    def upload_columns(self) -> list[str]:
        """Columns holding the file name of an attachment (``upload`` steps)."""
        return list(dict.fromkeys(s.args["column"] for s in walk(self.steps) if s.action == "upload"))

    @property
    def capture_labels(self) -> dict[str, str]:
        """Each captured column's heading in results.csv/xlsx: the
        ``label`` the script gives it, a known column's Japanese name
        (voucher_no: 伝票番号), or the column name itself."""
        given: dict[str, str] = {}
        found = [s.args for s in walk(self.steps) if s.action == "capture"] + list(self.lookup.capture)
        for args in found:
            if args.get("label"):
                given.setdefault(args["column"], args["label"])
        return {c: given.get(c) or CAPTURE_LABELS.get(c, c) for c in self.capture_columns}


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


# --- YAML with line numbers -------------------------------------------------------------


def _compose(text: str) -> tuple[yaml.Node, Any]:
    """Node tree and data; aliases and non-data tags (``!!python/...``) are
    refused with the line they are on."""
    try:
        node, data = safeyaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ScriptError(f"YAMLとして読めません（{exc.problem}）。", line) from None
    if node is None:
        raise ScriptError("内容が空です。")
    return node, data


def _line_of(node: yaml.Node, path: list[str | int]) -> int:
    """The line of the deepest node the path reaches (1-based)."""
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            match = node.value[key]
        else:
            match = None
        if match is None:
            break
        node = match
    return int(node.start_mark.line) + 1


def _schema_message(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(最上位)"
    return f"「{where}」が正しくありません: {error.message}"


def load_document(text: str) -> tuple[dict[str, Any], yaml.Node]:
    """Safe-load and schema-check; returns the data and its node tree."""
    if len(text.encode("utf-8")) > MAX_SCRIPT_BYTES:
        raise ScriptError("大きすぎます（256KBまで）。")
    node, data = _compose(text)
    if not isinstance(data, dict):
        raise ScriptError("最上位はマッピング（キー: 値）にしてください。", 1)
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = min(errors, key=lambda e: _line_of(node, list(e.absolute_path)))
        raise ScriptError(_schema_message(first), _line_of(node, list(first.absolute_path)))
    return data, node


# --- building the typed script ----------------------------------------------------------


def _steps(items: list[dict[str, Any]], node: yaml.Node, path: list[str | int]) -> tuple[Step, ...]:
    steps = []
    for i, item in enumerate(items):
        action, args = next(iter(item.items()))
        if action in ("goto", "screenshot") and isinstance(args, str):
            args = {"url" if action == "goto" else "name": args}
        elif action == "press" and isinstance(args, str):
            args = {"key": args}
        args = dict(args)
        children = _steps(args.pop("steps"), node, [*path, i, action, "steps"]) if "steps" in args else ()
        add = _steps(args.pop("add"), node, [*path, i, action, "add"]) if "add" in args else ()
        steps.append(Step(action, args, _line_of(node, [*path, i]), children, add))
    return tuple(steps)


def _filters(specs: list[Any], node: yaml.Node, path: list[str | int], base_dir: Path | None) -> Any:
    try:
        return value_filters.chain(specs, base_dir)
    except value_filters.SpecError as exc:
        raise ScriptError(f"{exc}。", _line_of(node, path)) from None


def _derived(raw: dict[str, Any], node: yaml.Node, base_dir: Path | None) -> tuple[Derived, ...]:
    return tuple(
        Derived(d["name"], d["from"], _filters(d["filters"], node, ["records", "derived", i], base_dir))
        for i, d in enumerate(raw.get("derived", []))
    )


def _column(raw: dict[str, Any], node: yaml.Node, i: int, base_dir: Path | None) -> Column:
    enum = raw.get("enum")
    return Column(
        name=raw["name"],
        header=raw.get("header", raw["name"]),
        type=raw["type"],
        required=bool(raw.get("required", False)),
        pattern=raw.get("pattern"),
        minimum=raw.get("minimum"),
        maximum=raw.get("maximum"),
        max_length=raw.get("max_length"),
        enum=tuple(str(v) for v in enum) if enum is not None else None,
        filters=_filters(raw.get("filters", []), node, ["records", "columns", i, "filters"], base_dir),
    )


def _target(raw: dict[str, Any], node: yaml.Node) -> Target:
    window = raw.get("window")
    return Target(
        name=raw["name"],
        base_url=raw["base_url"].rstrip("/"),
        credential=raw["credential"],
        login=_steps(raw["login"], node, ["target", "login"]),
        logged_in=raw["logged_in"]["selector"],
        login_error=(raw.get("login_error") or {}).get("selector"),
        validation_messages=raw["validation_messages"]["selector"],
        concurrency=int(raw.get("concurrency", 1)),
        timeout_seconds=float(raw.get("timeout_seconds", 15)),
        max_processing_seconds=float(raw.get("max_processing_seconds", 5)),
        retries=int(raw.get("retries", 3)),
        new_page_every=int(raw.get("new_page_every", 50)),
        session_expired=(raw.get("session_expired") or {}).get("selector"),
        max_relogins_per_row=int(raw.get("max_relogins_per_row", 2)),
        window=Window(
            weekdays=tuple(window.get("weekdays", [1, 2, 3, 4, 5])),
            start=window["start"],
            end=window["end"],
            timezone=window.get("timezone", "Asia/Tokyo"),
        )
        if window
        else None,
    )


def _check_patterns(script: Script, node: yaml.Node) -> None:
    for i, col in enumerate(script.columns):
        if col.pattern is None:
            continue
        try:
            re.compile(col.pattern)
        except re.error as exc:
            line = _line_of(node, ["records", "columns", i, "pattern"])
            raise ScriptError(
                f"列「{col.name}」のpatternが正規表現として正しくありません（{exc}）。", line
            ) from None


def _check_templates(steps: tuple[Step, ...], scopes: dict[str, set[str]]) -> None:
    for step in walk(steps):
        nested = [v for v in step.args.values() if isinstance(v, dict)]
        for value in [*step.args.values(), *(v for d in nested for v in d.values())]:
            if isinstance(value, str):
                try:
                    template.check(value, scopes)
                except template.TemplateError as exc:
                    raise ScriptError(f"{exc}。", step.line) from None


def line_names(script: Script) -> set[str]:
    """The values that vary per 明細 line: the ``lines`` columns and what is derived from them."""
    if script.lines is None:
        return set()
    names = set(script.lines.columns)
    return names | {d.name for d in script.derived if d.source in names}


def _check_entry_steps(steps: tuple[Step, ...], header: set[str], lines: set[str], inside: bool) -> None:
    """Placeholders and ``upload`` columns per scope: ``row.*`` (the voucher's
    own values) everywhere, ``line.*`` (one 明細 line, ``line.n`` its number
    from 1) only inside ``lines``."""
    scopes = {"row": header, **({"line": {*lines, "n"}} if inside else {})}
    for step in steps:
        if step.action == "lines":
            if inside:
                raise ScriptError("lines の中に lines は書けません。", step.line)
            _check_entry_steps((*step.add, *step.children), header, lines, True)
            continue
        if step.action == "upload":
            column = step.args["column"]
            if column in lines and not inside:
                raise ScriptError(
                    f"upload の列「{column}」は明細の列です。lines の中に書いてください。", step.line
                )
            if column not in header | lines:
                raise ScriptError(f"upload の列「{column}」が columns にありません。", step.line)
        if inside and step.submits:
            raise ScriptError(
                "submit: true の操作は lines の外に書いてください（伝票ごとに1回）。", step.line
            )
        _check_templates((Step(step.action, step.args, step.line),), scopes)
        _check_entry_steps(step.children, header, lines, inside)


def _check_lines(script: Script, node: yaml.Node, names: list[str]) -> None:
    blocks = [s for s in walk(script.steps) if s.action == "lines"]
    elsewhere = [
        s for s in walk((*script.target.login, *script.lookup.steps)) if s.action in ("lines", "upload")
    ]
    if elsewhere:
        raise ScriptError(f"{elsewhere[0].action} は steps の中でだけ使えます。", elsewhere[0].line)
    if script.lines is None:
        if blocks:
            raise ScriptError("lines の手順には records.lines（明細の列）が必要です。", blocks[0].line)
        return
    where = _line_of(node, ["records", "lines"])
    if len(blocks) != 1:
        raise ScriptError("records.lines があるときは、steps に lines を1つ書いてください。", where)
    for column in script.lines.columns:
        if column not in names:
            raise ScriptError(f"明細の列「{column}」が columns にありません。", where)
        if column == "n":
            raise ScriptError("明細の列に「n」は使えません（line.n は行番号です）。", where)
    shared = set(script.reference) & line_names(script)
    if shared:
        raise ScriptError(
            f"参照キーの列「{'、'.join(sorted(shared))}」は明細の列にできません（伝票ごとに1つです）。", where
        )


def _check_references(script: Script, node: yaml.Node) -> None:
    names = [c.name for c in script.columns]
    for d in script.derived:
        if d.source not in names:
            raise ScriptError(
                f"derived「{d.name}」の from「{d.source}」が columns にありません。",
                _line_of(node, ["records", "derived"]),
            )
    names += [d.name for d in script.derived]
    if len(set(names)) != len(names):
        raise ScriptError("列名（name）が重複しています。", _line_of(node, ["records", "columns"]))
    for ref in script.reference:
        if ref not in names:
            raise ScriptError(
                f"参照キーの列「{ref}」が columns にありません。", _line_of(node, ["records", "reference"])
            )
    submits = [s for s in walk(script.steps) if s.submits]
    if len(submits) > 1:
        raise ScriptError("submit: true のクリックは1つだけにしてください。", submits[1].line)
    nested = [
        part
        for s in walk((*script.target.login, *script.steps, *script.lookup.steps))
        for part in (s.children, s.add)
        if part
    ]
    for steps in (script.target.login, script.steps, script.lookup.steps, *nested):
        for step, following in zip(steps, [*steps[1:], None], strict=True):
            if step.action == "dialog" and (following is None or following.action == "dialog"):
                raise ScriptError("dialog の次には、そのダイアログを開く操作を書いてください。", step.line)
    _check_lines(script, node, names)
    lines = line_names(script)
    row_scope = {"row": set(names) - lines}
    _check_templates(script.target.login, {"credential": {"user", "password"}})
    _check_entry_steps(script.steps, row_scope["row"], lines, False)
    _check_templates(script.lookup.steps, row_scope)
    if script.lookup.text:
        try:
            template.check(script.lookup.text, row_scope)
        except template.TemplateError as exc:
            raise ScriptError(f"{exc}。", _line_of(node, ["lookup", "found"])) from None


def _lines(raw: dict[str, Any] | None) -> Lines | None:
    if raw is None:
        return None
    return Lines(tuple(raw["columns"]), raw.get("max"))


def parse_script(text: str, base_dir: Path | None = None) -> Script:
    """Parse and validate an entry script; raises ScriptError naming the line.
    ``base_dir``: the script file's folder (for ``map: {csv: …}`` tables)."""
    data, node = load_document(text)
    lookup, found = data["lookup"], data["lookup"]["found"]
    columns = data["records"]["columns"]
    script = Script(
        name=data["name"],
        target=_target(data["target"], node),
        columns=tuple(_column(c, node, i, base_dir) for i, c in enumerate(columns)),
        derived=_derived(data["records"], node, base_dir),
        reference=tuple(data["records"]["reference"]),
        steps=_steps(data["steps"], node, ["steps"]),
        lookup=Lookup(
            steps=_steps(lookup["steps"], node, ["lookup", "steps"]),
            found=found["selector"],
            capture=tuple(lookup.get("capture", [])),
            text=found.get("text"),
            cell=found.get("cell"),
            match=found.get("match", "exact"),
            next_page=(lookup.get("next_page") or {}).get("selector"),
            max_pages=int(lookup.get("max_pages", 20)),
        ),
        baseline_seconds_per_record=float(data["baseline_seconds_per_record"]),
        check_before_entry=bool(data.get("check_before_entry", False)),
        lines=_lines(data["records"].get("lines")),
        raw=data,
    )
    _check_patterns(script, node)
    _check_references(script, node)
    return _with_from_ocr(script, data, node)


def _with_from_ocr(script: Script, data: dict[str, Any], node: yaml.Node) -> Script:
    if "from_ocr" not in data:
        return script
    try:
        mapping = ocr_source.parse(data["from_ocr"], ((c.name, c.header, c.required) for c in script.columns))
    except ocr_source.MappingProblem as exc:
        raise ScriptError(exc.message, _line_of(node, exc.path)) from None
    return replace(script, from_ocr=mapping)


def load_script(path: Path) -> Script:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ScriptError("UTF-8で保存してください。") from None
    return parse_script(text, path.parent)
