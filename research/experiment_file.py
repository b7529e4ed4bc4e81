"""Experiments as files: a TOML file names a whole design, as NetLogo's BehaviorSpace and the EMA
Workbench do, and ``crmsim experiment FILE.toml`` runs it on research.sweep's machinery.

A file states the scenario, the parameters (a list of values, or a range ``{low, high}``; a grid
range also takes ``steps``), the design (grid, Sobol or Latin hypercube), the line-ups, the seeds and
the outcomes to report::

    name = "price-and-market-size"
    scenario = "classroom-v1"          # a shipped name, or a path relative to this file
    seeds = 10                          # replicate games per design point and line-up
    master_seed = 0
    outcomes = ["mean_score", "bankruptcy_rate", "score:premium"]
    lineups = [["balanced", "premium", "price_cutter"], ["adaptive", "random"]]
    imports = []                        # modules (or .py files next to this one) with plug-in strategies

    [design]
    kind = "grid"                       # grid | sobol | lhs
    samples = 16                        # points drawn within the ranges (sobol, lhs); Saltelli's N with sobol_indices
    sobol_indices = false

    [parameters]
    "market.reference_price" = [90, 110]
    "market.customers" = {low = 2000, high = 6000, steps = 3}

    [fixed]                             # settings held for every run
    "market.track_customers" = 200

Keys may also be nested tables (``[parameters.market]`` then ``customers = [...]``). The file is
validated before any game runs; every problem is reported with the file, the key, the rule and the
value. ``crmsim params SCENARIO`` lists the keys a file can sweep.

Each line-up is a sweep of its own (``OUT/lineup-<n>/``, resumable); the experiment writes
``outcomes.parquet`` (one row per line-up and design point: the parameters, the games and the
outcomes asked for), ``sobol.parquet`` when indices were asked for, and ``experiment.json`` (the
validated design, the warnings and the provenance).
"""

from __future__ import annotations

import difflib
import importlib
import sys
import tomllib
import warnings
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crmsim import InputError
from crmsim.research.parameters import SEAT_COUNT, SEAT_COUNT_RULE, Parameter, sweepable
from crmsim.research.sweep import RUN_OUTCOMES, SobolWarning, sweep
from crmsim.sim.export import provenance, write_json, write_tables

DesignKind = Literal["grid", "sobol", "lhs"]
#: the outcomes every line-up has; ``score:<strategy>`` adds a strategy's mean score
OUTCOMES = RUN_OUTCOMES


class ExperimentError(InputError):
    """An experiment file is missing, unreadable or breaks a rule; `problems` lists each one."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid experiment\n" + "\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Range(_Strict):
    """A parameter's range: drawn within by a Sobol or Latin-hypercube design, or `steps` values for a grid."""

    low: float
    high: float
    steps: int | None = Field(None, ge=2, le=1000, description="grid only: evenly spaced values from low to high")


class Design(_Strict):
    kind: DesignKind = "grid"
    samples: int = Field(16, ge=1, le=1_000_000, description="points within the ranges (Saltelli's N with sobol_indices)")
    sobol_indices: bool = Field(False, description="first-order and total Sobol indices (kind = sobol)")


