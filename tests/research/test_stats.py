"""Clustered bootstrap: on synthetic games whose true sampling error is known, the intervals have it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmsim.research.stats import cluster_mean, game_statistic, grouped_cluster_means, paired_comparisons, paired_difference


def _games(rng, games=60, seats=6, game_sd=2.0, seat_sd=1.0, mean=10.0):
    """Scores with a shared game effect: the mean's true standard error is sqrt((game_sd^2 + seat_sd^2/seats)/games)."""
    effect = rng.normal(0, game_sd, games)
    rows = [{"game": g, "seat": s, "score": mean + effect[g] + rng.normal(0, seat_sd)} for g in range(games) for s in range(seats)]
    return pd.DataFrame(rows)


def test_interval_width_matches_the_known_clustered_standard_error():
    rng = np.random.default_rng(1)
    df = _games(rng, games=200)
    true_se = np.sqrt((2.0**2 + 1.0**2 / 6) / 200)
    iv = cluster_mean(df.score, df.game, seed=3)
    assert (iv.high - iv.low) / 2 == pytest.approx(1.96 * true_se, rel=0.15)
    # treating the 1,200 seats as independent would give an interval about 2.2 times too narrow
    naive_se = df.score.std() / np.sqrt(len(df))
    assert true_se / naive_se > 2.0


def test_clustered_intervals_cover_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    covered = 0
    trials = 200
    for k in range(trials):
        df = _games(rng, games=40)
        covered += cluster_mean(df.score, df.game, n_boot=400, seed=k).contains(10.0)
    assert 0.89 <= covered / trials <= 0.99


def test_paired_difference_cancels_the_game_effect():
    rng = np.random.default_rng(5)
    df = _games(rng, games=50, game_sd=5.0, seat_sd=0.5)
    df["strategy"] = np.where(df.seat < 3, "a", "b")
    df.loc[df.strategy == "a", "score"] += 1.0  # a is truly 1 point better
    iv = paired_difference(df, "score", "strategy", "a", "b", seed=2)
    assert iv.contains(1.0) and iv.low > 0
    # unpaired intervals are wide: the game effect (sd 5) swamps a 1-point gap
    means = grouped_cluster_means(df, "score", "strategy", seed=2).set_index("strategy")
    assert means.loc["a", "low"] < means.loc["b", "high"]
    table = paired_comparisons(df, "score", "strategy", seed=2)
    assert table.loc[0, ["a", "b"]].tolist() == ["a", "b"] and bool(table.loc[0, "clear"])


def test_game_statistic_of_a_proportion():
    iv = game_statistic([1.0] * 24 + [0.0] * 6, seed=0)
    assert iv.estimate == pytest.approx(0.8)
    assert iv.low < 0.8 < iv.high and iv.n_clusters == 30


def test_one_game_gives_an_estimate_but_no_interval_and_no_clear_difference():
    """A single game cannot show how games vary: resampling it would give a zero-width interval that looks
    certain. The estimate stands; the interval is NaN, and a pair compared in one game is never 'clear'."""
    one = cluster_mean(np.array([3.0, 5.0]), np.array([7, 7]))
    assert one.estimate == 4.0 and np.isnan(one.low) and np.isnan(one.high) and one.n_clusters == 1
    rows = pd.DataFrame({"game": [1, 1, 2, 2], "strategy": ["a", "b", "a", "c"], "score": [60.0, 40.0, 55.0, 50.0]})
    pairs = paired_comparisons(rows, "score", "strategy", cluster="game").set_index(["a", "b"])
    assert pairs.loc[("a", "b"), "diff"] == 20.0 and pairs.loc[("a", "b"), "games"] == 1
    assert np.isnan(pairs.loc[("a", "b"), "low"]) and not pairs.loc[("a", "b"), "clear"]
    two = cluster_mean(np.array([3.0, 5.0]), np.array([7, 8]))
    assert two.low == 3.0 and two.high == 5.0  # two games: a real, if rough, interval
