"""The research subcommands of `crmsim`: sweep, tournament and balance write Parquet and print tables;
bad input is a one-line error; importing the CLI imports neither research nor dask."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pandas as pd

from crmsim.cli import main

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


def test_balance_command_prints_the_reports_verdict_and_summary(tmp_path, capsys, monkeypatch):
    """The handler passes its arguments to research.balance.balance_report (a stand-in here) and prints the result."""
    calls = {}

    def balance_report(scenario, seeds, out_dir, executor=None, workers=None, progress=True, **extra):
        calls.update(scenario=scenario, seeds=seeds, out_dir=Path(out_dir), executor=executor, workers=workers, progress=progress, **extra)
        summary = pd.DataFrame({"strategy": ["balanced", "premium"], "win_rate": [0.5, 0.25]})
        return types.SimpleNamespace(verdict="balanced: no strategy dominates", summary=summary, plots=[str(tmp_path / "ranks.png")])

    fake = types.ModuleType("crmsim.research.balance")
    fake.balance_report = balance_report
    monkeypatch.setitem(sys.modules, "crmsim.research.balance", fake)
    assert main(["balance", "classroom-v1", "--seeds", "7", "--out", str(tmp_path / "bal"), "--workers", "2", "--quiet"]) == 0
    assert calls == {"scenario": "classroom-v1", "seeds": 7, "out_dir": tmp_path / "bal", "executor": None, "workers": 2, "progress": False}
    calls.clear()
    assert main(["balance", "classroom-v1", "--seeds", "2", "--seed", "9", "--set", "market.customers=1500",
                 "--out", str(tmp_path / "bal"), "--quiet"]) == 0
    assert calls["master_seed"] == 9 and calls["overrides"] == {"market.customers": 1500}
    text = capsys.readouterr().out
    assert "balanced: no strategy dominates" in text and "premium" in text and "ranks.png" in text


def test_bad_research_arguments_are_one_line_errors(tmp_path, capsys):
    out = str(tmp_path / "x")
    assert main(["sweep", "classroom-v1", "--param", "market.customers", "--out", out]) == 2
    assert "--param: expected KEY=VALUE" in capsys.readouterr().out
    assert main(["sweep", "classroom-v1", "--bounds", "market.reference_price=80", "--out", out]) == 2
    assert "expected low:high" in capsys.readouterr().out
    assert main(["sweep", "classroom-v1", "--param", "market.customers=-5", "--out", out, "--quiet"]) == 2
    assert "market.customers" in capsys.readouterr().out
    assert main(["tournament", "classroom-v1", "--strategies", "balanced,wizard", "--out", out]) == 2
    assert "unknown bot 'wizard'" in capsys.readouterr().out


def test_importing_the_cli_imports_neither_research_nor_dask_nor_flask():
    code = ("import sys, crmsim.sim, crmsim.cli; bad = [m for m in sys.modules if m.startswith('crmsim.research') or m.split('.')[0] in "
            "('dask', 'distributed', 'flask', 'SALib')]; print(bad); sys.exit(bool(bad))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
