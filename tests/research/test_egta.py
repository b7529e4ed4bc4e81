"""Empirical game analysis on games whose equilibria are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmsim.research.egta import (
    PayoffTable,
    alpha_rank,
    analyse,
    deviation_of,
    dpr_lineups,
    payoff_table,
    regret,
    replicator_nash,
    seat_rotation,
)

RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
PRISONERS = np.array([[3.0, 0.0], [5.0, 1.0]])  # cooperate, defect
HAWK_DOVE = np.array([[0.0, 3.0], [1.0, 2.0]])  # hawk, dove: mixed Nash at half hawks (3 - 3x = 2 - x)


def test_rock_paper_scissors_has_the_uniform_mixture_as_its_nash():
    x, r = replicator_nash(RPS)
    np.testing.assert_allclose(x, [1 / 3, 1 / 3, 1 / 3], atol=1e-6)
    assert r == pytest.approx(0.0, abs=1e-9)


def test_prisoners_dilemma_goes_to_defection():
    x, r = replicator_nash(PRISONERS)
    np.testing.assert_allclose(x, [0.0, 1.0], atol=1e-6)
    assert r == pytest.approx(0.0, abs=1e-9)
    # alpha-Rank puts (nearly) all mass on defection too
    assert alpha_rank(PRISONERS)[1] > 0.99


def test_hawk_dove_mixes_half_and_half():
    x, r = replicator_nash(HAWK_DOVE)
    np.testing.assert_allclose(x, [0.5, 0.5], atol=1e-3)
    assert r < 1e-3


def test_regret_is_the_best_deviation_gain():
    # against all-dove, hawk earns 3 and dove 2: regret of all-dove is 1
    assert regret(HAWK_DOVE, np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert regret(HAWK_DOVE, np.array([0.5, 0.5])) == pytest.approx(0.0)


def test_dpr_lineups_have_one_deviator_or_a_pure_field():
    lineups = dpr_lineups(["a", "b", "c"], 6)
    assert len(lineups) == 9
    assert ("a",) * 6 in lineups and ("a", "b", "b", "b", "b", "b") in lineups
    assert deviation_of(("b", "a", "b", "b", "b", "b")) == ("a", "b")
    assert deviation_of(("c",) * 6) == ("c", "c")
    assert deviation_of(("a", "a", "b", "b", "b", "b")) is None
    assert seat_rotation(("a", "b", "b"), 1) == ("b", "a", "b")
    assert seat_rotation(("a", "b", "b"), 3) == ("a", "b", "b")


def test_payoff_table_averages_the_deviators_seats_per_game():
    rows = []
    # game 0: one a among b's, a scores 10; game 1: same line-up rotated, a scores 20; games 2, 3: pure fields
    for game, (lineup, scores) in enumerate([
        (("a", "b", "b"), (10, 1, 1)),
        (("b", "a", "b"), (2, 20, 2)),
        (("a", "a", "a"), (5, 6, 7)),
        (("b", "b", "b"), (3, 3, 3)),
        (("b", "a", "b"), (9, 9, 9)),  # one b among... no: one a among b's again, a scores 9
        (("a", "b", "a"), (4, 8, 4)),  # one b among a's, b scores 8
    ]):
        for seat, (s, v) in enumerate(zip(lineup, scores)):
            rows.append({"game": game, "strategy": s, "score": v, "lineup": ",".join(lineup)})
    table = payoff_table(pd.DataFrame(rows))
    assert table.strategies == ("a", "b")
    np.testing.assert_allclose(table.payoff, [[6.0, 13.0], [8.0, 3.0]])
    assert table.games.tolist() == [[1, 3], [1, 1]]
    assert table.stderr[0, 1] == pytest.approx(np.std([10, 20, 9], ddof=1) / np.sqrt(3))


def test_payoff_table_names_missing_cells():
    rows = pd.DataFrame([{"game": 0, "strategy": "a", "score": 1.0, "lineup": "a,b,b"},
                         {"game": 0, "strategy": "b", "score": 1.0, "lineup": "a,b,b"}])
    with pytest.raises(ValueError, match="no games for"):
        payoff_table(rows)


def test_payoff_table_without_any_reduction_line_up_says_to_play_them():
    """Games whose line-ups all mix two or more seats of each strategy fill no cell: an InputError, not an empty table
    that analyse divides by."""
    from crmsim import InputError

    rows = pd.DataFrame([{"game": g, "strategy": s, "score": 1.0, "lineup": "a,a,b,b"} for g in (0, 1) for s in "aabb"])
    with pytest.raises(InputError, match=r"no games for any \(deviator, field\): none of the 2 games played a line-up "
                                         r"of the deviation-preserving reduction; play dpr_lineups\(\) first"):
        payoff_table(rows)


def test_verdict_needs_three_strategies_in_the_support_and_no_dominant_winner():
    rps = analyse(PayoffTable(("paper", "rock", "scissors"), RPS, np.zeros((3, 3)), np.ones((3, 3), int)),
                  {"paper": 0.33, "rock": 0.33, "scissors": 0.34})
    assert rps.balanced and rps.verdict() == "balanced"
    pd_game = analyse(PayoffTable(("cooperate", "defect"), PRISONERS, np.zeros((2, 2)), np.ones((2, 2), int)),
                      {"cooperate": 0.1, "defect": 0.9})
    assert not pd_game.balanced
    assert "holds 1 strategies (defect)" in pd_game.verdict()
    assert "defect wins 90%" in pd_game.verdict()
    assert list(pd_game.frame().columns) == ["strategy", "nash", "alpha_rank", "payoff_vs_nash", "win_share_vs_field"]
