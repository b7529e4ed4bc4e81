"""Round-robin tournaments of strategy bots, in the spirit of the Axelrod library's.

Every mix of the given strategies that fills the scenario's seats (each
multiset, research.runner.lineups) plays the same replicate seeds; when there
are more mixes than ``max_lineups``, a fixed subset drawn with the master seed
plays instead, and the result says so. Seats are shuffled per game (a fixed
permutation drawn from the game seed and the mix), so no strategy always sits
in the same chair. The table ranks strategies by mean rank, with win rate,
mean score and 95% intervals that resample whole games (research.runner.summarize),
and ``pairs`` compares every two strategies within the games where both played
(research.stats.paired_comparisons), so the games' shared luck cancels.

Strategies are bot specs (``"premium"``, ``"premium(price_premium=1.25)"``,
``"my_bots:LoyaltyFirst"``, an entry-point name) or Strategy instances; each is
named in the tables by its label (agents.bots.strategy_label).

    >>> from crmsim.research.tournament import tournament
    >>> t = tournament("classroom-v1", ["balanced", "premium", "price_cutter"], seeds=5)
    >>> t.table
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from math import comb
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmsim import InputError
from crmsim.agents.bots import StrategySpec
from crmsim.research.runner import RunSpec, execute, lineups, spawn_seeds, summarize
from crmsim.research.stats import paired_comparisons
from crmsim.sim.export import provenance, write_json, write_tables
from crmsim.sim.streams import SAMPLE_STREAM, stream_rng

Lineup = tuple[str, ...]

DEFAULT_MAX_LINEUPS = 200


@dataclass
class TournamentResult:
    """A tournament's frames and how its lineups were chosen.

    Attributes:
        table: one row per strategy, best mean rank first: the games it played (``games``) and its seats in them
            (``seats``), mean rank, win rate, mean score (each with a 95% interval resampling whole games) and
            bankruptcy rate.
        results: one row per firm per game (research.runner.run_game's rows; ``tag:mix`` names the lineup).
        matrix: mean score of the row strategy in games where the column strategy sat among its opponents.
        pairs: every two strategies compared on score within the games where both played: ``a, b, diff``
            (a's mean score minus b's), its 95% interval ``low, high`` (games resampled), ``games`` and
            ``clear`` (the interval excludes 0).
        lineups: the mixes played, sorted.
        total_lineups: every mix of the strategies over the seats.
        seeds: the replicate game seeds every mix played.
    """

    table: pd.DataFrame
    results: pd.DataFrame
    matrix: pd.DataFrame
    lineups: list[Lineup]
    total_lineups: int
    seeds: list[int]
    pairs: pd.DataFrame | None = None
    provenance: dict[str, Any] | None = None

    @property
    def sampled(self) -> bool:
        return len(self.lineups) < self.total_lineups

    @property
    def note(self) -> str:
        games = len(self.lineups) * len(self.seeds)
        if self.sampled:
            return (f"{len(self.lineups)} of {self.total_lineups} lineups (a fixed sample drawn with the master seed), "
                    f"{len(self.seeds)} seeds each: {games} games")
        return f"all {self.total_lineups} lineups, {len(self.seeds)} seeds each: {games} games"

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write table, results, matrix and pairs as Parquet, each with the tournament's provenance; returns their paths."""
        frames = {"table": self.table, "results": self.results, "matrix": self.matrix.reset_index()}
        if self.pairs is not None:
            frames["pairs"] = self.pairs
        return write_tables(frames, out_dir, self.provenance)


def tournament_lineups(strategies: Sequence[str], seats: int, max_lineups: int | None = DEFAULT_MAX_LINEUPS,
                       seed: int = 0) -> tuple[list[Lineup], int]:
    """The mixes to play: every multiset of `seats` strategies, or a seeded sample of `max_lineups` of them.

    Returns (lineups in sorted order, the number of every multiset).
    """
    total = comb(len(strategies) + seats - 1, seats)
    if max_lineups is not None and max_lineups < 1:
        raise InputError(f"max_lineups: must be >= 1 (or None for every lineup); got {max_lineups}")
    every = lineups(strategies, seats)
    if max_lineups is None or total <= max_lineups:
        return every, total
    rng = stream_rng(seed, SAMPLE_STREAM)
    keep = np.sort(rng.choice(total, size=max_lineups, replace=False))
    return [every[i] for i in keep], total


def seat_order(mix: Lineup, seed: int) -> Lineup:
    """The mix's strategies in seat order for one game: a permutation fixed by the game seed and the mix."""
    key = zlib.crc32(",".join(mix).encode())
    perm = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,))).permutation(len(mix))
    return tuple(mix[i] for i in perm)


