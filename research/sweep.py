"""Parameter sweeps: play a scenario over a grid of values, or over a Sobol / Latin-hypercube design within bounds.

Every design point plays the same replicate seeds (common random numbers, from
``SeedSequence(master_seed).spawn(seeds)``), so points differ only by their
parameters. With ``sobol=True`` the design is Saltelli's (``SALib.sample.sobol``)
and ``SALib.analyze.sobol`` gives first-order and total Sobol indices of each
outcome: mean score, bankruptcy rate, void-bid and failed-tender rates, and each
strategy's mean score. Sobol estimates need many points: when an index or its
95% interval strays outside [0, 1] by more than :data:`SOBOL_TOLERANCE`, the
result carries a warning naming the parameter and a larger N
(:func:`sobol_warnings`).

    >>> from crmsim.research.sweep import sweep
    >>> res = sweep("classroom-v1", params={"market.price_sensitivity": [1.0, 2.0]}, seeds=8)
    >>> res.points          # one row per design point: parameters and mean outcomes
"""

from __future__ import annotations

import math
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmsim import InputError
from crmsim.agents.bots import StrategySpec
from crmsim.research.parameters import SEAT_COUNT, SEAT_COUNT_RULE
from crmsim.research.runner import RunSpec, execute, spawn_seeds, summarize
from crmsim.sim.export import provenance, write_json, write_tables
from crmsim.sim.streams import DESIGN_STREAM

ParamValues = Mapping[str, Sequence[Any]]
Bounds = Mapping[str, tuple[float, float]]
Point = dict[str, Any]

DESIGNS = ("grid", "sobol", "lhs")
RUN_OUTCOMES = ("mean_score", "bankruptcy_rate", "void_bid_rate", "failed_tender_rate")
#: how far outside [0, 1] a Sobol index or its 95% interval may stray before the sweep warns that N is too small
SOBOL_TOLERANCE = 0.05


class SobolWarning(UserWarning):
    """Sobol indices too unstable to read: the design's base N is too small."""


