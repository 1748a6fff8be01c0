"""forms.json: the record of a job's reading.

forms.csv and forms.xlsx are made from it (``jobs.ocr.outputs``), so a
reviewer's corrections (``apply_corrections``) only change this document and
the tables are written again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jobs.errors import JobInputError
from jobs.ocr import constructs_doc
from jobs.ocr.checks import check_digit
from jobs.ocr.constructs import output_fields
from jobs.ocr.fields import REASONS_JA
from jobs.ocr.normalise import Checked, normalise
from jobs.ocr.reader import FormResult
from jobs.ocr.template import Template

FORMAT = "digilabo-ocr/1"
STATUS_JA = {"ok": "読取済", "template_mismatch": "帳票不一致", "unreadable": "読取不可"}


def crop_name(form: int, field: str) -> str:
    return f"review-{form:04d}-{field}.png"


def _template_json(template: Template) -> dict[str, Any]:
    keep = ("name", "label", "type", "required", "allowed_chars", "pattern", "engine", "handwritten")
    fields = [
        {k: v for k, v in f.__dict__.items() if k in keep}
        | {"prefixes": list(f.prefixes), "suffixes": list(f.suffixes)}
        | constructs_doc.spec_extra(f)
        for spec in template.fields
        for f in output_fields(spec)
    ]
    tables = constructs_doc.tables_json(template)
    return {**template.summary(), "seconds_per_form": template.seconds_per_form, "fields": fields} | (
        {"tables": tables} if tables else {}
    )


def form_json(form: FormResult) -> dict[str, Any]:
    fields = {}
    for result in form.fields:
        entry = result.to_json()
        entry["crop"] = crop_name(form.index, result.name) if result.crop is not None else None
        entry["reviewed"] = False
        fields[result.name] = entry
    return {
        "index": form.index,
        "file": form.file,
        "pages": form.pages,
        "status": form.status,
        "message": form.message,
        "template": form.template.key if form.template else None,
        "source": form.source,
        "alignment": form.alignment,
        "fields": fields,
    } | constructs_doc.form_tables(form.template, fields)


def forms_document(forms: Sequence[FormResult], templates: Iterable[Template]) -> dict[str, Any]:
    """The forms.json content for a job's reading."""
    return document([form_json(f) for f in forms], templates)


def document(forms: list[dict[str, Any]], templates: Iterable[Template]) -> dict[str, Any]:
    """forms.json from forms already in their JSON shape (the parts of a
    split job, numbered in batch order)."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "templates": {t.key: _template_json(t) for t in templates},
        "forms": forms,
    }
    doc["summary"] = summarise(doc)
    return doc


def pending_reviews(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Flagged fields a person has not confirmed yet, with their crop names."""
    pending = []
    for form in doc["forms"]:
        labels = _labels(doc, form)
        template = doc["templates"].get(form.get("template") or "", {"fields": []})
        specs = {f["name"]: f for f in template["fields"]}
        for name, entry in form["fields"].items():
            if entry["review"] and not entry["reviewed"]:
                reasons = [REASONS_JA.get(r, r) for r in entry["reasons"]]
                pending.append(
                    {
                        "form": form["index"],
                        "file": form["file"],
                        "field": name,
                        "label": labels.get(name, name),
                    }
                    | {k: entry[k] for k in ("value", "text", "raw", "confidence", "crop", "problem")}
                    # Which engine read it and, when both did, both readings
                    # (older documents have neither).
                    | {"engine": entry.get("engine", ""), "readings": entry.get("readings", {})}
                    | {"reasons": entry["reasons"], "reasons_ja": reasons}
                    | constructs_doc.review_extra(specs.get(name, {}), entry)
                    | constructs_doc.table_row(template, form, name)
                )
    return pending


def summarise(doc: Mapping[str, Any]) -> dict[str, Any]:
    forms = doc["forms"]
    fields = [e for f in forms for e in f["fields"].values()]
    return {
        "forms": len(forms),
        "forms_read": sum(1 for f in forms if f["status"] == "ok"),
        "template_mismatch": sum(1 for f in forms if f["status"] == "template_mismatch"),
        "unreadable": sum(1 for f in forms if f["status"] == "unreadable"),
        "fields": len(fields),
        "fields_flagged": sum(1 for e in fields if e["review"]),
        "fields_pending": sum(1 for e in fields if e["review"] and not e["reviewed"]),
    }


def _labels(doc: Mapping[str, Any], form: Mapping[str, Any]) -> dict[str, str]:
    template = doc["templates"].get(form.get("template") or "", {"fields": []})
    return {f["name"]: f["label"] for f in template["fields"]}