def head_to_head(results: pd.DataFrame) -> pd.DataFrame:
    """Mean score of each strategy (rows) in the games where another strategy (columns) was among its opponents."""
    rows = []
    for _, game in results.groupby("run_id", sort=False):
        strategies = game["strategy"].tolist()
        for me, score in zip(strategies, game["score"].tolist()):
            others = list(strategies)
            others.remove(me)
            for opp in set(others):
                rows.append((me, opp, score))
    df = pd.DataFrame(rows, columns=["strategy", "opponent", "score"])
    return df.pivot_table(index="strategy", columns="opponent", values="score", aggfunc="mean", sort=True)


def tournament(
    scenario: str,
    strategies: Sequence[StrategySpec],
    seeds: int = 10,
    *,
    overrides: Mapping[str, Any] | None = None,
    master_seed: int = 0,
    max_lineups: int | None = DEFAULT_MAX_LINEUPS,
    executor: Executor | None = None,
    workers: int | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    stale: str = "refuse",
) -> TournamentResult:
    """Play every mix of `strategies` over the scenario's seats, `seeds` games each, and rank the strategies.

    Args:
        scenario: a shipped scenario name or TOML path.
        strategies: bot specs or Strategy instances (agents.bots.make_bot); strategies with equal labels
            are played once.
        seeds: replicate games per mix; their seeds are ``spawn_seeds(master_seed, seeds)``, the same for every mix.
        overrides: scenario settings for every game (e.g. ``{"market.customers": 2000}``).
        master_seed: the seed the game seeds and any lineup sample derive from.
        max_lineups: play at most this many mixes (a seeded sample when there are more); None plays every one.
        executor, workers, out_dir, progress, stale: as research.runner.execute (out_dir also receives the
            Parquet files and tournament.json, each with the tournament's provenance).
    """
    from crmsim.agents.bots import strategy_label
    from crmsim.scenarios import load_scenario

    given = [s.strip() if isinstance(s, str) else s for s in strategies]
    by_label = {strategy_label(s): s for s in given if not isinstance(s, str) or s}
    names = sorted(by_label)
    if not names:
        raise InputError("strategies: give at least one bot name")
    if not isinstance(seeds, int) or seeds < 1:
        raise InputError(f"seeds: must be a whole number >= 1; got {seeds!r}")
    overrides = dict(overrides or {})
    base = load_scenario(scenario, overrides=overrides)
    mixes, total = tournament_lineups(names, base.firms.count, max_lineups, master_seed)
    game_seeds = spawn_seeds(master_seed, seeds)
    ov = tuple(sorted(overrides.items()))
    specs = [
        RunSpec(scenario, tuple(by_label[s] for s in seat_order(mix, seed)), seed, ov,
                (("mix", ",".join(mix)), ("replicate", r)))
        for mix in mixes
        for r, seed in enumerate(game_seeds)
    ]
    results = execute(specs, executor=executor, workers=workers, out_dir=out_dir, progress=progress, stale=stale)
    table = summarize(results, "strategy", seed=master_seed).sort_values(["mean_rank", "strategy"], kind="stable").reset_index(drop=True)
    table.insert(0, "position", np.arange(1, len(table) + 1))
    pairs = paired_comparisons(results, "score", "strategy", cluster="run_id", seed=master_seed)
    record = provenance(base, game_seeds, [list(m) for m in mixes], scenario_ref=scenario, overrides=overrides,
                          extra={"kind": "tournament", "max_lineups": max_lineups})
    res = TournamentResult(table=table, results=results, matrix=head_to_head(results), lineups=mixes,
                           total_lineups=total, seeds=game_seeds, pairs=pairs, provenance=record)
    if out_dir:
        res.write(out_dir)
        meta = {"scenario": scenario, "strategies": names, "seeds": seeds, "master_seed": master_seed,
                "max_lineups": max_lineups, "overrides": overrides, "note": res.note}
        write_json(meta, Path(out_dir) / "tournament.json", record)
    return res
