"""Balance measured as game facts: the targets a classroom scenario should meet, over many seeds.

``crmsim balance`` plays four line-up sets besides the strategy analysis (:mod:`crmsim.research.egta`):

- **field**: the default line-up (balanced, price_cutter, premium, relationship, researcher, retention),
  its seats rotated one step per seed so no bot keeps the same seat;
- **standing**: the passive ``standing`` bot (never bids, never cultivates) with five bidding bots
  (balanced, price_cutter, premium, relationship, adaptive), rotated;
- **reckless**: the two reckless bots (``random``, and ``reckless``, a price-cutter that bids at cost) with
  four sane ones (balanced, premium, researcher, retention), rotated;
- **quality**: ``quality_leader`` (never bids or cultivates; top service at a price just under the
  reference: what a PPO agent learned on its own) with five bidding bots (balanced, premium, relationship,
  researcher, retention), rotated: the mass market alone must not win a game that tenders should decide.

and measures each target of :data:`TARGETS` with a 95% interval from a bootstrap that resamples whole
games (:mod:`crmsim.research.stats`). A target passes when its estimate meets the threshold. A target about
lifecycle cultivation (the held-progress ratios: rivals' stable clients exist only with lifecycle stages) does
not apply to a scenario that cultivates by spend: it is reported "n/a" and not counted. The per-game
facts come from :func:`crmsim.research.runner.run_game` (its ``tenders_*``, ``clients_*``, ``rank_mid`` and
``cult_*`` columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmsim.research.stats import N_BOOT, Interval, bootstrap, bootstrap_ratio, cluster_totals
from crmsim.scenarios.schema import Scenario

FIELD = ("balanced", "price_cutter", "premium", "relationship", "researcher", "retention")
STANDING = ("standing", "balanced", "price_cutter", "premium", "relationship", "adaptive")
RECKLESS = ("reckless", "random", "balanced", "premium", "researcher", "retention")
QUALITY = ("quality_leader", "balanced", "premium", "relationship", "researcher", "retention")
SETS = {"field": FIELD, "standing": STANDING, "reckless": RECKLESS, "quality": QUALITY}
RECKLESS_BOTS = ("random", "reckless")
PASSIVE_BOTS = ("standing",)
#: the never-bid bot each bottom-half target follows
BOTTOM_HALF = {"standing_bottom_half": "standing", "quality_leader_bottom_half": "quality_leader"}


@dataclass(frozen=True)
class Target:
    """One balance target: a game fact, the line-up set it is measured on, and its threshold."""

    key: str
    fact: str
    lineups: str  # "field", "standing", "reckless" or "all" (every set)
    threshold: float
    at_least: bool  # True: estimate >= threshold passes; False: estimate <= threshold passes
    watch: bool = False  # a known open balance problem: measured and reported, not counted in the scenario's pass total
    lifecycle_only: bool = False  # about lifecycle stages: does not apply where the scenario cultivates by spend

    @property
    def rule(self) -> str:
        sign = ">=" if self.at_least else "<="
        return f"{sign} {self.threshold:g}"

    def applies(self, scenario: Scenario | None) -> bool:
        """Whether the target means anything in `scenario` (None: unknown, taken as yes)."""
        return not (self.lifecycle_only and scenario is not None and scenario.cultivation.mode != "lifecycle")

    def passes(self, estimate: float) -> bool:
        if not np.isfinite(estimate):
            return False
        return estimate >= self.threshold if self.at_least else estimate <= self.threshold


TARGETS = (
    Target("tenders_awarded", "share of tenders awarded (not failed, 流标)", "field", 0.75, True),
    Target("every_client_awards", "every named client awards a contract in this share of games (the least-awarding client)", "field", 0.80, True),
    Target("standing_bottom_half", "the never-bid standing bot finishes in the bottom half (rank 4-6 of 6)", "standing", 0.80, True),
    Target("quality_leader_bottom_half", "watch: the never-bid quality leader (top service at the reference price, what PPO "
           "learned) finishes in the bottom half", "quality", 0.5, True, watch=True),
    Target("random_bankrupt", "the random bot goes bankrupt", "reckless", 0.30, True),
    Target("reckless_bankrupt", "the reckless bot (bids at cost, undercuts hard) goes bankrupt", "reckless", 0.30, True),
    Target("sane_bankrupt", "a sane bot goes bankrupt (every seat but random, reckless and standing)", "all", 0.10, False),
    Target("comeback", "the leader after half the game is not the final winner", "field", 0.25, True),
    Target("held_progress_per_yuan", "progress per ¥ against a rival's stable client, over progress per ¥ on a client no rival holds",
           "all", 0.5, False, lifecycle_only=True),
    Target("held_progress_per_hour", "the same per sales hour", "all", 0.5, False, lifecycle_only=True),
)


def set_lineups(n_firms: int) -> dict[str, tuple[str, ...]]:
    """The sets' line-ups filled to `n_firms` seats (a shorter set repeats from its start)."""
    return {name: tuple(lu[i % len(lu)] for i in range(n_firms)) for name, lu in SETS.items()}


