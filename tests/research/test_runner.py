"""research/runner.py: a run's rows equal the fully collected game, a resumable folder skips finished runs,
and the Dask executor gives the same rows as the process pool."""

from __future__ import annotations

import pandas as pd
import pytest

from crmsim.research.runner import FINAL_COLUMNS, RunSpec, execute, open_executor, run_game, spawn_seeds, specs_from
from crmsim.scenarios import load_scenario
from crmsim.sim.model import CRMModel

SMALL = {"market.customers": 1500}
LINEUP = ("balanced", "price_cutter", "premium", "relationship", "adaptive", "random")


def test_spawned_seeds_are_fixed_by_the_master_seed_and_a_prefix_of_longer_lists():
    assert spawn_seeds(7, 3) == spawn_seeds(7, 3)
    assert spawn_seeds(7, 5)[:3] == spawn_seeds(7, 3)
    assert len(set(spawn_seeds(7, 50))) == 50
    assert spawn_seeds(7, 3) != spawn_seeds(8, 3)


def test_run_game_rows_equal_the_final_period_of_the_fully_collected_game():
    """run_game plays with collect=False; the game, and each rate it reports, must be the collected game's."""
    spec = RunSpec("classroom-v1", LINEUP, spawn_seeds(3, 1)[0], tuple(SMALL.items()))
    rows = run_game(spec)
    model = CRMModel(load_scenario("classroom-v1", overrides=SMALL), seed=spec.seed, strategies=list(LINEUP)).run()
    frames = model.frames()
    last = frames["firms"][frames["firms"]["period"] == 12].reset_index(drop=True)
    cols = ["firm", "name", *FINAL_COLUMNS]
    pd.testing.assert_frame_equal(rows[cols], last[cols], check_dtype=False, check_exact=True)
    won = frames["firms"].groupby("firm")["tenders_won"].sum()
    assert rows["tenders_won"].tolist() == won.tolist() and rows["tenders_won"].sum() == rows["tenders_awarded"].iloc[0] > 0
    assert rows["void_bid_rate"].iloc[0] == float((~frames["bids"]["valid"]).mean())
    assert rows["failed_tender_rate"].iloc[0] == float(frames["tenders"]["failed"].mean())
    assert rows["strategy"].tolist() == list(LINEUP) and (rows["param:market.customers"] == 1500).all()


def test_a_model_without_collection_refuses_frames_decision_log_and_customer_records():
    model = CRMModel(load_scenario("classroom-v1", overrides=SMALL), seed=1, strategies=list(LINEUP), collect=False)
    model.step()
    with pytest.raises(ValueError, match="collect=False"):
        model.frames()
    with pytest.raises(ValueError, match="collect=False"):
        model.decision_log()
    with pytest.raises(ValueError, match="collect=False"):
        model.customer_history(0)
    with pytest.raises(ValueError, match="collect=False"):
        model.customer_panel()
    assert model.results[-1].panel["supplier"].shape == (0,)  # no tracked customer kept


def test_a_period_keeps_the_records_of_the_customers_it_is_asked_to_track():
    """resolve_period's track: the first n customers' records, whatever the scenario's market.track_customers."""
    from crmsim.sim.engine import initial_state, period_rng, resolve_period

    scenario = load_scenario("classroom-v1", overrides=SMALL)
    state = initial_state(scenario, 3)
    _, default = resolve_period(state, {}, period_rng(3, 1))
    _, five = resolve_period(state, {}, period_rng(3, 1), track=5)
    assert default.panel["supplier"].shape == (min(scenario.market.track_customers, scenario.market.customers),)
    assert five.panel["supplier"].tolist() == default.panel["supplier"][:5].tolist()
    assert five.firm_rows == default.firm_rows


