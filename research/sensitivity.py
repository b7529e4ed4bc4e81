"""Sensitivity of the customer stylised facts: each main customer parameter moved -50% and +50% on the same seeds.

:func:`sensitivity` re-measures every fact (research.facts) at 0.5x and 1.5x
of each parameter of :data:`SENSITIVITY` with common random numbers, and
gives the normalised change of every fact's measure, (y+ - y-) / |y0| per
100% change of the parameter; :func:`drivers` lists, per parameter, the
facts it moves beyond noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crmsim import InputError
from crmsim.research.experiments import DEFAULT_SCENARIO, Overrides, band
from crmsim.research.facts import CHECK_KEYS, run_seed_metrics
from crmsim.scenarios import load_scenario
from crmsim.scenarios.schema import Scenario


@dataclass(frozen=True)
class Parameter:
    """A customer parameter moved in the sensitivity sweep; `overrides(factor, scenario)` gives its scenario overrides."""

    name: str
    description: str
    keys: tuple[str, ...]  # market fields it sets

    def overrides(self, factor: float, scenario: Scenario) -> dict[str, float]:
        m = scenario.market
        if self.name in ("dropout_mean", "purchase_mean"):
            a_key, b_key = self.keys
            a, b = getattr(m, a_key.split(".")[1]), getattr(m, b_key.split(".")[1])
            k = a + b
            mean = a / k * factor
            return {a_key: mean * k, b_key: (1 - mean) * k}
        (key,) = self.keys
        return {key: getattr(m, key.split(".")[1]) * factor}


SENSITIVITY: tuple[Parameter, ...] = (
    Parameter("loss_aversion", "weight of shortfalls over surpluses", ("market.loss_aversion",)),
    Parameter("affection_hazard", "hazard drop in the zone of affection", ("market.affection_hazard",)),
    Parameter("defection_zone_hazard", "hazard rise in the zone of defection", ("market.defection_zone_hazard",)),
    Parameter("choice_price", "log-price coefficient of choice", ("market.choice_price",)),
    Parameter("price_gain_elasticity", "purchase response below the reference price", ("market.price_gain_elasticity",)),
    Parameter("price_loss_elasticity", "purchase response above the reference price", ("market.price_loss_elasticity",)),
    Parameter("quality_weight", "direct effect of quality on satisfaction", ("market.quality_weight",)),
    Parameter("disconfirmation_gain", "satisfaction per unit of disconfirmation", ("market.disconfirmation_gain",)),
    Parameter("dropout_mean", "mean base dropout (Beta, concentration kept)", ("market.dropout_alpha", "market.dropout_beta")),
    Parameter("purchase_mean", "mean purchase propensity (Beta, concentration kept)", ("market.purchase_alpha", "market.purchase_beta")),
    Parameter("units_sigma", "spread of units per purchase", ("market.units_sigma",)),
    Parameter("complaint_slope", "rise of complaint chance with dissatisfaction", ("market.complaint_slope",)),
    Parameter("bass_q", "Bass imitation", ("market.bass_q",)),
)
SENSITIVITY_OUTPUTS = CHECK_KEYS


def sensitivity(scenario: str | Path = DEFAULT_SCENARIO, params: Sequence[str | Parameter] | None = None,
                seeds: int | Sequence[int] = 3, factor: float = 0.5, baseline: pd.DataFrame | None = None,
                workers: int = 1, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Move each parameter by -factor and +factor (default +-50%) on the same seeds; the change of every output.

    Returns one row per (parameter, output): baseline mean y0, means at the
    low and high setting, swing = y+ - y-, its 95% band over seeds (paired),
    normalised sensitivity (y+ - y-) / (|y0| x 2 factor) (the relative change of
    the output per relative change of the parameter) and `drives` (the swing's
    band excludes 0). `baseline` (per-seed rows from :func:`measure_facts`) is
    reused for its seeds if it has them all.
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    chosen = [p if isinstance(p, Parameter) else _parameter(p) for p in (params if params is not None else SENSITIVITY)]
    start = load_scenario(scenario)
    tasks: list[tuple[int, str | Path, Overrides | None]] = []
    labels: list[tuple[str, str]] = []
    for p in chosen:
        for side, f in (("low", 1 - factor), ("high", 1 + factor)):
            for s in seed_list:
                tasks.append((s, scenario, p.overrides(f, start)))
                labels.append((p.name, side))
    have_base = baseline is not None and set(seed_list) <= set(baseline["seed"])
    if not have_base:
        for s in seed_list:
            tasks.append((s, scenario, None))
            labels.append(("baseline", "base"))
    rows = run_seed_metrics(tasks, workers, progress)
    df = pd.DataFrame(rows).astype({"seed": int})
    df["parameter"], df["side"] = zip(*labels)
    base = baseline[baseline["seed"].isin(seed_list)] if have_base else df[df["parameter"] == "baseline"]
    base = base.set_index("seed").loc[seed_list]
    out = []
    for p in chosen:
        lo = df[(df["parameter"] == p.name) & (df["side"] == "low")].set_index("seed").loc[seed_list]
        hi = df[(df["parameter"] == p.name) & (df["side"] == "high")].set_index("seed").loc[seed_list]
        for key in SENSITIVITY_OUTPUTS:
            y0 = float(base[key].mean())
            swing = (hi[key] - lo[key]).to_numpy(dtype=float)
            m, b_lo, b_hi = band(swing)
            norm = m / (abs(y0) * 2 * factor) if y0 else math.nan
            out.append({"parameter": p.name, "output": key, "baseline": y0, "low": float(lo[key].mean()),
                        "high": float(hi[key].mean()), "swing": m, "swing_low": b_lo, "swing_high": b_hi,
                        "sensitivity": norm, "drives": bool(np.isfinite(b_lo) and (b_lo > 0 or b_hi < 0)),
                        "values": ", ".join(f"{k.split('.')[-1]}={v:.4g}" for k, v in p.overrides(1 - factor, start).items())
                                  + " .. " + ", ".join(f"{v:.4g}" for v in p.overrides(1 + factor, start).values())})
    return pd.DataFrame(out)


def _parameter(name: str) -> Parameter:
    for p in SENSITIVITY:
        if p.name == name or p.keys == (name,) or p.keys == (f"market.{name}",):
            return p
    from crmsim.scenarios.schema import Market

    key = name if name.startswith("market.") else f"market.{name}"
    field_name = key.split(".", 1)[1]
    if field_name not in Market.model_fields or not isinstance(getattr(Market(), field_name), float):
        known = ", ".join(p.name for p in SENSITIVITY)
        raise InputError(f"--params: {name!r} is not a real-valued market parameter; known: {known}, or any market.<field>")
    return Parameter(field_name, key, (key,))


def drivers(sens: pd.DataFrame, top: int = 4) -> pd.DataFrame:
    """Per parameter, the outputs it drives (swing band excludes 0), strongest normalised sensitivity first."""
    rows = []
    for p, g in sens.groupby("parameter", sort=False):
        g = g[g["drives"]].assign(mag=lambda d: d["sensitivity"].abs()).sort_values("mag", ascending=False)
        rows.append({"parameter": p, "drives": ", ".join(f"{o} ({s:+.2f})" for o, s in zip(g["output"][:top], g["sensitivity"][:top]))
                     or "nothing beyond noise"})
    return pd.DataFrame(rows)