class ExperimentSpec(_Strict):
    """The content of an experiment file (see the module docstring)."""

    name: str | None = None
    description: str | None = None
    scenario: str
    seeds: int = Field(10, ge=1, le=1_000_000)
    master_seed: int = Field(0, ge=0)
    design: Design = Design()
    parameters: dict[str, list[Any] | Range] = Field(min_length=1)
    fixed: dict[str, Any] = {}
    lineups: list[list[str]] = Field(default_factory=list)
    imports: list[str] = Field(default_factory=list)
    outcomes: list[str] = Field(default_factory=lambda: ["mean_score", "bankruptcy_rate"], min_length=1)

    @field_validator("parameters", "fixed", mode="before")
    @classmethod
    def _dotted(cls, value: object) -> object:
        return flatten(value) if isinstance(value, Mapping) else value

    @field_validator("parameters", mode="before")
    @classmethod
    def _values_or_range(cls, value: object) -> object:
        for key, given in (value.items() if isinstance(value, Mapping) else ()):
            if not isinstance(given, (list, Mapping)):
                raise ValueError(f"{key}: give a list of values or a range {{low, high}}; got {given!r}")
        return value

    @field_validator("lineups")
    @classmethod
    def _lineups_not_empty(cls, value: list[list[str]]) -> list[list[str]]:
        for i, lu in enumerate(value):
            if not lu:
                raise ValueError(f"line-up {i} is empty; give at least one strategy")
        return value


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables to dotted keys; a table with ``low``/``high`` is a range and stays whole."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and not {"low", "high"} & set(value):
            out.update(flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


@dataclass
class Experiment:
    """A validated experiment file, ready to run.

    Attributes:
        spec: the file's content.
        source: the file (for messages and relative paths).
        scenario: the scenario as the runs name it (a path resolved against the file's folder).
        grid: parameter -> values (grid design, and fixed single values of a sampled design).
        bounds: parameter -> (low, high) (sampled designs).
        lineups: the line-ups (strategy specs).
    """

    spec: ExperimentSpec
    source: str
    scenario: str
    grid: dict[str, list[Any]]
    bounds: dict[str, tuple[float, float]]
    lineups: list[list[str]]


@dataclass
class ExperimentResult:
    """What an experiment produced.

    Attributes:
        outcomes: one row per line-up and design point: ``lineup`` (its number, from 1), ``strategies``,
            ``point``, the parameters, ``games`` and each outcome asked for (``mean_score`` with ``mean_score_ci``).
        indices: Sobol indices of the outcomes asked for, per line-up (or None).
        sweeps: each line-up's research.sweep.SweepResult.
        warnings: what to distrust (each prefixed with its line-up).
        provenance: the experiment's provenance record.
    """

    experiment: Experiment
    outcomes: pd.DataFrame
    indices: pd.DataFrame | None
    sweeps: list[Any]
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, Any] | None = None


def read_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file.

    Raises:
        ExperimentError: naming the file, and for each problem the key, the rule and the value.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        problem = "file not found" if isinstance(exc, FileNotFoundError) else f"not valid TOML: {exc}" \
            if isinstance(exc, tomllib.TOMLDecodeError) else f"cannot read it ({exc.strerror})"
        raise ExperimentError(str(path), [problem]) from None
    return check_experiment(data, str(path), path.parent)


def check_experiment(data: Mapping[str, Any], source: str = "<experiment>", folder: str | Path = ".") -> Experiment:
    """Validate an experiment's content (as read from TOML); relative paths are taken from `folder`.

    Raises:
        ExperimentError: naming `source`, and for each problem the key, the rule and the value.
    """
    from crmsim.scenarios import format_validation_error

    try:
        spec = ExperimentSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise ExperimentError(source, format_validation_error(source, exc).problems) from None
    folder = Path(folder)
    problems: list[str] = []
    for i, target in enumerate(spec.imports):
        problem = import_strategies(target, folder)
        if problem:
            problems.append(f"imports.{i}: {problem}; got {target!r}")
    scenario = _scenario_ref(spec.scenario, folder)
    try:
        settable = {p.key: p for p in sweepable(scenario, with_seat_count=True)}
    except ValueError as exc:
        raise ExperimentError(source, problems + [f"scenario: {str(exc).splitlines()[-1].strip(' -')}; got {spec.scenario!r}"]) from None
    params = {key: p for key, p in settable.items() if key != SEAT_COUNT}
    grid, bounds = _design_values(spec, params, problems)
    for key, value in spec.fixed.items():
        if key in spec.parameters:
            problems.append(f"fixed.{key}: a parameter cannot also be fixed; got {value!r}")
        else:
            problems += _value_problems(f"fixed.{key}", key, value, settable)
    if spec.design.sobol_indices and spec.design.kind != "sobol":
        problems.append(f"design.sobol_indices: Sobol indices need design.kind = 'sobol'; got kind {spec.design.kind!r}")
    lineups = _check_lineups(spec, settable, problems)
    if problems:
        raise ExperimentError(source, problems)
    return Experiment(spec=spec, source=source, scenario=scenario, grid=grid, bounds=bounds, lineups=lineups)


