"""The OCR kind's portal pieces: the template people choose on the new-job
form, Japanese names for field types, and the job page's review notice
(``templates/job.html``). Plain declarations: the portal renders them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from jobs.adapters import FormField, PortalKind
from jobs.ocr import store as templates
from jobs.ocr.kind import SAMPLES
from jobs.ocr.models import OcrTemplate
from jobs.registry import lazy
from jobs.store import Viewer

TYPE_LABELS = {
    "text": "文字",
    "name": "氏名",
    "kana": "フリガナ",
    "number": "数字",
    "amount": "金額",
    "date_wareki": "和暦の日付",
    "date": "日付",
    "phone": "電話番号",
    "postal_code": "郵便番号",
    "account_number": "口座番号",
    "checkbox": "チェック欄",
    "free_text": "自由記述",
    "digits": "数字の並び（番号・コード）",
    "choice": "選択肢に○",
    "era_date": "和暦の日付（元号・年月日の枠）",
    "tick_set": "チェックの組（通数つき）",
    "table": "表",
}


def latest_templates(*, session: Session) -> Sequence[OcrTemplate]:
    """The newest version of every template; the bundled samples are
    installed on first use, as the API does when a job names one."""
    rows = templates.list_latest(session=session)
    known = {r.template_id for r in rows}
    missing = [p.stem for p in sorted(SAMPLES.glob("*.yaml")) if p.stem not in known]
    for template_id in missing:
        templates.get_version(template_id, None, session=session)
    return templates.list_latest(session=session) if missing else rows


def template_choices(session: Session, _viewer: Viewer) -> list[tuple[str, str]]:
    """New-job choices: the template id (intake takes its newest version)."""
    return [
        (r.template_id, f"{r.name}（第{r.version}版・{r.fields}項目）")
        for r in latest_templates(session=session)
    ]


PORTAL = PortalKind(
    fields=(
        FormField(
            "template",
            "帳票定義",
            kind="select",
            required=True,
            help="読み取る帳票の種類です。一覧にない帳票は運用担当に登録を依頼してください。",
            max_length=120,
            choices=template_choices,
        ),
        FormField(
            "entry_script",
            "確認後に入力",
            kind="select",
            help="読み取りと確認が終わったら、確認済みの行をこの入力スクリプトで財務会計システムに入力します"
            "（読み取れなかった帳票は入力しません）。",
            max_length=80,
            choices=lazy("jobs.ocr_entry:script_choices"),
            default="none",
            convert=lazy("jobs.ocr_entry:form_value"),
        ),
    ),
    templates=Path(__file__).parent / "templates",
    job_fragment="job.html",
)
