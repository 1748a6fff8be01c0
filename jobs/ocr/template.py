"""Template definitions (帳票定義): where each field of a form is and what it holds.

``parse_template(yaml_bytes, files)`` turns an uploaded YAML document plus
its reference page (the blank form) into a validated ``Template``;
``Template.to_dict()`` is the JSON the service stores per version and hands
to the job, and ``template_from_dict`` reads it back. The reference page is
kept inside the dict as grey PNGs at the alignment resolution, so a job
carries everything it needs and a stored version never changes under it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from jobs.errors import JobInputError
from jobs.ocr import constructs
from jobs.ocr.pages import Grey, reference_pages
from jobs.ocr.yamldoc import TemplateError, TemplateProblem, parse_yaml, problem, schema_problems

FIELD_TYPES = (
    "text",
    "name",
    "kana",
    "number",
    "amount",
    "date_wareki",
    "date",
    "phone",
    "postal_code",
    "account_number",
    "checkbox",
    "free_text",
    "digits",
    # Constructs (jobs/ocr/constructs.py): several boxes or printed words, one result.
    "choice",
    "era_date",
    "tick_set",
    "table",
)
DIGIT_TYPES = frozenset({"number", "amount", "phone", "postal_code", "account_number", "digits"})
ENGINES = ("auto", "tesseract", "ppocr")
# Printed marks a type allows before or after its value; the reader lets
# them through and the normaliser strips them (〒812-0011, 259,651円, 様).
DEFAULT_PREFIXES = {"postal_code": ("〒",), "amount": ("¥", "￥")}
DEFAULT_SUFFIXES = {"amount": ("円",), "name": ("様", "殿"), "digits": ("号",), "number": ("号",)}
DEFAULT_THRESHOLD = 80.0
# tesseract's eng model cannot write 円: it read a printed 11,800円 as
# 11,8004 (at 90; without the comma that would pass the type check). Its
# jpn model reads the digits, the commas, ¥ and 円 of printed amounts, so a
# printed amount is read with jpn. On handwriting jpn dropped digits that
# eng kept (127,531 for 1,927,531), so a handwritten amount keeps eng and is
# read with jpn only when PP-OCR saw a 円 or ¥ (recognise.tesseract_language).
PRINTED_LANGUAGE = {"amount": "jpn"}
# Manual keying time when the template does not say: handling the sheet,
# plus typing and checking each field (a tick box is a glance).
BASE_SECONDS_PER_FORM = 30.0
SECONDS_PER_FIELD = 10.0
SECONDS_PER_CHECKBOX = 3.0
MAX_REFERENCE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Box:
    """A rectangle in millimetres from the page's top-left corner."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    page: int
    box: Box
    type: str
    language: str
    allowed_chars: str | None
    pattern: str | None
    required: bool
    # "auto", "always", or None when the template leaves it to the type.
    review: str | None
    confidence_threshold: float
    engine: str = "auto"
    handwritten: bool = False
    cells: int | None = None  # a digit-box row: this many equal boxes, each read alone
    multiline: bool = False
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    # Names: send to review only when a character has a common variant
    # (崎/﨑, 高/髙 …) instead of always.
    variant_kanji: bool = False
    # Constructs (jobs/ocr/constructs.py) and their settings.
    align: str = "left"  # digit boxes: "right" when written 右詰め
    handwritten_auto: bool = False  # print or handwriting decided per crop (jobs/ocr/writing.py)
    construct: constructs.Construct | None = None
    check: str | None = None  # a check digit (jobs.ocr.checks): mynumber, corporate_number, mod10

    def always_review(self, *, from_text_layer: bool) -> bool:
        """Whether a person checks this field whatever its confidence.

        Names default to review when read by OCR: variant kanji (髙/高,
        﨑/崎) came back wrong with high confidence. With ``variant_kanji``
        only the names that hold such a character go to review. A text
        layer is exact."""
        if self.review is not None:
            return self.review == "always"
        return self.type == "name" and not from_text_layer and not self.variant_kanji


