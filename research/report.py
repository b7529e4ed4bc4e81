"""The model-validity report: the stylised facts, the sensitivity sweep and the CDNOW holdout, with tables and plots.

:func:`validation_report` runs the three checks (research.facts,
research.sensitivity, research.holdout) and returns a
:class:`ValidationReport`, which renders them as Markdown and writes
report.md, CSV tables and PNG plots. ``crmsim validate`` is its command line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from crmsim.research.experiments import DEFAULT_SCENARIO
from crmsim.research.facts import CHECKS, Check, fact_table, measure_facts
from crmsim.research.holdout import Holdout, cdnow_holdout
from crmsim.research.markdown import md_table as _md_table
from crmsim.research.sensitivity import drivers, sensitivity
from crmsim.scenarios import load_scenario


PLOT_FILES = {"facts": "validation-facts.png", "sensitivity": "validation-sensitivity.png",
              "holdout": "validation-cdnow-holdout.png"}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_facts(table: pd.DataFrame, per_seed: pd.DataFrame, path: str | Path, checks: Sequence[Check] = CHECKS) -> Path:
    """One panel per check: each seed's value, the mean with its 95% band, the target band shaded."""
    n = len(checks)
    cols = 4
    rows = math.ceil(n / cols)
    fig = _figure(3.2 * cols, 1.55 * rows + 0.4)
    by_key = table.set_index("check")
    for i, c in enumerate(checks):
        ax = fig.add_subplot(rows, cols, i + 1)
        r = by_key.loc[c.key]
        vals = per_seed[c.key].to_numpy(dtype=float)
        finite = vals[np.isfinite(vals)]
        pts = [*finite, r["ci_low"], r["ci_high"]]
        lo_t = c.low if math.isfinite(c.low) else np.nanmin(pts)
        hi_t = c.high if math.isfinite(c.high) else np.nanmax(pts)
        span = [np.nanmin([*pts, lo_t]), np.nanmax([*pts, hi_t])]
        pad = 0.15 * (span[1] - span[0] or 1.0)
        ax.axvspan(lo_t if math.isfinite(c.low) else span[0] - pad, hi_t if math.isfinite(c.high) else span[1] + pad,
                   color="tab:green", alpha=0.15)
        ax.scatter(finite, np.zeros_like(finite) + 0.3, s=8, color="grey", alpha=0.7)
        colour = "tab:green" if r["passed"] else "tab:red"
        if np.isfinite(r["ci_low"]):
            ax.errorbar([r["mean"]], [0], xerr=[[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]], fmt="o",
                        color=colour, capsize=3)
        else:
            ax.plot([r["mean"]], [0], "o", color=colour)
        ax.set_xlim(span[0] - pad, span[1] + pad)
        ax.set_ylim(-0.6, 0.8)
        ax.set_yticks([])
        ax.set_title(f"{c.key}\n{'pass' if r['passed'] else 'FAIL'}, target {c.target}", fontsize=7.5)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(f"Customer stylised facts: mean and 95% band over {int(table['seeds'].max())} seeds (green: target)", fontsize=10)
    fig.savefig(path)
    return Path(path)