def test_resumable_folder_skips_finished_runs_and_a_rerun_gives_the_same_rows(tmp_path):
    specs = specs_from("classroom-v1", LINEUP, spawn_seeds(11, 3), overrides=SMALL)
    played: list[str] = []

    def counting(spec: RunSpec) -> pd.DataFrame:
        played.append(spec.run_id)
        return run_game(spec)

    first = execute(specs, workers=1, out_dir=tmp_path, progress=False, run=counting)
    assert len(played) == 3 and len(list((tmp_path / "runs").glob("*.parquet"))) == 3
    again = execute(specs, workers=1, out_dir=tmp_path, progress=False, run=counting)
    assert len(played) == 3, "a rerun must not replay finished runs"
    pd.testing.assert_frame_equal(again, first)
    (tmp_path / "runs" / f"{specs[1].run_id}.parquet").unlink()  # as if killed before the second run finished
    third = execute(specs, workers=1, out_dir=tmp_path, progress=False, run=counting)
    assert played[3:] == [specs[1].run_id]
    pd.testing.assert_frame_equal(third, first)


def test_dask_local_cluster_gives_the_in_process_rows_one_game_or_several_per_task():
    specs = specs_from("classroom-v1", LINEUP, spawn_seeds(5, 3), overrides={"market.customers": 2000})
    local = execute(specs, workers=1, progress=False)
    with open_executor("local", workers=2) as executor:
        on_dask = execute(specs, executor=executor, progress=False)
        chunked = execute(specs, executor=executor, progress=False, chunksize=2)
    pd.testing.assert_frame_equal(on_dask, local)
    pd.testing.assert_frame_equal(chunked, local)


def test_specs_naming_the_same_game_play_it_once_and_each_keeps_its_own_tags():
    """Two equal design points are one game; the rows of each spec carry that spec's tags."""
    base = specs_from("classroom-v1", LINEUP, spawn_seeds(2, 1), overrides=SMALL)[0]
    specs = [RunSpec(base.scenario, base.strategies, base.seed, base.overrides, (("point", i),)) for i in range(3)]
    played = []

    def counting(spec: RunSpec) -> pd.DataFrame:
        played.append(spec)
        return run_game(spec)

    rows = execute(specs, workers=1, progress=False, run=counting)
    assert len(played) == 1
    assert rows["tag:point"].tolist() == [0] * 6 + [1] * 6 + [2] * 6
    pd.testing.assert_frame_equal(rows.iloc[6:12].drop(columns="tag:point").reset_index(drop=True),
                                  rows.iloc[:6].drop(columns="tag:point").reset_index(drop=True))


def test_run_games_rows_already_carry_their_specs_labels_as_execute_would_set_them():
    """execute keeps run_game's rows for the spec that played them as they are, and relabels only rows kept from a
    folder or shared with another spec: the two must give the same frame, column order and dtypes included."""
    from crmsim.research.runner import _tagged

    base = specs_from("classroom-v1", LINEUP, spawn_seeds(3, 1), overrides=SMALL)[0]
    spec = RunSpec(base.scenario, base.strategies, base.seed, base.overrides, (("point", 4), ("mix", "a|b"), ("w", 0.5)))
    rows = run_game(spec)
    rows.attrs.clear()
    assert [c for c in rows.columns if c.startswith(("param:", "tag:"))] == ["param:market.customers", "tag:point", "tag:mix", "tag:w"]
    pd.testing.assert_frame_equal(_tagged(rows, spec), rows)
    other = RunSpec(spec.scenario, spec.strategies, spec.seed, spec.overrides, (("point", 5),))
    assert _tagged(rows, other)["tag:point"].tolist() == [5] * len(rows) and "tag:mix" not in _tagged(rows, other)
    both = execute([spec, other], workers=1, progress=False)
    pd.testing.assert_frame_equal(both.iloc[: len(rows)].reset_index(drop=True), rows.reset_index(drop=True))
    assert both["tag:point"].tolist() == [4] * len(rows) + [5] * len(rows)


