"""research/sweep.py: grids and designs, frames independent of the worker count, resumable output, Sobol indices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmsim.research.runner import spawn_seeds
from crmsim.research.sweep import grid_design, parse_value, sample_design, sweep

SMALL = {"market.customers": 1500}
FIRMS = ["balanced", "price_cutter", "premium"]


def test_grid_is_every_combination_first_key_slowest():
    assert grid_design({"a": [1, 2], "b": ["x", "y", "z"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"},
    ]
    with pytest.raises(ValueError, match="param a"):
        grid_design({"a": []})


def test_command_line_values_read_as_toml():
    assert [parse_value(v) for v in ("2000", "0.5", "true", "price_cutter")] == [2000, 0.5, True, "price_cutter"]


@pytest.mark.parametrize("design", ["sobol", "lhs"])
def test_designs_stay_within_bounds_round_whole_settings_and_repeat_with_the_seed(design):
    bounds = {"market.customers": (1000, 3000), "tenders.bond_rate": (0.0, 0.1)}
    points, problem = sample_design(bounds, design, 8, seed=4, integer=["market.customers"])
    assert len(points) == 8 and problem["names"] == list(bounds)
    assert all(isinstance(p["market.customers"], int) and 1000 <= p["market.customers"] <= 3000 for p in points)
    assert all(0.0 <= p["tenders.bond_rate"] <= 0.1 for p in points)
    assert sample_design(bounds, design, 8, seed=4, integer=["market.customers"])[0] == points
    assert sample_design(bounds, design, 8, seed=5, integer=["market.customers"])[0] != points


def test_saltelli_design_has_n_times_d_plus_2_points():
    points, _ = sample_design({"a": (0, 1), "b": (0, 1), "c": (0, 1)}, "sobol", 4, sobol_indices=True)
    assert len(points) == 4 * (3 + 2)


def test_bad_bounds_and_designs_are_named():
    with pytest.raises(ValueError, match=r"bounds x: need finite low < high; got 2.0:1.0"):
        sample_design({"x": (2, 1)}, "lhs", 4)
    with pytest.raises(ValueError, match="Sobol indices need the Saltelli design"):
        sample_design({"x": (0, 1)}, "lhs", 4, sobol_indices=True)
    with pytest.raises(ValueError, match="sobol: Sobol indices need bounds"):
        sweep("classroom-v1", {"market.customers": [1500]}, sobol=True, progress=False)


def test_sweep_frames_are_identical_with_one_worker_and_with_two(tmp_path):
    """Seeds come from SeedSequence.spawn and rows are ordered by spec, so workers cannot change a result."""
    kw = dict(params={"market.reference_price": [90, 110]}, seeds=2, strategies=FIRMS, overrides=SMALL, master_seed=3, progress=False)
    one = sweep("classroom-v1", workers=1, **kw)
    two = sweep("classroom-v1", workers=2, out_dir=tmp_path, **kw)
    for name in ("results", "runs", "points", "summary"):
        pd.testing.assert_frame_equal(getattr(two, name), getattr(one, name))
    # one row per firm per run, with the parameters, the same replicate seeds at every point
    assert len(one.results) == 2 * 2 * 6
    assert set(one.results["param:market.reference_price"]) == {90, 110}
    assert sorted(set(one.results["seed"])) == sorted(spawn_seeds(3, 2))
    assert one.points["games"].tolist() == [2, 2]
    for name in ("results", "runs", "points", "summary"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{name}.parquet"), getattr(one, name), check_dtype=False)
    # a rerun on the same folder replays nothing and gives the same frames
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.parquet")}
    again = sweep("classroom-v1", workers=2, out_dir=tmp_path, **kw)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.parquet")} == mtimes
    pd.testing.assert_frame_equal(again.results, one.results)


def test_sobol_design_gives_first_order_and_total_indices_per_outcome():
    res = sweep("classroom-v1", bounds={"market.customers": (1500, 2500), "market.reference_price": (80.0, 120.0)},
                sobol=True, samples=2, seeds=1, strategies=FIRMS, master_seed=1, workers=1, progress=False)
    assert res.design == "sobol" and len(res.points) == 2 * (2 + 2)
    idx = res.indices
    assert list(idx.columns) == ["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    outputs = set(idx["output"])
    assert {"mean_score", "bankruptcy_rate", "score:balanced", "score:premium", "score:price_cutter"} <= outputs
    assert len(idx) == 2 * len(outputs)
    varying = [o for o in outputs if np.ptp(res.points[o]) > 0]
    assert varying, "some outcome must vary over the design"
    assert np.isfinite(idx[idx["output"].isin(varying)][["S1", "ST"]].to_numpy()).all()


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_sobol_intervals_repeat_with_the_seed_zero_included_and_leave_the_global_random_state_alone(seed):
    """SALib seeds its bootstrap only for a truthy seed; sobol_indices hands it one for every seed, 0 too."""
    from crmsim.research.sweep import sobol_indices

    design, problem = sample_design({"a": (0, 1), "b": (0, 1)}, "sobol", 8, sobol_indices=True)
    points = pd.DataFrame({"mean_score": [p["a"] + 2 * p["b"] ** 2 for p in design]})
    np.random.seed(1)
    first = sobol_indices(points, problem, seed=seed)
    np.random.seed(2)
    state = np.random.get_state()[1].copy()
    second = sobol_indices(points, problem, seed=seed)
    assert (np.random.get_state()[1] == state).all()
    assert np.isfinite(first[["S1_conf", "ST_conf"]].to_numpy()).all()
    pd.testing.assert_frame_equal(first, second)


def test_sobol_warnings_name_the_unstable_parameter_and_a_larger_n():
    from crmsim.research.sweep import sobol_warnings

    indices = pd.DataFrame([
        {"output": "mean_score", "parameter": "a", "S1": 1.2, "S1_conf": 0.1, "ST": 0.9, "ST_conf": 0.05},
        {"output": "bankruptcy_rate", "parameter": "a", "S1": 0.3, "S1_conf": 0.1, "ST": -0.2, "ST_conf": 0.1},
        {"output": "mean_score", "parameter": "b", "S1": 0.01, "S1_conf": 0.03, "ST": 0.02, "ST_conf": 0.04},  # within tolerance
        {"output": "void_bid_rate", "parameter": "c", "S1": np.nan, "S1_conf": np.nan, "ST": np.nan, "ST_conf": np.nan},
    ])
    assert sobol_warnings(indices, 8) == [
        "Sobol indices of a are unstable with N = 8: mean_score S1 = 1.20 ± 0.10, bankruptcy_rate ST = -0.20 ± 0.10 "
        "(an index lies in [0, 1]); use a larger N, such as --samples 64"
    ]


def test_a_small_sobol_sweep_warns_and_says_so_in_its_report(tmp_path):
    import json

    from crmsim.research.sweep import SobolWarning

    with pytest.warns(SobolWarning, match="Sobol indices of market.reference_price are unstable with N = 2"):
        res = sweep("classroom-v1", bounds={"market.reference_price": (80.0, 120.0), "market.price_cap": (150.0, 200.0)}, sobol=True,
                    samples=2, seeds=1, strategies=FIRMS, overrides=SMALL, workers=1, progress=False, out_dir=tmp_path)
    assert res.warnings and json.loads((tmp_path / "sweep.json").read_text())["warnings"] == res.warnings
