"""Plug-in strategies: the registry resolves built-in names, entry points of the crmsim.strategies group and
"module:Class" specs in one place; parameterised instances have stable labels and run ids; every batch command
takes --strategy and --import."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pandas as pd
import pytest

from crmsim.agents.bots import (
    Premium,
    Strategy,
    lineup,
    make_bot,
    parse_spec,
    plugin_strategies,
    strategy_class,
    strategy_label,
)
from crmsim.cli import main
from crmsim.research.runner import RunSpec, execute, spawn_seeds

SMALL = ["--set", "market.customers=1500", "--set", "market.track_customers=200"]


def _entry_point(folder, module: str, name: str = "loyalty_first") -> None:
    """Install a distribution's metadata in `folder` (on sys.path) offering module:LoyaltyFirst as `name`."""
    info = folder / "crm_loyalty-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crm-loyalty\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[crmsim.strategies]\n{name} = {module}:LoyaltyFirst\n", encoding="utf-8")


def test_specs_parse_into_a_name_and_literal_fields():
    assert parse_spec("premium") == ("premium", {})
    assert parse_spec(" my_bots.sub:Outer.Inner( a = 1, b='x', c=(1, 2) ) ") == ("my_bots.sub:Outer.Inner", {"a": 1, "b": "x", "c": (1, 2)})
    for bad, rule in (("premium(1.2)", "key=value"), ("premium(x=open('f'))", "literal"), ("two words", "bot name or module:Class")):
        with pytest.raises(ValueError, match=rule):
            parse_spec(bad)


def test_one_lookup_for_builtin_names_module_class_specs_and_instances(plugin_module):
    name, _ = plugin_module()
    module = importlib.import_module(name)
    assert strategy_class("premium") is Premium
    assert strategy_class(f"{name}:LoyaltyFirst") is module.LoyaltyFirst
    assert make_bot(f"{name}:LoyaltyFirst(care_factor=3.5)") == module.LoyaltyFirst(care_factor=3.5)
    assert make_bot("crmsim.agents.bots:Premium(service=0.9)") == Premium(service=0.9)
    bot = module.LoyaltyFirst()
    assert make_bot(bot) is bot
    with pytest.raises(ValueError, match="unknown bot 'wizard'; known bots: .*premium.*or give module:Class"):
        make_bot("wizard")
    with pytest.raises(ValueError, match="cannot import module 'no_such_module'"):
        make_bot("no_such_module:Bot")
    with pytest.raises(ValueError, match="must be a subclass of crmsim.agents.bots.Strategy"):
        make_bot("crmsim.agents.bots:clamp")
    with pytest.raises(ValueError, match=r"unexpected keyword argument 'speed' \(fields of LoyaltyFirst: care_factor\)"):
        make_bot(f"{name}:LoyaltyFirst(speed=2)")


def test_an_entry_point_of_the_crmsim_strategies_group_is_a_bot_name(plugin_module, monkeypatch):
    name, folder = plugin_module()
    _entry_point(folder, name)
    plugin_strategies.cache_clear()
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        module = importlib.import_module(name)
        assert plugin_strategies()["loyalty_first"].value == f"{name}:LoyaltyFirst"
        assert type(make_bot("loyalty_first")) is module.LoyaltyFirst
        assert make_bot("loyalty_first(care_factor=1.5)").care_factor == 1.5
        # named by its entry point wherever it appears
        assert strategy_label(module.LoyaltyFirst()) == "loyalty_first"
        assert strategy_label(f"{name}:LoyaltyFirst(care_factor=1.5)") == "loyalty_first(care_factor=1.5)"
        assert lineup(["loyalty_first", "premium"], 3) == ["loyalty_first", "premium", "loyalty_first"]
    finally:
        plugin_strategies.cache_clear()