def import_strategies(target: str, folder: Path = Path(".")) -> str | None:
    """Import a module with plug-in strategies: a module name, or a .py file (relative to `folder`).

    A file's folder goes on ``sys.path`` (spawned workers inherit it). Returns the problem, or None.
    """
    path = Path(target)
    if path.suffix == ".py":
        path = path if path.is_absolute() else folder / path
        if not path.is_file():
            return "no such file"
        if str(path.parent.resolve()) not in sys.path:
            sys.path.insert(0, str(path.parent.resolve()))
        target = path.stem
    try:
        importlib.import_module(target)
    except ImportError as exc:
        return f"cannot import it ({exc})"
    return None


def _scenario_ref(name: str, folder: Path) -> str:
    local = folder / name
    return str(local.resolve()) if local.suffix == ".toml" and local.exists() else name


def _value_problems(where: str, key: str, value: Any, params: Mapping[str, Parameter]) -> list[str]:
    param = params.get(key)
    if param is None:
        near = difflib.get_close_matches(key, list(params), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        return [f"{where}: not a sweepable setting{hint}; `crmsim params` lists them; got {key!r}"]
    problem = param.problem(value)
    return [f"{where}: {problem} ({param.bounds or param.type}); got {value!r}"] if problem else []


def _design_values(spec: ExperimentSpec, params: Mapping[str, Parameter], problems: list[str]) -> tuple[dict, dict]:
    """The grid values and the bounds the sweep takes, each value checked against the setting's bounds."""
    grid: dict[str, list[Any]] = {}
    bounds: dict[str, tuple[float, float]] = {}
    kind = spec.design.kind
    for key, given in spec.parameters.items():
        where = f"parameters.{key}"
        if key == SEAT_COUNT:
            problems.append(f"{where}: {SEAT_COUNT_RULE} (under [fixed]); got {given!r}")
            continue
        if key not in params:
            problems += _value_problems(where, key, None, params)
            continue
        if isinstance(given, Range):
            for end in ("low", "high"):
                problems += _value_problems(f"{where}.{end}", key, getattr(given, end), params)
            if given.low >= given.high:
                problems.append(f"{where}: needs low < high; got {given.low:g}:{given.high:g}")
            elif kind == "grid" and given.steps is None:
                problems.append(f"{where}: a grid needs a list of values, or a range with steps; got {given.low:g}:{given.high:g}")
            elif kind == "grid":
                values = np.linspace(given.low, given.high, given.steps)
                grid[key] = list(dict.fromkeys(int(round(v)) for v in values)) if params[key].type == "int" else [float(v) for v in values]
            elif given.steps is not None:
                problems.append(f"{where}.steps: only a grid takes steps (design.kind = {kind!r} draws within low:high); got {given.steps}")
            else:
                bounds[key] = (given.low, given.high)
        else:
            if not given:
                problems.append(f"{where}: give at least one value; got []")
            elif kind != "grid" and len(given) != 1:
                problems.append(f"{where}: a {kind} design needs a range {{low, high}} (or one fixed value); got {given!r}")
            for i, value in enumerate(given):
                problems += _value_problems(f"{where}.{i}", key, value, params)
            grid[key] = list(given)
    if kind != "grid" and not any(isinstance(g, Range) for g in spec.parameters.values()):
        problems.append(f"parameters: a {kind} design needs at least one range {{low, high}}")
    return grid, bounds


def _check_lineups(spec: ExperimentSpec, params: Mapping[str, Parameter], problems: list[str]) -> list[list[str]]:
    from crmsim.agents.bots import DEFAULT_LINEUP, make_bot, strategy_label

    lineups = spec.lineups or [list(DEFAULT_LINEUP)]
    seats = spec.fixed.get(SEAT_COUNT, params[SEAT_COUNT].value)
    labels: set[str] = set()
    for i, lu in enumerate(lineups):
        if len(lu) > seats:
            problems.append(f"lineups.{i}: {len(lu)} strategies for {seats} firms; got {lu!r}")
        for j, s in enumerate(lu):
            try:
                make_bot(s)
                labels.add(strategy_label(s))
            except ValueError as exc:
                problems.append(f"lineups.{i}.{j}: {exc}")
    known = [*OUTCOMES, *sorted(f"score:{label}" for label in labels)]
    for i, name in enumerate(spec.outcomes):
        if name not in known:
            problems.append(f"outcomes.{i}: must be one of {', '.join(known)}; got {name!r}")
    return [list(lu) for lu in lineups]


def run_experiment(
    experiment: Experiment | str | Path,
    out_dir: str | Path | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: bool = True,
    stale: str = "refuse",
) -> ExperimentResult:
    """Run every line-up of an experiment over its design and collect the outcomes it asks for.

    Args:
        experiment: an Experiment, or the path of an experiment file.
        out_dir: the output folder (each line-up's sweep in ``lineup-<n>/``, resumable; the experiment's
            files at the top).
        executor, workers, progress, stale: as research.runner.execute.

    Raises:
        ExperimentError: for an invalid file, before any game runs.
    """
    exp = experiment if isinstance(experiment, Experiment) else read_experiment(experiment)
    spec = exp.spec
    sweeps, frames, indices, notes = [], [], [], []
    for n, lu in enumerate(exp.lineups, start=1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SobolWarning)  # collected below, once per line-up
            res = sweep(exp.scenario, exp.grid if exp.grid else None, bounds=exp.bounds or None, design=spec.design.kind,
                        samples=spec.design.samples, seeds=spec.seeds, strategies=lu, overrides=dict(spec.fixed),
                        master_seed=spec.master_seed, sobol=spec.design.sobol_indices, executor=executor,
                        workers=workers, out_dir=Path(out_dir) / f"lineup-{n}" if out_dir else None,
                        progress=progress, stale=stale)
        sweeps.append(res)
        frames.append(_outcomes(res.points, n, res, spec.outcomes))
        if res.indices is not None:
            indices.append(res.indices[res.indices["output"].isin(spec.outcomes)].assign(lineup=n))
        notes += [f"line-up {n}: {w}" for w in res.warnings]
    for note in notes:
        warnings.warn(note, SobolWarning, stacklevel=2)
    outcomes = pd.concat(frames, ignore_index=True)
    sobol = pd.concat(indices, ignore_index=True) if indices else None
    record = provenance(_base_scenario(exp), sweeps[0].provenance["seed"], [s.provenance["lineup"] for s in sweeps],
                        scenario_ref=exp.scenario, overrides=dict(spec.fixed),
                        extra={"kind": "experiment", "design": spec.design.model_dump(),
                               "parameters": {k: v.model_dump() if isinstance(v, Range) else v for k, v in spec.parameters.items()}})
    result = ExperimentResult(exp, outcomes, sobol, sweeps, notes, record)
    if out_dir:
        tables = {"outcomes": outcomes} if sobol is None else {"outcomes": outcomes, "sobol": sobol}
        write_tables(tables, out_dir, record)
        write_json({"file": exp.source, "experiment": spec.model_dump(mode="json"), "warnings": notes},
                   Path(out_dir) / "experiment.json", record)
    return result


def _base_scenario(exp: Experiment):
    from crmsim.scenarios import load_scenario

    return load_scenario(exp.scenario, overrides=dict(exp.spec.fixed))


def _outcomes(points: pd.DataFrame, n: int, res: Any, asked: list[str]) -> pd.DataFrame:
    params = [c for c in points.columns if c.startswith("param:")]
    cols = ["point", *params, "games", *[c for c in asked if c in points.columns]]
    if "mean_score" in asked:
        cols.insert(cols.index("mean_score") + 1, "mean_score_ci")
    out = points[cols].rename(columns=lambda c: c.removeprefix("param:"))
    out.insert(0, "strategies", ",".join(res.provenance["lineup"]))
    out.insert(0, "lineup", n)
    return out