@dataclass
class SweepResult:
    """What a sweep produced (all tidy frames; ``param:<key>`` columns name the parameters).

    Attributes:
        results: one row per firm per run (research.runner.run_game's rows, with ``tag:point`` and ``tag:replicate``).
        runs: one row per run: design point, replicate, seed, parameters and run outcomes.
        points: one row per design point: parameters, games, and each outcome's mean over the replicates.
        summary: one row per design point and strategy: mean rank, win rate, mean score (95% CIs), bankruptcy rate.
        indices: Sobol indices (output, parameter, S1, S1_conf, ST, ST_conf), or None when not asked for.
        design: "grid", "sobol" or "lhs".
        warnings: what to distrust, in words (Sobol indices from too few points).
        provenance: the sweep's provenance record (crmsim.sim.export.provenance), in every file it writes.
    """

    results: pd.DataFrame
    runs: pd.DataFrame
    points: pd.DataFrame
    summary: pd.DataFrame
    indices: pd.DataFrame | None
    design: str
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, Any] | None = None

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write results, runs, points, summary (and sobol) Parquet files with the provenance; returns their paths."""
        frames = {"results": self.results, "runs": self.runs, "points": self.points, "summary": self.summary}
        if self.indices is not None:
            frames["sobol"] = self.indices
        return write_tables(frames, out_dir, self.provenance)


# ---------------------------------------------------------------------------
# designs


def parse_value(text: str) -> Any:
    """A command-line value as TOML reads it (``2000`` int, ``0.5`` float, ``true`` bool), else the string."""
    try:
        return tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def grid_design(params: ParamValues) -> list[Point]:
    """Every combination of the listed values (the first key varies slowest)."""
    for key, values in params.items():
        if isinstance(values, (str, bytes)) or not len(values):
            raise InputError(f"param {key}: give a non-empty list of values; got {values!r}")
    keys = list(params)
    return [dict(zip(keys, combo)) for combo in product(*(params[k] for k in keys))]


def _scenario_value(scenario: str, overrides: Mapping[str, Any], key: str) -> Any:
    from crmsim.scenarios import load_scenario

    node: Any = load_scenario(scenario, overrides=dict(overrides))
    for part in key.split("."):
        if not hasattr(node, part):
            raise InputError(f"bounds {key}: the scenario has no setting {key!r}")
        node = getattr(node, part)
    return node


def check_bounds(bounds: Bounds) -> dict[str, tuple[float, float]]:
    out = {}
    for key, pair in bounds.items():
        try:
            lo, hi = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise InputError(f"bounds {key}: give two numbers (low, high); got {pair!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InputError(f"bounds {key}: need finite low < high; got {lo}:{hi}")
        out[key] = (lo, hi)
    return out


def sample_design(
    bounds: Bounds,
    design: str,
    samples: int,
    seed: int = 0,
    sobol_indices: bool = False,
    integer: Sequence[str] = (),
) -> tuple[list[Point], dict[str, Any]]:
    """Points within `bounds` from a Sobol sequence or a Latin hypercube (scipy.stats.qmc), or Saltelli's design.

    Args:
        bounds: parameter -> (low, high).
        design: "sobol" or "lhs".
        samples: points to draw; with ``sobol_indices`` it is Saltelli's base N, giving N*(D+2) points.
        seed: the design's seed (the scramble of the sequence, the hypercube's shuffles).
        sobol_indices: draw Saltelli's design (SALib.sample.sobol, first-order and total indices) for analysis.
        integer: parameters whose values are rounded to whole numbers.

    Returns:
        (points, problem): the points in design order, and SALib's problem dict.
    """
    bounds = check_bounds(bounds)
    if design not in ("sobol", "lhs"):
        raise InputError(f"design: must be 'sobol' or 'lhs' for bounds; got {design!r}")
    if sobol_indices and design != "sobol":
        raise InputError(f"design: Sobol indices need the Saltelli design ('sobol'); got {design!r}")
    if not isinstance(samples, int) or samples < 1:
        raise InputError(f"samples: must be a whole number >= 1; got {samples!r}")
    if not bounds:
        raise InputError("bounds: give at least one parameter with low:high")
    keys = list(bounds)
    problem = {"num_vars": len(keys), "names": keys, "bounds": [list(bounds[k]) for k in keys]}
    design_seed = int(np.random.SeedSequence(seed, spawn_key=(DESIGN_STREAM,)).generate_state(1)[0])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(power of 2|balance properties|Convergence properties).*")
        if sobol_indices:
            from SALib.sample import sobol as saltelli

            x = saltelli.sample(problem, samples, calc_second_order=False, seed=design_seed)
        else:
            from scipy.stats import qmc

            engine = qmc.Sobol(len(keys), scramble=True, seed=design_seed) if design == "sobol" else qmc.LatinHypercube(len(keys), seed=design_seed)
            unit = engine.random(samples)
            x = qmc.scale(unit, [b[0] for b in bounds.values()], [b[1] for b in bounds.values()])
    points = []
    for row in x:
        points.append({k: int(round(float(v))) if k in integer else float(v) for k, v in zip(keys, row)})
    return points, problem


# ---------------------------------------------------------------------------
# outcomes


def run_outcomes(results: pd.DataFrame, params: Sequence[str] = ()) -> pd.DataFrame:
    """One row per run: point, replicate, seed, parameters, mean score, bankruptcy rate, void-bid and
    failed-tender rates, and each strategy's mean score (``score:<strategy>``)."""
    run = ["tag:point", "tag:replicate"]  # not run_id: two equal design points name the same game
    g = results.groupby(run, sort=True)
    out = g[["run_id", "seed", *[f"param:{p}" for p in params]]].first()
    out["mean_score"] = g["score"].mean()
    out["bankruptcy_rate"] = g["bankrupt"].mean()
    out["void_bid_rate"] = g["void_bid_rate"].first()
    out["failed_tender_rate"] = g["failed_tender_rate"].first()
    by_strategy = results.pivot_table(index=run, columns="strategy", values="score", aggfunc="mean", sort=True)
    for s in by_strategy.columns:
        out[f"score:{s}"] = by_strategy[s]
    return out.reset_index()


def point_outcomes(runs: pd.DataFrame, params: Sequence[str] = ()) -> pd.DataFrame:
    """Each outcome's mean over a design point's replicates (and the 95% interval of the mean score)."""
    outputs = [c for c in runs.columns if c in RUN_OUTCOMES or c.startswith("score:")]
    g = runs.groupby("tag:point", sort=True)
    out = g[[f"param:{p}" for p in params]].first()
    out.insert(0, "games", g.size())
    out[outputs] = g[outputs].mean()
    out.insert(out.columns.get_loc("mean_score") + 1, "mean_score_ci", 1.96 * g["mean_score"].std(ddof=1) / np.sqrt(g.size()))
    return out.reset_index().rename(columns={"tag:point": "point"})


