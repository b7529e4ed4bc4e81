"""Running many games reproducibly on any concurrent.futures Executor.

A :class:`RunSpec` names one game completely (scenario, overrides, strategies per seat, seed);
:func:`run_game` plays it with the engine and returns tidy rows. :func:`execute` runs many specs on a
process pool (default; spawned workers, see research.executors), a Dask cluster (checked first) or any
Executor a researcher passes in, shows progress, and, given an output folder, keeps one Parquet file per
finished run with its provenance, so a rerun skips it (research.provenance refuses to mix in runs made
with other code or scenario content). Seeds come from ``numpy.random.SeedSequence(master).spawn(n)``,
so a run's result never depends on the number of workers or on the order runs finish.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from crmsim.agents.bots import StrategySpec, make_bot, strategy_label
from crmsim.research.executors import (  # noqa: F401 (dask_executor and open_executor are public here too)
    dask_client_of,
    dask_executor,
    default_workers,
    open_executor,
    prepare_dask,
    process_pool,
)
from crmsim.research.provenance import check_returned, keep_run, resume
from crmsim.research.stats import N_BOOT, cluster_mean
from crmsim.sim.export import provenance, with_strategy_code
from crmsim.sim.frames import typed

FINAL_COLUMNS = (
    "rank", "score", "score_financial", "score_customer", "score_relationship", "score_growth", "cash", "equity",
    "cum_operating_profit", "customers", "market_share_customers", "avg_satisfaction", "customer_equity", "bankrupt",
    "bankrupt_period",
)
#: where run_game puts the provenance of the rows it returns (``DataFrame.attrs``)
RECORD = "crmsim"


@dataclass(frozen=True)
class RunSpec:
    """One game, fully named: the same spec always gives the same result.

    Attributes:
        scenario: a shipped scenario name or a TOML path.
        strategies: one per seat: a bot spec (``"premium"``, ``"premium(price_premium=1.25)"``,
            ``"my_bots:LoyaltyFirst"``, an entry-point name) or a Strategy instance (each game plays a copy).
        seed: the game seed.
        overrides: dotted scenario settings, as (key, value) pairs or a mapping (kept as pairs sorted by key,
            as :func:`specs_from` makes them).
        tags: labels for the output (replicate number, design point) that do not change the game; pairs or a
            mapping, as `overrides`.

    Raises:
        TypeError: overrides or tags that are neither a mapping nor (key, value) pairs, naming the field and value.
    """

    scenario: str
    strategies: tuple[StrategySpec, ...]
    seed: int
    overrides: tuple[tuple[str, Any], ...] = ()
    tags: tuple[tuple[str, Any], ...] = field(default=(), compare=False)  # e.g. sweep parameters, replicate number

    def __post_init__(self) -> None:
        if not isinstance(self.strategies, tuple):  # a list, as one writes it
            object.__setattr__(self, "strategies", tuple(self.strategies))
        for name in ("overrides", "tags"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                value = tuple(sorted(value.items()))
            elif isinstance(value, (tuple, list)) and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in value):
                value = tuple(p if isinstance(p, tuple) else tuple(p) for p in value)
            else:
                value = None
            if value is None or not all(isinstance(k, str) for k, _ in value):
                raise TypeError(f"RunSpec.{name}: must be a mapping or (key, value) pairs with text keys; got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)

    @functools.cached_property
    def labels(self) -> tuple[str, ...]:
        """The seats' strategy labels (agents.bots.strategy_label): stable across processes."""
        return tuple(strategy_label(s) for s in self.strategies)

    @functools.cached_property
    def provenance(self) -> dict[str, Any]:
        """The game's provenance record as this process sees it (crmsim.sim.export.provenance)."""
        return game_record(self, scenario_for(self), self.labels)

    @property
    def run_id(self) -> str:
        """The hash of the crmsim version, the scenario's content (after overrides), the seed and the line-up."""
        return self.provenance["run_id"]


def game_record(spec: RunSpec, scenario, labels: Sequence[str]) -> dict[str, Any]:
    """The provenance record of the spec's game, played on `scenario` with these seat labels (with plug-in
    strategies, their modules' hashes too: crmsim.sim.export.with_strategy_code)."""
    record = provenance(scenario, spec.seed, list(labels), scenario_ref=spec.scenario, overrides=dict(spec.overrides))
    return with_strategy_code(record, spec.strategies)


