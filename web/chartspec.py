"""Chart specifications for the browser: what a chart shows, as plain data the page draws with ECharts.

The web layer computes nothing of its own: every value here is read from the engine's frames or
records. A spec carries its unit (so the axes show ¥ or %), its series and its categories; the same
spec renders the chart's text alternative, a table beside it (``web/templates/_chart.html``), so a
screen reader and a printout get the numbers the chart draws. ``web/static/charts.js`` draws it
with the vendored ECharts (``web/static/vendor/echarts``); no CDN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Unit = Literal["yuan", "percent", "count", "score", "ratio"]
Kind = Literal["line", "bar", "stack"]

#: the firms' colours, firm i in FIRM_COLOURS[i % 8], in the browser's charts (each spec carries them to
#: web/static/charts.js) and the SVG charts (web/charts.py). Eight distinct hues, each at least 3:1 against
#: CHART_BACKGROUND (WCAG 2.1 1.4.11 for graphics) and apart by CIEDE2000 >= 20 for normal colour vision and >= 15
#: under simulated deuteranopia and protanopia (Machado et al. 2009): chosen from Okabe-Ito's and Paul Tol's hue
#: families, darkened to the page. The first six, the classroom's six firms, are the set furthest apart.
#: tests/web/test_scoreboard.py checks the contrast and the distances.
FIRM_COLOURS = ("#2243e6", "#a98b00", "#2a9e97", "#823769", "#2c5e0d", "#000000", "#0395e3", "#9f6960")
CHART_BACKGROUND = "#fafaf9"  # the page's --bg (web/static/style.css): a chart's figure has no background of its own


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]


@dataclass(frozen=True)
class ChartSpec:
    """One chart: `categories` along x (periods, usually), one value per category in each series.

    `percent` values are fractions (0.25 is drawn as 25%); `yuan` values are yuan.
    """

    title: str
    categories: list[str]
    series: list[Series]
    unit: Unit = "count"
    kind: Kind = "line"
    x_label: str = ""
    big: bool = False  # the projector scoreboard: larger type, thicker lines

    def to_json(self) -> dict:
        return {
            "title": self.title,
            "categories": self.categories,
            "series": [{"name": s.name, "data": [clean(v) for v in s.values]} for s in self.series],
            "unit": self.unit,
            "kind": self.kind,
            "x_label": self.x_label,
            "big": self.big,
            "palette": list(FIRM_COLOURS),
        }

    def table(self, lang: str = "en") -> dict:
        """The text alternative: a header row and one row per category, values formatted as on the axes."""
        head = [self.x_label or ("期" if lang == "zh" else "Period"), *[s.name for s in self.series]]
        rows = [[c, *[format_value(s.values[i] if i < len(s.values) else None, self.unit) for s in self.series]]
                for i, c in enumerate(self.categories)]
        return {"head": head, "rows": rows}


def clean(v) -> float | None:
    """JSON has no NaN or infinity: a missing value is null (a gap in the line)."""
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


def format_value(v, unit: Unit) -> str:
    """A value as the chart's axis shows it; negative money as -¥1,234 (one form everywhere)."""
    v = clean(v)
    if v is None:
        return "–"
    if unit == "yuan":
        return ("-" if v < 0 else "") + f"¥{abs(v):,.0f}"
    if unit == "percent":
        return f"{v * 100:.1f}%"
    if unit == "count":
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def period_chart(title: str, periods: list[int], named_values: dict[str, list], unit: Unit, *, lang: str = "en",
                 kind: Kind = "line", big: bool = False) -> ChartSpec:
    """The common case: one series per name, one point per period."""
    cats = [str(p) for p in periods]
    return ChartSpec(title=title, categories=cats, series=[Series(n, list(v)) for n, v in named_values.items()],
                     unit=unit, kind=kind, x_label="期" if lang == "zh" else "Period", big=big)
