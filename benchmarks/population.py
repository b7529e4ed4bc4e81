"""How fast the vectorised customer rules run, against the same rules per object in Mesa, and a whole large game.

Measures, in one run:

* customer-periods per second of ``step_population`` (all ten rules) at
  10^4, 10^5 and 10^6 customers with 8 firms (median of several periods after
  one warm-up period), and the peak memory at the largest size;
* the same rules written per object in Mesa (benchmarks/mesa_population.py)
  at 10^4 and 10^5 customers, the speed-up of the vectorised rules, and two
  faithfulness checks of the per-object version: the same random numbers give
  the same customers (replay), and independent random numbers give the same
  aggregates within statistical tolerance;
* a whole game of ``large-market-v1`` (10^6 customers, bots in every seat);
* a profile of ``step_population`` at 10^6: time per rule, per line and per function.

Run from the repository root::

    python benchmarks/population.py
    python benchmarks/population.py --sizes 10000 100000 --periods 5 --skip-mesa --json out.json
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import inspect
import io
import json
import math
import os
import platform
import pstats
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import crmsim.agents.population as population
from crmsim.agents.population import MarketInputs, Population, init_population, step_population
from crmsim.scenarios import load_scenario
from crmsim.scenarios.schema import Market
from crmsim.sim.engine import period_rng

# the source step_population was compiled from, read at import so that line numbers match the running code
# even if the file is edited during a run
_POPULATION_SOURCE = Path(population.__file__).read_text().splitlines(keepends=True)

try:  # run as a script (benchmarks/ on sys.path) or as ``python -m benchmarks.population``
    from mesa_population import PopulationModel, ReplayModel
except ImportError:  # pragma: no cover
    from benchmarks.mesa_population import PopulationModel, ReplayModel

REPO = Path(__file__).resolve().parent.parent
N_FIRMS = 8
SEED = 20240601
MIB = 1024 * 1024
Z_TOLERANCE = 4.0  # |z| below which two independent runs agree

console = Console(width=150)


# ---------------------------------------------------------------------------
# the market the benchmark runs


def market_for(n: int) -> Market:
    """classroom-v1's market parameters with n customers."""
    return load_scenario("classroom-v1", overrides={"market.customers": n}).market


def firm_inputs(n: int, xp: Any = np) -> MarketInputs:
    """Eight plausible firms: prices around the reference price (100), service levels 0.5-0.8,
    complaint capacity scaled to the market so that some firms are overloaded."""
    price = np.array([92.0, 96.0, 100.0, 104.0, 108.0, 99.0, 112.0, 95.0])
    service_level = np.array([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.6])
    capacity_effect = np.array([1.0, 1.0, 1.0, 0.95, 1.0, 0.9, 1.0, 1.0])
    return MarketInputs(
        price=xp.asarray(price),
        quality=xp.asarray(service_level * capacity_effect),
        reputation=xp.asarray(np.array([0.55, 0.6, 0.62, 0.65, 0.7, 0.58, 0.68, 0.6])),
        awareness=xp.asarray(np.array([0.3, 0.45, 0.5, 0.4, 0.6, 0.35, 0.55, 0.42])),
        wom=xp.asarray(np.array([0.02, -0.01, 0.0, 0.03, -0.02, 0.01, 0.0, -0.03])),
        care=xp.asarray(np.array([0.2, 0.3, 0.4, 0.5, 0.6, 0.25, 0.45, 0.35])),
        complaint_capacity=xp.asarray(n * np.array([0.0004, 0.0006, 0.0008, 0.001, 0.0012, 0.0005, 0.0009, 0.0007])),
        alive=xp.asarray(np.ones(N_FIRMS, dtype=bool)),
        margin_per_unit=xp.asarray(price - 60.0),
        service_cost=xp.asarray(25.0 * service_level),
        scandal=xp.asarray(np.zeros(N_FIRMS)),
        purchase_factor=1.0,
        outside_boost=0.0,
        market_price=float(price.mean()),
    )


def start(n: int, seed: int = SEED) -> tuple[Population, MarketInputs, Market]:
    m = market_for(n)
    return init_population(m, N_FIRMS, period_rng(seed, 0)), firm_inputs(n), m