def plot_sensitivity(sens: pd.DataFrame, path: str | Path, factor: float = 0.5) -> Path:
    """Heatmap of normalised sensitivities (parameter x output); weak (within noise) cells hatched out."""
    params = list(dict.fromkeys(sens["parameter"]))
    outputs = list(dict.fromkeys(sens["output"]))
    grid = sens.pivot(index="parameter", columns="output", values="sensitivity").loc[params, outputs].to_numpy(dtype=float)
    drives = sens.pivot(index="parameter", columns="output", values="drives").loc[params, outputs].to_numpy(dtype=bool)
    fig = _figure(1.0 + 0.62 * len(outputs), 1.6 + 0.42 * len(params))
    ax = fig.add_subplot()
    lim = 2.0
    im = ax.imshow(np.clip(np.nan_to_num(grid), -lim, lim), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    for i in range(len(params)):
        for j in range(len(outputs)):
            v = grid[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}", ha="center", va="center", fontsize=6.5,
                        color="black" if drives[i, j] else "0.6", fontweight="bold" if drives[i, j] else "normal")
    ax.set_xticks(range(len(outputs)), outputs, rotation=55, ha="right", fontsize=7.5)
    ax.set_yticks(range(len(params)), params, fontsize=8)
    seeds = int(sens.attrs.get("seeds", 0)) or "?"
    ax.set_title(f"Normalised sensitivity (y+ - y-)/|y0| for -/+{factor:.0%} of each parameter "
                 f"({seeds} seeds, bold: band excludes 0; colour clipped at +-{lim:g})", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.savefig(path)
    return Path(path)


def plot_holdout(h: Holdout, path: str | Path, weeks: int = 39) -> Path:
    """Left: cumulative repeat purchases over 78 weeks (tracking); right: the holdout, cumulative since week 39."""
    fig = _figure(11, 4.2)
    styles = {"bgnbd": ("BG/NBD (unconditional)", "tab:blue", "--"), "bgnbd_conditional": ("BG/NBD conditional E[Y(t)|x,t_x,T]", "tab:blue", "-"),
              "crmsim_bgnbd": ("crmsim, BG/NBD projected (default)", "tab:orange", "-"),
              "crmsim_bgbb": ("crmsim, BG/BB fitted directly", "tab:green", "-"),
              "crmsim_moments": ("crmsim, BG/NBD moment-matched", "tab:red", ":")}
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(h.weekly["week"], h.weekly["actual"], color="black", lw=2, label="actual")
    for col in h.weekly.columns.drop(["week", "actual"]):
        label, c, ls = styles.get(col, (col, None, "-"))
        ax.plot(h.weekly["week"], h.weekly[col], color=c, ls=ls, label=label)
        if col + "_weekly" in h.bands:
            lo, hi = h.bands[col + "_weekly"]
            ax.fill_between(h.weekly["week"], lo, hi, color=c, alpha=0.15)
    ax.axvline(weeks, color="grey", ls=":", lw=1)
    ax.set_xlabel("week (1997-01-01 = week 1)")
    ax.set_ylabel("cumulative repeat transactions")
    ax.set_title("CDNOW: tracking, calibration weeks 1-39", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(1, 2, 2)
    err = h.errors.set_index("forecast")
    ax.plot(h.holdout["week"], h.holdout["actual"], color="black", lw=2, label="actual")
    for col in h.holdout.columns.drop(["week", "actual"]):
        label, c, ls = styles.get(col, (col, None, "-"))
        ax.plot(h.holdout["week"], h.holdout[col], color=c, ls=ls, label=f"{label}: MAPE {err.loc[col, 'holdout_mape']:.1%}")
        if col in h.bands:
            lo, hi = h.bands[col]
            ax.fill_between(h.holdout["week"], lo, hi, color=c, alpha=0.15)
    ax.set_xlabel("week")
    ax.set_ylabel("repeat transactions since week 39")
    ax.set_title("Holdout weeks 40-78: forecast from the 39-week calibration", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.savefig(path)
    return Path(path)


@dataclass
class ValidationReport:
    """What :func:`validation_report` measured, and the files it wrote."""

    scenario: str
    per_seed: pd.DataFrame
    facts: pd.DataFrame
    sensitivity: pd.DataFrame | None
    holdout: Holdout | None
    holdout_note: str = ""
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def markdown(self, images: str = "") -> str:
        """The report as Markdown; `images` is prefixed to the PNG file names."""
        lines = [f"# Validation report: {self.scenario}", "",
                 f"{len(self.per_seed)} seeds on neutral settings; a check passes when the 95% t band of the mean "
                 "across seeds lies inside the target. Generated by `crmsim validate` "
                 f"in {self.seconds:.0f} s.", "", "## Stylised facts (design section 9, customers)", ""]
        lines.append(_md_table(
            ["check", "fact", "target", "mean", "95% CI", "result"],
            [[f"`{r.check}`", r.fact, r.target, _num(r.mean), f"[{_num(r.ci_low)}, {_num(r.ci_high)}]",
              "pass" if r.passed else "**FAIL**"] for r in self.facts.itertuples()]))
        passed = int(self.facts["passed"].sum())
        lines += ["", f"{passed} of {len(self.facts)} checks pass.", "", "What each check measures:", ""]
        lines += [f"- `{r.check}`: {r.measure}" for r in self.facts.itertuples()]
        bg = [c for c in self.per_seed.columns if c.startswith("bgnbd_") and c != "bgnbd_zero_repeat_share"]
        if bg:
            lines += ["", "BG/NBD fitted (in months) to the neutral newcomers' purchase histories, mean over seeds: "
                      + ", ".join(f"{c.removeprefix('bgnbd_')} = {self.per_seed[c].mean():.3g}" for c in bg)
                      + " (per month; CDNOW in months: r = 0.243, alpha = 1.02, a = 0.793, b = 2.43)."]
        lines += ["", f"![facts]({images}{PLOT_FILES['facts']})", ""]
        if self.sensitivity is not None and len(self.sensitivity):
            s = self.sensitivity
            seeds = s.attrs.get("seeds", "?")
            lines += ["## Sensitivity (+-50% of each parameter)", "",
                      f"Each parameter set to 0.5x and 1.5x its value on the same {seeds} seeds. Normalised sensitivity "
                      "(y+ - y-) / |y0| is the relative change of an output per 100% change of the parameter; an output is "
                      "*driven* when the paired 95% band of y+ - y- excludes 0. Outputs near 0 (margins, gaps) inflate it.", ""]
            lines.append(_md_table(["parameter", "values (-50% .. +50%)", "drives (normalised sensitivity)"],
                                   [[f"`{p}`", s[s['parameter'] == p]['values'].iloc[0], d]
                                    for p, d in drivers(s).itertuples(index=False)]))
            lines += ["", f"![sensitivity]({images}{PLOT_FILES['sensitivity']})", ""]
        lines += ["## Out of sample: CDNOW", ""]
        if self.holdout is None:
            lines += [self.holdout_note or "not run", ""]
        else:
            lines += _holdout_markdown(self.holdout, images)
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | Path) -> list[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = [plot_facts(self.facts, self.per_seed, out / PLOT_FILES["facts"])]
        self.facts.to_csv(out / "facts.csv", index=False)
        self.per_seed.to_csv(out / "facts_per_seed.csv", index=False)
        files += [out / "facts.csv", out / "facts_per_seed.csv"]
        if self.sensitivity is not None and len(self.sensitivity):
            files.append(plot_sensitivity(self.sensitivity, out / PLOT_FILES["sensitivity"]))
            self.sensitivity.to_csv(out / "sensitivity.csv", index=False)
            files.append(out / "sensitivity.csv")
        if self.holdout is not None:
            files.append(plot_holdout(self.holdout, out / PLOT_FILES["holdout"]))
            self.holdout.holdout.to_csv(out / "holdout.csv", index=False)
            self.holdout.errors.to_csv(out / "holdout_errors.csv", index=False)
            files += [out / "holdout.csv", out / "holdout_errors.csv"]
        (out / "report.md").write_text(self.markdown(), encoding="utf-8")
        files.append(out / "report.md")
        self.files = files
        return files


def _holdout_markdown(h: Holdout, images: str = "") -> list[str]:
    from crmsim.research.calibration import PUBLISHED

    cal = h.calibration
    rows = []
    for name in ("bgnbd", "gamma_gamma", "bgbb"):
        fit = cal.fits[name]
        pub = PUBLISHED.get(name)
        for r in fit.table(pub).itertuples():
            rows.append([name, r.parameter, f"{r.estimate:.4g}", f"{r.se:.3g}",
                         f"{pub[r.parameter]:g} ({r.rel_diff:+.1%})" if pub and r.parameter in pub else "-"])
    keys = list(cal.markets["bgnbd"].keys())
    lines = [f"Calibration: CDNOW_sample.txt, the {len(cal.summary):,} customers of the 1997-Q1 cohort, weeks 1-39 "
             f"(to {cal.calibration_end.date()}); BG/NBD in weeks, BG/BB in months.", "",
             _md_table(["model", "parameter", "estimate", "s.e.", "published"], rows), "",
             "crmsim [market] parameters from the calibration, by mapping (m: purchases per crmsim purchase occasion):", "",
             _md_table(["mapping", *keys, "m"],
                       [[f"`{k}`", *(f"{mk[c]:.4g}" for c in keys), f"{cal.occasions[k]:.3f}"] for k, mk in cal.markets.items()]), "",
             "Forecast of the holdout (weeks 40-78, no marketing change), cumulative repeat transactions "
             f"(crmsim: mean of {h.replicates} replicates, 95% range shaded in the plot):", "",
             _md_table(["forecast", "holdout MAPE (weekly cumulative)", "week-78 total", "actual", "total error", "tracking MAPE (weeks 1-78)"],
                       [[f"`{r.forecast}`", f"{r.holdout_mape:.1%}", f"{r.holdout_total:,.0f}", f"{r.actual_total:,.0f}",
                         f"{r.total_error:+.1%}", "-" if not np.isfinite(r.tracking_mape_78w) else f"{r.tracking_mape_78w:.1%}"]
                        for r in h.errors.itertuples()]), "",
             f"![holdout]({images}{PLOT_FILES['holdout']})", ""]
    return lines


def _num(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"


def validation_report(scenario: str | Path = DEFAULT_SCENARIO, seeds: int = 12, out_dir: str | Path | None = None,
                      sensitivity_seeds: int = 3, params: Sequence[str] | None = None, holdout: bool = True,
                      replicates: int = 30, workers: int = 1, progress: Callable[[str, int, int], None] | None = None) -> ValidationReport:
    """Measure the customer facts over `seeds` seeds, the +-50% sensitivity sweep and the CDNOW out-of-sample check.

    Args:
        scenario: shipped scenario name or TOML path (its market parameters are validated).
        seeds: seeds 0..seeds-1 for the facts.
        out_dir: if given, report.md, CSV tables and PNG plots are written there.
        sensitivity_seeds: seeds per setting of the sweep (0 skips the sweep).
        params: parameters to sweep (default: every one in SENSITIVITY).
        holdout: run the CDNOW check (skipped with a note when lifetimes, which ships the data, is missing).
        replicates: crmsim replicates of the CDNOW cohort.
        workers: processes for the seeds (1: in this process).
        progress: called as progress(stage, done, total).
    """
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1; got {seeds}")
    t0 = time.perf_counter()
    load_scenario(scenario)  # a bad scenario fails here, with the loader's message
    stage = (lambda name: (lambda d, n: progress(name, d, n))) if progress else (lambda name: None)
    per_seed = measure_facts(scenario, seeds, workers=workers, progress=stage("facts"))
    facts = fact_table(per_seed)
    sens = None
    if sensitivity_seeds > 0:
        sens = sensitivity(scenario, params, seeds=sensitivity_seeds, baseline=per_seed, workers=workers, progress=stage("sensitivity"))
        sens.attrs["seeds"] = sensitivity_seeds
    hold, note = None, ""
    if holdout:
        try:
            hold = cdnow_holdout(replicates=replicates, base=scenario)
        except ImportError as exc:
            note = f"Skipped: {exc}."
    report = ValidationReport(scenario=str(scenario), per_seed=per_seed, facts=facts, sensitivity=sens, holdout=hold,
                              holdout_note=note, seconds=time.perf_counter() - t0)
    if out_dir is not None:
        report.write(out_dir)
    return report
