"""research/tournament.py: every mix of strategies (or a fixed, seeded sample), a reproducible ranking table."""

from __future__ import annotations

from math import comb

import pandas as pd
import pytest

from crmsim.research.runner import lineups
from crmsim.research.tournament import seat_order, tournament, tournament_lineups

SMALL = {"market.customers": 1500}


def test_every_lineup_when_there_are_few_and_a_fixed_sorted_sample_when_too_many():
    every, total = tournament_lineups(["a", "b", "c"], 3, max_lineups=100)
    assert total == comb(5, 3) == len(every) and every == lineups(["a", "b", "c"], 3)
    some, total = tournament_lineups(["a", "b", "c", "d"], 6, max_lineups=10, seed=2)
    assert total == comb(9, 6) and len(some) == 10 and some == sorted(some) and len(set(some)) == 10
    assert tournament_lineups(["a", "b", "c", "d"], 6, max_lineups=10, seed=2)[0] == some
    assert tournament_lineups(["a", "b", "c", "d"], 6, max_lineups=10, seed=3)[0] != some
    with pytest.raises(ValueError, match="max_lineups"):
        tournament_lineups(["a"], 2, max_lineups=0)


def test_seat_order_is_a_fixed_permutation_of_the_mix():
    mix = ("a", "a", "b", "c", "d", "e")
    assert sorted(seat_order(mix, 5)) == list(mix)
    assert seat_order(mix, 5) == seat_order(mix, 5)
    assert len({seat_order(mix, s) for s in range(20)}) > 1


def test_tournament_is_reproducible_and_ranks_every_strategy():
    kw = dict(seeds=1, overrides=SMALL, master_seed=4, max_lineups=4, workers=1, progress=False)
    a = tournament("classroom-v1", ["premium", "balanced", "price_cutter"], **kw)
    b = tournament("classroom-v1", ["price_cutter", "premium", "balanced"], **kw)  # order of names does not matter
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.results, b.results)
    assert a.sampled and a.total_lineups == comb(3 + 6 - 1, 6) and len(a.lineups) == 4
    assert "4 of 28 lineups" in a.note
    t = a.table
    assert t["mean_rank"].is_monotonic_increasing and t["position"].tolist() == list(range(1, len(t) + 1))
    assert set(t["strategy"]) <= {"premium", "balanced", "price_cutter"}
    assert t["seats"].sum() == 4 * 6  # every seat of every game
    played = a.results.groupby("strategy")["run_id"].nunique()  # games: the distinct games a strategy sat in
    assert t.set_index("strategy")["games"].to_dict() == played.to_dict() and (t["games"] <= t["seats"]).all()
    assert ((t["win_rate"] >= 0) & (t["win_rate"] <= 1)).all() and (t["mean_rank_ci"].fillna(0) >= 0).all()
    assert set(a.results["tag:mix"]) == {",".join(m) for m in a.lineups}


def test_tournament_pairs_compare_strategies_within_the_games_both_played():
    res = tournament("classroom-v1", ["premium", "balanced", "price_cutter"], seeds=2, overrides=SMALL, master_seed=1,
                     max_lineups=3, workers=1, progress=False)
    pairs = res.pairs.set_index(["a", "b"])
    assert list(pairs.index) == [("balanced", "premium"), ("balanced", "price_cutter"), ("premium", "price_cutter")]
    per_game = res.results.groupby(["run_id", "strategy"])["score"].mean().unstack()
    for (a, b), row in pairs.iterrows():
        both = per_game[[a, b]].dropna()
        assert row["games"] == len(both)
        if len(both):
            assert row["diff"] == pytest.approx((both[a] - both[b]).mean())
            assert row["low"] <= row["diff"] <= row["high"]
            assert row["clear"] == bool(row["low"] > 0 or row["high"] < 0)
