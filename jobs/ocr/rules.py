"""Cross-field rules of a template (``rules:``), checked once a whole form
is read. A broken rule sends the fields it names to review, each with a
reason a person can read (``problem``) and a code in ``reasons``:

- ``{sum: [fee_1, fee_2, fee_3], equals: total}``: the lines add up to the
  total (empty lines count 0); ``rule_sum``.
- ``{date: birth_date, not_after: applied}`` (or ``not_before``): a date
  field against another date field, or ``today`` (the day the form is
  read); ``rule_date_order``.
- ``{field: other_text, required_if: other_tick}``: written when the tick
  box is ticked; ``rule_required_if``.
- ``{field: other_text, empty_unless: other_tick}``: empty unless it is
  ticked; ``rule_empty_unless``.

A rule is skipped while a value it needs failed its own type check (that
field is already in review), so a misread is not reported twice.
``message`` on a rule replaces the generated Japanese reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol

import yaml

from jobs.ocr.yamldoc import TemplateProblem, problem

TODAY = "today"
NUMERIC = frozenset({"amount", "number"})
DATES = frozenset({"date", "date_wareki"})
REASONS_JA = {
    "rule_sum": "合計が明細の和と合わない",
    "rule_date_order": "日付の前後関係が正しくない",
    "rule_required_if": "チェックがあるのに記入がない",
    "rule_empty_unless": "チェックがないのに記入がある",
}


class Result(Protocol):
    """The parts of a field's result a rule reads and flags (FieldResult)."""

    name: str
    value: Any
    reasons: list[str]
    problem: str | None


def rule_problems(data: Mapping[str, Any], node: yaml.Node) -> list[TemplateProblem]:
    """Rules that name a field the template lacks, or one of the wrong type."""
    types = {f["name"]: f["type"] for f in data["fields"]}
    found: list[TemplateProblem] = []
    for i, rule in enumerate(data.get("rules", [])):
        for key, allowed, what in _references(rule):
            for name in [rule[key]] if isinstance(rule[key], str) else rule[key]:
                if (key == "not_after" or key == "not_before") and name == TODAY:
                    continue
                if name not in types:
                    found.append(problem(f"項目「{name}」は fields にありません。", node, ["rules", i, key]))
                elif types[name] not in allowed:
                    found.append(
                        problem(f"「{name}」は{what}の項目ではありません。", node, ["rules", i, key])
                    )
    return found


def _references(rule: Mapping[str, Any]) -> list[tuple[str, frozenset[str], str]]:
    """(key, allowed field types, their name in Japanese) for the keys a rule holds."""
    checkbox = frozenset({"checkbox"})
    anything = frozenset({"text", "name", "kana", "free_text", "digits", "phone", "postal_code"})
    anything |= NUMERIC | DATES | {"account_number"}
    spec = {
        "sum": (NUMERIC, "金額・数値"),
        "equals": (NUMERIC, "金額・数値"),
        "date": (DATES, "日付"),
        "not_after": (DATES, "日付"),
        "not_before": (DATES, "日付"),
        "field": (anything, "文字・数字"),
        "required_if": (checkbox, "チェックボックス"),
        "empty_unless": (checkbox, "チェックボックス"),
    }
    return [(key, *spec[key]) for key in spec if key in rule]


def apply_rules(
    rules: Sequence[Mapping[str, Any]],
    results: Sequence[Result],
    labels: Mapping[str, str],
    *,
    today: date,
) -> None:
    """Flag the fields of every broken rule (see the module docstring)."""
    by_name = {r.name: r for r in results}
    for rule in rules:
        broken = _broken(rule, by_name, labels, today)
        if broken is None:
            continue
        code, names, message = broken
        for name in names:
            result = by_name[name]
            if code not in result.reasons:
                result.reasons.append(code)
            text = str(rule.get("message", message))
            result.problem = text if not result.problem else f"{result.problem} {text}"


def _broken(
    rule: Mapping[str, Any], by_name: Mapping[str, Result], labels: Mapping[str, str], today: date
) -> tuple[str, list[str], str] | None:
    """(reason code, fields to flag, Japanese message) when the rule is broken."""
    named = [
        n for key in ("sum", "equals", "date", "not_after", "not_before", "field") for n in _names(rule, key)
    ]
    if any(n not in by_name or "type_check" in by_name[n].reasons for n in named):
        return None  # a value it needs is missing or already in doubt
    if "sum" in rule:
        return _sum(rule, by_name, labels)
    if "date" in rule:
        return _dates(rule, by_name, labels, today)
    return _conditional(rule, by_name, labels)


def _names(rule: Mapping[str, Any], key: str) -> list[str]:
    value = rule.get(key)
    if value is None or value == TODAY:
        return []
    return [value] if isinstance(value, str) else list(value)


def _sum(
    rule: Mapping[str, Any], by_name: Mapping[str, Result], labels: Mapping[str, str]
) -> tuple[str, list[str], str] | None:
    parts = [by_name[n].value for n in rule["sum"]]
    total = by_name[rule["equals"]].value
    if total is None and all(p is None for p in parts):
        return None
    added = sum(int(p) for p in parts if isinstance(p, int))
    if total == added:
        return None
    label = labels.get(rule["equals"], rule["equals"])
    shown = "空欄" if total is None else f"{total:,}"
    message = f"「{label}」（{shown}）が明細の合計（{added:,}）と合いません。"
    return "rule_sum", [*rule["sum"], rule["equals"]], message


def _dates(
    rule: Mapping[str, Any], by_name: Mapping[str, Result], labels: Mapping[str, str], today: date
) -> tuple[str, list[str], str] | None:
    subject = by_name[rule["date"]]
    if subject.value is None:
        return None
    day = date.fromisoformat(str(subject.value))
    orders = (("not_after", _later, "より後"), ("not_before", _earlier, "より前"))
    for key, wrong, word in orders:
        other = rule.get(key)
        if other is None:
            continue
        if other == TODAY:
            limit, other_label, flagged = today, "今日", [rule["date"]]
        elif by_name[other].value is None:
            continue
        else:
            limit, other_label = (
                date.fromisoformat(str(by_name[other].value)),
                f"「{labels.get(other, other)}」",
            )
            flagged = [rule["date"], other]
        if wrong(day, limit):
            label = labels.get(rule["date"], rule["date"])
            return "rule_date_order", flagged, f"「{label}」が{other_label}{word}の日付です。"
    return None


def _later(a: date, b: date) -> bool:
    return a > b


def _earlier(a: date, b: date) -> bool:
    return a < b


def _conditional(
    rule: Mapping[str, Any], by_name: Mapping[str, Result], labels: Mapping[str, str]
) -> tuple[str, list[str], str] | None:
    field = rule["field"]
    tick = rule.get("required_if") or rule["empty_unless"]
    if tick not in by_name or "ambiguous_mark" in by_name[tick].reasons:
        return None
    ticked, written = by_name[tick].value is True, by_name[field].value not in (None, "")
    label, tick_label = labels.get(field, field), labels.get(tick, tick)
    if "required_if" in rule and ticked and not written:
        return (
            "rule_required_if",
            [field, tick],
            f"「{tick_label}」にチェックがありますが「{label}」が空欄です。",
        )
    if "empty_unless" in rule and written and not ticked:
        return (
            "rule_empty_unless",
            [field, tick],
            f"「{tick_label}」にチェックがないのに「{label}」に記入があります。",
        )
    return None
