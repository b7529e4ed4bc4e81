"""A worked strategy study: how high a price premium can the premium strategy charge?

Plays classroom-v1 over 40 seeds twice: once with the shipped ``premium`` bot
(10% over the reference price) in seat 0, once with a variant charging 25%
over it, against the same five opponents and on the same seeds (common random
numbers, so the comparison is paired game by game). Prints each variant's
mean rank, win rate and mean score with 95% intervals, the paired difference,
and saves a PNG.

    python docs/examples/strategy_study.py                  # all cores, writes out/strategy_study
    python docs/examples/strategy_study.py --workers 2 --seeds 20 --out /tmp/study

Rerunning with the same --out skips the games already played (one Parquet
file per game under out/runs). The results do not depend on --workers.

The ``if __name__ == "__main__":`` guard matters: the process pool starts
its workers with the *spawn* method, and each worker imports this file, so
only definitions (such as registering the variant bot below) may run at import.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from crmsim.agents.bots import BOTS, Premium
from crmsim.research.runner import execute, spawn_seeds, specs_from, summarize


@dataclass
class HighPremium(Premium):
    """The shipped premium bot, but pricing 25% over the reference price instead of 10%."""

    name: ClassVar[str] = "premium_high"
    description: ClassVar[str] = "Premium service at a 25% price premium."
    price_premium: float = 1.25


# Registered at import time, so every worker process (which imports this file) knows the name too.
BOTS[HighPremium.name] = HighPremium

OPPONENTS = ("balanced", "relationship", "adaptive", "price_cutter", "random")
VARIANTS = ("premium", "premium_high")


def paired_difference(rows: pd.DataFrame, column: str) -> tuple[float, float]:
    """Mean and 95% half-width of (variant - shipped) for the focal seat, paired by seed."""
    focal = rows[rows["firm"] == 0].pivot(index="seed", columns="strategy", values=column)
    d = (focal[VARIANTS[1]] - focal[VARIANTS[0]]).astype(float)
    return float(d.mean()), float(1.96 * d.std(ddof=1) / math.sqrt(len(d)))


def plot(table: pd.DataFrame, rows: pd.DataFrame, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    x = np.arange(len(table))
    ax1.bar(x, table["mean_score"], yerr=table["mean_score_ci"], capsize=4, color=["tab:blue", "tab:orange"])
    ax1.set_xticks(x, table["strategy"])
    ax1.set_ylabel("final score, seat 0 (mean, 95% CI)")
    ax1.set_title("Mean final score")
    focal = rows[rows["firm"] == 0]
    ranks = np.arange(1, rows["rank"].max() + 1)
    for off, (name, colour) in zip((-0.2, 0.2), zip(VARIANTS, ("tab:blue", "tab:orange"))):
        counts = focal.loc[focal["strategy"] == name, "rank"].value_counts().reindex(ranks, fill_value=0)
        ax2.bar(ranks + off, counts, 0.4, label=name, color=colour)
    ax2.set_xticks(ranks)
    ax2.set_xlabel("final rank")
    ax2.set_ylabel("games")
    ax2.set_title("Final rank, seat 0")
    ax2.legend()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="classroom-v1")
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--master-seed", type=int, default=2024)
    ap.add_argument("--workers", type=int, default=None, help="processes (default: all cores, at most 8)")
    ap.add_argument("--out", default="out/strategy_study")
    args = ap.parse_args()

    seeds = spawn_seeds(args.master_seed, args.seeds)  # independent seeds, the same for both variants
    specs = [spec for v in VARIANTS for spec in specs_from(args.scenario, (v, *OPPONENTS), seeds, tags={"variant": v})]
    rows = execute(specs, workers=args.workers, out_dir=args.out)

    focal = rows[rows["firm"] == 0]
    table = summarize(focal, "strategy").set_index("strategy").loc[list(VARIANTS)].reset_index()
    pd.set_option("display.width", 160)
    print(f"\n{args.scenario}: seat 0 over {args.seeds} seeds against {', '.join(OPPONENTS)} (95% intervals)\n")
    print(pd.DataFrame({
        "strategy": table["strategy"],
        "games": table["games"],
        "mean rank": [f"{m:.2f} ± {c:.2f}" for m, c in zip(table["mean_rank"], table["mean_rank_ci"])],
        "win rate": [f"{m:.0%} ± {c:.0%}" for m, c in zip(table["win_rate"], table["win_rate_ci"])],
        "mean score": [f"{m:.1f} ± {c:.1f}" for m, c in zip(table["mean_score"], table["mean_score_ci"])],
        "bankrupt": [f"{b:.0%}" for b in table["bankruptcy_rate"]],
    }).to_string(index=False))
    for column, label in (("score", "score"), ("rank", "rank"), ("cash", "final cash")):
        m, c = paired_difference(rows, column)
        print(f"{VARIANTS[1]} - {VARIANTS[0]}, paired by seed: {label} {m:+,.2f} ± {c:,.2f}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "table.csv", index=False)
    plot(table, rows, out / "strategy_study.png")
    print(f"\nwrote {out / 'table.csv'} and {out / 'strategy_study.png'}")


if __name__ == "__main__":
    main()
