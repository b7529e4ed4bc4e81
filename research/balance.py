"""Is a scenario balanced? A Monte Carlo over seeds and bot line-ups, with a verdict.

:func:`balance_report` plays a scenario many times through
:func:`crmsim.research.runner.execute` (any Executor; resumable from ``out_dir``). By default it plays
the four line-up sets of :mod:`crmsim.research.targets` (field, standing, reckless, quality; seats
rotated per seed), measuring the game-fact targets, and the deviation-preserving line-ups of the
strategy analysis (:mod:`crmsim.research.egta`): a payoff table, its Nash mixture and alpha-Rank.
Given ``lineups``, it plays only those. Over the line-ups' games (not the analysis') it measures what
makes a scenario good to teach with:

- **bankruptcy** — share of firms, and share of games with at least one
  bankruptcy (a game where most firms go under is too harsh);
- **score spread** — standard deviation and max-min of the final scores in
  each game (scores that barely spread make the ranking trivial);
- **tenders** — the failed-tender rate (流标) and the void-bid rate (废标);
- **strategies** — each bot's win rate (share of its seats that finished
  first) and mean rank with 95% confidence intervals, and whether one bot
  dominates the others.

Seats in one game are not independent draws (they share its seed, market and
rivals), so every interval over seats resamples whole games (a clustered
bootstrap, research.stats); shares of games use Wilson intervals and means
over games the normal approximation, games being independent.

The default verdict starts with the strategy analysis ("balanced" when the Nash mixture holds at least
three strategies and no strategy wins more than 40% of its field games), then the targets passed and
missed, then every threshold finding (the ``*_THRESHOLD`` / ``DOMINANCE_*`` constants below), each with
its numbers. With ``lineups`` it names the threshold findings, or says "balanced".

Example::

    from crmsim.research.balance import balance_report
    report = balance_report("classroom-v1", seeds=20, out_dir="out/balance", workers=4)
    print(report.verdict)
    report.strategies          # one row per strategy
    report.summary             # one row per scenario-level metric
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmsim import InputError
from crmsim.research.runner import execute, specs_from, spawn_seeds, summarize
from crmsim.research.egta import (
    MAX_WIN_SHARE,
    MIN_SUPPORT,
    SUPPORT_THRESHOLD,
    EgtaResult,
    analyse,
    dpr_lineups,
    payoff_table,
    seat_rotation,
)
from crmsim.research.markdown import md_table as _md_table
from crmsim.research.targets import interval_text, result_word, set_lineups, target_table, win_shares
from crmsim.research.stats import cluster_mean
from crmsim.sim.export import provenance, write_json
from crmsim.sim.streams import BALANCE_STREAM

# --- thresholds of the verdict (the verdict quotes them) -------------------

#: "too harsh" when more than this share of all firms (seats over all games) ends bankrupt.
#: The default line-up holds one 'random' bot, which nearly always goes bankrupt, so about
#: 1 firm in 6-8 is the floor for a benign scenario.
HARSH_BANKRUPTCY_THRESHOLD = 0.35
#: "dominated" when a strategy wins more than this share of the seats it plays ...
DOMINANCE_WIN_RATE = 0.60
#: ... and it played at least this many seats (fewer cannot show anything) ...
DOMINANCE_MIN_SEATS = 3
#: ... and the lower 95% bound of its win rate is above a fair share (1 / number of firms);
#: or, whatever its win rate, when the lower 95% bound of its win rate exceeds the upper
#: bound of every other strategy's.

#: "trivial" when the mean standard deviation of final scores (0-100) within a game is
#: below this, counting the games where at least two firms survive.
TRIVIAL_SCORE_STD_THRESHOLD = 5.0
#: "failed tenders everywhere" when more than this share of tenders fail (流标).
FAILED_TENDER_THRESHOLD = 0.50
#: 95% intervals.
Z = 1.959963984540054

#: Bots drawn for the random mixes: the purposeful ones ('random' is a fuzzer and
#: 'standing' a passive seat; both still play in the default line-up or where asked).
MIX_BOTS = ("adaptive", "balanced", "premium", "price_cutter", "relationship")
#: Default line-ups besides the default one: its rotation by half the seats, and this many mixes.
DEFAULT_MIXES = 2
#: The strategies of the empirical game analysis: every purposeful bot (random and standing are play-testers).
EGTA_STRATEGIES = ("adaptive", "balanced", "premium", "price_cutter", "relationship", "researcher", "retention")

PLOT_FILES = ("scores_by_strategy.png", "rates_by_strategy.png", "final_cash.png")


def wilson(successes: np.ndarray | float, n: np.ndarray | float, z: float = Z) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (sensible at 0 and 1 and for small n)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, k / n, np.nan)
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    lo = np.where(k <= 0, 0.0, np.clip(centre - half, 0, 1))  # exact at the ends (no rounding residue)
    hi = np.where(k >= n, 1.0, np.clip(centre + half, 0, 1))
    return lo, hi


def default_lineups(n_firms: int, master_seed: int = 0, mixes: int = DEFAULT_MIXES) -> list[tuple[str, ...]]:
    """The default line-up filled to n seats, the same rotated by half the seats, and seeded random mixes.

    Each mix draws n bots with replacement from :data:`MIX_BOTS` (at least two different ones),
    so strategies also meet copies of themselves.
    """
    from crmsim.agents.bots import lineup

    base = tuple(lineup(None, n_firms))
    shift = max(1, n_firms // 2)
    out = [base, base[shift:] + base[:shift]]
    rng = np.random.default_rng([master_seed, BALANCE_STREAM])
    while len(out) < 2 + mixes:
        mix = tuple(str(s) for s in rng.choice(MIX_BOTS, size=n_firms, replace=True))
        if len(set(mix)) >= min(2, n_firms) and mix not in out:
            out.append(mix)
    return out


@dataclass
class BalanceReport:
    """The outcome of :func:`balance_report`.

    Attributes:
        scenario: the scenario name or path.
        summary: one row per scenario-level metric: ``metric``, ``value``, ``ci_low``/``ci_high`` (95% bounds:
            clustered bootstrap for shares of firms, Wilson for shares of games, normal approximation for
            means over games), ``kind``
            ("rate" in [0, 1], "points" on the 0-100 score scale, "count"),
            ``threshold`` (where the verdict uses one), ``flag`` and ``description``.
        strategies: one row per strategy: games, seats, wins, win rate with its 95% interval resampling
            whole games (``win_rate_lo``/``win_rate_hi``, half-width ``win_rate_ci``), mean rank and score
            likewise (``_ci``, ``_low``, ``_high``), bankruptcy rate with its bounds, mean final cash, ``dominant``.
        verdict: plain English, one line per finding, each with its numbers and thresholds. By default: the
            strategy analysis ("balanced" or "not balanced: ..."), "targets: N of M pass" with the missed ones,
            a line per watched target, then the threshold findings. With ``lineups``: the threshold findings,
            or one "balanced: ..." line.
        labels: by default "balanced" or "unbalanced" (the strategy analysis; neither without it), then any
            threshold finding ("too harsh", "dominated", "trivial", "failed tenders everywhere"), then
            "targets missed" when a counted target fails. With ``lineups``: the threshold findings, or just
            "balanced".
        plots: the PNG files written (empty without an output folder).
        rows: every firm's final row from :func:`crmsim.research.runner.run_game` (one per seat per game), the
            strategy analysis' games included (``tag:set`` is "egta"); summary, strategies and plots leave those out.
        lineups: the line-ups played; seeds: the game seeds; n_firms: seats per game.
        targets: the game-fact targets (:mod:`crmsim.research.targets`), when the sets were played.
        egta: the strategy analysis (:mod:`crmsim.research.egta`), when it was played.
    """

    scenario: str
    summary: pd.DataFrame
    strategies: pd.DataFrame
    verdict: str
    labels: list[str]
    rows: pd.DataFrame
    lineups: list[tuple[str, ...]]
    seeds: list[int]
    n_firms: int
    overrides: dict[str, Any] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    out_dir: Path | None = None
    provenance: dict[str, Any] | None = None
    targets: pd.DataFrame | None = None  # the game-fact targets (crmsim.research.targets), when the sets were played
    egta: EgtaResult | None = None  # the strategy analysis (crmsim.research.egta)

    @property
    def metrics(self) -> dict[str, float]:
        """The summary as ``{metric: value}``."""
        return dict(zip(self.summary["metric"], self.summary["value"]))

    def __str__(self) -> str:
        return self.verdict

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write the plots, ``report.md``, ``summary.csv``, ``strategies.csv``, ``rows.csv`` and ``balance.json``
        (verdict, labels, line-ups and the provenance) to out_dir."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.out_dir = out
        self.plots = write_plots(self, out)
        self.summary.to_csv(out / "summary.csv", index=False)
        self.strategies.to_csv(out / "strategies.csv", index=False)
        self.rows.to_csv(out / "rows.csv", index=False)
        if self.targets is not None:
            self.targets.to_csv(out / "targets.csv", index=False)
        if self.egta is not None:
            self.egta.table.frame().to_csv(out / "payoff_table.csv")
            self.egta.frame().to_csv(out / "nash.csv", index=False)
        (out / "report.md").write_text(self.to_markdown(), encoding="utf-8")
        meta = {"scenario": self.scenario, "seeds": self.seeds, "lineups": [list(lu) for lu in self.lineups],
                "overrides": self.overrides, "labels": self.labels, "verdict": self.verdict}
        write_json(meta, out / "balance.json", self.provenance)
        return self.plots

    def to_markdown(self) -> str:
        """The report as Markdown: verdict, tables, line-ups and links to the plots (relative to out_dir)."""
        name = Path(self.scenario).stem if str(self.scenario).endswith(".toml") else self.scenario
        lines = [
            f"# Balance report: {name}",
            "",
            f"{len(self.rows['run_id'].unique())} games: {len(self.seeds)} seeds x {len(self.lineups)} line-ups, "
            f"{self.n_firms} firms each.",
        ]
        if self.overrides:
            lines.append("Overrides: " + ", ".join(f"`{k}={v}`" for k, v in sorted(self.overrides.items())) + ".")
        lines += ["", "## Verdict", "", *[f"- {v}" for v in self.verdict.splitlines()], ""]
        if self.targets is not None:
            lines += ["## Game facts: the targets", "",
                      "Each over the line-up set named (seats rotated per seed); 95% intervals resample whole games.", ""]
            lines.append(target_markdown(self.targets))
            lines.append("")
        if self.egta is not None:
            lines += egta_markdown(self.egta)
        lines += ["## Scenario metrics", ""]
        s = self.summary.copy()
        lines.append(_md_table(
            ["metric", "value", "95% CI", "threshold", "flag", "description"],
            [[r.metric, _fmt(r.value, r.kind),
              "" if pd.isna(r.ci_low) else f"{_fmt(r.ci_low, r.kind)} - {_fmt(r.ci_high, r.kind)}",
              "" if pd.isna(r.threshold) else _fmt(r.threshold, r.kind), "yes" if r.flag else "", r.description]
             for r in s.itertuples()],
        ))
        lines += ["", "## Strategies", "",
                  "Win rate: share of the seats a strategy played that finished first (fair share "
                  f"1/{self.n_firms} = {1 / self.n_firms:.0%}); 95% intervals that resample whole games. "
                  "Mean rank and score: ± half the width of that interval.", ""]
        lines.append(_md_table(
            ["strategy", "games", "seats", "win rate", "95% CI", "mean rank", "mean score", "bankrupt", "mean cash",
             "dominant"],
            [[r.strategy, str(r.games), str(r.seats), f"{r.win_rate:.0%}", f"{r.win_rate_lo:.0%}-{r.win_rate_hi:.0%}",
              _pm(r.mean_rank, r.mean_rank_ci, 2), _pm(r.mean_score, r.mean_score_ci, 1), f"{r.bankruptcy_rate:.0%}",
              f"{r.mean_cash:,.0f}", "yes" if r.dominant else ""]
             for r in self.strategies.itertuples()],
        ))
        lines += ["", "## Line-ups", ""]
        lines += [f"{i + 1}. {', '.join(lu)}" for i, lu in enumerate(self.lineups)]
        if self.plots:
            lines += ["", "## Plots", ""]
            titles = {
                "scores_by_strategy.png": "Final score by strategy",
                "rates_by_strategy.png": "Win and bankruptcy rates by strategy",
                "final_cash.png": "Final cash",
            }
            for p in self.plots:
                p = Path(p)
                rel = p.name if self.out_dir and p.parent == self.out_dir else str(p)
                lines += [f"![{titles.get(p.name, p.stem)}]({rel})", ""]
        lines += ["", "## Thresholds", "",
                  f"- too harsh: share of firms bankrupt > {HARSH_BANKRUPTCY_THRESHOLD:.0%}",
                  f"- dominated: a strategy wins > {DOMINANCE_WIN_RATE:.0%} of its seats (at least "
                  f"{DOMINANCE_MIN_SEATS}) with the lower 95% bound above a fair share, or its lower 95% bound on "
                  "the win rate exceeds every other strategy's upper bound",
                  f"- trivial: mean within-game score std < {TRIVIAL_SCORE_STD_THRESHOLD:g} points "
                  "(games with at least two surviving firms)",
                  f"- failed tenders everywhere: failed-tender rate > {FAILED_TENDER_THRESHOLD:.0%}", ""]
        return "\n".join(lines)


def _fmt(value: float, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "count":
        return f"{value:,.0f}"
    return f"{value:.1f}"


def _pm(value: float, ci: float, digits: int) -> str:
    return f"{value:.{digits}f}" + ("" if pd.isna(ci) else f" ± {ci:.{digits}f}")


# --- the metrics -------------------------------------------------------------


def _games(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per game: bankruptcies, score spread, tender rates."""
    g = rows.assign(bankrupt=rows["bankrupt"].astype(bool), live=~rows["bankrupt"].astype(bool)).groupby("run_id", sort=False)
    return pd.DataFrame({
        "firms": g.size(),
        "bankrupt_firms": g["bankrupt"].sum(),
        "live_firms": g["live"].sum(),
        "score_std": g["score"].std(ddof=0),
        "score_range": g["score"].max() - g["score"].min(),
        "failed_tender_rate": g["failed_tender_rate"].first(),
        "void_bid_rate": g["void_bid_rate"].first(),
    })