def _spec(doc: Mapping[str, Any], form: Mapping[str, Any], field: str) -> dict[str, Any]:
    template = doc["templates"].get(form.get("template") or "", {"fields": []})
    for spec in template["fields"]:
        if spec["name"] == field:
            return dict(spec)
    raise JobInputError("unknown_field", f"帳票{form['index']}に項目「{field}」はありません。", field=field)


def _corrected(spec: Mapping[str, Any], value: Any, form: int) -> tuple[Any, str]:
    if spec["type"] in constructs_doc.CORRECTED_ALONE:
        return constructs_doc.corrected(spec, value, form)
    raw = ("1" if value else "0") if isinstance(value, bool) else ("" if value is None else str(value))
    # A reviewer may type an 和暦 field's date in 西暦 or ISO form.
    kind = "date" if spec["type"] == "date_wareki" else spec["type"]
    checked = normalise(
        kind,
        raw,
        allowed_chars=spec.get("allowed_chars"),
        pattern=spec.get("pattern"),
        prefixes=spec.get("prefixes", ()),
        suffixes=spec.get("suffixes", ()),
    )
    if checked.problem is None and spec.get("check") and checked.text:
        problem = check_digit(str(spec["check"]), checked.text)
        checked = Checked(checked.value, checked.text, problem)
    if checked.problem:
        raise JobInputError(
            "invalid_correction",
            f"帳票{form}の「{spec['label']}」: {checked.problem}",
            form=form,
            field=spec["name"],
        )
    if spec.get("required") and not checked.text:
        raise JobInputError(
            "invalid_correction",
            f"帳票{form}の「{spec['label']}」は必須です。",
            form=form,
            field=spec["name"],
        )
    return checked.value, checked.text


def apply_corrections(doc: Mapping[str, Any], corrections: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A new forms.json with reviewer decisions applied.

    Each correction is ``{"form": index, "field": name}`` to confirm the value
    as read, plus ``"value"`` to replace it (normalised and checked like a
    reading; a wrong value raises JobInputError and nothing is applied)."""
    new: dict[str, Any] = json.loads(json.dumps(doc))
    by_index = {f["index"]: f for f in new["forms"]}
    for item in corrections:
        form = by_index.get(item.get("form"))
        if form is None or form["status"] != "ok":
            raise JobInputError("unknown_form", f"帳票{item.get('form')}は確認の対象ではありません。")
        entry = form["fields"].get(item.get("field"))
        spec = _spec(new, form, str(item.get("field")))
        if entry is None:  # pragma: no cover - _spec already refused it
            continue
        if "value" in item:
            value, text = _corrected(spec, item["value"], form["index"])
            entry["corrected"] = value != entry["value"]
            entry["value"], entry["text"] = value, text
            constructs_doc.refresh(spec, entry)
        entry["reviewed"] = True
    for form in new["forms"]:
        constructs_doc.refresh_tables(new["templates"].get(form.get("template") or "", {}), form)
    new["summary"] = summarise(new)
    return new


def columns(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, header) per column: a field's name, or ``name#part`` for a
    construct's extra column (an era date's 和暦)."""
    seen: dict[str, str] = {}
    for template in doc["templates"].values():
        for spec in template["fields"]:
            seen.setdefault(spec["name"], spec["label"])
            for key, label in constructs_doc.extra_columns(spec):
                seen.setdefault(key, label)
    return list(seen.items())


def cell_text(fields: Mapping[str, Any], key: str) -> str:
    """A row's cell: the field's text, or a construct's extra column."""
    name, _, part = key.partition("#")
    entry = fields.get(name, {})
    return str(entry.get("extra", {}).get(part, "")) if part else str(entry.get("text", ""))


def flag_labels(form: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    flagged = [labels.get(n, n) for n, e in form["fields"].items() if e["review"] and not e["reviewed"]]
    return "、".join(flagged) if form["status"] == "ok" else form["message"]


def rows(doc: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header and one row per form (values as text; the spreadsheet's own types come later)."""
    fields = columns(doc)
    header = ["ファイル", "ページ", "帳票", "状態", *(label for _, label in fields), "要確認"]
    out = []
    for form in doc["forms"]:
        template = doc["templates"].get(form["template"] or "", {})
        cells = [cell_text(form["fields"], name) for name, _ in fields]
        pages = ",".join(str(p) for p in form["pages"])
        meta = [form["file"], pages, template.get("name", ""), STATUS_JA.get(form["status"], form["status"])]
        out.append([*meta, *cells, flag_labels(form, _labels(doc, form))])
    return header, out
