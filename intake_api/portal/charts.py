"""Server-made SVG bar charts (no JavaScript, no library). Labels are
escaped here: the result is marked safe for the templates."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

ROW_H = 28
LABEL_W = 220
BAR_W = 520
VALUE_W = 110


def _label(text: str, limit: int = 16) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, unit: str = "時間") -> Markup:
    """Horizontal bars, one per (label, value); the longest bar is the
    largest value."""
    height = max(1, len(items)) * ROW_H + 10
    width = LABEL_W + BAR_W + VALUE_W
    top = max((v for _, v in items), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    if not items:
        parts.append(f'<text x="10" y="22" class="chart-empty">{escape("データがありません")}</text>')
    for index, (label, value) in enumerate(items):
        y = 5 + index * ROW_H
        bar = max(0.0, value) / top * BAR_W
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + 18}" text-anchor="end" class="chart-label">'
            f"{escape(_label(label))}<title>{escape(label)}</title></text>"
        )
        parts.append(
            f'<rect x="{LABEL_W}" y="{y + 4}" width="{bar:.1f}" height="{ROW_H - 10}" class="chart-bar"/>'
        )
        parts.append(
            f'<text x="{LABEL_W + bar + 6:.1f}" y="{y + 18}" class="chart-value">'
            f"{escape(f'{value:,.1f} {unit}')}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece above is escaped