def summary(out: dict[str, Any], sat_sd: float) -> dict[str, float]:
    """Aggregates of one period to compare two implementations (per-firm arrays summed)."""
    end = float(np.sum(out["customers_end"]))
    return {
        "mean_satisfaction": float(np.sum(out["satisfaction_sum"])) / end,
        "sat_sd": sat_sd,
        "defections": float(np.sum(out["lost"])),
        "complaints": float(np.sum(out["complaints"])),
        "adopters": float(out["adopters"]),
        "buyers": float(np.sum(out["buyers"])),
        "customers_end": end,
    }


def outcome_dict(po: Any) -> dict[str, Any]:
    return {k: v for k, v in po.__dict__.items() if k != "panel"}


def rss_mib(key: str = "VmHWM") -> float:
    """This process's peak (VmHWM) or current (VmRSS) resident memory, from /proc (Linux).

    Unlike getrusage's ru_maxrss, VmHWM starts afresh in a new program, so a
    subprocess does not report its parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# ---------------------------------------------------------------------------
# vectorised


def bench_vectorised(n: int, periods: int, seed: int = SEED) -> dict[str, Any]:
    pop, inputs, m = start(n, seed)
    pop, po = step_population(pop, inputs, m, period_rng(seed, 1))  # warm-up, excluded
    active = np.asarray(pop.supplier) >= 0
    first = summary(outcome_dict(po), float(np.std(np.asarray(pop.satisfaction)[active])))
    times, cpu = [], []
    for p in range(periods):
        rng = period_rng(seed, p + 2)
        t0, c0 = time.perf_counter(), time.process_time()
        pop, po = step_population(pop, inputs, m, rng)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    return {
        "n": n,
        "periods": periods,
        "median_s": med,
        "min_s": min(times),
        "cpu_median_s": statistics.median(cpu),
        "max_s": max(times),
        "customer_periods_per_s": n / med,
        "population_mib": pop.nbytes() / MIB,
        "first_period": first,
    }


def memory_probe(n: int, mode: str) -> dict[str, float]:
    """Peak memory of a fresh process that builds n customers and runs 3 periods (run in a subprocess)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_memory-probe", str(n), mode]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _memory_probe_child(n: int, mode: str) -> None:
    baseline = rss_mib("VmRSS")
    if mode == "traced":
        tracemalloc.start()
    pop, inputs, m = start(n)
    pop_mib = pop.nbytes() / MIB
    for p in range(3):
        pop, po = step_population(pop, inputs, m, period_rng(SEED, p + 1))
    out = {"baseline_rss_mib": baseline, "population_mib": pop_mib}
    if mode == "traced":
        out["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / MIB
    else:
        out["max_rss_mib"] = rss_mib()
    print(json.dumps(out))


# ---------------------------------------------------------------------------
# per object (Mesa)


def bench_mesa(n: int, periods: int, seed: int = SEED) -> dict[str, Any]:
    pop, inputs, m = start(n, seed)
    t0 = time.perf_counter()
    model = PopulationModel(pop, inputs, m, seed=seed)
    build = time.perf_counter() - t0
    model.step()  # warm-up, excluded; compared with the vectorised warm-up period
    st = model.state()
    active = st["supplier"] >= 0
    first = summary(model.outcome(), float(np.std(st["satisfaction"][active])))
    times, cpu = [], []
    for _ in range(periods):
        t0, c0 = time.perf_counter(), time.process_time()
        model.step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    del model
    gc.collect()
    return {
        "n": n,
        "periods": periods,
        "build_s": build,
        "median_s": med,
        "min_s": min(times),
        "cpu_median_s": statistics.median(cpu),
        "max_s": max(times),
        "customer_periods_per_s": n / med,
        "first_period": first,
    }


def compare_aggregates(vec: dict[str, float], obj: dict[str, float]) -> list[dict[str, Any]]:
    """z-scores of the difference between two independent runs from the same population.

    Counts: Poisson variance (a+b); mean satisfaction: sd * sqrt(1/n_a + 1/n_b).
    """
    rows = []
    for key in ("mean_satisfaction", "defections", "complaints", "adopters", "buyers", "customers_end"):
        a, b = vec[key], obj[key]
        if key == "mean_satisfaction":
            se = math.sqrt(vec["sat_sd"] ** 2 / vec["customers_end"] + obj["sat_sd"] ** 2 / obj["customers_end"])
        else:
            se = math.sqrt(max(a + b, 1.0))
        z = (a - b) / se
        rows.append({"quantity": key, "vectorised": a, "per_object": b, "z": z, "ok": abs(z) < Z_TOLERANCE})
    return rows


class RecordingRng:
    """A Generator that hands out what the wrapped one draws and keeps a copy of every draw."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.calls: list[tuple[str, np.ndarray]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(self.rng, name)

        def record(*args: Any, **kwargs: Any) -> Any:
            out = fn(*args, **kwargs)
            self.calls.append((name, np.array(out, copy=True)))
            return out

        return record


REPLAY_DRAWS = ("noise", "u_defect", "u_adopt", "u_complain", "u_handle", "choice", "u_buy")
# the vectorised rules keep customers in float32 and the per-object ones in Python floats: the same random numbers
# must give the same decisions and the same numbers to this relative precision (float32 keeps about 7 digits)
REPLAY_TOLERANCE = 1e-5


def replay_check(n: int, periods: int, seed: int = SEED) -> list[dict[str, Any]]:
    """Run both versions on the same population with the vectorised step's own random numbers.

    The draws are recorded as step_population makes them: a standard normal
    and a uniform (defection) per served customer, a uniform per prospect
    (adoption), then a uniform per dissatisfied customer (complaint), per
    complainer (handling), per chooser (choice) and per customer with a
    supplier after the choice (purchase).
    """
    pop, inputs, m = start(n, seed)
    model = ReplayModel(pop, inputs, m, seed=seed)
    rows = []
    for p in range(1, periods + 1):
        rec = RecordingRng(period_rng(seed, p))
        pop, po = step_population(pop, inputs, m, rec, track=n)
        names = [c[0] for c in rec.calls]
        if names != ["standard_normal"] + ["random"] * (len(REPLAY_DRAWS) - 1):
            raise RuntimeError(f"step_population's draw order changed ({names}); update replay_check")
        model.replay(dict(zip(REPLAY_DRAWS, (c[1] for c in rec.calls))))
        model.step()
        st, out = model.state(), model.outcome()
        row: dict[str, Any] = {
            "period": p, "choosers": int(rec.calls[REPLAY_DRAWS.index("choice")][1].shape[0]), "draws_unmatched": model.overrun + model.draws_left(),
        }
        vec_state = {
            "supplier": pop.supplier, "tenure": pop.tenure, "advocacy": pop.advocacy, "complaint": pop.complaint,
            "defected": po.panel["defected"],
        }
        row["discrete_mismatches"] = {k: int(np.sum(np.asarray(v) != st[k])) for k, v in vec_state.items()}
        row["max_rel_diff"] = {
            k: float(np.max(np.abs(np.asarray(getattr(pop, k), dtype=float) - st[k]) / np.maximum(np.abs(st[k]), 1.0)))
            for k in ("expectation", "satisfaction", "loyalty", "ref_price")
        }
        rel = {}
        vec_out = outcome_dict(po)
        # the CRM tallies of the second version (revenue, units and at-risk counts by ABC tier, ...) are not
        # written per object: compared are the tallies both versions keep
        row["not_compared"] = sorted(k for k in vec_out if k not in out and k not in ("panel",))
        for k, v in vec_out.items():
            if k in ("panel", "prospects_end", "adopters") or k not in out:
                continue
            a, b = np.asarray(v, dtype=float), np.asarray(out[k], dtype=float)
            rel[k] = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1.0)))
        rel["adopters"] = float(po.adopters != out["adopters"])
        rel["prospects_end"] = float(po.prospects_end != out["prospects_end"])
        row["max_rel_diff_outcome"] = max(rel.values())
        row["worst_outcome_field"] = max(rel, key=rel.get)
        row["ok"] = (
            sum(row["discrete_mismatches"].values()) == 0
            and max(row["max_rel_diff"].values()) < REPLAY_TOLERANCE
            and row["max_rel_diff_outcome"] < REPLAY_TOLERANCE
            and row["draws_unmatched"] == 0
        )
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------
# whole game


def bench_game(periods: int = 12, seed: int = 1) -> dict[str, Any]:
    from crmsim.agents.bots import lineup
    from crmsim.sim.model import CRMModel

    path = REPO / "scenarios" / "large-market-v1.toml"
    if path.exists():
        scenario, source = load_scenario("large-market-v1"), "scenarios/large-market-v1.toml"
    else:
        scenario = load_scenario(
            "classroom-v1",
            overrides={"market.customers": 1_000_000, "market.track_customers": 10_000, "firms.service_staff": 1000},
        )
        source = "classroom-v1 with 10^6 customers (large-market-v1.toml not found)"
    n_firms = scenario.firms.count
    gc.collect()
    t0 = time.perf_counter()
    model = CRMModel(scenario, seed=seed, strategies=lineup(None, n_firms))
    build = time.perf_counter() - t0
    step_times, step_cpu = [], []
    for _ in range(periods):
        if model.finished:
            break
        t0, c0 = time.perf_counter(), time.process_time()
        model.step()
        step_times.append(time.perf_counter() - t0)
        step_cpu.append(time.process_time() - c0)
    t0 = time.perf_counter()
    frames = model.frames()
    frames_s = time.perf_counter() - t0
    out = {
        "scenario": source,
        "customers": scenario.market.customers,
        "firms": n_firms,
        "track_customers": scenario.market.track_customers,
        "build_s": build,
        "periods": len(step_times),
        "periods_s": sum(step_times),
        "periods_cpu_s": sum(step_cpu),
        "mean_period_s": statistics.mean(step_times),
        "max_period_s": max(step_times),
        "frames_s": frames_s,
        "frames": {k: list(v.shape) for k, v in frames.items()},
    }
    del model, frames
    gc.collect()
    return out


# ---------------------------------------------------------------------------
# profile


class LineTimer:
    """Wall time per source line of one function (a small line profiler built on sys.settrace).

    Calls made from a line (rule functions, numpy) count towards that line.
    """

    def __init__(self, func: Callable[..., Any]):
        self.code = func.__code__
        self.totals: dict[int, float] = defaultdict(float)
        self.hits: dict[int, int] = defaultdict(int)
        self._line: int | None = None
        self._t = 0.0

    def _local(self, frame: Any, event: str, arg: Any) -> Any:
        now = time.perf_counter()
        if self._line is not None:
            self.totals[self._line] += now - self._t
        if event == "line":
            self._line = frame.f_lineno
            self.hits[self._line] += 1
        elif event == "return":
            self._line = None
        self._t = time.perf_counter()
        return self._local

    def _global(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code is self.code:
            self._line, self._t = None, time.perf_counter()
            return self._local
        return None

    def run(self, fn: Callable[[], Any]) -> Any:
        sys.settrace(self._global)
        try:
            return fn()
        finally:
            sys.settrace(None)


SECTION = re.compile(r"^\s*#\s*(\d+\..*|whom the rules concern.*|per-firm totals.*)$")


def sections(func: Callable[..., Any]) -> tuple[dict[int, str], dict[int, str]]:
    """Map each source line of step_population to its rule (the numbered comments) and its text."""
    first = func.__code__.co_firstlineno
    lines = inspect.getblock(_POPULATION_SOURCE[first - 1 :])
    owner, text = {}, {}
    name = "signature"
    for k, line in enumerate(lines):
        lineno = first + k
        stripped = line.strip()
        if (mt := SECTION.match(line)) is not None:
            name = mt.group(1).split(":")[0].split("(")[0].strip()
            name = {"whom the rules concern, and the random draws for each of them": "served, prospects, random draws"}.get(name, name)
        elif stripped.startswith("new_pop = replace("):
            name = "new state"
        elif stripped.startswith("t = min(track, n)"):
            name = "panel and outcome"
        owner[lineno] = name
        text[lineno] = stripped
    return owner, text


def profile_step(n: int, periods: int, seed: int = SEED) -> dict[str, Any]:
    """Where step_population spends its time at n customers: per rule, per line, per function."""
    pop, inputs, m = start(n, seed)
    pop, _ = step_population(pop, inputs, m, period_rng(seed, 1))  # warm-up
    # cProfile
    prof = cProfile.Profile()
    p0 = pop
    prof.enable()
    for p in range(periods):
        p0, _ = step_population(p0, inputs, m, period_rng(seed, p + 2))
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    top_funcs = []
    for (file, line, fn), (cc, nc, tt, ct, _) in sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:14]:
        top_funcs.append({"function": f"{Path(file).name}:{line}({fn})" if line else fn, "calls": nc // periods,
                          "tottime_ms": 1000 * tt / periods, "cumtime_ms": 1000 * ct / periods})
    # line timing
    owner, text = sections(step_population)
    timer = LineTimer(step_population)
    p1 = pop
    minflt = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    for p in range(periods):
        p1, _ = timer.run(lambda p1=p1, p=p: step_population(p1, inputs, m, period_rng(seed, p + 2)))
    traced_total = (time.perf_counter() - t0) / periods
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - minflt) / periods
    by_rule: dict[str, float] = defaultdict(float)
    for ln, t in timer.totals.items():
        by_rule[owner.get(ln, "?")] += t / periods
    line_total = sum(by_rule.values())
    rules = [{"rule": k, "ms": 1000 * v, "share": v / line_total} for k, v in sorted(by_rule.items(), key=lambda kv: -kv[1])]
    lines = [
        {"line": ln, "rule": owner.get(ln, "?"), "ms": 1000 * t / periods, "code": text.get(ln, "")[:90]}
        for ln, t in sorted(timer.totals.items(), key=lambda kv: -kv[1])[:15]
    ]
    untraced = []
    p2 = pop
    for p in range(periods):
        t0 = time.perf_counter()
        p2, _ = step_population(p2, inputs, m, period_rng(seed, p + 2))
        untraced.append(time.perf_counter() - t0)
    return {
        "n": n,
        "periods": periods,
        "step_ms": 1000 * statistics.median(untraced),
        "line_traced_step_ms": 1000 * traced_total,
        "minor_page_faults_per_step": faults,
        "rules": rules,
        "lines": lines,
        "functions": top_funcs,
    }


# ---------------------------------------------------------------------------
# report


def fmt_rate(x: float) -> str:
    return f"{x / 1e6:,.2f} M" if x >= 1e6 else f"{x / 1e3:,.1f} k"


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import mesa

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_memory-probe"]:
        _memory_probe_child(int(argv[1]), argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000], help="customers (vectorised)")
    ap.add_argument("--periods", type=int, default=10, help="timed periods per size after one warm-up period")
    ap.add_argument("--mesa-sizes", type=int, nargs="+", default=[10_000, 100_000], help="customers (per object)")
    ap.add_argument("--mesa-periods", type=int, default=None, help="timed per-object periods (default: 5, or 3 from 10^5)")
    ap.add_argument("--skip-mesa", action="store_true", help="no per-object runs and no faithfulness checks")
    ap.add_argument("--skip-game", action="store_true", help="no whole-game timing")
    ap.add_argument("--skip-profile", action="store_true", help="no profile")
    ap.add_argument("--profile-size", type=int, default=None, help="customers for the profile (default: largest size)")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="write every figure as JSON")
    args = ap.parse_args(argv)

    command = f"cd {shlex.quote(str(REPO))} && {shlex.quote(sys.executable)} benchmarks/population.py" + (
        " " + shlex.join(argv) if argv else ""
    )
    info = machine()
    report: dict[str, Any] = {"command": command, "machine": info, "load_average_start": os.getloadavg()}
    console.rule("crmsim customer population benchmark")
    console.print(f"{info['cpu']} | {info['cores']} cores | Python {info['python']} | numpy {info['numpy']} | Mesa {info['mesa']}")
    console.print(f"{N_FIRMS} firms, classroom-v1 market parameters, all ten rules, track=0, median of {args.periods} periods after 1 warm-up")

    # 1. vectorised
    vec = []
    for n in sorted(args.sizes):
        vec.append(bench_vectorised(n, args.periods))
        console.print(f"  vectorised n={n:,}: {vec[-1]['median_s'] * 1000:.1f} ms/period", highlight=False)
        gc.collect()
    report["vectorised"] = vec
    largest = max(args.sizes)
    rss = memory_probe(largest, "rss")
    traced = memory_probe(largest, "traced")
    report["memory"] = {"n": largest, **rss, **{k: v for k, v in traced.items() if k == "traced_peak_mib"}}

    # 2. per object
    obj: list[dict[str, Any]] = []
    if not args.skip_mesa:
        for n in sorted(args.mesa_sizes):
            k = args.mesa_periods if args.mesa_periods is not None else (5 if n < 100_000 else 3)
            obj.append(bench_mesa(n, k))
            console.print(f"  per-object n={n:,}: {obj[-1]['median_s']:.2f} s/period", highlight=False)
        report["per_object"] = obj
        report["replay"] = replay_check(10_000, 3)
        report["aggregates"] = {
            str(o["n"]): compare_aggregates(v["first_period"], o["first_period"])
            for o in obj for v in vec if v["n"] == o["n"]
        }

    # 3. whole game
    if not args.skip_game:
        report["game"] = bench_game()
        console.print(f"  whole game: {report['game']['periods_s']:.2f} s for {report['game']['periods']} periods", highlight=False)

    # 4. profile
    if not args.skip_profile:
        report["profile"] = profile_step(args.profile_size or largest, min(args.periods, 5))

    for v in vec:
        for o in obj:
            if o["n"] == v["n"]:
                v["speed_up_median"] = o["median_s"] / v["median_s"]
                v["speed_up_min"] = o["min_s"] / v["min_s"]
                v["speed_up_cpu"] = o["cpu_median_s"] / v["cpu_median_s"]
    report["load_average_end"] = os.getloadavg()
    print_report(report)
    console.print(
        f"Load average (1, 5, 15 min) at start {', '.join(f'{x:.2f}' for x in report['load_average_start'])}, "
        f"at end {', '.join(f'{x:.2f}' for x in report['load_average_end'])} on {info['cores']} cores: "
        "other work on the machine slows the median; min ms shows the quiet case.",
        highlight=False,
    )
    console.print(f"\nReproduce: [bold]{command}[/bold]", highlight=False)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
        console.print(f"Figures written to {args.json}")
    if "replay" in report and not all(row["ok"] for row in report["replay"]):
        console.print(
            "[bold red]The per-object rules no longer match agents/population.py[/bold red] (a formula changed there): "
            "update benchmarks/mesa_population.py until the replay check passes; until then the per-object figures "
            "time rules that differ from the engine's."
        )
        return 1
    return 0


def print_report(r: dict[str, Any]) -> None:
    obj = {o["n"]: o for o in r.get("per_object", [])}
    t = Table(title="Customer rules, one period (step_population, vectorised, vs the same rules per object in Mesa)")
    for col in ("customers", "implementation", "periods", "median ms/period", "min ms", "median CPU ms", "customer-periods/s",
                "speed-up", "note"):
        t.add_column(col, justify="left" if col in ("implementation", "note") else "right")
    for v in r["vectorised"]:
        o = obj.get(v["n"])
        t.add_row(f"{v['n']:,}", "vectorised (numpy)", str(v["periods"]), f"{1000 * v['median_s']:,.1f}", f"{1000 * v['min_s']:,.1f}",
                  f"{1000 * v['cpu_median_s']:,.1f}", fmt_rate(v["customer_periods_per_s"]),
                  f"{o['median_s'] / v['median_s']:,.0f}x (min {o['min_s'] / v['min_s']:,.0f}x, CPU {o['cpu_median_s'] / v['cpu_median_s']:,.0f}x)"
                  if o else "",
                  f"state {v['population_mib']:,.1f} MiB")
        if o:
            t.add_row("", "per-object Mesa", str(o["periods"]), f"{1000 * o['median_s']:,.0f}", f"{1000 * o['min_s']:,.0f}",
                      f"{1000 * o['cpu_median_s']:,.0f}", fmt_rate(o["customer_periods_per_s"]), "1x",
                      f"building the agents {o['build_s']:.2f} s")
    for n, o in obj.items():
        if not any(v["n"] == n for v in r["vectorised"]):
            t.add_row(f"{n:,}", "per-object Mesa", str(o["periods"]), f"{1000 * o['median_s']:,.0f}", f"{1000 * o['min_s']:,.0f}",
                      f"{1000 * o['cpu_median_s']:,.0f}", fmt_rate(o["customer_periods_per_s"]), "",
                      f"building the agents {o['build_s']:.2f} s")
    console.print(t)

    mem = r["memory"]
    console.print(
        f"Memory at n={mem['n']:,} (fresh process, init + 3 periods): peak RSS {mem['max_rss_mib']:,.0f} MiB "
        f"({mem['max_rss_mib'] / 1024:.2f} GiB; interpreter and imports {mem['baseline_rss_mib']:,.0f} MiB), "
        f"numpy peak traced by tracemalloc {mem['traced_peak_mib']:,.0f} MiB, population state {mem['population_mib']:,.0f} MiB. "
        f"Target < 1 GiB: {'met' if mem['max_rss_mib'] < 1024 else 'MISSED'}.",
        highlight=False,
    )

    if "replay" in r:
        t = Table(title="Faithfulness 1: per-object Mesa fed the vectorised step's own random numbers (n=10,000)")
        for col in ("period", "choosers", "discrete mismatches", "draws unmatched", "max rel diff of floats", "max rel diff, per-firm outcome", "ok"):
            t.add_column(col, justify="right")
        for row in r["replay"]:
            t.add_row(str(row["period"]), str(row["choosers"]),
                      ", ".join(f"{k} {v}" for k, v in row["discrete_mismatches"].items()),
                      str(row["draws_unmatched"]), f"{max(row['max_rel_diff'].values()):.1e}",
                      f"{row['max_rel_diff_outcome']:.1e} ({row['worst_outcome_field']})", "yes" if row["ok"] else "NO")
        console.print(t)
        for n, rows in r["aggregates"].items():
            t = Table(title=f"Faithfulness 2: independent random numbers, same start, first period (n={int(n):,}; |z| < {Z_TOLERANCE:g})")
            for col in ("quantity", "vectorised", "per-object", "z", "ok"):
                t.add_column(col, justify="right")
            for row in rows:
                t.add_row(row["quantity"], f"{row['vectorised']:,.4f}", f"{row['per_object']:,.4f}", f"{row['z']:+.2f}",
                          "yes" if row["ok"] else "NO")
            console.print(t)

    if "game" in r:
        g = r["game"]
        console.print(
            f"Whole game ({g['scenario']}; {g['customers']:,} customers, {g['firms']} bot firms, "
            f"{g['track_customers']:,} tracked): build {g['build_s']:.2f} s, {g['periods']} periods {g['periods_s']:.2f} s "
            f"(mean {g['mean_period_s']:.2f} s, max {g['max_period_s']:.2f} s; CPU time {g['periods_cpu_s']:.2f} s), frames {g['frames_s']:.2f} s. "
            f"Target well under 10 s: {'met' if g['periods_s'] < 10 else 'MISSED'} on wall time, "
            f"{'met' if g['periods_cpu_s'] < 10 else 'MISSED'} on CPU time.",
            highlight=False,
        )

    if "profile" in r:
        p = r["profile"]
        console.print(
            f"\nProfile of step_population at n={p['n']:,}: {p['step_ms']:.0f} ms/step untraced, "
            f"{p['line_traced_step_ms']:.0f} ms line-traced; {p['minor_page_faults_per_step']:,.0f} minor page faults/step",
            highlight=False,
        )
        t = Table(title="Time per rule (line timing; calls made from a line count towards it)")
        for col in ("rule", "ms/step", "share"):
            t.add_column(col, justify="right" if col != "rule" else "left")
        for row in p["rules"]:
            t.add_row(row["rule"], f"{row['ms']:.1f}", f"{row['share']:.0%}")
        console.print(t)
        t = Table(title="Slowest lines of step_population")
        for col in ("line", "rule", "ms/step", "code"):
            t.add_column(col, justify="right" if col in ("line", "ms/step") else "left")
        for row in p["lines"]:
            t.add_row(str(row["line"]), escape(row["rule"][:24]), f"{row['ms']:.1f}", escape(row["code"]))
        console.print(t)
        t = Table(title="cProfile, by own time (numpy ufuncs and methods are not listed: their time is their caller's)")
        for col in ("function", "calls/step", "own ms/step", "cumulative ms/step"):
            t.add_column(col, justify="right" if col != "function" else "left")
        for row in p["functions"]:
            t.add_row(escape(row["function"][:70]), str(row["calls"]), f"{row['tottime_ms']:.1f}", f"{row['cumtime_ms']:.1f}")
        console.print(t)

if __name__ == "__main__":
    sys.exit(main())