def _mean_ci(x: pd.Series, lo: float = -math.inf, hi: float = math.inf) -> tuple[float, float, float]:
    """Mean and its 95% normal-approximation bounds (clipped to [lo, hi])."""
    x = x.dropna()
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    half = Z * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean, max(lo, mean - half), min(hi, mean + half)


def _rate(k: int, n: int) -> tuple[float, float, float]:
    """A share k/n and its 95% Wilson bounds."""
    lo, hi = wilson(k, n)
    return k / n, float(lo), float(hi)


def _clustered_rate(values: pd.Series, games: pd.Series, seed: int) -> tuple[float, float, float]:
    """A share over seats and its 95% bounds, resampling whole games."""
    iv = cluster_mean(values.astype(float), games, seed=seed)
    return iv.estimate, iv.low, iv.high


def scenario_metrics(rows: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The scenario-level metrics of a set of games (the ``summary`` table, flags not yet set)."""
    games = _games(rows)
    n_games, n_firms = len(games), int(games["firms"].sum())
    bk_games = int((games["bankrupt_firms"] > 0).sum())
    all_bk = int((games["live_firms"] == 0).sum())
    contested = games[games["live_firms"] >= 2]
    nan = float("nan")
    recs = [
        ("games", n_games, nan, nan, "count", "games played"),
        ("firms", n_firms, nan, nan, "count", "firm-seats over all games"),
        ("bankruptcy_rate_firms", *_clustered_rate(rows["bankrupt"].astype(bool), rows["run_id"], seed), "rate",
         "share of firms bankrupt at the end"),
        ("bankruptcy_rate_games", *_rate(bk_games, n_games), "rate", "share of games with at least one bankruptcy"),
        ("all_bankrupt_rate_games", *_rate(all_bk, n_games), "rate", "share of games where every firm went bankrupt"),
        ("score_std", *_mean_ci(games["score_std"], 0), "points", "mean over games of the std of final scores (0-100)"),
        ("score_range", *_mean_ci(games["score_range"], 0, 100), "points", "mean over games of max - min final score"),
        ("score_std_contested", *_mean_ci(contested["score_std"], 0), "points",
         "score std as above, over games with at least two surviving firms"),
        ("failed_tender_rate", *_mean_ci(games["failed_tender_rate"], 0, 1), "rate",
         "mean over games of the share of tenders that failed (流标)"),
        ("void_bid_rate", *_mean_ci(games["void_bid_rate"], 0, 1), "rate",
         "mean over games of the share of bids voided (废标)"),
    ]
    return pd.DataFrame(
        [{"metric": m, "value": float(v), "ci_low": float(a), "ci_high": float(b), "kind": k, "threshold": nan,
          "flag": False, "description": d}
         for m, v, a, b, k, d in recs]
    )


def strategy_table(rows: pd.DataFrame, n_firms: int, seed: int = 0) -> pd.DataFrame:
    """Per strategy: :func:`crmsim.research.runner.summarize` (intervals resampling whole games) plus games, wins,
    bankruptcy bounds, mean cash and dominance."""
    s = summarize(rows, "strategy", seed=seed).rename(columns={"win_rate_low": "win_rate_lo", "win_rate_high": "win_rate_hi"})
    g = rows.assign(win=rows["rank"] == 1, bk=rows["bankrupt"].astype(bool)).groupby("strategy")
    s = s.set_index("strategy")
    s.insert(2, "wins", g["win"].sum().astype(int))
    bounds = {name: _clustered_rate(grp["bk"], grp["run_id"], seed)[1:] for name, grp in g}
    s["bankruptcy_lo"] = [bounds[name][0] for name in s.index]
    s["bankruptcy_hi"] = [bounds[name][1] for name in s.index]
    s["mean_cash"] = g["cash"].mean()
    s["dominant"] = False
    s["dominance_reason"] = ""
    fair = 1.0 / n_firms
    for name, r in s.iterrows():
        others = s.drop(index=name)
        if r["seats"] >= DOMINANCE_MIN_SEATS and r["win_rate"] > DOMINANCE_WIN_RATE and r["win_rate_lo"] > fair:
            s.loc[name, ["dominant", "dominance_reason"]] = [True, (
                f"above the {DOMINANCE_WIN_RATE:.0%} threshold with its lower bound above a fair share of {fair:.0%}")]
        elif len(others) and r["win_rate_lo"] > others["win_rate_hi"].max():
            s.loc[name, ["dominant", "dominance_reason"]] = [True, "and its interval lies above every other strategy's"]
    return s.sort_values(["mean_rank", "strategy"]).reset_index()


def judge(summary: pd.DataFrame, strategies: pd.DataFrame, n_firms: int) -> tuple[pd.DataFrame, list[str], str]:
    """Set thresholds and flags in the summary; return it with the labels and the verdict text."""
    summary = summary.copy()
    m = dict(zip(summary["metric"], summary["value"]))

    def flag(metric: str, threshold: float, on: bool) -> None:
        i = summary.index[summary["metric"] == metric][0]
        summary.loc[i, "threshold"] = threshold
        summary.loc[i, "flag"] = bool(on)

    harsh = m["bankruptcy_rate_firms"] > HARSH_BANKRUPTCY_THRESHOLD
    flag("bankruptcy_rate_firms", HARSH_BANKRUPTCY_THRESHOLD, harsh)
    spread = m["score_std_contested"]
    trivial = bool(not math.isnan(spread) and spread < TRIVIAL_SCORE_STD_THRESHOLD)
    flag("score_std_contested", TRIVIAL_SCORE_STD_THRESHOLD, trivial)
    failing = m["failed_tender_rate"] > FAILED_TENDER_THRESHOLD
    flag("failed_tender_rate", FAILED_TENDER_THRESHOLD, failing)
    dominant = strategies[strategies["dominant"]]

    labels, lines = [], []
    if harsh:
        labels.append("too harsh")
        lines.append(
            f"too harsh: {m['bankruptcy_rate_firms']:.0%} of firms went bankrupt (threshold "
            f"{HARSH_BANKRUPTCY_THRESHOLD:.0%}); {m['bankruptcy_rate_games']:.0%} of games had a bankruptcy and "
            f"{m['all_bankrupt_rate_games']:.0%} lost every firm."
        )
    if len(dominant):
        labels.append("dominated")
        parts = []
        for r in dominant.itertuples():
            others = strategies[strategies["strategy"] != r.strategy]
            others = others.sort_values(["win_rate_hi", "win_rate"], ascending=False)
            head = (f"{r.strategy} wins {r.win_rate:.0%} of its {r.seats} seats (95% CI {r.win_rate_lo:.0%}-"
                    f"{r.win_rate_hi:.0%}, mean rank {r.mean_rank:.2f})")
            best = ""
            if len(others):
                o = others.iloc[0]
                best = f"; best other: {o['strategy']} {o['win_rate']:.0%} (95% CI {o['win_rate_lo']:.0%}-{o['win_rate_hi']:.0%})"
            parts.append(f"{head}, {r.dominance_reason}{best}")
        lines.append("dominated: " + "; ".join(parts) + ".")
    if trivial:
        labels.append("trivial")
        lines.append(
            f"trivial: final scores barely spread, mean within-game std {spread:.1f} points (threshold "
            f"{TRIVIAL_SCORE_STD_THRESHOLD:g}; mean max-min {m['score_range']:.1f})."
        )
    if failing:
        labels.append("failed tenders everywhere")
        lines.append(
            f"failed tenders everywhere: {m['failed_tender_rate']:.0%} of tenders failed (threshold "
            f"{FAILED_TENDER_THRESHOLD:.0%}); {m['void_bid_rate']:.0%} of bids were void."
        )
    if not labels:
        labels.append("balanced")
        top = strategies.sort_values("win_rate", ascending=False).iloc[0]
        lines.append(
            f"balanced: {m['bankruptcy_rate_firms']:.0%} of firms bankrupt (threshold {HARSH_BANKRUPTCY_THRESHOLD:.0%}), "
            f"best win rate {top['strategy']} {top['win_rate']:.0%} (threshold {DOMINANCE_WIN_RATE:.0%}), "
            f"score std {spread:.1f} points (threshold {TRIVIAL_SCORE_STD_THRESHOLD:g}), "
            f"{m['failed_tender_rate']:.0%} of tenders failed (threshold {FAILED_TENDER_THRESHOLD:.0%}), "
            f"{m['void_bid_rate']:.0%} of bids void."
        )
    return summary, labels, "\n".join(lines)


def assess(rows: pd.DataFrame, n_firms: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[str], str]:
    """Judge any set of games' rows (as from :func:`crmsim.research.runner.execute`): summary, strategies, labels,
    verdict; `seed` seeds the bootstrap of the intervals."""
    if rows.empty:
        raise ValueError("no games to judge")
    strategies = strategy_table(rows, n_firms, seed)
    summary, labels, verdict = judge(scenario_metrics(rows, seed), strategies, n_firms)
    return summary, strategies, labels, verdict


def target_markdown(targets: pd.DataFrame) -> str:
    """The targets as a Markdown table: target, estimate, 95% CI, rule, pass or fail, what it counted."""
    return _md_table(
        ["target", "estimate", "95% CI", "rule", "result", "fact", "counted"],
        [[r.target, f"{r.estimate:.2f}" if np.isfinite(r.estimate) else "-", interval_text(r.low, r.high), r.rule,
          result_word(r.passed, r.watch, r.applies), r.fact, r.note]
         for r in targets.itertuples()],
    )


def egta_markdown(result: EgtaResult) -> list[str]:
    """The strategy analysis as Markdown lines: the payoff table, the Nash mixture and alpha-Rank."""
    t = result.table
    lines = ["## Strategies against each other (empirical game analysis)", "",
             "Payoff table: the mean final score of one seat playing the row strategy when every other seat plays "
             f"the column strategy (deviation-preserving reduction; {int(t.games.min())} to {int(t.games.max())} games per cell).", ""]
    lines.append(_md_table(["", *t.strategies], [[a, *(f"{v:.1f}" for v in row)] for a, row in zip(t.strategies, t.payoff)]))
    lines += ["", f"Symmetric Nash mixture by replicator dynamics (regret {result.nash_regret:.3f} points), alpha-Rank "
              "as a check, and each strategy's share of the field games it won:", ""]
    f = result.frame()
    lines.append(_md_table(["strategy", "Nash", "alpha-Rank", "payoff vs Nash", "wins vs field"],
                           [[r.strategy, f"{r.nash:.2f}", f"{r.alpha_rank:.2f}", f"{r.payoff_vs_nash:.1f}",
                             "" if pd.isna(r.win_share_vs_field) else f"{r.win_share_vs_field:.0%}"] for r in f.itertuples()]))
    lines += ["", f"Verdict rule: balanced when the Nash support (probability >= {SUPPORT_THRESHOLD:g}) holds at least "
              f"{MIN_SUPPORT} strategies and no strategy wins more than {MAX_WIN_SHARE:.0%} of its games against the field.", ""]
    return lines


# --- plots -------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def write_plots(report: BalanceReport, out_dir: str | Path) -> list[Path]:
    """Box plot of final scores by strategy, win/bankruptcy rates with 95% intervals, histogram of final cash."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, strat = report.rows, report.strategies
    if "tag:set" in rows:  # the strategy analysis' games are not the scenario's own line-ups
        rows = rows[rows["tag:set"] != "egta"]
    order = list(strat["strategy"])
    title = Path(report.scenario).stem if str(report.scenario).endswith(".toml") else str(report.scenario)
    paths = []

    fig = _figure(max(5.0, 1.1 * len(order) + 2), 4)
    ax = fig.add_subplot()
    data = [rows.loc[rows["strategy"] == s, "score"].to_numpy() for s in order]
    ax.boxplot(data, tick_labels=order, showmeans=True)
    ax.set_ylabel("final score (0-100)")
    ax.set_title(f"{title}: final score by strategy ({rows['run_id'].nunique()} games)")
    ax.tick_params(axis="x", rotation=20)
    ax.grid(axis="y", alpha=0.3)
    paths.append(out / PLOT_FILES[0])
    fig.savefig(paths[-1])

    fig = _figure(max(5.0, 1.1 * len(order) + 2), 4)
    ax = fig.add_subplot()
    x = np.arange(len(order))
    w = 0.38
    for off, col, lo, hi, label in ((-w / 2, "win_rate", "win_rate_lo", "win_rate_hi", "win rate"),
                                    (w / 2, "bankruptcy_rate", "bankruptcy_lo", "bankruptcy_hi", "bankruptcy rate")):
        v = strat[col].to_numpy()
        err = np.clip(np.vstack([v - strat[lo].to_numpy(), strat[hi].to_numpy() - v]), 0, None)  # rounding at 0 and 1
        ax.bar(x + off, v, w, yerr=err, capsize=3, label=label)
    ax.axhline(1 / report.n_firms, color="grey", ls="--", lw=1, label=f"fair share 1/{report.n_firms}")
    ax.axhline(DOMINANCE_WIN_RATE, color="red", ls=":", lw=1, label=f"dominance {DOMINANCE_WIN_RATE:.0%}")
    ax.set_xticks(x, order, rotation=20)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of seats (95% CI, games resampled)")
    ax.set_title(f"{title}: win and bankruptcy rates by strategy")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    paths.append(out / PLOT_FILES[1])
    fig.savefig(paths[-1])

    fig = _figure(6.5, 4)
    ax = fig.add_subplot()
    cash = rows["cash"].to_numpy(dtype=float)
    bk = rows["bankrupt"].astype(bool).to_numpy()
    bins = np.histogram_bin_edges(cash, bins=min(40, max(5, len(cash) // 4)))
    ax.hist([cash[~bk], cash[bk]], bins=bins, stacked=True, label=["live", "bankrupt"], color=["tab:blue", "tab:red"])
    ax.axvline(0, color="black", lw=1)
    ax.set_xlabel("final cash (yuan)")
    ax.set_ylabel("firms")
    ax.set_title(f"{title}: final cash of {len(cash)} firms")
    ax.legend(fontsize="small")
    paths.append(out / PLOT_FILES[2])
    fig.savefig(paths[-1])
    return paths


# --- the entry point -----------------------------------------------------------


def balance_report(
    scenario: str,
    seeds: int = 20,
    lineups: Sequence[Sequence[str]] | None = None,
    out_dir: str | Path | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: bool = True,
    overrides: Mapping[str, Any] | None = None,
    master_seed: int = 0,
    stale: str = "refuse",
    egta: bool = True,
    egta_seeds: int | None = None,
    egta_strategies: Sequence[str] = EGTA_STRATEGIES,
) -> BalanceReport:
    """Play a scenario over many seeds and bot line-ups and judge its balance.

    By default it plays the four line-up sets of :mod:`crmsim.research.targets` (field, standing,
    reckless, quality; seats rotated per seed) and measures the game-fact targets (watched ones reported, not counted), and, with `egta`, the
    deviation-preserving line-ups of `egta_strategies` for the empirical game analysis
    (:mod:`crmsim.research.egta`). The verdict is "balanced" only when the Nash mixture holds at least
    three strategies and no strategy wins more than 40% of its field games.

    Args:
        scenario: a shipped scenario name or a TOML path.
        seeds: games per line-up; the seeds are ``spawn_seeds(master_seed, seeds)``, the same for every
            line-up (common random numbers), so line-ups are compared on the same draws.
        lineups: bot names per line-up; a shorter one is repeated to fill every seat. Given, only these are
            played (no targets, no strategy analysis).
        egta: play the strategy analysis (the payoff table, its Nash mixture and alpha-Rank) besides the sets.
        egta_seeds: games per cell of the payoff table, on the first of the game seeds (default: `seeds`).
        egta_strategies: the strategies of the payoff table (default :data:`EGTA_STRATEGIES`).
        out_dir: if given, finished games are kept under ``out_dir/runs`` (a rerun resumes) and the
            plots, ``report.md`` and CSV tables are written there.
        executor, workers, progress, stale: passed to :func:`crmsim.research.runner.execute`.
        overrides: dotted scenario keys to set, e.g. ``{"market.customers": 2000}``.
        master_seed: seeds the game seeds, the bootstrap of the intervals and the Nash search's starting points.
    """
    from crmsim.agents.bots import lineup as fill
    from crmsim.agents.bots import strategy_label
    from crmsim.scenarios import load_scenario

    if seeds < 1:
        raise InputError(f"seeds must be >= 1; got {seeds}")
    overrides = dict(overrides or {})
    base = load_scenario(scenario, overrides=overrides)
    n_firms = base.firms.count
    game_seeds = spawn_seeds(master_seed, seeds)
    if lineups is None:
        return _game_facts_report(scenario, base, game_seeds, overrides, master_seed, out_dir, executor, workers, progress,
                                  stale, egta, egta_seeds, egta_strategies)
    else:
        for lu in lineups:
            if isinstance(lu, str):
                raise TypeError(f"lineups must be a list of tuples of bot names; got the string {lu!r}")
            if len(lu) > n_firms:
                raise InputError(f"line-up {tuple(lu)} has {len(lu)} bots for {n_firms} firms")
        lineups = list(dict.fromkeys(tuple(fill(list(lu), n_firms)) for lu in lineups))  # unique, in order
    if not lineups:
        raise InputError("no line-ups to play")
    specs = []
    for lu in lineups:
        specs += specs_from(scenario, lu, game_seeds, overrides)
    rows = execute(specs, executor=executor, workers=workers, out_dir=out_dir, progress=progress, stale=stale)

    summary, strategies, labels, verdict = assess(rows, n_firms, master_seed)
    record = provenance(base, game_seeds, [[strategy_label(s) for s in lu] for lu in lineups], scenario_ref=str(scenario),
                        overrides=overrides, extra={"kind": "balance"})
    report = BalanceReport(
        scenario=str(scenario), summary=summary, strategies=strategies, verdict=verdict, labels=labels, rows=rows,
        lineups=list(lineups), seeds=game_seeds, n_firms=n_firms, overrides=overrides, provenance=record,
    )
    if out_dir is not None:
        report.write(out_dir)
    return report


def _game_facts_report(scenario: str, base, game_seeds: list[int], overrides: dict[str, Any], master_seed: int,
                       out_dir, executor, workers, progress, stale, egta: bool, egta_seeds: int | None,
                       egta_strategies: Sequence[str]) -> BalanceReport:
    """The default report: the target sets and the strategy analysis (see :func:`balance_report`)."""
    from crmsim.agents.bots import strategy_label
    from crmsim.research.runner import RunSpec

    n_firms = base.firms.count
    ov = tuple(sorted(overrides.items()))
    specs, lineups = [], []
    for name, lu in set_lineups(n_firms).items():
        lineups.append(lu)
        specs += [RunSpec(scenario, seat_rotation(lu, r), s, ov, (("set", name),)) for r, s in enumerate(game_seeds)]
    if egta:
        cells = dpr_lineups(egta_strategies, n_firms)
        lineups += cells
        eseeds = game_seeds[: egta_seeds or len(game_seeds)]
        specs += [RunSpec(scenario, seat_rotation(lu, r), s, ov, (("set", "egta"),)) for lu in cells for r, s in enumerate(eseeds)]
    rows = execute(specs, executor=executor, workers=workers, out_dir=out_dir, progress=progress, stale=stale)
    games = rows[rows["tag:set"] != "egta"]
    summary, strategies, labels, verdict = assess(games, n_firms, master_seed)
    targets = target_table(games, seed=master_seed, scenario=base)
    shares = win_shares(games)
    result = analyse(payoff_table(rows[rows["tag:set"] == "egta"], game="run_id"), shares, seed=master_seed) if egta else None
    required = targets[~targets["watch"] & targets["applies"]]
    missed = required[~required["passed"]]
    watched = targets[targets["watch"] & targets["applies"]]
    inapplicable = targets[~targets["applies"]]
    head = result.verdict() if result is not None else "no strategy analysis (egta off)"
    lines = [head, f"targets: {int(required['passed'].sum())} of {len(required)} pass"
             + (": missed " + ", ".join(f"{r.target} ({r.estimate:.2f}, rule {r.rule})" for r in missed.itertuples()) if len(missed) else ""),
             *([f"not applicable (not counted): {', '.join(inapplicable['target'])}: the scenario cultivates by spend, "
                "with no lifecycle stages"] if len(inapplicable) else []),
             *[f"watch (a known open problem, not counted): {r.target} {r.estimate:.2f}, rule {r.rule}: "
               + ("met" if r.passed else "not met") for r in watched.itertuples()],
             *[v for v in verdict.splitlines() if not v.startswith("balanced:")]]
    head_label = [] if result is None else ["balanced" if result.balanced else "unbalanced"]
    labels = head_label + [x for x in labels if x != "balanced"]
    if len(missed):
        labels.append("targets missed")
    record = provenance(base, game_seeds, [[strategy_label(s) for s in lu] for lu in lineups], scenario_ref=str(scenario),
                        overrides=overrides, extra={"kind": "balance"})
    report = BalanceReport(
        scenario=str(scenario), summary=summary, strategies=strategies, verdict="\n".join(lines), labels=labels, rows=rows,
        lineups=lineups, seeds=game_seeds, n_firms=n_firms, overrides=overrides, provenance=record, targets=targets, egta=result,
    )
    if out_dir is not None:
        report.write(out_dir)
    return report