def _games(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per game with its game-level facts (the same on every seat of the game)."""
    cols = ["run_id", "tag:set", "tenders_total", "tenders_awarded", "clients", "clients_awarded"]
    return rows[cols].drop_duplicates("run_id").reset_index(drop=True)


def _share(rows: pd.DataFrame, flag: pd.Series, seed: int, n_boot: int) -> Interval:
    """A share of seats (or games, one seat each), games resampled."""
    num, den = cluster_totals(flag.astype(float), rows["run_id"])
    return bootstrap_ratio(num, den, n_boot=n_boot, seed=seed)


def measure(target: Target, rows: pd.DataFrame, seed: int = 0, n_boot: int = N_BOOT) -> tuple[Interval, str]:
    """A target's estimate and interval from the rows of its line-up set, with a note (what it counted)."""
    sub = rows if target.lineups == "all" else rows[rows["tag:set"] == target.lineups]
    if sub.empty:
        return Interval(float("nan"), float("nan"), float("nan"), 0), "no games"
    n = sub["run_id"].nunique()
    key = target.key
    if key == "tenders_awarded":
        g = _games(sub)
        iv = bootstrap_ratio(g["tenders_awarded"].to_numpy(float), g["tenders_total"].to_numpy(float), n_boot=n_boot, seed=seed)
        return iv, f"{int(g['tenders_awarded'].sum())} of {int(g['tenders_total'].sum())} tenders in {n} games"
    if key == "every_client_awards":
        g = _games(sub)
        clients = sorted(set(",".join(g["clients"]).split(",")) - {""})
        hits = np.array([[c in str(a).split(",") for c in clients] for a in g["clients_awarded"]], dtype=float)
        share = hits.mean(axis=0)
        worst = clients[int(np.argmin(share))]
        iv = bootstrap(lambda h: h.mean(axis=0).min(), hits, n_boot=n_boot, seed=seed)
        return iv, f"least: {worst} ({share.min():.0%}); " + ", ".join(f"{c} {s:.0%}" for c, s in zip(clients, share))
    if key in BOTTOM_HALF:
        bot = BOTTOM_HALF[key]
        seats = sub[sub["strategy"] == bot]
        n_firms = sub.groupby("run_id").size().iloc[0]
        return _share(seats, seats["rank"] > n_firms / 2, seed, n_boot), f"{len(seats)} {bot} seats in {n} games"
    if key in ("random_bankrupt", "reckless_bankrupt"):
        bot = key.split("_")[0]
        seats = sub[sub["strategy"] == bot]
        return _share(seats, seats["bankrupt"].astype(bool), seed, n_boot), f"{len(seats)} {bot} seats"
    if key == "sane_bankrupt":
        seats = sub[~sub["strategy"].isin(RECKLESS_BOTS + PASSIVE_BOTS)]
        return _share(seats, seats["bankrupt"].astype(bool), seed, n_boot), f"{len(seats)} seats of sane bots in {n} games"
    if key == "comeback":
        winners = sub[sub["rank"] == 1]
        return _share(winners, winners["rank_mid"] != 1, seed, n_boot), f"{len(winners)} games"
    if key in ("held_progress_per_yuan", "held_progress_per_hour"):
        unit = "cost" if key.endswith("yuan") else "hours"
        per_game = sub.groupby("run_id")[["cult_gain_held", f"cult_{unit}_held", "cult_gain_free", f"cult_{unit}_free"]].sum().to_numpy()

        def ratio(x: np.ndarray) -> float:
            held = x[:, 0].sum() / x[:, 1].sum() if x[:, 1].sum() > 0 else np.nan
            free = x[:, 2].sum() / x[:, 3].sum() if x[:, 3].sum() > 0 else np.nan
            return held / free if free and np.isfinite(free) else np.nan

        spent = per_game[:, 1].sum()
        note = f"¥{spent:,.0f} spent against stable rivals" if unit == "cost" else f"{spent:,.0f} hours against stable rivals"
        return bootstrap(ratio, per_game, n_boot=n_boot, seed=seed), note
    raise ValueError(f"unknown target {key!r}")


def result_word(passed: bool, watch: bool = False, applies: bool = True) -> str:
    """A target's result as the reports print it: pass or FAIL, met/not met for a watched (uncounted) target,
    n/a for one that does not apply to the scenario."""
    if not applies:
        return "n/a"
    if watch:
        return ("met" if passed else "not met") + " (watch)"
    return "pass" if passed else "FAIL"


def interval_text(low: float, high: float) -> str:
    """A target's 95% interval as the reports print it ("-" where there is none)."""
    return f"{low:.2f} - {high:.2f}" if np.isfinite(low) and np.isfinite(high) else "-"


def target_table(rows: pd.DataFrame, targets: Sequence[Target] = TARGETS, seed: int = 0, n_boot: int = N_BOOT,
                 scenario: Scenario | None = None) -> pd.DataFrame:
    """Every target: estimate, 95% interval, the rule, pass or fail, and what it counted.

    A target that does not apply to `scenario` (:meth:`Target.applies`) is not measured: NaN, ``passed`` False,
    ``applies`` False and a note that says why.
    """
    out = []
    for t in targets:
        applies = t.applies(scenario)
        if applies:
            iv, note = measure(t, rows, seed, n_boot)
        else:
            iv = Interval(float("nan"), float("nan"), float("nan"), int(rows["run_id"].nunique()))
            note = "not applicable: the scenario cultivates by spend (no lifecycle stages, no stable clients)"
        out.append({"target": t.key, "fact": t.fact, "lineups": t.lineups, "estimate": iv.estimate, "low": iv.low,
                    "high": iv.high, "rule": t.rule, "passed": applies and t.passes(iv.estimate), "games": iv.n_clusters,
                    "note": note, "watch": t.watch, "applies": applies})
    return pd.DataFrame(out)


def win_shares(rows: pd.DataFrame) -> dict[str, float]:
    """Each strategy's share of the field games it played that it won (finished first)."""
    field = rows[rows["tag:set"] == "field"]
    if field.empty:
        return {}
    games = field.groupby("strategy")["run_id"].nunique()
    wins = field[field["rank"] == 1].groupby("strategy")["run_id"].nunique()
    return {s: float(wins.get(s, 0) / games[s]) for s in games.index}

