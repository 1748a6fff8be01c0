"""Reading a page whose template has constructs (``jobs.ocr.constructs``):
the plain fields and every construct's parts read in one pass by the usual
reader, the printed-word marks scored against the blank, then each
construct's parts put back together as its result(s)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from jobs.ocr import choice, eradate
from jobs.ocr.align import Alignment
from jobs.ocr.constructs import PART, output_fields, plain_fields
from jobs.ocr.fields import FieldResult, review_crop
from jobs.ocr.pages import Grey
from jobs.ocr.table import PARTIAL, row_status
from jobs.ocr.template import Field

# Reasons of a part that carry over to the construct it belongs to.
_PART_REASONS = ("low_confidence", "type_check", "engines_disagree", "ambiguous_mark")


def read_constructs(
    specs: Sequence[Field],
    read_plain: Callable[[list[Field]], list[FieldResult]],
    image: Grey,
    alignment: Alignment,
    reference: Grey | None,
) -> list[FieldResult]:
    """A page's results, in template order, constructs combined."""
    if not any(s.construct is not None for s in specs):
        return read_plain(list(specs))
    by_name = {r.name: r for r in read_plain(plain_fields(specs))}
    out: list[FieldResult] = []
    for spec in specs:
        if spec.construct is None:
            out.append(by_name[spec.name])
            continue
        results = _combine(spec, by_name, image, alignment, reference)
        for result, out_spec in zip(results, output_fields(spec), strict=True):
            if result.review and result.crop is None:
                result.crop = review_crop(out_spec, image, alignment)
        out += results
    return out


def _combine(
    spec: Field, parts: dict[str, FieldResult], image: Grey, alignment: Alignment, reference: Grey | None
) -> list[FieldResult]:
    if spec.type == "choice":
        return [_choice(spec, image, alignment, reference)]
    if spec.type == "era_date":
        return [_era_date(spec, parts, image, alignment, reference)]
    if spec.type == "tick_set":
        return _tick_set(spec, parts)
    return _table(spec, parts)


def _result(
    spec: Field, value: str | None, raw: str, reasons: list[str], problem: str | None = None
) -> FieldResult:
    if spec.required and value is None and "required_empty" not in reasons:
        reasons.append("required_empty")
    if spec.review == "always":
        reasons.append("always")
    return FieldResult(spec.name, value, value or "", raw, 50.0 if reasons else 100.0, reasons, problem)


def _choice(spec: Field, image: Grey, alignment: Alignment, reference: Grey | None) -> FieldResult:
    assert spec.construct is not None
    options = [(o.value, o.box) for o in spec.construct.options]
    marks = choice.read_marks(options, spec.construct.rule, image, alignment, reference)
    result = _result(spec, marks.value, marks.raw, list(marks.reasons))
    result.engine, result.extra = "mark", {"scores": {k: round(v, 4) for k, v in marks.scores.items()}}
    return result


def _era(
    spec: Field, parts: dict[str, FieldResult], image: Grey, alignment: Alignment, reference: Grey | None
) -> tuple[str | None, list[str], str]:
    assert spec.construct is not None
    construct = spec.construct
    if construct.era == "written":
        part = parts[f"{spec.name}{PART}era"]
        return eradate.era_name(part.text), _carried(part), part.text
    if construct.era:
        return construct.era, [], construct.era
    if not construct.options:
        return None, [], ""
    options = [(o.value, o.box) for o in construct.options]
    marks = choice.read_marks(options, "at_most_one", image, alignment, reference)
    return marks.value, list(marks.reasons), marks.raw


def _carried(part: FieldResult) -> list[str]:
    return [r for r in part.reasons if r in _PART_REASONS]


def _era_date(
    spec: Field, parts: dict[str, FieldResult], image: Grey, alignment: Alignment, reference: Grey | None
) -> FieldResult:
    assert spec.construct is not None
    era, reasons, era_raw = _era(spec, parts, image, alignment, reference)
    written = {
        p.name.split(PART)[1]: parts[p.name] for p in spec.construct.parts if not p.name.endswith("era")
    }
    for part in written.values():
        reasons += [r for r in _carried(part) if r not in reasons]
    texts = {k: p.text for k, p in written.items()}
    day, problem, anything = eradate.compose(era, texts)
    raw = " ".join([era_raw, *(f"{k}:{p.raw}" for k, p in written.items())])
    if day is None and anything:
        reasons.append("date_incomplete" if problem == "" else "type_check")
    value = day.isoformat() if day else None
    result = _result(spec, value, raw, reasons, problem or None)
    lowest = min((p.confidence for p in written.values() if p.text), default=100.0)
    result.confidence = min(lowest, 50.0) if reasons else lowest
    result.engine = "mark+text" if spec.construct.options else "text"
    result.extra = {"wareki": eradate.wareki_text(value), "era": era or ""}
    return result


def _tick_set(spec: Field, parts: dict[str, FieldResult]) -> list[FieldResult]:
    assert spec.construct is not None
    construct = spec.construct
    chosen: list[str] = []
    reasons: list[str] = []
    counts: list[FieldResult] = []
    for k, option in enumerate(construct.options, start=1):
        tick = parts[f"{spec.name}{PART}{k}"]
        reasons += [r for r in _carried(tick) if r not in reasons]
        if tick.value is True:
            chosen.append(option.value)
        if option.count is None:
            continue
        count = parts[f"{spec.name}_{k}_count"]
        if tick.value is True and count.value is None:
            count.reasons.append("count_missing")
        elif tick.value is not True and count.value is not None:
            count.reasons.append("count_without_tick")
        counts.append(count)
    if not construct.min_chosen <= len(chosen) <= construct.max_chosen:
        reasons.append("tick_count")
    value = "、".join(chosen) or None
    result = _result(spec, value, value or "", reasons)
    result.engine = "mark"
    result.extra = {"chosen": chosen}
    return [result, *counts]


def _table(spec: Field, parts: dict[str, FieldResult]) -> list[FieldResult]:
    assert spec.construct is not None
    construct = spec.construct
    cells = [parts[p.name] for p in construct.parts]
    width = len(construct.columns)
    for row in range(construct.rows):
        line = cells[row * width : (row + 1) * width]
        optional = [name in construct.optional for name, _ in construct.columns]
        if row_status([c.value not in (None, "") for c in line], optional) == PARTIAL:
            for cell in line:
                if "table_partial_row" not in cell.reasons:
                    cell.reasons.append("table_partial_row")
    return cells