def test_labels_name_a_class_and_the_fields_that_differ_from_its_defaults(plugin_module):
    name, _ = plugin_module()
    module = importlib.import_module(name)
    assert strategy_label("premium") == strategy_label(Premium()) == strategy_label("crmsim.agents.bots:Premium") == "premium"
    assert strategy_label(Premium(price_premium=1.25)) == strategy_label("premium(price_premium=1.25)") == "premium(price_premium=1.25)"
    assert strategy_label(module.LoyaltyFirst(care_factor=3.0)) == f"{name}:LoyaltyFirst(care_factor=3.0)"
    assert strategy_label(module.LoyaltyFirst()) == f"{name}:LoyaltyFirst"

    class Policy(Strategy):
        def __init__(self, weights):
            self.weights = weights

    with pytest.raises(ValueError, match="no stable label"):
        strategy_label(module.LoyaltyFirst(care_factor=object()))
    named = Policy(object())
    named.label = "ppo-2024-seed3"
    assert strategy_label(named) == "ppo-2024-seed3"


def test_a_runspec_with_a_parameterised_instance_has_a_stable_run_id_and_plays_a_copy(plugin_module):
    name, _ = plugin_module()
    module = importlib.import_module(name)
    seats = (Premium(price_premium=1.25), "balanced", module.LoyaltyFirst(care_factor=3.0)) * 2
    overrides = (("market.customers", 1500), ("market.track_customers", 200))
    spec = RunSpec("classroom-v1", seats, 11, overrides)
    by_spec = RunSpec("classroom-v1", ("premium(price_premium=1.25)", "balanced", f"{name}:LoyaltyFirst(care_factor=3.0)") * 2, 11, overrides)
    assert spec.run_id == by_spec.run_id
    assert RunSpec("classroom-v1", (Premium(price_premium=1.3), *seats[1:]), 11, overrides).run_id != spec.run_id
    code = (f"import sys; sys.path.insert(0, {str(sys.modules[name].__file__.rsplit('/', 1)[0])!r}); "
            f"from {name} import LoyaltyFirst; from crmsim.agents.bots import Premium; from crmsim.research.runner import RunSpec; "
            f"print(RunSpec('classroom-v1', (Premium(price_premium=1.25), 'balanced', LoyaltyFirst(care_factor=3.0)) * 2, 11, {overrides!r}).run_id)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == spec.run_id
    rows = execute([spec, by_spec], workers=1, progress=False)
    assert rows["strategy"].tolist()[:3] == ["premium(price_premium=1.25)", "balanced", f"{name}:LoyaltyFirst(care_factor=3.0)"]
    pd.testing.assert_frame_equal(rows.iloc[:6].reset_index(drop=True), rows.iloc[6:].reset_index(drop=True))
    assert seats[0] == Premium(price_premium=1.25)  # the spec's instances are not played (and not changed)


def test_every_batch_command_plays_a_strategy_named_by_module_class(plugin_module, tmp_path, capsys, monkeypatch):
    name, folder = plugin_module()
    monkeypatch.chdir(folder)
    spec = f"{name}:LoyaltyFirst(care_factor=3.0)"
    label = spec
    assert main(["run", "classroom-v1", "--seed", "2", "--strategy", spec, "--out", str(tmp_path / "run"), "--format", "parquet",
                 "--quiet"]) == 0
    firms = pd.read_parquet(tmp_path / "run" / "firms.parquet")
    assert firms[firms["firm"] == 0]["strategy"].iloc[0] == "loyalty_first"  # the engine's frames name the class
    lineup_run = json.loads((tmp_path / "run" / "decisions.json").read_text())["provenance"]["lineup"]
    assert lineup_run == [label, "balanced", "price_cutter", "premium", "relationship", "researcher"]
    assert main(["sweep", "classroom-v1", "--param", "market.reference_price=100", "--seeds", "1", "--workers", "1",
                 "--firms", "premium", "--strategy", spec, "--out", str(tmp_path / "sweep"), "--quiet", *SMALL]) == 0
    assert set(pd.read_parquet(tmp_path / "sweep" / "results.parquet")["strategy"]) == {"premium", label}
    assert main(["tournament", "classroom-v1", "--strategies", "premium", "--strategy", spec, "--seeds", "1", "--max-lineups", "2",
                 "--workers", "1", "--out", str(tmp_path / "tour"), "--quiet", *SMALL]) == 0
    assert set(pd.read_parquet(tmp_path / "tour" / "table.parquet")["strategy"]) <= {"premium", label}
    assert main(["balance", "classroom-v1", "--firms", "premium,balanced", "--strategy", spec, "--seeds", "1", "--workers", "1",
                 "--out", str(tmp_path / "bal"), "--quiet", *SMALL]) == 0
    assert json.loads((tmp_path / "bal" / "balance.json").read_text())["lineups"] == [["premium", "balanced", spec] * 2]
    assert "Paired score differences" in capsys.readouterr().out


def test_import_loads_a_file_that_registers_names(plugin_module, tmp_path, capsys):
    name, folder = plugin_module(register=True)
    sys.path.remove(str(folder))  # reachable only through --import
    assert main(["tournament", "classroom-v1", "--import", str(folder / f"{name}.py"), "--strategies", "premium,loyalty_first",
                 "--seeds", "1", "--max-lineups", "2", "--workers", "2", "--out", str(tmp_path / "t"), "--quiet", *SMALL]) == 0
    assert set(pd.read_parquet(tmp_path / "t" / "results.parquet")["strategy"]) <= {"premium", "loyalty_first"}
    assert main(["tournament", "classroom-v1", "--import", "no_such_module_xyz", "--out", str(tmp_path / "x")]) == 2
    assert "--import no_such_module_xyz: cannot import it" in capsys.readouterr().out


def test_firms_take_names_an_import_registers_and_module_class_from_the_current_folder(plugin_module, tmp_path, monkeypatch):
    """--firms is checked after the --import modules ran (they may add names to BOTS), and a module:Class in
    --firms or --strategies is found in the folder the command runs from, as with --strategy."""
    name, folder = plugin_module(register=True)
    sys.path.remove(str(folder))  # reachable only through --import, or from the current folder
    monkeypatch.setattr(sys, "path", list(sys.path))  # the command may put the current folder on it
    assert main(["run", "classroom-v1", "--seed", "2", "--import", str(folder / f"{name}.py"), "--firms", "loyalty_first,premium",
                 "--out", str(tmp_path / "run"), "--format", "parquet", "--quiet"]) == 0
    lineup_run = json.loads((tmp_path / "run" / "decisions.json").read_text())["provenance"]["lineup"]
    assert lineup_run == ["loyalty_first", "premium"] * 3
    assert main(["sweep", "classroom-v1", "--param", "market.reference_price=100", "--seeds", "1", "--workers", "1",
                 "--import", str(folder / f"{name}.py"), "--firms", "loyalty_first,balanced", "--out", str(tmp_path / "sweep"),
                 "--quiet", *SMALL]) == 0
    assert set(pd.read_parquet(tmp_path / "sweep" / "results.parquet")["strategy"]) == {"loyalty_first", "balanced"}
    name, folder = plugin_module()  # a module that registers nothing, reachable only from the current folder
    sys.path.remove(str(folder))
    monkeypatch.chdir(folder)
    assert main(["run", "classroom-v1", "--seed", "2", "--firms", f"{name}:LoyaltyFirst,premium", "--out", str(tmp_path / "run2"),
                 "--format", "parquet", "--quiet"]) == 0
    assert json.loads((tmp_path / "run2" / "decisions.json").read_text())["provenance"]["lineup"][:2] == [
        f"{name}:LoyaltyFirst", "premium"]
    sys.modules.pop(name, None)
    sys.path.remove(str(folder))
    assert main(["tournament", "classroom-v1", "--strategies", f"premium,{name}:LoyaltyFirst", "--seeds", "1", "--max-lineups", "2",
                 "--workers", "1", "--out", str(tmp_path / "tour"), "--quiet", *SMALL]) == 0
