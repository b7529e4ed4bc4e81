"""The crmsim command: run with bots, write frames, replay identically, list and check scenarios."""

from __future__ import annotations

import json

import pandas as pd

from crmsim.cli import main


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


def test_replay_detects_a_tampered_log(tmp_path, capsys):
    out = tmp_path / "game"
    main(["run", "--seed", "2", "--out", str(out), "--quiet", "--format", "parquet"])
    log = json.loads((out / "decisions.json").read_text())
    first = log["periods"][0]["decisions"]["0"]
    first["price"] = first["price"] * 0.9
    (out / "decisions.json").write_text(json.dumps(log))
    assert main(["run", "--replay", str(out), "--quiet"]) == 1
    assert "differs" in capsys.readouterr().out


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
