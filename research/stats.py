"""Statistics for many-game experiments: intervals that respect how games cluster.

Seats in one game are not independent draws: they share the seed, the market
and each other's moves. Every interval here resamples **whole games**
(a clustered bootstrap, Cameron, Gelbach & Miller 2008; Field & Welsh 2007):
each bootstrap replicate draws games with replacement and keeps all the seats
of each drawn game together. Comparisons between two strategies are paired
within games where both played.

All functions take an explicit seed, so a report is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: bootstrap replicates by default (enough for a 95% percentile interval to settle to about +-0.5 point)
N_BOOT = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile-bootstrap interval."""

    estimate: float
    low: float
    high: float
    n_clusters: int

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def __str__(self) -> str:
        return f"{self.estimate:.3g} [{self.low:.3g}, {self.high:.3g}]"


def _percentiles(draws: np.ndarray, level: float) -> tuple[float, float]:
    alpha = (1.0 - level) / 2.0
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def cluster_totals(values: pd.Series | np.ndarray, clusters: pd.Series | np.ndarray, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums of ``values * weights`` and of ``weights`` (weights default to 1), in cluster order."""
    v = np.asarray(values, dtype=float)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float)
    codes, _ = pd.factorize(np.asarray(clusters), sort=True)
    k = int(codes.max()) + 1 if codes.size else 0
    return np.bincount(codes, weights=v * w, minlength=k), np.bincount(codes, weights=w, minlength=k)


def bootstrap_ratio(numerators: np.ndarray, denominators: np.ndarray, *, n_boot: int = N_BOOT, level: float = LEVEL,
                    seed: int = 0) -> Interval:
    """Interval of sum(numerators) / sum(denominators) when clusters (rows) are resampled with replacement.

    A mean over seats is a ratio of per-game totals (sum of values / number of seats), so resampling the
    per-game totals resamples whole games. One game says nothing of how games vary: its interval is NaN
    (resampling it would give a zero-width interval that looks certain), while its estimate stands.
    """
    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    k = num.size
    if k == 0 or den.sum() == 0:
        return Interval(float("nan"), float("nan"), float("nan"), k)
    estimate = float(num.sum() / den.sum())
    if k == 1:
        return Interval(estimate, float("nan"), float("nan"), k)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, k, size=(n_boot, k))
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    lo, hi = _percentiles(draws, level)
    return Interval(estimate, lo, hi, k)


def cluster_mean(values, clusters, *, weights=None, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0) -> Interval:
    """Mean of `values` (optionally weighted) with a 95% interval from resampling whole clusters (games)."""
    num, den = cluster_totals(values, clusters, weights)
    return bootstrap_ratio(num, den, n_boot=n_boot, level=level, seed=seed)


def grouped_cluster_means(df: pd.DataFrame, value: str, by: str, cluster: str = "game", *, n_boot: int = N_BOOT,
                          level: float = LEVEL, seed: int = 0) -> pd.DataFrame:
    """For each group (e.g. each strategy), the mean of `value` with a clustered-bootstrap interval.

    Returns one row per group: ``by, mean, low, high, n, games``.
    """
    rows = []
    for key, g in df.groupby(by, sort=True):
        iv = cluster_mean(g[value].astype(float), g[cluster], n_boot=n_boot, level=level, seed=seed)
        rows.append({by: key, "mean": iv.estimate, "low": iv.low, "high": iv.high, "n": len(g), "games": iv.n_clusters})
    return pd.DataFrame(rows, columns=[by, "mean", "low", "high", "n", "games"])


def paired_difference(df: pd.DataFrame, value: str, by: str, a: str, b: str, cluster: str = "game", *,
                      n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0) -> Interval:
    """Mean of (a's value - b's value) over the games where both strategies played, games resampled.

    Within a game each strategy's value is its mean over its seats, so the comparison is paired: the
    game's shared luck (the seed, the market) cancels.
    """
    per_game = df[df[by].isin([a, b])].groupby([cluster, by])[value].mean().unstack(by)
    if a not in per_game or b not in per_game:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    diff = (per_game[a] - per_game[b]).dropna().to_numpy()
    return bootstrap_ratio(diff, np.ones_like(diff), n_boot=n_boot, level=level, seed=seed)


def paired_comparisons(df: pd.DataFrame, value: str, by: str, cluster: str = "game", *, n_boot: int = N_BOOT,
                       level: float = LEVEL, seed: int = 0) -> pd.DataFrame:
    """Every pair of groups compared within games: ``a, b, diff, low, high, games, clear`` (interval excludes 0)."""
    names = sorted(df[by].unique())
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            iv = paired_difference(df, value, by, a, b, cluster, n_boot=n_boot, level=level, seed=seed)
            clear = bool(np.isfinite(iv.low) and (iv.low > 0 or iv.high < 0))
            rows.append({"a": a, "b": b, "diff": iv.estimate, "low": iv.low, "high": iv.high, "games": iv.n_clusters, "clear": clear})
    return pd.DataFrame(rows, columns=["a", "b", "diff", "low", "high", "games", "clear"])


def game_statistic(per_game: Sequence[float] | np.ndarray, *, n_boot: int = N_BOOT, level: float = LEVEL,
                   seed: int = 0) -> Interval:
    """Mean of one number per game (e.g. "did every client award a contract?") with a bootstrap interval."""
    x = np.asarray(per_game, dtype=float)
    return bootstrap_ratio(x, np.ones_like(x), n_boot=n_boot, level=level, seed=seed)


def bootstrap(statistic: Callable[[np.ndarray], float], per_game: np.ndarray, *, n_boot: int = N_BOOT,
              level: float = LEVEL, seed: int = 0) -> Interval:
    """Any statistic of per-game records (rows of `per_game`), games resampled with replacement."""
    data = np.asarray(per_game)
    k = data.shape[0]
    estimate = float(statistic(data))
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(data[rng.integers(0, k, size=k)]) for _ in range(n_boot)], dtype=float)
    lo, hi = _percentiles(draws, level)
    return Interval(estimate, lo, hi, k)