def test_summary_counts_a_strategys_distinct_games_and_its_seats_apart():
    """A strategy seated several times in one game played that game once: games counts run ids, seats counts rows."""
    from crmsim.research.runner import summarize

    lineups = {"g0": ["a", "a", "a", "b"], "g1": ["a", "b", "b", "b"], "g2": ["b", "b", "b", "b"]}
    rows = pd.DataFrame([{"run_id": run, "strategy": s, "rank": seat + 1, "score": 10.0 - seat, "bankrupt": False}
                         for run, seats in lineups.items() for seat, s in enumerate(seats)])
    table = summarize(rows, "strategy", n_boot=50).set_index("strategy")
    assert list(table.columns[:2]) == ["games", "seats"]
    assert table[["games", "seats"]].to_dict("index") == {"a": {"games": 2, "seats": 4}, "b": {"games": 3, "seats": 8}}


def test_summary_intervals_resample_whole_games_not_seats():
    """Seats of one game share its luck: summarize's interval is the clustered bootstrap's, wider than a seat-level one."""
    import numpy as np

    from crmsim.research.runner import summarize
    from crmsim.research.stats import cluster_mean

    rng = np.random.default_rng(0)
    games, seats = 40, 6
    luck = rng.normal(0, 10, games)
    rows = pd.DataFrame({
        "run_id": np.repeat([f"g{i}" for i in range(games)], seats),
        "strategy": np.tile(["a", "b"], games * seats // 2),
        "score": 50 + np.repeat(luck, seats) + rng.normal(0, 1, games * seats),
        "rank": np.tile(np.arange(1, seats + 1), games),
        "bankrupt": False,
    })
    table = summarize(rows, "strategy", seed=4).set_index("strategy")
    a = rows[rows["strategy"] == "a"]
    iv = cluster_mean(a["score"], a["run_id"], seed=4)
    assert (table.loc["a", "mean_score"], table.loc["a", "mean_score_low"], table.loc["a", "mean_score_high"]) == (iv.estimate, iv.low, iv.high)
    assert table.loc["a", "mean_score_ci"] == pytest.approx((iv.high - iv.low) / 2)
    naive = 1.96 * a["score"].std(ddof=1) / np.sqrt(len(a))  # seats as independent draws
    assert table.loc["a", "mean_score_ci"] > 1.5 * naive
    # seat 0 of every game is an "a" and ranks first: a wins one of its three seats per game, b never
    assert table.loc["a", "win_rate"] == pytest.approx(1 / 3) and table.loc["b", "win_rate"] == 0.0
    # a sits three seats in each of the 40 games: 40 games, 120 seats
    assert (table.loc["a", "games"], table.loc["a", "seats"]) == (games, games * 3)


def test_a_runspec_takes_mappings_and_lists_as_one_writes_them_and_names_a_wrong_field():
    seeds = spawn_seeds(2, 1)
    made = specs_from("classroom-v1", LINEUP, seeds, overrides={"market.customers": 1500}, tags={"point": 1})[0]
    written = RunSpec("classroom-v1", list(LINEUP), seeds[0], {"market.customers": 1500}, {"point": 1})
    assert written == made and written.run_id == made.run_id and written.tags == (("point", 1),)
    assert written.strategies == LINEUP and hash(written) == hash(made)
    assert RunSpec("classroom-v1", LINEUP, seeds[0], [["market.customers", 1500]]).overrides == (("market.customers", 1500),)
    rows = run_game(written)
    assert rows["param:market.customers"].tolist() == [1500] * 6 and rows["tag:point"].tolist() == [1] * 6
    with pytest.raises(TypeError, match=r"RunSpec.overrides: must be a mapping or \(key, value\) pairs with text keys; got 'market.customers=1500'"):
        RunSpec("classroom-v1", LINEUP, 1, "market.customers=1500")
    with pytest.raises(TypeError, match=r"RunSpec.tags: .*got \(\(1, 2\),\)"):
        RunSpec("classroom-v1", LINEUP, 1, (), ((1, 2),))
