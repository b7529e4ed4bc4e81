"""The research subcommands of `crmsim`: sweep, tournament and balance write Parquet and print tables;
bad input is a one-line error; importing the CLI imports neither research nor dask."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from crmsim.cli import main
from crmsim.research.runner import spawn_seeds

SMALL = ["--set", "market.customers=1500"]


def test_sweep_command_writes_parquet_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "classroom-v1", "--param", "market.reference_price=90,110", "--seeds", "1", "--workers", "1",
            "--firms", "balanced,premium", "--out", str(out), "--quiet", *SMALL]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "mean outcomes per point" in text and "market.reference_price" in text and "2 games" in text
    results = pd.read_parquet(out / "results.parquet")
    assert len(results) == 2 * 6 and {"param:market.reference_price", "param:market.customers"} <= set(results.columns)
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary["strategy"]) == {"balanced", "premium"} and len(summary) == 2 * 2
    assert main(argv) == 0  # a rerun reads the finished runs
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), results)


def test_sweep_command_with_a_sobol_design_prints_indices(tmp_path, capsys):
    out = tmp_path / "sobol"
    assert main(["sweep", "classroom-v1", "--bounds", "market.reference_price=80:120", "--sobol", "--samples", "1",
                 "--seeds", "1", "--workers", "1", "--firms", "balanced,premium", "--out", str(out), "--quiet", *SMALL]) == 0
    assert "Sobol indices" in capsys.readouterr().out
    indices = pd.read_parquet(out / "sobol.parquet")
    assert set(indices["parameter"]) == {"market.reference_price"} and "mean_score" in set(indices["output"])


def test_tournament_command_says_when_it_samples_lineups(tmp_path, capsys):
    out = tmp_path / "tour"
    assert main(["tournament", "classroom-v1", "--strategies", "balanced,premium,price_cutter", "--seeds", "1",
                 "--max-lineups", "2", "--workers", "1", "--out", str(out), "--quiet", *SMALL]) == 0
    text = capsys.readouterr().out
    assert "sampled" in text and "2 of 28 lineups" in text and "mean_rank" in text
    table = pd.read_parquet(out / "table.parquet")
    assert {"strategy", "mean_rank", "mean_rank_ci", "win_rate", "win_rate_ci"} <= set(table.columns)
    assert (out / "results.parquet").exists() and (out / "matrix.parquet").exists()


def test_balance_command_plays_the_report_with_its_options_and_prints_verdict_summary_and_plots(tmp_path, capsys):
    """A real, small balance report: --seeds replicates with seeds from --seed, --set reaches every game, --quiet
    shows no progress bar; the printed verdict, summary and plots are the ones written to --out."""
    out = tmp_path / "bal"
    assert main(["balance", "classroom-v1", "--seeds", "2", "--seed", "9", "--set", "market.customers=500",
                 "--egta-seeds", "1", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    printed = capsys.readouterr()
    text = " ".join(printed.out.split())
    rows = pd.read_csv(out / "rows.csv")
    assert sorted(set(rows["seed"])) == sorted(spawn_seeds(9, 2))
    assert set(rows["param:market.customers"]) == {500}
    summary = pd.read_csv(out / "summary.csv").set_index("metric")
    sets = rows[rows["tag:set"] != "egta"]  # the field, standing, reckless and quality sets, seats rotated per seed
    assert summary.loc["games", "value"] == 4 * 2 == sets["run_id"].nunique()
    assert rows[rows["tag:set"] == "egta"]["run_id"].nunique() == 7 * 7  # one game per cell of the payoff table
    assert "Game facts of classroom-v1" in text and "Nash mixture" in text
    report = (out / "report.md").read_text(encoding="utf-8")
    verdict = [line.removeprefix("- ") for line in report.split("## Verdict")[1].split("##")[0].strip().splitlines()]
    assert verdict and all(line in text for line in verdict)
    assert all(metric in text for metric in summary.index)
    plots = ["scores_by_strategy.png", "rates_by_strategy.png", "final_cash.png"]
    for name in plots:
        assert f"plot: {out / name}" in text and (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "game/s" not in printed.err  # --quiet


def test_bad_research_arguments_are_one_line_errors(tmp_path, capsys):
    out = str(tmp_path / "x")
    assert main(["sweep", "classroom-v1", "--param", "market.customers", "--out", out]) == 2
    assert "--param: expected KEY=VALUE" in capsys.readouterr().out
    assert main(["sweep", "classroom-v1", "--bounds", "market.reference_price=80", "--out", out]) == 2
    assert "expected low:high" in capsys.readouterr().out
    assert main(["sweep", "classroom-v1", "--param", "market.customers=-5", "--out", out, "--quiet"]) == 2
    assert " ".join(capsys.readouterr().out.split()) == (
        "error: --param market.customers=-5: market.customers: Input should be greater than or equal to 10; got -5")
    assert main(["sweep", "classroom-v1", "--param", "market.customers=2000,5", "--out", out, "--quiet"]) == 2
    assert "error: --param market.customers=2000,5: market.customers:" in capsys.readouterr().out
    assert main(["balance", "classroom-v1", "--set", "market.no_such_setting=1", "--out", out, "--quiet"]) == 2
    assert "error: --set market.no_such_setting=1: market.no_such_setting: Extra inputs are not permitted" in capsys.readouterr().out
    assert main(["sweep", "classroom-v1", "--out", out, "--quiet"]) == 2  # the library's own check of the options
    assert "error: params: give at least one parameter" in capsys.readouterr().out
    assert main(["validate", "--params", "bogus", "--seeds", "1", "--no-holdout", "--workers", "1", "--out", out, "--quiet"]) == 2
    assert "error: --params: 'bogus' is not a real-valued market parameter" in capsys.readouterr().out
    assert main(["tournament", "classroom-v1", "--strategies", "balanced,wizard", "--out", out]) == 2
    assert "unknown bot 'wizard'" in capsys.readouterr().out


def test_importing_the_cli_imports_neither_research_nor_dask_nor_flask():
    code = ("import sys, crmsim.sim, crmsim.cli; bad = [m for m in sys.modules if m.startswith('crmsim.research') or m.split('.')[0] in "
            "('dask', 'distributed', 'flask', 'SALib')]; print(bad); sys.exit(bool(bad))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_validate_exits_1_when_a_check_fails_and_says_how_many(tmp_path, capsys):
    """Two seeds give wide bands, so some facts cannot be confirmed: the command fails, naming the count."""
    out = tmp_path / "val"
    status = main(["validate", "classroom-v1", "--seeds", "2", "--sensitivity-seeds", "0", "--no-holdout",
                   "--workers", "1", "--out", str(out), "--quiet"])
    facts = pd.read_csv(out / "facts.csv")
    failed = int((~facts["passed"]).sum())
    assert failed > 0 and status == 1
    assert f"{failed} of {len(facts)} stylised-fact checks fail" in " ".join(capsys.readouterr().out.split())


MISSING = "import sys; sys.modules[{module!r}] = None; from crmsim.cli import main; sys.exit(main({argv!r}))"


@pytest.mark.parametrize(("command", "module"), [
    (["sweep", "classroom-v1", "--param", "market.customers=2000"], "dask"),
    (["tournament", "classroom-v1"], "pettingzoo"),
    (["balance", "classroom-v1"], "scipy"),
    (["validate"], "SALib"),
    (["calibrate", "orders.csv"], "gymnasium"),
])
def test_a_research_command_without_the_research_extra_says_what_to_install(tmp_path, command, module):
    """A base install lacks the research extra (simulated: the module cannot be imported): one line, exit 2."""
    done = subprocess.run([sys.executable, "-c", MISSING.format(module=module, argv=command)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert " ".join(done.stdout.split()) == (f"error: crmsim {command[0]} needs the research extra: "
                                             f"pip install 'crmsim[research]' (missing: {module})")
    assert "Traceback" not in done.stderr and not list(tmp_path.iterdir())  # nothing ran, nothing written