@dataclass(frozen=True)
class CheckboxGroup:
    """Tick boxes of which exactly one (or at most one) may be ticked."""

    name: str
    label: str
    fields: tuple[str, ...]
    rule: str


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    version: int
    width_mm: float
    height_mm: float
    pages: int
    seconds_per_form: float
    fields: tuple[Field, ...]
    reference_png: tuple[bytes, ...]
    source: dict[str, Any]
    checkbox_groups: tuple[CheckboxGroup, ...] = ()
    rules: tuple[dict[str, Any], ...] = ()  # cross-field rules (jobs.ocr.rules)

    @property
    def digest(self) -> str:
        """Content hash: same definition and reference page, same digest."""
        return template_digest(self.source, self.reference_png)

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def reference(self, page: int) -> Grey:
        return _decode_png(self.reference_png[page - 1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable; ``template_from_dict`` reads it back."""
        return {
            "definition": self.source,
            "reference_png": [base64.b64encode(p).decode("ascii") for p in self.reference_png],
            "digest": self.digest,
        }

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "name": self.name, "digest": self.digest}


def template_digest(source: Mapping[str, Any], reference_png: tuple[bytes, ...]) -> str:
    canonical = json.dumps(source, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    sha = hashlib.sha256(canonical.encode("utf-8"))
    for png in reference_png:
        sha.update(hashlib.sha256(png).digest())
    return sha.hexdigest()


@lru_cache(maxsize=32)
def _decode_png(png: bytes) -> Grey:
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise JobInputError("invalid_template", "帳票定義の参照ページ画像が壊れています。")
    return np.asarray(image, dtype=np.uint8)


def _encode_png(image: Grey) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:  # pragma: no cover - OpenCV can always encode a grey image
        raise RuntimeError("PNG encoding failed")
    return bytes(encoded.tobytes())


def default_seconds_per_form(fields: list[dict[str, Any]]) -> float:
    ticks = sum(1 for f in fields if f.get("type") == "checkbox")
    # A table keys every cell; a tick set's counts are typed like fields.
    extra = sum(constructs.keyed_extra(f) for f in fields)
    return (
        BASE_SECONDS_PER_FORM
        + SECONDS_PER_FIELD * (len(fields) - ticks + extra)
        + SECONDS_PER_CHECKBOX * ticks
    )


def _field(raw: Mapping[str, Any], threshold: float, defaults: Mapping[str, Any]) -> Field:
    plain = _plain_field(raw, threshold, defaults)
    found = constructs.parse(plain, raw)
    return plain if found is None else replace(plain, construct=found)


def _plain_field(raw: Mapping[str, Any], threshold: float, defaults: Mapping[str, Any]) -> Field:
    kind = str(raw["type"])
    box = raw["box"]
    return Field(
        name=str(raw["name"]),
        label=str(raw["label"]),
        page=int(raw.get("page", 1)),
        box=Box(float(box["x"]), float(box["y"]), float(box["w"]), float(box["h"])),
        type=kind,
        language=str(raw.get("language", _default_language(kind, raw, defaults))),
        allowed_chars=raw.get("allowed_chars"),
        pattern=raw.get("pattern"),
        required=bool(raw.get("required", False)),
        review=raw.get("review"),
        confidence_threshold=float(raw.get("confidence_threshold", threshold)),
        engine=str(raw.get("engine", defaults.get("engine", "auto"))),
        handwritten=_handwritten(raw, defaults) is True,
        cells=int(raw["cells"]) if raw.get("cells") else None,
        multiline=bool(raw.get("multiline", False)),
        prefixes=tuple(raw.get("prefixes", DEFAULT_PREFIXES.get(kind, ()))),
        suffixes=tuple(raw.get("suffixes", DEFAULT_SUFFIXES.get(kind, ()))),
        variant_kanji=bool(raw.get("variant_kanji", False)),
        align=str(raw.get("align", "left")),
        handwritten_auto=_handwritten(raw, defaults) == "auto",
        check=raw.get("check"),
    )


def _handwritten(raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> bool | str:
    """true, false or "auto" (the field's, else the template's)."""
    value = raw.get("handwritten", defaults.get("handwritten", False))
    return value if value == "auto" else bool(value)


def _default_language(kind: str, raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    handwritten = bool(raw.get("handwritten", defaults.get("handwritten", False)))
    if not handwritten and kind in PRINTED_LANGUAGE:
        return PRINTED_LANGUAGE[kind]
    return "eng" if kind in DIGIT_TYPES else "jpn"


def _groups(source: Mapping[str, Any]) -> tuple[CheckboxGroup, ...]:
    return tuple(
        CheckboxGroup(str(g["name"]), str(g.get("label", g["name"])), tuple(g["fields"]), str(g["rule"]))
        for g in source.get("checkbox_groups", [])
    )


def _semantic_problems(data: dict[str, Any], node: yaml.Node) -> list[TemplateProblem]:
    """What the schema cannot say: unique names, boxes on the page, regexes."""
    found: list[TemplateProblem] = []
    width, height = data["page_size"]["width_mm"], data["page_size"]["height_mm"]
    pages = int(data.get("pages", 1))
    seen: set[str] = set()
    for i, raw in enumerate(data["fields"]):
        where: list[str | int] = ["fields", i]
        if raw["name"] in seen:
            found.append(problem(f"項目名「{raw['name']}」が重複しています。", node, [*where, "name"]))
        seen.add(raw["name"])
        box = raw["box"]
        if box["x"] + box["w"] > width or box["y"] + box["h"] > height:
            found.append(problem("枠がページの外にはみ出しています。", node, [*where, "box"]))
        if int(raw.get("page", 1)) > pages:
            found.append(problem(f"page は pages（{pages}）以下にしてください。", node, [*where, "page"]))
        if raw.get("pattern") is not None:
            try:
                re.compile(raw["pattern"])
            except re.error as exc:
                found.append(problem(f"正規表現として正しくありません（{exc}）。", node, [*where, "pattern"]))
        if raw.get("cells") and raw["type"] not in DIGIT_TYPES | {"text", "kana"}:
            found.append(problem("cells は数字・文字の項目にだけ指定できます。", node, [*where, "cells"]))
    from jobs.ocr.rules import rule_problems

    return found + _group_problems(data, node) + constructs.problems(data, node) + rule_problems(data, node)


def _group_problems(data: dict[str, Any], node: yaml.Node) -> list[TemplateProblem]:
    ticks = {f["name"] for f in data["fields"] if f["type"] == "checkbox"}
    found: list[TemplateProblem] = []
    for i, group in enumerate(data.get("checkbox_groups", [])):
        for name in group["fields"]:
            if name not in ticks:
                message = f"「{name}」はチェックボックスの項目ではありません。"
                found.append(problem(message, node, ["checkbox_groups", i, "fields"]))
    return found


def _reference(data: dict[str, Any], node: yaml.Node, files: Mapping[str, bytes]) -> tuple[bytes, ...]:
    name = data["reference"]
    blob = files.get(name)
    if blob is None:
        raise TemplateError([problem(f"参照ページ「{name}」のファイルがありません。", node, ["reference"])])
    if len(blob) > MAX_REFERENCE_BYTES:
        raise TemplateError(
            [problem("参照ページのファイルが大きすぎます（20MBまで）。", node, ["reference"])]
        )
    size = (float(data["page_size"]["width_mm"]), float(data["page_size"]["height_mm"]))
    pages = int(data.get("pages", 1))
    try:
        images = reference_pages(blob, name, size, pages)
    except JobInputError as exc:
        raise TemplateError([problem(exc.message, node, ["reference"])]) from None
    if len(images) < pages:
        message = f"参照ページが{len(images)}ページしかありません（pages: {pages}）。"
        raise TemplateError([problem(message, node, ["reference"])])
    return tuple(_encode_png(image) for image in images)


def build_template(source: dict[str, Any], reference_png: tuple[bytes, ...]) -> Template:
    """A Template from an already validated definition and its reference PNGs."""
    threshold = float(source.get("confidence_threshold", DEFAULT_THRESHOLD))
    seconds = source.get("seconds_per_form") or default_seconds_per_form(source["fields"])
    return Template(
        id=source["id"],
        name=source["name"],
        version=int(source["version"]),
        width_mm=float(source["page_size"]["width_mm"]),
        height_mm=float(source["page_size"]["height_mm"]),
        pages=int(source.get("pages", 1)),
        seconds_per_form=float(seconds),
        fields=tuple(_field(f, threshold, source) for f in source["fields"]),
        reference_png=reference_png,
        source=source,
        checkbox_groups=_groups(source),
        rules=tuple(dict(r) for r in source.get("rules", [])),
    )


def check_definition(source: bytes | str) -> tuple[dict[str, Any], yaml.Node, list[TemplateProblem]]:
    """Parse and check a YAML definition without its reference page."""
    data, node = parse_yaml(source)
    problems = schema_problems(data, node)
    if not problems:
        problems = _semantic_problems(data, node)
    return data, node, problems


def validate_template(source: bytes | str) -> list[TemplateProblem]:
    """Every problem in a YAML definition (empty list: it is valid).
    For the API's validate endpoint; the reference page is not checked."""
    try:
        return check_definition(source)[2]
    except TemplateError as exc:
        return exc.problems


def parse_template(source: bytes | str, files: Mapping[str, bytes]) -> Template:
    """YAML definition + uploaded files (by name) → Template, or TemplateError."""
    data, node, problems = check_definition(source)
    if problems:
        raise TemplateError(problems)
    return build_template(data, _reference(data, node, files))


def load_template_file(path: Path) -> Template:
    """A YAML file whose reference page lies beside it (CLI, bundled sample)."""
    source = path.read_bytes()
    data, _, problems = check_definition(source)
    if problems:
        raise TemplateError(problems)
    reference = path.parent / Path(str(data["reference"])).name
    files = {data["reference"]: reference.read_bytes()} if reference.is_file() else {}
    return parse_template(source, files)


def template_from_dict(stored: Mapping[str, Any]) -> Template:
    """Read back ``Template.to_dict()``; the definition is checked again so a
    hand-edited or outdated dict fails here, not halfway through a job."""
    if not isinstance(stored, Mapping) or not isinstance(stored.get("definition"), dict):
        raise JobInputError("invalid_template", "帳票定義の形式が正しくありません。")
    definition = stored["definition"]
    problems = check_definition(json.dumps(definition, ensure_ascii=False))[2]
    if problems:
        raise TemplateError(problems)
    try:
        pngs = tuple(base64.b64decode(p, validate=True) for p in stored.get("reference_png", []))
    except (ValueError, TypeError):
        raise JobInputError("invalid_template", "帳票定義の参照ページ画像が壊れています。") from None
    if len(pngs) < int(definition.get("pages", 1)):
        raise JobInputError("invalid_template", "帳票定義に参照ページ画像がありません。")
    return build_template(definition, pngs)


def check_new_version(previous: Template | None, new: Template) -> str:
    """How an upload relates to the newest stored version of the same id:
    ``"new"`` (first version or a higher number), ``"unchanged"`` (same
    content, nothing to store). A changed definition that keeps or lowers
    the version number is refused, so a job's version never changes meaning."""
    if previous is None:
        return "new"
    if previous.id != new.id:
        raise ValueError("check_new_version compares versions of one template id")
    if new.digest == previous.digest:
        return "unchanged"
    if new.version <= previous.version:
        raise JobInputError(
            "template_version_exists",
            f"帳票定義「{new.id}」のバージョン{new.version}は既にあります。"
            f"内容を変えたときは version を{previous.version + 1}以上にしてください。",
            template=new.id,
            version=new.version,
            latest=previous.version,
        )
    return "new"
