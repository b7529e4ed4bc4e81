"""Provenance: every output records crmsim's version and commit, the scenario's content hash, the seed and the
line-up, with a run_id hashing them; a resume into a folder made with other code or scenario content is refused
(or replayed when asked), never mixed in."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import crmsim
from crmsim.cli import main
from crmsim.research.provenance import StaleRuns, WorkerMismatch
from crmsim.research.runner import RunSpec, execute, run_game, spawn_seeds, specs_from
from crmsim.research.tournament import tournament
from crmsim.scenarios import load_scenario
from crmsim.sim.export import git_state, read_provenance, run_id, scenario_hash

SMALL = {"market.customers": 1500, "market.track_customers": 200}
LINEUP = ("balanced", "premium", "price_cutter") * 2
FIELDS = {"crmsim_version", "git_commit", "git_dirty", "scenario", "scenario_hash", "overrides", "seed", "lineup", "run_id"}


def _scenario_file(folder, reference_price=100):
    path = folder / "mine-v1.toml"
    path.write_text(f'extends = "classroom-v1"\nname = "mine-v1"\n[market]\ncustomers = 1500\ntrack_customers = 200\n'
                    f'reference_price = {reference_price}\n', encoding="utf-8")
    return path


def test_a_kept_run_holds_the_provenance_fields_in_its_parquet_metadata(tmp_path):
    spec = specs_from("classroom-v1", LINEUP, spawn_seeds(1, 1), overrides=SMALL)[0]
    rows = execute([spec], workers=1, out_dir=tmp_path, progress=False)
    path = tmp_path / "runs" / f"{spec.run_id}.parquet"
    record = read_provenance(path)
    assert set(record) == FIELDS
    assert record["crmsim_version"] == crmsim.__version__
    assert record["scenario_hash"] == scenario_hash(load_scenario("classroom-v1", overrides=SMALL))
    assert record["seed"] == spec.seed and record["lineup"] == list(LINEUP)
    assert record["overrides"] == SMALL and record["scenario"] == "classroom-v1"
    assert record["run_id"] == spec.run_id == rows["run_id"].iloc[0]
    assert record["run_id"] == run_id(crmsim.__version__, record["scenario_hash"], spec.seed, list(LINEUP))
    assert record["git_commit"] is None or len(record["git_commit"]) == 40
    assert b"crmsim.scenario_hash" in pq.read_schema(path).metadata  # plain pyarrow sees the keys


def test_git_state_is_none_without_a_checkout_or_without_git(tmp_path, monkeypatch):
    assert git_state(tmp_path) == (None, None)
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable to be found
    assert git_state(crmsim.__file__.rsplit("/", 2)[0]) == (None, None)


def test_run_id_hashes_version_scenario_content_seed_and_lineup_and_is_the_same_in_another_process():
    spec = RunSpec("classroom-v1", LINEUP, 7, tuple(SMALL.items()))
    assert spec.run_id == RunSpec("classroom-v1", LINEUP, 7, tuple(SMALL.items()), (("tag", 1),)).run_id
    others = [
        RunSpec("classroom-v1", LINEUP, 8, tuple(SMALL.items())),
        RunSpec("classroom-v1", tuple(reversed(LINEUP)), 7, tuple(SMALL.items())),
        RunSpec("classroom-v1", LINEUP, 7, tuple({**SMALL, "market.reference_price": 101}.items())),
    ]
    assert len({spec.run_id, *(o.run_id for o in others)}) == 4
    code = ("from crmsim.research.runner import RunSpec; "
            f"print(RunSpec('classroom-v1', {LINEUP!r}, 7, {tuple(SMALL.items())!r}).run_id)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert done.stdout.strip() == spec.run_id, done.stderr


def test_editing_the_scenario_file_between_two_runs_into_one_folder_is_refused_naming_what_differs(tmp_path):
    path = _scenario_file(tmp_path)
    out = tmp_path / "out"
    specs = specs_from(str(path), LINEUP, spawn_seeds(2, 2))
    first = execute(specs, workers=1, out_dir=out, progress=False)
    old_hash = read_provenance(next((out / "runs").glob("*.parquet")))["scenario_hash"]
    _scenario_file(tmp_path, reference_price=120)
    edited = specs_from(str(path), LINEUP, spawn_seeds(2, 2))
    with pytest.raises(StaleRuns) as caught:
        execute(edited, workers=1, out_dir=out, progress=False)
    message = str(caught.value)
    new_hash = scenario_hash(load_scenario(path))
    assert str(out) in message and f"scenario content of {path}: kept {old_hash}, now {new_hash} (2 runs)" in message
    again = execute(edited, workers=1, out_dir=out, progress=False, stale="rerun")
    assert set(again["run_id"]).isdisjoint(first["run_id"]) and len(list((out / "runs").glob("*.parquet"))) == 4
    assert not again["score"].equals(first["score"])


def test_a_kept_run_made_by_another_crmsim_version_is_refused(tmp_path):
    specs = specs_from("classroom-v1", LINEUP, spawn_seeds(3, 2), overrides=SMALL)
    first = execute(specs, workers=1, out_dir=tmp_path, progress=False)
    path = tmp_path / "runs" / f"{specs[1].run_id}.parquet"
    table = pq.read_table(path)
    meta = {**table.schema.metadata, b"crmsim.crmsim_version": json.dumps("0.0.1").encode()}
    pq.write_table(table.replace_schema_metadata(meta), path)  # as if kept by an older crmsim
    with pytest.raises(StaleRuns, match=rf"crmsim version: kept 0.0.1, now {crmsim.__version__} \(1 run\)"):
        execute(specs, workers=1, out_dir=tmp_path, progress=False)
    again = execute(specs, workers=1, out_dir=tmp_path, progress=False, stale="rerun")
    pd.testing.assert_frame_equal(again, first)
    assert read_provenance(path)["crmsim_version"] == crmsim.__version__


def test_a_kept_file_that_records_another_game_than_its_name_is_refused(tmp_path):
    """A file copied over another game's (or renamed) is not read as that game: its record names another run_id."""
    specs = specs_from("classroom-v1", LINEUP, spawn_seeds(6, 2), overrides=SMALL)
    first = execute(specs, workers=1, out_dir=tmp_path, progress=False)
    runs = tmp_path / "runs"
    (runs / f"{specs[1].run_id}.parquet").write_bytes((runs / f"{specs[0].run_id}.parquet").read_bytes())
    with pytest.raises(StaleRuns) as caught:
        execute(specs, workers=1, out_dir=tmp_path, progress=False)
    message = str(caught.value)
    assert f"the game recorded in {specs[1].run_id}.parquet (run_id): kept {specs[0].run_id}, now {specs[1].run_id} (1 run)" in message
    assert f"(seed): kept {specs[0].seed}, now {specs[1].seed}" in message
    again = execute(specs, workers=1, out_dir=tmp_path, progress=False, stale="rerun")
    pd.testing.assert_frame_equal(again, first)
    assert read_provenance(runs / f"{specs[1].run_id}.parquet")["run_id"] == specs[1].run_id