def bootstrap_seed(seed: int) -> int:
    """The seed handed to SALib's Sobol bootstrap for a sweep's `seed`: never 0, the same for the same `seed`.

    SALib 1.6's ``sobol.analyze`` seeds its own generator only ``if seed:``; a seed of 0 (the default master
    seed) falls back to the unseeded global ``np.random``, so its intervals changed on every run. The seed is
    therefore taken from ``np.random.SeedSequence(seed)`` and made odd, hence never 0.
    """
    return int(np.random.SeedSequence(seed).generate_state(1)[0]) | 1


def sobol_indices(points: pd.DataFrame, problem: Mapping[str, Any], seed: int = 0) -> pd.DataFrame:
    """First-order and total Sobol indices (SALib.analyze.sobol) of every outcome column of `points`.

    `points` must hold Saltelli's design in order (one row per point); an outcome that never varies has NaN indices.
    The bootstrap behind ``S1_conf`` and ``ST_conf`` draws from :func:`bootstrap_seed` (`seed`), so the same points
    and seed give the same intervals, seed 0 included, and numpy's global random state is left alone.
    """
    from SALib.analyze import sobol

    boot_seed = bootstrap_seed(seed)
    outputs = [c for c in points.columns if c in RUN_OUTCOMES or c.startswith("score:")]
    rows = []
    for out in outputs:
        y = points[out].to_numpy(dtype=float)
        if np.isnan(y).any() or np.ptp(y) == 0:
            res = {k: [np.nan] * problem["num_vars"] for k in ("S1", "S1_conf", "ST", "ST_conf")}
        else:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = sobol.analyze(dict(problem), y, calc_second_order=False, seed=boot_seed)
        for i, name in enumerate(problem["names"]):
            rows.append({"output": out, "parameter": name, **{k: float(res[k][i]) for k in ("S1", "S1_conf", "ST", "ST_conf")}})
    return pd.DataFrame(rows, columns=["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"])


def sobol_warnings(indices: pd.DataFrame, samples: int, tolerance: float = SOBOL_TOLERANCE) -> list[str]:
    """One warning per parameter whose indices are too unstable to read: an S1 or ST below 0 or above 1, or
    its 95% interval reaching past them, by more than `tolerance`; each names the outcomes and a larger N."""
    out = []
    for name, g in indices.groupby("parameter", sort=False):
        found = []
        for r in g.itertuples():
            for index in ("S1", "ST"):
                value, conf = getattr(r, index), getattr(r, f"{index}_conf")
                if not np.isfinite(value):
                    continue
                low, high = value - conf, value + conf
                if low < -tolerance or high > 1 + tolerance:
                    found.append(f"{r.output} {index} = {value:.2f} ± {conf:.2f}")
        if found:
            shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
            out.append(f"Sobol indices of {name} are unstable with N = {samples}: {shown} (an index lies in [0, 1]); "
                       f"use a larger N, such as --samples {max(64, 4 * samples)}")
    return out


# ---------------------------------------------------------------------------
# the sweep


