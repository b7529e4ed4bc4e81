"""Per-period charts for the scoreboard and debrief, drawn with matplotlib as SVG (cached per database, game and version).

Team names are the students' own text: they are drawn as typed, never parsed
as mathtext (a name such as ``$\\frac{$`` would otherwise break the chart).
"""

from __future__ import annotations

import io
import threading

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from crmsim.web.chartspec import FIRM_COLOURS  # noqa: E402

CJK_FONTS = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "SimHei")
_installed = {f.name for f in font_manager.fontManager.ttflist}
if not any(f in _installed for f in CJK_FONTS):  # a font installed after matplotlib built its cache
    for path in font_manager.findSystemFonts():
        if any(k in path.lower() for k in ("wqy", "notosanscjk", "noto-cjk", "sourcehansans")):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                pass
    _installed = {f.name for f in font_manager.fontManager.ttflist}
HAS_CJK = any(f in _installed for f in CJK_FONTS)
plt.rcParams["font.family"] = ["DejaVu Sans", *[f for f in CJK_FONTS if f in _installed]]
plt.rcParams["svg.fonttype"] = "path"  # text as outlines: the browser needs no CJK font

METRICS = {
    "revenue": ("Revenue", "营业收入"),
    "operating_profit": ("Operating profit", "营业利润"),
    "customers": ("Customers", "顾客数"),
    "cash": ("Cash", "现金"),  # a firm's books: charted for anyone only once the game is over (scoreboard.public_metrics)
    "market_share_customers": ("Market share (customers)", "市场份额(顾客)"),
    "avg_satisfaction": ("Average satisfaction (0-10)", "平均满意度(0-10)"),
    "score": ("Scorecard", "综合得分"),
}
_cache: dict[tuple, str] = {}
_lock = threading.Lock()
_MAX = 256


def legend_label(name: str) -> str:
    """A team name as a legend entry: matplotlib hides labels that start with an underscore."""
    return f" {name}" if name.startswith("_") else name


def line_chart(game: tuple[str, int], version: int, metric: str, lang: str, snaps_rows: list[list[dict]], names: list[str]) -> str:
    """An SVG line chart of `metric` per period, one line per firm.

    Args:
        game: the game's key, (database URL, game id) as web.service.game_key gives it: two databases'
            games with one id never share a chart.
    """
    key = (game, version, metric, lang)
    with _lock:
        if key in _cache:
            return _cache[key]
    zh = lang == "zh" and HAS_CJK  # without a CJK font, Chinese titles would draw as boxes
    title = METRICS[metric][1 if zh else 0]
    with plt.rc_context({"text.parse_math": False}):  # names are text, not mathtext
        fig = Figure(figsize=(5.2, 2.8), dpi=100)  # not pyplot: no global state shared by the server's threads
        ax = fig.subplots()
        periods = [rows[0]["period"] for rows in snaps_rows]
        for i, name in enumerate(names):
            ys = [rows[i].get(metric) for rows in snaps_rows]
            ys = [float("nan") if y is None else y for y in ys]
            ax.plot(periods, ys, marker="o", markersize=3, linewidth=1.6, label=legend_label(name),
                    color=FIRM_COLOURS[i % len(FIRM_COLOURS)])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("期" if zh else "period", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if periods:
            ax.set_xticks(periods)
        ax.legend(fontsize=6, ncol=3, loc="best", frameon=False)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    with _lock:
        if len(_cache) > _MAX:
            _cache.clear()
        _cache[key] = svg
    return svg