def test_editing_ones_own_strategy_module_between_two_runs_into_one_folder_is_refused(plugin_module, tmp_path):
    """Each plug-in strategy's module is hashed into the kept games' records: after an edit, the games in the
    folder are refused as stale, naming the module, never read into the study; --rerun-stale plays them again."""
    name, folder = plugin_module()
    lineup = (f"{name}:LoyaltyFirst", "premium", "balanced") * 2
    specs = specs_from("classroom-v1", lineup, spawn_seeds(7, 2), overrides=SMALL)
    built_in = specs_from("classroom-v1", LINEUP, spawn_seeds(7, 2), overrides=SMALL)
    first = execute(specs, workers=1, out_dir=tmp_path, progress=False)
    kept = read_provenance(tmp_path / "runs" / f"{specs[0].run_id}.parquet")
    source = folder / f"{name}.py"
    assert kept["strategy_code"] == {name: hashlib.sha256(source.read_bytes()).hexdigest()}
    assert "strategy_code" not in built_in[0].provenance  # built-in bots: the crmsim version covers them
    source.write_text(source.read_text(encoding="utf-8").replace("* self.care_factor", "* self.care_factor * 1.5"), encoding="utf-8")
    edited = specs_from("classroom-v1", lineup, spawn_seeds(7, 2), overrides=SMALL)
    assert [s.run_id for s in edited] == [s.run_id for s in specs]  # recorded beside the run_id, as the git commit
    with pytest.raises(StaleRuns) as caught:
        execute(edited, workers=1, out_dir=tmp_path, progress=False)
    was, now = kept["strategy_code"][name][:16], hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    assert f"code of strategy module {name}: kept {was}, now {now} (2 runs)" in str(caught.value)
    sys.modules.pop(name, None)  # the edited module, as a fresh process would import it
    again = execute(edited, workers=1, out_dir=tmp_path, progress=False, stale="rerun")
    assert read_provenance(tmp_path / "runs" / f"{specs[0].run_id}.parquet")["strategy_code"] == {name: hashlib.sha256(source.read_bytes()).hexdigest()}
    assert not again["score"].equals(first["score"])


