"""System C's masters (予算科目, 支払先) and the checks its 確認 button runs:
和暦 dates from an era and three boxes, the 全角 rule, codes that only the
search windows may write (each carries a per-session check value)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from standin.pages import ACCOUNTS

MAX_TOTAL = 10_000_000
MAX_LINES = 10
MAX_ATTACHMENT = 5 * 1024 * 1024
ATTACHMENT_TYPES = (".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff")

# Era code (the select's option value, as such systems number them) → name, first day, last day.
ERAS: dict[str, tuple[str, date, date]] = {
    "3": ("昭和", date(1926, 12, 25), date(1989, 1, 7)),
    "4": ("平成", date(1989, 1, 8), date(2019, 4, 30)),
    "5": ("令和", date(2019, 5, 1), date(9999, 12, 31)),
}
ERA_BY_NAME = {name: code for code, (name, _start, _end) in ERAS.items()}

# Every combination of the demo accounts: 款+項+目+節, 8 digits.
BUDGET: dict[str, tuple[str, str, str, str]] = {
    f"{kan}{kou}{moku}{setsu}": (kn, kon, mn, sn)
    for kan, kn in ACCOUNTS["kan"].items()
    for kou, kon in ACCOUNTS["kou"].items()
    for moku, mn in ACCOUNTS["moku"].items()
    for setsu, sn in ACCOUNTS["setsu"].items()
}
PAYEES: dict[str, tuple[str, str]] = {
    **{f"{1000000 + n}": (f"北九州商事{n}", f"北九州市小倉北区城内{n}番") for n in range(1, 301)},
    "2000001": ("株式会社小倉文具", "北九州市小倉北区魚町一丁目"),
    "2000002": ("有限会社若松印刷", "北九州市若松区本町二丁目"),
    "2000003": ("門司港運株式会社", "北九州市門司区西海岸一丁目"),
}
ENTITY = re.compile(r"&#[0-9]+;|&#x[0-9a-fA-F]+;")  # what a browser sends for a character the charset lacks
DIGITS = re.compile(r"[0-9]{1,2}")
REFERENCE = re.compile(r"[A-Za-z0-9-]{1,20}")


def budget_name(code: str) -> str:
    return "／".join(BUDGET[code])


def wareki(d: date) -> str:
    """令和7年6月2日 (元年 for the first year)."""
    for name, start, end in ERAS.values():
        if start <= d <= end:
            year = d.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年{d.month}月{d.day}日"
    return d.isoformat()


def check_value(secret: bytes, kind: str, code: str) -> str:
    """What a search window writes beside a code it chose: the system takes no other code."""
    return hmac.new(secret, f"{kind}:{code}".encode(), hashlib.sha256).hexdigest()[:16]


def is_zenkaku(text: str) -> bool:
    return all(not (c <= "\x7f" or "\uff61" <= c <= "\uff9f") for c in text)


@dataclass
class Line:
    budget_code: str
    amount: int
    note: str = ""
    attachment: str = ""  # the line's own file (switch line_attach)
    attachment_bytes: int = 0


@dataclass
class Checked:
    """A 確認 that passed: what 登録 stores."""

    entry_date: date
    payee_code: str
    payee: str
    purpose: str
    reference: str
    lines: list[Line] = field(default_factory=list)
    attachment: str = ""
    attachment_bytes: int = 0

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


@dataclass(frozen=True)
class Rules:
    era_text: bool
    zenkaku: bool
    popups: bool
    meisai: bool
    attach: bool
    mac: Callable[[str, str], str]  # (kind, code) → check value of this session
    line_attach: bool = False


def entry_date(v: Mapping[str, str], era_text: bool) -> tuple[date | None, list[str]]:
    era = v.get("KIHYO_GENGO", "").strip()
    code = ERA_BY_NAME.get(era) if era_text else (era if era in ERAS else None)
    parts = [v.get(k, "").strip() for k in ("KIHYO_YY", "KIHYO_MM", "KIHYO_DD")]
    if parts[0] == "元":
        parts[0] = "1"
    if code is None or not all(parts):
        return None, ["【E0101】起票日が正しくありません。"]
    if not all(DIGITS.fullmatch(p) for p in parts):
        return None, ["【E0102】起票日は半角数字で入力してください。"]
    _name, start, end = ERAS[code]
    try:
        d = date(start.year + int(parts[0]) - 1, int(parts[1]), int(parts[2]))
    except ValueError:
        return None, ["【E0101】起票日が正しくありません。"]
    if not start <= d <= end:
        return None, ["【E0103】起票日が元号の範囲外です。"]
    return d, []


def amount(raw: str, where: str = "") -> tuple[int | None, list[str]]:
    text = raw.strip().replace(",", "")
    if not re.fullmatch(r"[0-9]+", text):
        return None, [f"【E0131】{where}金額は半角数字で入力してください。"]
    if int(text) < 1:
        return None, [f"【E0132】{where}金額は1円以上で入力してください。"]
    return int(text), []


def text(raw: str, label: str, limit: int, rules: Rules, *, required: bool, where: str = "") -> list[str]:
    if ENTITY.search(raw):
        return [f"【E0105】{where}{label}に使用できない文字が含まれています。"]
    if not raw:
        return [f"【E0110】{where}{label}を入力してください。"] if required else []
    if rules.zenkaku and not is_zenkaku(raw):
        return [f"【E0111】{where}{label}は全角で入力してください。"]
    if len(raw) > limit:
        code = "E0112" if label == "摘要" else "E0113"
        return [f"【{code}】{where}{label}は{limit}文字以内で入力してください。"]
    return []


def chosen(
    v: Mapping[str, str], names: tuple[str, str], kind: str, rules: Rules, master: Mapping[str, object]
) -> bool:
    """Whether the code in ``names[0]`` is one the search window wrote (or,
    without search windows, one that exists)."""
    code = v.get(names[0], "").strip()
    if code not in master:
        return False
    return not rules.popups or hmac.compare_digest(v.get(names[1], ""), rules.mac(kind, code))


def lines(
    v: Mapping[str, str], rules: Rules, uploads: Mapping[str, tuple[str, int]] | None = None
) -> tuple[list[Line], list[str]]:
    if not rules.meisai:
        errors = [] if chosen(v, ("YOSAN_CD", "YOSAN_CHK"), "Y", rules, BUDGET) else [_budget_error(rules)]
        value, amount_errors = amount(v.get("KINGAKU", ""))
        return ([Line(v.get("YOSAN_CD", "").strip(), value)] if value and not errors else []), [
            *errors,
            *amount_errors,
        ]
    found, errors = [], []
    for n in range(1, MAX_LINES + 1):
        code, raw, note = (v.get(f"M_{k}_{n}", "").strip() for k in ("YOSAN_CD", "KINGAKU", "TEKIYO"))
        if not code and not raw:
            continue
        where = f"明細{n}行目："
        line_errors = (
            []
            if chosen(v, (f"M_YOSAN_CD_{n}", f"M_YOSAN_CHK_{n}"), "Y", rules, BUDGET)
            else [_budget_error(rules, where)]
        )
        value, amount_errors = amount(raw, where)
        line_errors += amount_errors + text(note, "明細摘要", 30, rules, required=False, where=where)
        upload = (uploads or {}).get(f"M_TENPU_{n}") if rules.line_attach else None
        if upload and upload[0]:  # a line's file is optional, but must be of a kind the system takes
            line_errors += [e.replace("【E0302】", f"【E0302】{where}") for e in attachment_errors(upload)]
        errors += line_errors
        if not line_errors and value:
            found.append(Line(code, value, note, *(upload if upload and upload[0] else ("", 0))))
    if not found and not errors:
        errors.append("【E0140】明細を1行以上入力してください。")
    return found, errors


def _budget_error(rules: Rules, where: str = "") -> str:
    if rules.popups:
        return f"【E0201】{where}予算科目は検索画面から選択してください。"
    return f"【E0203】{where}予算科目コードが存在しません。"


def check(
    v: Mapping[str, str], rules: Rules, uploads: Mapping[str, tuple[str, int]]
) -> tuple[Checked | None, list[str]]:
    """The 確認 button: the values to store, or one message per problem."""
    d, errors = entry_date(v, rules.era_text)
    upload = uploads.get("TENPU")
    found, line_errors = lines(v, rules, uploads)
    errors += line_errors
    if found and sum(line.amount for line in found) > MAX_TOTAL:
        errors.append("【E0133】1,000万円を超える支出負担行為はこの画面では登録できません。")
    payee_ok = chosen(v, ("SHIHARAI_CD", "SHIHARAI_CHK"), "S", rules, PAYEES)
    if not payee_ok:
        errors.append(
            "【E0202】支払先は検索画面から選択してください。"
            if rules.popups
            else "【E0204】支払先コードが存在しません。"
        )
    purpose = v.get("TEKIYO", "").strip()
    errors += text(purpose, "摘要", 50, rules, required=True)
    reference = v.get("SEIRI_NO", "").strip()
    if not reference:
        errors.append("【E0120】整理番号を入力してください。")
    elif not REFERENCE.fullmatch(reference):
        errors.append("【E0121】整理番号は半角英数字とハイフン（20文字以内）で入力してください。")
    errors += attachment_errors(upload) if rules.attach else []
    if errors or d is None:
        return None, errors
    payee_code = v["SHIHARAI_CD"].strip()
    name, size = upload if rules.attach and upload else ("", 0)
    return Checked(d, payee_code, PAYEES[payee_code][0], purpose, reference, found, name, size), []


def attachment_errors(upload: tuple[str, int] | None) -> list[str]:
    if upload is None or not upload[0] or upload[1] == 0:
        return ["【E0301】添付ファイルを指定してください。"]
    name, size = upload
    if not name.lower().endswith(ATTACHMENT_TYPES) or size > MAX_ATTACHMENT:
        return ["【E0302】添付ファイルはPDF・PNG・JPEG・TIFF（5MB以内）を指定してください。"]
    return []