def sweep(
    scenario: str,
    params: ParamValues | None = None,
    *,
    bounds: Bounds | None = None,
    design: str | None = None,
    samples: int = 16,
    seeds: int = 10,
    strategies: Sequence[StrategySpec] | None = None,
    overrides: Mapping[str, Any] | None = None,
    master_seed: int = 0,
    sobol: bool = False,
    executor: Executor | None = None,
    workers: int | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    stale: str = "refuse",
) -> SweepResult:
    """Play `scenario` at every design point, `seeds` games each, and return tidy frames.

    Args:
        scenario: a shipped scenario name or TOML path.
        params: for a grid, parameter -> values (dotted scenario keys such as ``"market.customers"``).
        bounds: for a Sobol / Latin-hypercube design, parameter -> (low, high); a parameter whose
            scenario value is a whole number gets whole-number values.
        design: "grid" (default with params), "sobol" (default with bounds) or "lhs".
        samples: design points drawn within bounds (Saltelli's base N when ``sobol``).
        seeds: replicate games per point; their seeds are ``spawn_seeds(master_seed, seeds)``, the same at every point.
        strategies: bot specs or Strategy instances, repeated to fill the scenario's seats
            (default: agents.bots.DEFAULT_LINEUP).
        overrides: scenario settings fixed for every run (e.g. ``{"market.customers": 2000}``).
        master_seed: the seed the replicate seeds and the design derive from.
        sobol: compute Sobol indices (needs bounds; uses Saltelli's design).
        executor, workers, out_dir, progress, stale: as research.runner.execute (out_dir also receives the
            Parquet files and sweep.json, each with the sweep's provenance).

    Warns:
        SobolWarning: when Sobol indices are too unstable to read (also in ``warnings`` and sweep.json).

    Raises:
        InputError / scenarios.ScenarioError: naming the parameter, the rule and the value, before any game runs.
    """
    from crmsim.agents.bots import lineup
    from crmsim.scenarios import load_scenario

    params = dict(params or {})
    bounds = dict(bounds or {})
    overrides = dict(overrides or {})
    design = design or ("sobol" if bounds else "grid")
    if design not in DESIGNS:
        raise InputError(f"design: must be one of {', '.join(DESIGNS)}; got {design!r}")
    if not isinstance(seeds, int) or seeds < 1:
        raise InputError(f"seeds: must be a whole number >= 1; got {seeds!r}")
    if design == "grid":
        if bounds:
            raise InputError("bounds: a grid takes --param values; use --design sobol or lhs with bounds")
        if sobol:
            raise InputError("sobol: Sobol indices need bounds and the Saltelli design (--design sobol --bounds key=lo:hi)")
        if not params:
            raise InputError("params: give at least one parameter with its values (key=v1,v2,...)")
        points, problem = grid_design(params), None
        swept = list(params)
    else:
        if not bounds:
            raise InputError(f"bounds: design {design!r} needs bounds (key=low:high)")
        for key, values in params.items():  # single values are fixed settings alongside a design
            if len(values) != 1:
                raise InputError(f"param {key}: with design {design!r} give bounds, or one fixed value; got {list(values)!r}")
            overrides[key] = values[0]
        integer = [k for k in bounds if _is_integer(_scenario_value(scenario, overrides, k))]
        points, problem = sample_design(bounds, design, samples, master_seed, sobol_indices=sobol, integer=integer)
        swept = list(bounds)
    clash = sorted(set(swept) & set(overrides))
    if clash:
        raise InputError(f"overrides: {', '.join(clash)} is swept; it cannot also be fixed")
    if SEAT_COUNT in swept:
        given = params.get(SEAT_COUNT, bounds.get(SEAT_COUNT))
        raise InputError(f"param {SEAT_COUNT}: {SEAT_COUNT_RULE} (--set {SEAT_COUNT}=N); got {given!r}")

    base = load_scenario(scenario, overrides=overrides)
    seats = lineup(list(strategies) if strategies else None, base.firms.count)
    for point in points:  # every point must make a valid scenario before any game runs
        load_scenario(scenario, overrides={**overrides, **point})
    replicate_seeds = spawn_seeds(master_seed, seeds)
    specs = [
        RunSpec(scenario, tuple(seats), seed, tuple(sorted({**overrides, **point}.items())),
                (("point", i), ("replicate", r)))
        for i, point in enumerate(points)
        for r, seed in enumerate(replicate_seeds)
    ]
    results = execute(specs, executor=executor, workers=workers, out_dir=out_dir, progress=progress, stale=stale)
    runs = run_outcomes(results, swept)
    pts = point_outcomes(runs, swept)
    summary = summarize(results, ["tag:point", *[f"param:{p}" for p in swept], "strategy"],
                        seed=master_seed).rename(columns={"tag:point": "point"})
    indices = sobol_indices(pts, problem, seed=master_seed) if sobol else None
    notes = sobol_warnings(indices, samples) if indices is not None else []
    for note in notes:
        warnings.warn(note, SobolWarning, stacklevel=2)
    design_meta = {"design": design, "params": params, "bounds": {k: list(v) for k, v in bounds.items()},
                   "samples": samples, "sobol": sobol}
    record = provenance(base, replicate_seeds, specs[0].labels if specs else [], scenario_ref=scenario,
                        overrides=overrides, extra={"kind": "sweep", **design_meta})
    res = SweepResult(results=results, runs=runs, points=pts, summary=summary, indices=indices, design=design,
                      warnings=notes, provenance=record)
    if out_dir:
        res.write(out_dir)
        meta = {"scenario": scenario, **design_meta, "seeds": seeds, "master_seed": master_seed,
                "strategies": list(specs[0].labels) if specs else [], "overrides": overrides, "warnings": notes}
        write_json(meta, Path(out_dir) / "sweep.json", record)
    return res


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