def test_a_run_without_provenance_is_stale(tmp_path):
    spec = specs_from("classroom-v1", LINEUP, spawn_seeds(4, 1), overrides=SMALL)[0]
    execute([spec], workers=1, out_dir=tmp_path, progress=False)
    path = tmp_path / "runs" / f"{spec.run_id}.parquet"
    pq.write_table(pa.Table.from_pandas(pd.read_parquet(path), preserve_index=False), path)
    with pytest.raises(StaleRuns, match="provenance: kept none"):
        execute([spec], workers=1, out_dir=tmp_path, progress=False)


def test_rows_a_worker_made_with_other_code_are_refused():
    spec = specs_from("classroom-v1", LINEUP, spawn_seeds(5, 1), overrides=SMALL)[0]

    def other_version(s: RunSpec) -> pd.DataFrame:
        rows = run_game(s)
        rows.attrs["crmsim"] = {**rows.attrs["crmsim"], "crmsim_version": "9.9", "run_id": "0" * 16}
        return rows

    with pytest.raises(WorkerMismatch, match=rf"crmsim_version: worker 9.9, here {crmsim.__version__}"):
        execute([spec], workers=1, progress=False, run=other_version)


def test_batch_outputs_and_the_engine_run_record_their_provenance(tmp_path):
    res = tournament("classroom-v1", ["balanced", "premium"], seeds=1, overrides=SMALL, max_lineups=2, workers=1,
                     progress=False, out_dir=tmp_path / "tour")
    record = json.loads((tmp_path / "tour" / "tournament.json").read_text())["provenance"]
    assert record == res.provenance and record["lineup"] == [list(m) for m in res.lineups] and record["seed"] == res.seeds
    for name in ("table", "results", "matrix", "pairs"):
        assert read_provenance(tmp_path / "tour" / f"{name}.parquet") == record
    assert main(["run", "classroom-v1", "--seed", "3", "--firms", "premium,random", "--out", str(tmp_path / "run"),
                 "--format", "parquet", "--quiet"]) == 0
    log = json.loads((tmp_path / "run" / "decisions.json").read_text())
    assert log["provenance"]["seed"] == 3 and log["provenance"]["lineup"] == ["premium", "random"] * 3
    assert log["provenance"]["scenario_hash"] == scenario_hash(load_scenario("classroom-v1"))
    assert read_provenance(tmp_path / "run" / "firms.parquet") == log["provenance"]


def test_crmsim_run_records_the_scenario_as_named_as_batches_do(tmp_path):
    path = _scenario_file(tmp_path)
    assert main(["run", str(path), "--seed", "3", "--firms", "premium,random", "--out", str(tmp_path / "run"), "--format", "parquet",
                 "--quiet"]) == 0
    record = json.loads((tmp_path / "run" / "decisions.json").read_text())["provenance"]
    batch = RunSpec(str(path), ("premium", "random") * 3, 3).provenance
    assert record["scenario"] == str(path) == batch["scenario"] and record["run_id"] == batch["run_id"]
    assert main(["run", "--replay", str(tmp_path / "run"), "--out", str(tmp_path / "again"), "--format", "parquet", "--quiet"]) == 0
    assert json.loads((tmp_path / "again" / "decisions.json").read_text())["provenance"]["run_id"] == record["run_id"]


def test_the_cli_refuses_a_rerun_after_the_scenario_file_changed_and_replays_with_rerun_stale(tmp_path, capsys):
    path = _scenario_file(tmp_path)
    argv = ["sweep", str(path), "--param", "market.price_cap=180,200", "--seeds", "1", "--workers", "1",
            "--firms", "balanced,premium", "--out", str(tmp_path / "sweep"), "--quiet"]
    assert main(argv) == 0
    sweep_record = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["provenance"]
    assert sweep_record["scenario_hash"] == scenario_hash(load_scenario(path))
    capsys.readouterr()
    _scenario_file(tmp_path, reference_price=90)
    assert main(argv) == 2
    text = capsys.readouterr().out
    assert "error:" in text and "scenario content of" in text and "--rerun-stale" in text
    assert main([*argv, "--rerun-stale"]) == 0
