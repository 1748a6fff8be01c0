"""The OCR kind's options and parameters, typed.

``OcrOptions`` is what the worker hands the core, built once per process by
``options_from`` from the settings values (``DIGILABO_MAX_OCR_PAGES``, ``DIGILABO_OCR_PART_PAGES``);
``OcrParams`` is what ``validate_params`` builds from a request's JSON (the
job keeps the JSON: one ``template`` or a list of candidate ``templates``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_PAGES = 1000
DEFAULT_PART_PAGES = 25


@dataclass(frozen=True)
class OcrOptions:
    # Pages one job may hold (all its files together).
    max_pages: int = DEFAULT_MAX_PAGES
    # Pages per part when a batch is split (``jobs.ocr.parts``).
    part_pages: int = DEFAULT_PART_PAGES
    tessdata_dir: str | None = None  # None: tesseract's own

    @classmethod
    def of(cls, options: Any) -> OcrOptions:
        """The typed options, also from a plain mapping (tests)."""
        return options if isinstance(options, cls) else options_from(options or {})


def options_from(values: Mapping[str, Any]) -> OcrOptions:
    tessdata = values.get("tessdata_dir")
    return OcrOptions(
        max_pages=int(values.get("max_ocr_pages") or DEFAULT_MAX_PAGES),
        part_pages=int(values.get("ocr_part_pages") or DEFAULT_PART_PAGES),
        tessdata_dir=str(tessdata) if tessdata else None,
    )


@dataclass(frozen=True)
class OcrParams:
    # The template dicts as checked by ``jobs.ocr.template.template_from_dict``.
    templates: tuple[Mapping[str, Any], ...]
    candidates: bool = False  # given as a list of candidates ("templates")
    # 「確認後に入力」: the approved entry script (``id@version``, resolved at
    # intake by ``jobs.ocr_entry``) that types the reviewed forms.
    entry_script: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON the job keeps."""
        entry = {"entry_script": self.entry_script} if self.entry_script else {}
        if self.candidates:
            return {"templates": list(self.templates)} | entry
        return {"template": dict(self.templates[0])} | entry
