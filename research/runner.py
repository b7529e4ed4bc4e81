"""Running many games reproducibly on any concurrent.futures Executor.

A :class:`RunSpec` names one game completely (scenario, overrides, bots per
seat, seed); :func:`run_game` plays it with the engine and returns tidy rows.
:func:`execute` runs many specs on a process pool (default), a Dask cluster
or any Executor a researcher passes in, shows progress, and, given an output
folder, keeps one Parquet file per finished run so a rerun skips it.
Seeds come from ``numpy.random.SeedSequence(master).spawn(n)``, so a run's
result never depends on the number of workers or on the order runs finish.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

FINAL_COLUMNS = (
    "rank", "score", "score_financial", "score_customer", "score_relationship", "score_growth", "cash", "equity",
    "cum_operating_profit", "customers", "market_share_customers", "avg_satisfaction", "customer_equity", "bankrupt",
    "bankrupt_period", "tenders_won",
)


@dataclass(frozen=True)
class RunSpec:
    """One game, fully named: the same spec always gives the same result."""

    scenario: str
    strategies: tuple[str, ...]
    seed: int
    overrides: tuple[tuple[str, Any], ...] = ()
    tags: tuple[tuple[str, Any], ...] = field(default=(), compare=False)  # e.g. sweep parameters, replicate number

    @property
    def run_id(self) -> str:
        key = json.dumps([self.scenario, list(self.strategies), self.seed, [list(o) for o in self.overrides]], sort_keys=True, default=str)
        return hashlib.sha1(key.encode()).hexdigest()[:16]


def spawn_seeds(master_seed: int, n: int) -> list[int]:
    """n independent game seeds from one master seed (SeedSequence.spawn)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(master_seed).spawn(n)]


@lru_cache(maxsize=64)
def _cached_scenario(name: str, overrides: tuple[tuple[str, Any], ...]):
    from crmsim.scenarios import load_scenario

    return load_scenario(name, overrides=dict(overrides))


def scenario_for(spec: RunSpec):
    """The spec's validated Scenario; cached per worker process (a Scenario is frozen, so games can share it)."""
    try:
        return _cached_scenario(spec.scenario, spec.overrides)
    except TypeError:  # an unhashable override value (a list): load it afresh
        from crmsim.scenarios import load_scenario

        return load_scenario(spec.scenario, overrides=dict(spec.overrides))