def spawn_seeds(master_seed: int, n: int) -> list[int]:
    """n independent game seeds from one master seed (SeedSequence.spawn)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(master_seed).spawn(n)]


def scenario_files(name: str) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of the scenario files a scenario may read (its folder's and the shipped ones),
    so a cached scenario is loaded again after any of them is edited."""
    from crmsim.scenarios import SCENARIO_DIR

    path = Path(name)
    folders = {SCENARIO_DIR, path.resolve().parent} if path.suffix == ".toml" or path.exists() else {SCENARIO_DIR}
    stats = []
    for folder in sorted(folders):
        for f in sorted(folder.glob("*.toml")):
            st = f.stat()
            stats.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(stats)


@functools.lru_cache(maxsize=64)
def _cached_scenario(name: str, overrides: tuple[tuple[str, Any], ...], files: tuple[tuple[str, int, int], ...]):
    from crmsim.scenarios import load_scenario

    return load_scenario(name, overrides=dict(overrides))


def scenario_for(spec: RunSpec):
    """The spec's validated Scenario; cached per process until a scenario file changes (a Scenario is frozen,
    so games can share it)."""
    try:
        return _cached_scenario(spec.scenario, spec.overrides, scenario_files(spec.scenario))
    except TypeError:  # an unhashable override value (a list): load it afresh
        from crmsim.scenarios import load_scenario

        return load_scenario(spec.scenario, overrides=dict(spec.overrides))


def seat_bots(strategies: Iterable[StrategySpec]) -> list:
    """A fresh bot per seat: specs are made, instances copied (a game never shares a bot's state with another)."""
    return [make_bot(s) if isinstance(s, str) else copy.deepcopy(s) for s in strategies]


def run_game(spec: RunSpec) -> pd.DataFrame:
    """Play one game with bots; one row per firm with its final standing, plus game-level texture.

    The rows' ``attrs["crmsim"]`` is the game's provenance as the playing process saw it, so the caller
    can tell when a worker ran other code or read another scenario.
    """
    from crmsim.sim.model import CRMModel

    scenario = scenario_for(spec)
    labels = [strategy_label(s) for s in spec.strategies]
    model = CRMModel(scenario, seed=spec.seed, strategies=seat_bots(spec.strategies), collect=False)  # same game, no tables
    model.run()
    valid = [b.valid for r in model.results for _, b in r.all_bids()]
    failed = [o.failed for r in model.results for o in r.tenders]
    rows = model.results[-1].firm_rows
    n = len(rows)
    record = game_record(spec, scenario, labels)
    game = {  # the game's own figures, one value for every row
        "periods_played": len(model.results),
        "void_bid_rate": float(np.mean(np.logical_not(valid))) if valid else 0.0,
        "failed_tender_rate": float(np.mean(failed)) if failed else 0.0,
        "lineup": ",".join(labels),
    }
    texture = game_texture(model)
    columns = {  # one frame built at once from lists, pandas' cheapest input (typed gives each column its declared dtype)
        "run_id": [record["run_id"]] * n,
        "seed": [spec.seed] * n,
        "scenario": [spec.scenario] * n,
        "firm": [r["firm"] for r in rows],
        "strategy": [labels[r["firm"]] for r in rows],
        **{c: [r[c] for r in rows] for c in ["name", *FINAL_COLUMNS]},
        "tenders_won": [sum(r.firm_rows[i]["tenders_won"] for r in model.results) for i in range(n)],  # over the game
        **{k: [v] * n for k, v in game.items()},
        **{k: v if isinstance(v, (list, np.ndarray)) else [v] * n for k, v in texture.items()},
        **_tag_columns(spec),
    }
    final = typed("runs", pd.DataFrame(columns, index=pd.RangeIndex(n)))
    final.attrs[RECORD] = record
    return final


