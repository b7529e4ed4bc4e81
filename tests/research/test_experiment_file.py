"""research/experiment_file.py: an experiment file names a design (parameters, ranges, line-ups, seeds,
outcomes), is validated with errors naming the file, the key, the rule and the value, and runs on the sweep
machinery; `crmsim experiment FILE` prints and writes the outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from crmsim.cli import main
from crmsim.research.experiment_file import ExperimentError, check_experiment, read_experiment, run_experiment
from crmsim.research.sweep import SobolWarning, sweep
from crmsim.sim.export import read_provenance

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "experiment.toml"
TINY = '''
name = "tiny"
scenario = "classroom-v1"
seeds = 2
master_seed = 3
outcomes = ["mean_score", "bankruptcy_rate", "score:premium"]
lineups = [["balanced", "premium"], ["premium(price_premium=1.25)", "price_cutter"]]

[parameters.market]
reference_price = [90, 110]

[fixed]
"market.customers" = 1500
"market.track_customers" = 200
'''


def _file(folder: Path, text: str) -> Path:
    path = folder / "exp.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_example_is_a_valid_experiment():
    exp = read_experiment(EXAMPLE)
    assert exp.grid == {"costs.credit_line": [0, 100000, 200000], "market.choice_price": [1.5, 2.5, 3.5]}
    assert len(exp.lineups) == 2 and exp.spec.seeds == 10


def test_an_experiment_runs_each_lineup_as_a_sweep_and_reports_the_outcomes_asked_for(tmp_path):
    exp = read_experiment(_file(tmp_path, TINY))
    res = run_experiment(exp, out_dir=tmp_path / "out", workers=1, progress=False)
    by_hand = sweep("classroom-v1", {"market.reference_price": [90, 110]}, seeds=2, master_seed=3, strategies=["balanced", "premium"],
                    overrides={"market.customers": 1500, "market.track_customers": 200}, workers=1, progress=False)
    first = res.outcomes[res.outcomes["lineup"] == 1].reset_index(drop=True)
    assert first["market.reference_price"].tolist() == [90, 110] and first["games"].tolist() == [2, 2]
    for col in ("mean_score", "mean_score_ci", "bankruptcy_rate", "score:premium"):
        assert first[col].tolist() == by_hand.points[col].tolist()
    assert list(res.outcomes.columns) == ["lineup", "strategies", "point", "market.reference_price", "games", "mean_score",
                                          "mean_score_ci", "bankruptcy_rate", "score:premium"]
    assert res.outcomes["strategies"].unique().tolist() == ["balanced,premium,balanced,premium,balanced,premium",
                                                            "premium(price_premium=1.25),price_cutter," * 2 + "premium(price_premium=1.25),price_cutter"]
    assert res.outcomes.loc[res.outcomes["lineup"] == 2, "score:premium"].isna().all()
    written = pd.read_parquet(tmp_path / "out" / "outcomes.parquet")
    pd.testing.assert_frame_equal(written, res.outcomes)
    meta = json.loads((tmp_path / "out" / "experiment.json").read_text())
    assert meta["experiment"]["parameters"] == {"market.reference_price": [90, 110]}
    assert meta["provenance"] == read_provenance(tmp_path / "out" / "outcomes.parquet") == res.provenance
    assert (tmp_path / "out" / "lineup-2" / "runs").is_dir()


@pytest.mark.parametrize(("change", "problem"), [
    ({"seeds": 0}, "seeds: Input should be greater than or equal to 1; got 0"),
    ({"parameters": {"market.customer": [1500]}}, "parameters.market.customer: not a sweepable setting (did you mean market.customers?)"),
    ({"parameters": {"market.customers": [5, 1500]}}, "parameters.market.customers.0: must be >= 10 ([10, 50000000]); got 5"),
    ({"parameters": {"market.customers": 1500}}, "market.customers: give a list of values or a range {low, high}; got 1500"),
    ({"parameters": {"market.customers": {"low": 1000, "high": 2000}}}, "a grid needs a list of values, or a range with steps"),
    ({"design": {"kind": "lhs"}}, "parameters.market.reference_price: a lhs design needs a range {low, high}"),
    ({"design": {"kind": "grid", "sobol_indices": True}}, "design.sobol_indices: Sobol indices need design.kind = 'sobol'; got kind 'grid'"),
    ({"lineups": [["wizard"]]}, "lineups.0.0: unknown bot 'wizard'"),
    ({"lineups": [["premium"] * 7]}, "lineups.0: 7 strategies for 6 firms"),
    ({"outcomes": ["score:adaptive"]}, "outcomes.0: must be one of mean_score, bankruptcy_rate, void_bid_rate, failed_tender_rate, score:balanced"),
    ({"fixed": {"market.reference_price": 100}}, "fixed.market.reference_price: a parameter cannot also be fixed; got 100"),
    ({"parameters": {"firms.count": [4, 6]}}, "parameters.firms.count: the number of seats cannot vary across a sweep's points"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted; got 'red'"),
    ({"imports": ["missing_strategies.py"]}, "imports.0: no such file; got 'missing_strategies.py'"),
])
def test_problems_name_the_file_the_key_the_rule_and_the_value(change, problem):
    data = {"scenario": "classroom-v1", "parameters": {"market.reference_price": [90, 110]}, "lineups": [["balanced", "premium"]],
            **change}
    with pytest.raises(ExperimentError) as caught:
        check_experiment(data, "study.toml")
    assert str(caught.value).startswith("study.toml: invalid experiment\n")
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_the_seat_count_may_be_fixed_and_line_ups_are_checked_against_it():
    data = {"scenario": "large-market-v1", "parameters": {"market.reference_price": [90, 110]}, "fixed": {"firms.count": 4}}
    assert check_experiment({**data, "lineups": [["balanced", "premium"]]}, "study.toml").lineups == [["balanced", "premium"]]
    with pytest.raises(ExperimentError, match=r"lineups.0: 5 strategies for 4 firms"):
        check_experiment({**data, "lineups": [["balanced"] * 5]}, "study.toml")


def test_a_scenario_path_and_imports_are_read_relative_to_the_file(tmp_path, plugin_module):
    name, folder = plugin_module()
    (tmp_path / "mine-v1.toml").write_text('extends = "classroom-v1"\nname = "mine-v1"\n', encoding="utf-8")
    (tmp_path / "bots.py").write_text((folder / f"{name}.py").read_text(), encoding="utf-8")
    exp = check_experiment({"scenario": "mine-v1.toml", "imports": ["bots.py"], "lineups": [["bots:LoyaltyFirst", "premium"]],
                            "parameters": {"market.reference_price": [100]}}, "x.toml", tmp_path)
    assert exp.scenario == str((tmp_path / "mine-v1.toml").resolve())


def test_a_sobol_experiment_warns_when_n_is_too_small(tmp_path, capsys):
    text = TINY.replace("[parameters.market]\nreference_price = [90, 110]",
                        '[design]\nkind = "sobol"\nsamples = 2\nsobol_indices = true\n\n[parameters]\n'
                        '"market.reference_price" = {low = 80, high = 120}\n"market.price_cap" = {low = 150, high = 200}')
    text = text.replace('lineups = [["balanced", "premium"], ["premium(price_premium=1.25)", "price_cutter"]]',
                        'lineups = [["balanced", "premium"]]').replace("seeds = 2", "seeds = 1")
    path = _file(tmp_path, text)
    with pytest.warns(SobolWarning, match="line-up 1: Sobol indices of market"):
        res = run_experiment(path, workers=1, progress=False)
    assert len(res.outcomes) == 2 * (2 + 2) and set(res.indices["output"]) <= {"mean_score", "bankruptcy_rate", "score:premium"}
    assert main(["experiment", str(path), "--workers", "1", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "warning:" in out and "use a larger N, such as --samples 64" in out and "Sobol indices" in out
    assert json.loads((tmp_path / "out" / "experiment.json").read_text())["warnings"] == res.warnings


def test_the_experiment_command_reports_an_invalid_file_in_one_message(tmp_path, capsys):
    path = _file(tmp_path, TINY.replace("seeds = 2", "seeds = -1"))
    assert main(["experiment", str(path), "--out", str(tmp_path / "out")]) == 2
    assert f"{path}: invalid experiment" in capsys.readouterr().out