def run_game(spec: RunSpec) -> pd.DataFrame:
    """Play one game with bots; one row per firm with its final standing, plus game-level texture."""
    from crmsim.sim.model import CRMModel

    scenario = scenario_for(spec)
    model = CRMModel(scenario, seed=spec.seed, strategies=list(spec.strategies), collect=False)  # same game, no tables
    model.run()
    valid = [b.valid for r in model.results for _, b in r.all_bids()]
    failed = [o.failed for r in model.results for o in r.tenders]
    final = pd.DataFrame(model.results[-1].firm_rows)[["firm", "name", *FINAL_COLUMNS]]
    final.insert(0, "run_id", spec.run_id)
    final.insert(1, "seed", spec.seed)
    final.insert(2, "scenario", spec.scenario)
    final.insert(4, "strategy", [spec.strategies[i] for i in final["firm"]])
    final["periods_played"] = len(model.results)
    final["void_bid_rate"] = float(np.mean(np.logical_not(valid))) if valid else 0.0
    final["failed_tender_rate"] = float(np.mean(failed)) if failed else 0.0
    final["lineup"] = ",".join(spec.strategies)
    for key, value in spec.overrides:
        final[f"param:{key}"] = value
    for key, value in spec.tags:
        final[f"tag:{key}"] = value
    return final


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def execute(
    specs: Sequence[RunSpec],
    executor: Executor | None = None,
    workers: int | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    run: Callable[[RunSpec], pd.DataFrame] = run_game,
    chunksize: int | None = None,
) -> pd.DataFrame:
    """Run every spec and return all rows, sorted by the specs' order (never by finishing order).

    Args:
        specs: the games to play.
        executor: any concurrent.futures Executor (a Dask ``client.get_executor()``, Ray, MPI...);
            default: a ProcessPoolExecutor with `workers` processes (1 worker runs in this process).
        out_dir: if given, each finished run is kept as ``runs/<run_id>.parquet`` there and skipped on a rerun.
        progress: show a progress bar.
        run: the function that plays one spec (module-level, so worker processes can unpickle it).
        chunksize: games per task sent to the executor (fewer, larger tasks cut a scheduler's per-task cost);
            default: up to 10, keeping at least 8 tasks per worker. Results never depend on it.
    """
    runs_dir = Path(out_dir) / "runs" if out_dir else None
    if runs_dir:
        runs_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, pd.DataFrame] = {}
    todo: dict[str, RunSpec] = {}  # each distinct game once, even if several specs (say, equal design points) name it
    for spec in specs:
        path = runs_dir / f"{spec.run_id}.parquet" if runs_dir else None
        if spec.run_id in results or spec.run_id in todo:
            continue
        if path is not None and path.exists():
            results[spec.run_id] = pd.read_parquet(path)
        else:
            todo[spec.run_id] = spec
    games = len(results) + len(todo)
    bar = tqdm(total=games, initial=len(results), unit="game", disable=not progress, desc="games")

    def keep(spec: RunSpec, df: pd.DataFrame) -> None:
        results[spec.run_id] = df
        if runs_dir:
            tmp = runs_dir / f".{spec.run_id}.parquet.tmp"
            df.to_parquet(tmp, index=False)
            tmp.replace(runs_dir / f"{spec.run_id}.parquet")  # atomic: a killed run leaves no half file
        bar.update(1)

    workers = workers or default_workers()
    if todo and executor is None and workers == 1:
        for spec in todo.values():
            keep(spec, run(spec))
    elif todo:
        own = executor is None
        pool = executor or ProcessPoolExecutor(max_workers=workers)
        pending = list(todo.values())
        size = chunksize or max(1, min(10, len(pending) // (8 * workers)))
        try:
            futures = {pool.submit(_run_chunk, run, pending[i:i + size]): pending[i:i + size] for i in range(0, len(pending), size)}
            for fut in as_completed(futures):
                for spec, df in zip(futures[fut], fut.result()):
                    keep(spec, df)
        finally:
            if own:
                pool.shutdown()
    bar.close()
    frames = [_tagged(results[s.run_id], s) for s in specs]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _run_chunk(run: Callable[[RunSpec], pd.DataFrame], specs: list[RunSpec]) -> list[pd.DataFrame]:
    return [run(spec) for spec in specs]


def _tagged(df: pd.DataFrame, spec: RunSpec) -> pd.DataFrame:
    """The run's rows with this spec's tags (tags are not part of a run's identity, so a kept run may carry others)."""
    return df.assign(**{f"tag:{key}": value for key, value in spec.tags}) if spec.tags else df


def dask_executor(address: str | None, workers: int | None = None):
    """A concurrent.futures Executor on Dask: ``"local"`` starts a LocalCluster, else joins ``tcp://host:port``.

    Args:
        address: ``"local"`` (or None) for a LocalCluster of `workers` single-threaded processes,
            or a scheduler address such as ``tcp://host:8786``.
        workers: processes of the LocalCluster (default: :func:`default_workers`); ignored when joining.

    Returns (executor, client); close the client (and its cluster) when done, or use :func:`open_executor`.
    """
    from distributed import Client, LocalCluster

    if address in (None, "local"):
        cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(address)
    return client.get_executor(), client


@contextmanager
def open_executor(dask: str | None = None, workers: int | None = None) -> Iterator[Executor | None]:
    """The Executor a batch runs on: None (``execute``'s process pool of `workers`), or Dask when `dask` is given.

    ``with open_executor("local", workers=2) as ex: execute(specs, executor=ex)``; the cluster is closed after.
    """
    if not dask:
        yield None
        return
    executor, client = dask_executor(dask, workers)
    try:
        yield executor
    finally:
        cluster = client.cluster if dask == "local" else None
        client.close()
        if cluster is not None:
            cluster.close()


def lineups(strategies: Iterable[str], seats: int) -> list[tuple[str, ...]]:
    """Every multiset of `seats` strategies (order fixed: sorted), for tournaments."""
    from itertools import combinations_with_replacement

    return [tuple(c) for c in combinations_with_replacement(sorted(strategies), seats)]


def summarize(rows: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    """Mean rank, win rate, bankruptcy rate and mean score with 95% normal-approximation intervals."""
    g = rows.assign(win=rows["rank"] == 1, bankrupt=rows["bankrupt"].astype(bool)).groupby(by)
    out = pd.DataFrame({
        "games": g.size(),
        "mean_rank": g["rank"].mean(),
        "mean_rank_ci": 1.96 * g["rank"].std(ddof=1) / np.sqrt(g.size()),
        "win_rate": g["win"].mean(),
        "win_rate_ci": 1.96 * np.sqrt(g["win"].mean() * (1 - g["win"].mean()) / g.size()),
        "mean_score": g["score"].mean(),
        "mean_score_ci": 1.96 * g["score"].std(ddof=1) / np.sqrt(g.size()),
        "bankruptcy_rate": g["bankrupt"].mean(),
    })
    return out.reset_index()


def specs_from(scenario: str, strategies: Sequence[str], seeds: Sequence[int], overrides: Mapping[str, Any] | None = None,
               tags: Mapping[str, Any] | None = None) -> list[RunSpec]:
    ov = tuple(sorted((overrides or {}).items()))
    tg = tuple(sorted((tags or {}).items()))
    return [RunSpec(scenario, tuple(strategies), int(s), ov, tg) for s in seeds]
