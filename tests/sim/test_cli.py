"""The crmsim command: run with bots, write frames, replay identically, list and check scenarios."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import crmsim
from crmsim.cli import build_parser, main, replay_difference


def test_run_writes_frames_and_log_then_replay_is_identical(tmp_path, capsys):
    out = tmp_path / "game"
    assert main(["run", "classroom-v1", "--seed", "4", "--firms", "balanced,premium,price_cutter", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Final standings" in text and "classroom-v1" in text
    for name in ("firms", "bids", "tenders", "relationships", "events", "decisions", "market"):
        assert (out / f"{name}.csv").exists() and (out / f"{name}.parquet").exists()
    firms = pd.read_parquet(out / "firms.parquet")
    assert len(firms) == 6 * 12 and set(firms.strategy) == {"balanced", "premium", "price_cutter"}
    log = json.loads((out / "decisions.json").read_text())
    assert log["seed"] == 4 and len(log["periods"]) == 12
    assert main(["run", "--replay", str(out / "decisions.json"), "--quiet", "--out", str(tmp_path / "again")]) == 0
    assert "replay identical" in capsys.readouterr().out
    again = pd.read_parquet(tmp_path / "again" / "firms.parquet")
    pd.testing.assert_frame_equal(again, firms)


def test_replay_detects_a_tampered_log_and_names_the_firm_period_column_and_values(tmp_path, capsys):
    out = tmp_path / "game"
    main(["run", "--seed", "2", "--out", str(out), "--quiet", "--format", "parquet"])
    capsys.readouterr()
    log = json.loads((out / "decisions.json").read_text())
    first = log["periods"][0]["decisions"]["0"]
    recorded = first["price"]
    first["price"] = recorded * 0.9
    (out / "decisions.json").write_text(json.dumps(log))
    assert main(["run", "--replay", str(out), "--quiet"]) == 1
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith(f"replay differs from the recorded results in {out}: "
                           f"period 1, firm 0 (Aurora), column price: recorded {recorded!r}, replayed {recorded * 0.9!r} (")
    assert text.endswith("more cells differ)") and "DataFrame" not in text  # one sentence, not a pandas dump


def test_replay_difference_names_the_first_differing_cell_and_counts_the_rest():
    recorded = pd.DataFrame({"period": [1, 1, 2, 2], "firm": [0, 1, 0, 1], "name": ["Aurora", "Beacon"] * 2,
                             "cash": [10.0, float("nan"), 30.0, 40.0], "customers": [5, 6, 7, 8]})
    assert replay_difference(recorded.copy(), recorded) is None  # NaN equals NaN
    replayed = recorded.assign(cash=[10.0, float("nan"), 31.5, 40.0], customers=[5, 6, 7, 9])
    assert replay_difference(replayed, recorded) == "period 2, firm 0 (Aurora), column cash: recorded 30.0, replayed 31.5 (1 more cells differ)"
    assert replay_difference(recorded.assign(customers=[5, 6, 7, 9]), recorded) == (
        "period 2, firm 1 (Beacon), column customers: recorded 8, replayed 9")
    assert replay_difference(recorded.head(3), recorded) == "the replay has 3 firm-period rows, the recorded results 4"
    assert replay_difference(recorded.drop(columns="cash"), recorded) == "the columns differ: only recorded: cash; only replayed: -"
    assert replay_difference(recorded.astype({"customers": float}), recorded) == (
        "equal values but different column types: customers (recorded int64, replayed float64)")


def test_a_bad_replay_log_is_a_one_line_error_naming_the_option(tmp_path, capsys):
    assert main(["run", "--replay", str(tmp_path / "nowhere.json"), "--quiet"]) == 2
    assert " ".join(capsys.readouterr().out.split()) == f"error: --replay: {tmp_path / 'nowhere.json'}: no such decision log"
    other = tmp_path / "other.json"
    other.write_text('{"format": "someone-elses-log", "periods": []}')
    assert main(["run", "--replay", str(other), "--quiet"]) == 2
    assert " ".join(capsys.readouterr().out.split()) == (
        f"error: --replay {other}: not a crmsim decision log (format 'crmsim-decisions-v1' expected; got 'someone-elses-log')")


def test_a_bug_is_not_reported_as_a_user_error(monkeypatch, capsys):
    """A ValueError from inside the engine is a bug: it keeps its traceback instead of becoming `error: ...`, exit 2."""
    from crmsim.sim.model import CRMModel

    def broken_run(self, progress=None):
        raise ValueError("an engine bug")

    monkeypatch.setattr(CRMModel, "run", broken_run)
    with pytest.raises(ValueError, match="an engine bug"):
        main(["run", "--quiet"])
    assert "error:" not in capsys.readouterr().out


def test_the_console_script_prints_a_bugs_traceback_and_exits_1(tmp_path):
    code = ("import sys; from crmsim.sim.model import CRMModel\n"
            "def broken(self, progress=None): raise ValueError('an engine bug')\n"
            "CRMModel.run = broken\n"
            "from crmsim.cli import main; sys.exit(main(['run', '--quiet']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and done.stderr.rstrip().endswith("ValueError: an engine bug")


def test_version_comes_from_the_package(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"crmsim {crmsim.__version__}"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{parser.prog} {name}".removeprefix("crmsim ")] = sub
                found.update(_subcommands(sub))
    return found


def test_every_option_has_help_and_its_default_in_the_help():
    commands = _subcommands(build_parser())
    assert {"run", "serve", "sweep", "validate", "scenarios check"} <= set(commands)
    for name, parser in commands.items():
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"crmsim {name} {action.dest}: no help text"
            informative = action.default is not None and action.default is not False
            if informative:
                assert f"(default: {action.default})" in text, f"crmsim {name} {action.dest}: default {action.default!r} not shown"
    serve, run = commands["serve"].format_help(), commands["run"].format_help()
    for shown in ("(default: 127.0.0.1)", "(default: 5000)", "(default: 8)"):
        assert shown in " ".join(serve.split())
    assert "(default: 1)" in " ".join(run.split())


def test_a_bad_count_is_refused_by_the_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", "70000"])
    assert exit_.value.code == 2
    assert "argument --port: must be <= 65535; got 70000" in capsys.readouterr().err


def test_unknown_bot_is_a_clear_error(capsys):
    assert main(["run", "--firms", "balanced,wizard", "--quiet"]) == 2
    assert "unknown bot 'wizard'" in capsys.readouterr().out


def test_scenarios_list_and_check(tmp_path, capsys):
    assert main(["scenarios", "list"]) == 0
    assert "classroom-v1" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "classroom-v1"\nname = "bad-v1"\nperiods = 0\n')
    assert main(["scenarios", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "periods" in out and "greater than or equal to 1" in out


def test_customer_panel_export(tmp_path):
    out = tmp_path / "g"
    assert main(["run", "--seed", "1", "--out", str(out), "--quiet", "--customers", "--format", "parquet"]) == 0
    panel = pd.read_parquet(out / "customers.parquet")
    assert {"customer", "period", "supplier", "satisfaction", "bought"} <= set(panel.columns)
    assert panel.period.nunique() == 12


def test_a_log_recorded_before_the_declared_frames_still_replays_identically(capsys):
    """tests/fixtures/replay/classroom-v1 was recorded at a04f3a9: counts as floats, no run_id, fewer columns.
    The replay compares every recorded column by value and names the columns added since."""
    folder = Path(__file__).parents[1] / "fixtures" / "replay" / "classroom-v1"
    assert main(["run", "--replay", str(folder), "--quiet"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "replay identical" in out and "not compared: run_id, seed," in out


def test_values_only_ignores_a_column_type_but_not_a_value():
    recorded = pd.DataFrame({"period": [1, 1], "firm": [0, 1], "name": ["Aurora", "Beacon"], "customers": [5.0, 8.0]})
    assert replay_difference(recorded.astype({"customers": "int64"}), recorded, values_only=True) is None
    assert replay_difference(recorded.assign(customers=[5, 9]), recorded, values_only=True) == (
        "period 1, firm 1 (Beacon), column customers: recorded 8.0, replayed 9")
