"""research/executors.py: a strategy from a module outside the package plays on the spawn pool and on a Dask
LocalCluster whose workers never saw the module; workers running other code are refused before any game;
a retry after a failed task runs afresh."""

from __future__ import annotations

import gc
import importlib

import pandas as pd
import pytest

from crmsim.research.executors import (
    START_METHOD,
    ClusterMismatch,
    identity_problems,
    module_digest,
    open_executor,
    process_pool,
    registrations,
    strategy_modules,
)
from crmsim.research.runner import execute, spawn_seeds, specs_from
from crmsim.research.tournament import tournament

SMALL = {"market.customers": 1500, "market.track_customers": 200}


@pytest.fixture(scope="module")
def dask_local():
    """A two-worker LocalCluster shared by this module's Dask tests (its workers start before any plug-in exists)."""
    with open_executor("local", workers=2) as executor:
        yield executor


def test_the_pool_spawns_its_workers():
    pool = process_pool(1)
    try:
        assert START_METHOD == "spawn" and pool._mp_context.get_start_method() == "spawn"
    finally:
        pool.shutdown()


def test_a_pool_worker_starts_with_the_engine_imported_and_out_of_the_collectors_sight():
    """start_worker imports the game's modules (numpy, pandas, mesa, the engine), then gc.freeze(): the tens of
    thousands of import-time objects the collector no longer walks (this process froze none)."""
    with process_pool(1) as pool:
        frozen = pool.submit(gc.get_freeze_count).result()
    assert frozen > 50_000
    assert gc.get_freeze_count() == 0


def test_registered_names_and_modules_a_batch_needs(plugin_module):
    name, _ = plugin_module(register=True)
    module = importlib.import_module(name)
    assert registrations(["balanced"]) == {"loyalty_first": module.LoyaltyFirst}
    spec = f"{name}:LoyaltyFirst(care_factor=3.0)"
    assert strategy_modules([spec, "premium", module.LoyaltyFirst()], {}) == [name]
    assert strategy_modules(["premium"], {}) == []  # crmsim's own modules travel with crmsim


def _custom_tournament(name: str, module, **kw):
    """A tournament of a built-in bot, the custom strategy by spec, and a parameterised instance of it."""
    return tournament("classroom-v1", ["balanced", f"{name}:LoyaltyFirst", module.LoyaltyFirst(care_factor=4.0)],
                      seeds=1, overrides=SMALL, max_lineups=3, master_seed=5, progress=False, **kw)


def test_a_custom_strategy_from_another_folder_plays_a_tournament_on_the_process_pool(plugin_module):
    name, _ = plugin_module()
    module = importlib.import_module(name)
    here = _custom_tournament(name, module, workers=1)
    pooled = _custom_tournament(name, module, workers=2)
    pd.testing.assert_frame_equal(pooled.results, here.results)
    labels = {"balanced", f"{name}:LoyaltyFirst", f"{name}:LoyaltyFirst(care_factor=4.0)"}
    assert set(here.table["strategy"]) <= labels and set(here.results["strategy"]) <= labels
    assert len(set(here.results["strategy"])) >= 2


def test_a_custom_strategy_plays_on_dask_workers_that_never_imported_its_module(plugin_module, dask_local):
    name, _ = plugin_module(register=True)  # written after the workers started: they must be sent it
    module = importlib.import_module(name)
    client = dask_local._client
    assert set(client.run(module_digest, name).values()) == {None}
    here = _custom_tournament(name, module, workers=1)
    on_dask = _custom_tournament(name, module, executor=dask_local)
    pd.testing.assert_frame_equal(on_dask.results, here.results)
    assert set(client.run(module_digest, name).values()) == {module_digest(name)}
    # a name the module registered at import time resolves on the workers too
    specs = specs_from("classroom-v1", ("loyalty_first", "premium") * 3, spawn_seeds(1, 1), overrides=SMALL)
    pd.testing.assert_frame_equal(execute(specs, executor=dask_local, progress=False), execute(specs, workers=1, progress=False))


def test_a_retry_after_a_failed_task_runs_again_instead_of_returning_the_cached_error(plugin_module, dask_local):
    name, folder = plugin_module()
    module = importlib.import_module(name)
    executor = dask_local._client.get_executor()  # as a researcher would make it: pure=True by default
    specs = specs_from("classroom-v1", (f"{name}:LoyaltyFirst", "premium") * 3, spawn_seeds(2, 2), overrides=SMALL)
    with pytest.raises(RuntimeError, match="flag file"):
        execute(specs, executor=executor, progress=False, run=module.flaky_run)
    (folder / "flag").write_text("ok")
    rows = execute(specs, executor=executor, progress=False, run=module.flaky_run)
    pd.testing.assert_frame_equal(rows, execute(specs, workers=1, progress=False))


def _pretend_version(version: str | None) -> None:
    import crmsim
    from crmsim.sim.export import code_version

    if version is None:
        importlib.reload(crmsim)
    else:
        crmsim.__version__ = version
    code_version.cache_clear()


def test_workers_running_another_crmsim_are_refused_before_any_game(dask_local, tmp_path):
    import crmsim

    client = dask_local._client
    specs = specs_from("classroom-v1", ("premium", "balanced") * 3, spawn_seeds(3, 1), overrides=SMALL)
    client.run(_pretend_version, "0.0.1")
    try:
        with pytest.raises(ClusterMismatch, match=rf"crmsim_version 0.0.1 \(here {crmsim.__version__}\)"):
            execute(specs, executor=dask_local, progress=False, out_dir=tmp_path)
    finally:
        client.run(_pretend_version, None)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*.parquet"))


def test_identity_problems_name_each_field_and_both_values():
    here = {"crmsim_version": "0.2.0", "numpy": "2.1.0", "git_commit": "a" * 40, "scenarios": {"classroom-v1": "abc"}}
    same = {**here, "git_commit": None}  # an installed worker has no commit: nothing to compare
    assert identity_problems(here, same) == []
    other = {"crmsim_version": "0.2.0", "numpy": "2.2.0", "git_commit": "b" * 40, "scenarios": {"classroom-v1": "def"}}
    assert identity_problems(here, other) == [
        "numpy 2.2.0 (here 2.1.0)", f"git commit {'b' * 12} (here {'a' * 12})", "scenario classroom-v1: content def (here abc)",
    ]
