"""How long the decision preview and the debrief counterfactuals take on classroom-v2 (10,000 customers).

The preview runs as a student types, so it must answer well under 50 ms. Measures, in one run:

* ``preview`` of a full draft (price, staff, sales activities, a bid on every open tender, one field refused)
  for every firm, in period 1 (no sales yet) and in period 5 (after four periods of bots), each call timed
  on its own, ``--repeat`` rounds after a warm-up: median, 95th and 99th percentile and maximum of the wall
  time, and the median and 95th percentile of the CPU time (which a busy machine disturbs less);
* ``rescore_tender`` of every bid of period 4's tenders;
* ``replay_with_change`` of the whole finished game (twelve periods, replayed twice: the real game and the
  changed one).

Run from the repository root::

    python benchmarks/preview.py
    python benchmarks/preview.py --repeat 500 --json out/preview.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from crmsim.scenarios import load_scenario
from crmsim.sim.counterfactual import replay_with_change, rescore_tender
from crmsim.sim.model import CRMModel
from crmsim.sim.preview import preview

LINEUP = ["balanced", "price_cutter", "premium", "relationship", "adaptive", "researcher"]


def draft(model: CRMModel, firm: int) -> dict[str, Any]:
    """A student's full draft: every open tender bid at 95% of its cap, activities on two clients, a refused field."""
    obs = model.observation(firm)
    stage = obs.stage or {}
    acts = {c: ["investigate"] for c, s in stage.items() if s == "potential"}
    return {
        "price": 104, "service_level": 0.7, "hire_service": 1, "care_budget": 9000, "colour": "red",
        "activities": dict(list(acts.items())[:2]),
        "bids": {t.id: {"price": round(0.95 * t.price_cap, 2), "promised_service": max(0.7, t.required_service)} for t in obs.tenders},
    }


def timed(calls: list, repeat: int) -> dict[str, float]:
    """Each call timed on its own, `repeat` rounds after a warm-up round: median, 95th and 99th percentile, maximum (ms)."""
    for fn in calls:
        fn()
    runs, cpu = [], []
    for _ in range(repeat):
        for fn in calls:
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            runs.append(1000 * (time.perf_counter() - t0))
            cpu.append(1000 * (time.process_time() - c0))
    runs.sort()
    cpu.sort()
    pick = lambda xs, q: xs[int(q * (len(xs) - 1))]  # noqa: E731
    return {"median_ms": statistics.median(runs), "p95_ms": pick(runs, 0.95), "p99_ms": pick(runs, 0.99), "max_ms": runs[-1],
            "cpu_median_ms": statistics.median(cpu), "cpu_p95_ms": pick(cpu, 0.95), "calls": len(runs)}


def preview_times(model: CRMModel, repeat: int) -> dict[str, float]:
    firms = [f.index for f in model.state.firms if f.live]
    calls = [_preview_call(model, i) for i in firms]
    return timed(calls, repeat)


def _preview_call(model: CRMModel, firm: int):
    raw = draft(model, firm)
    last = model.results[-1].firm_rows[firm] if model.results else None
    state = model.state
    return lambda: preview(state, firm, raw, last)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    sc = load_scenario("classroom-v2")
    model = CRMModel(sc, seed=args.seed, strategies=LINEUP)
    out: dict[str, Any] = {"scenario": sc.name, "customers": sc.market.customers, "python": platform.python_version(),
                           "machine": platform.machine()}
    out["preview_period_1"] = preview_times(model, args.repeat)
    for _ in range(4):
        model.step()
    out["preview_period_5"] = preview_times(model, args.repeat)
    res = model.results[-1]
    calls = [(lambda o=o, b=b: rescore_tender(o, None, b.firm, b.price * 0.97, b.promised_service, sc))
             for o in res.tenders for b in o.bids if b.valid]
    out["rescore_tender"] = timed(calls, max(1, args.repeat // 10))
    model.run()
    log = model.decision_log()
    t0 = time.perf_counter()
    replay_with_change(log, 3, 0, {"price": 120})
    out["replay_with_change_s"] = time.perf_counter() - t0
    for k in ("preview_period_1", "preview_period_5", "rescore_tender"):
        v = out[k]
        print(f"{k}: {v['calls']} calls, each: median {v['median_ms']:.2f} ms, p95 {v['p95_ms']:.2f} ms, "
              f"p99 {v['p99_ms']:.2f} ms, max {v['max_ms']:.2f} ms; CPU time median {v['cpu_median_ms']:.2f} ms, "
              f"p95 {v['cpu_p95_ms']:.2f} ms")
    print(f"replay_with_change (12 periods, twice): {out['replay_with_change_s']:.2f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