def game_texture(model) -> dict[str, Any]:
    """Game facts behind the balance targets (crmsim.research.targets), as columns of the final rows:
    the game's tenders and how many were awarded, which clients awarded a contract, each firm's rank after
    half the game, and each firm's lifecycle cultivation split by whether a rival held the client in its
    stable stage (``held``) or no rival had reached formation (``free``): progress gained, ¥ and hours."""
    results = model.results
    n = len(model.state.firms)
    outcomes = [o for r in results for o in r.tenders]
    mid = results[max(0, len(results) // 2 - 1)].firm_rows
    cult = {f"cult_{k}_{h}": [0.0] * n for k in ("gain", "cost", "hours") for h in ("held", "free")}  # float sums, as float64
    sums = {h: (cult[f"cult_gain_{h}"], cult[f"cult_cost_{h}"], cult[f"cult_hours_{h}"]) for h in ("held", "free")}
    for r in results:
        for row in r.relationship_rows:
            if row.get("activity_cost", 0.0) <= 0:
                continue
            hold = "held" if row["rival_hold"] == "stable" else "free" if row["rival_hold"] in ("none", "potential", "target", "evaluation") else None
            if hold:
                gain, cost, hours = sums[hold]
                i = row["firm"]
                gain[i] += row["progress_gained"]
                cost[i] += row["activity_cost"]
                hours[i] += row["activity_hours"]
    return {
        "tenders_total": len(outcomes),
        "tenders_awarded": sum(o.winner is not None for o in outcomes),
        "clients": ",".join(model.scenario.client_ids),
        "clients_awarded": ",".join(sorted({o.tender.client for o in outcomes if o.winner is not None})),
        "rank_mid": [row["rank"] for row in mid],
        "revenue_contracts_total": [sum(r.ledgers[i].revenue_contracts for r in results) for i in range(n)],
        "operating_profit_total": [sum(r.ledgers[i].operating_profit for r in results) for i in range(n)],
        **{k: np.array(v) for k, v in cult.items()},
    }


def execute(
    specs: Sequence[RunSpec],
    executor: Executor | None = None,
    workers: int | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    run: Callable[[RunSpec], pd.DataFrame] = run_game,
    chunksize: int | None = None,
    stale: str = "refuse",
) -> pd.DataFrame:
    """Run every spec and return all rows, sorted by the specs' order (never by finishing order).

    Args:
        specs: the games to play.
        executor: any concurrent.futures Executor (a Dask ``client.get_executor()``, Ray, MPI...);
            default: a pool of `workers` spawned processes (1 worker runs in this process). A Dask executor's
            workers are checked and given the batch's strategy modules first (research.executors.prepare_dask).
        out_dir: if given, each finished run is kept as ``runs/<run_id>.parquet`` there, with its provenance,
            and skipped on a rerun.
        progress: show a progress bar.
        run: the function that plays one spec (module-level, so worker processes can unpickle it).
        chunksize: games per task sent to the executor (fewer, larger tasks cut a scheduler's per-task cost);
            default: up to 10, keeping at least 8 tasks per worker. Results never depend on it.
        stale: kept runs made with another crmsim version or scenario content: "refuse" (raise
            research.provenance.StaleRuns) or "rerun" (play them again).

    Raises:
        StaleRuns: see `stale`.
        WorkerMismatch: a worker returned rows made with other code or scenario content.
        ClusterMismatch: Dask workers run another crmsim, numpy or scenario content than this process.
    """
    unique: dict[str, RunSpec] = {}  # each distinct game once, even if several specs (say, equal design points) name it
    for spec in specs:
        unique.setdefault(spec.run_id, spec)
    results, todo = resume(out_dir, unique, stale) if out_dir else ({}, dict(unique))
    bar = tqdm(total=len(unique), initial=len(results), unit="game", disable=not progress, desc="games")

    labelled: dict[str, RunSpec] = {}  # run_id -> the spec whose labels run_game's rows already carry

    def keep(spec: RunSpec, df: pd.DataFrame) -> None:
        record = df.attrs.pop(RECORD, None)
        check_returned(spec, record)
        results[spec.run_id] = df
        if run is run_game:
            labelled[spec.run_id] = spec
        if out_dir:
            keep_run(out_dir, spec.run_id, df, record or spec.provenance)
        bar.update(1)

    workers = workers or default_workers()
    if todo and executor is None and workers == 1:
        for spec in todo.values():
            keep(spec, run(spec))
    elif todo:
        pending = list(todo.values())
        seats = [s for spec in pending for s in spec.strategies]
        client = dask_client_of(executor)
        pool = executor if client is None else prepare_dask(client, seats, {s.scenario for s in pending})
        own = executor is None
        if own:
            pool = process_pool(workers, seats)
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
    # relabel only rows kept from a folder or played for another spec naming the same game (a copy costs a millisecond a game)
    frames = [results[s.run_id] if labelled.get(s.run_id) is s else _tagged(results[s.run_id], s) for s in specs]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _run_chunk(run: Callable[[RunSpec], pd.DataFrame], specs: list[RunSpec]) -> list[pd.DataFrame]:
    return [run(spec) for spec in specs]


def _tagged(df: pd.DataFrame, spec: RunSpec) -> pd.DataFrame:
    """The run's rows labelled as this spec names them: its scenario, ``param:`` and ``tag:`` columns.

    Labels are not part of a run's identity (two specs naming the same game, say equal design points,
    share its rows), so a kept run may carry another spec's labels.
    """
    out = df.drop(columns=[c for c in df.columns if c.startswith(("param:", "tag:"))])
    out["scenario"] = spec.scenario
    for key, value in _tag_columns(spec).items():
        out[key] = value
    return out


def _tag_columns(spec: RunSpec) -> dict[str, Any]:
    """The spec's labels as columns: ``param:<key>`` per override, ``tag:<key>`` per tag."""
    return {**{f"param:{key}": value for key, value in spec.overrides}, **{f"tag:{key}": value for key, value in spec.tags}}


def lineups(strategies: Iterable[str], seats: int) -> list[tuple[str, ...]]:
    """Every multiset of `seats` strategies (order fixed: sorted), for tournaments."""
    from itertools import combinations_with_replacement

    return [tuple(c) for c in combinations_with_replacement(sorted(strategies), seats)]


#: the measures :func:`summarize` gives per group: (column in the rows, name in the table)
SUMMARY_MEASURES = (("rank", "mean_rank"), ("win", "win_rate"), ("score", "mean_score"))


def summarize(rows: pd.DataFrame, by: str | list[str], *, cluster: str = "run_id", n_boot: int = N_BOOT,
              seed: int = 0) -> pd.DataFrame:
    """Mean rank, win rate and mean score per group with 95% intervals that resample whole games, and the
    bankruptcy rate.

    Seats in one game share its seed, market and rivals, so they are not independent draws: each interval
    is a clustered bootstrap over the games (research.stats.cluster_mean, games = `cluster`). Columns:
    ``games`` (the distinct games, values of `cluster`, in which the group held a seat), ``seats`` (its rows: a
    strategy seated twice in one game counts one game and two seats), and for each measure its value, ``_ci``
    (half the interval's width), ``_low`` and ``_high``.
    """
    data = rows.assign(win=(rows["rank"] == 1).astype(float), bankrupt=rows["bankrupt"].astype(bool))
    records = []
    for key, g in data.groupby(by, sort=True):
        rec = dict(zip(by, key)) if isinstance(by, list) else {by: key}
        rec["games"] = g[cluster].nunique()
        rec["seats"] = len(g)
        for column, name in SUMMARY_MEASURES:
            iv = cluster_mean(g[column].astype(float), g[cluster], n_boot=n_boot, seed=seed)
            rec.update({name: iv.estimate, f"{name}_ci": (iv.high - iv.low) / 2, f"{name}_low": iv.low, f"{name}_high": iv.high})
        rec["bankruptcy_rate"] = float(g["bankrupt"].mean())
        records.append(rec)
    keys = by if isinstance(by, list) else [by]
    columns = [*keys, "games", "seats", *[f"{n}{x}" for _, n in SUMMARY_MEASURES for x in ("", "_ci", "_low", "_high")], "bankruptcy_rate"]
    return pd.DataFrame(records, columns=columns)


def specs_from(scenario: str, strategies: Sequence[StrategySpec], seeds: Sequence[int], overrides: Mapping[str, Any] | None = None,
               tags: Mapping[str, Any] | None = None) -> list[RunSpec]:
    """One spec per seed: the same scenario, overrides, seats and tags."""
    ov = tuple(sorted((overrides or {}).items()))
    tg = tuple(sorted((tags or {}).items()))
    return [RunSpec(scenario, tuple(strategies), int(s), ov, tg) for s in seeds]
