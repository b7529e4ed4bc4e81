"""The benchmark scripts' own accounting (benchmarks/games.py --breakdown, benchmarks/compiled.py): what they
time and compile, not how fast anything is (figures come from running the scripts, never from tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import compiled  # noqa: E402  (benchmarks/compiled.py)
import games  # noqa: E402  (benchmarks/games.py)


def test_breakdown_times_each_part_inside_the_game():
    before = {name: getattr(games.part_home(name), name) for name in games.PARTS}
    parts = games.play_parts("classroom-v1", 2, 5)
    assert {name: getattr(games.part_home(name), name) for name in games.PARTS} == before  # the engine as it was
    assert set(parts) == {*games.PARTS, "game", "step_per_period", "step_at_size"}
    assert list(parts["step_at_size"]) == list(games.SIZES) and all(t > 0 for t in parts["step_at_size"].values())
    assert all(parts[name] > 0 for name in games.PARTS)
    assert sum(parts[name] for name in games.PARTS) < parts["game"]
    # classroom-v1 steps its population in each of 12 periods (the median of 2 games is their mean)
    assert parts["step_per_period"] == pytest.approx(parts["step_population"] / 12, rel=1e-9)


def test_the_compiled_benchmark_compiles_every_engine_module_under_its_crmsim_name():
    todo = compiled.modules(ROOT)
    assert todo["crmsim.sim.engine"] == ROOT / "sim" / "engine.py"
    assert todo["crmsim.agents.population"] == ROOT / "agents" / "population.py"
    assert todo["crmsim.research.runner"] == ROOT / "research" / "runner.py"
    assert not any(name.endswith("__init__") for name in todo)
    assert {p.name for p in todo.values() if p.parent.name == "sim"} == {
        p.name for p in (ROOT / "sim").glob("*.py") if p.name != "__init__.py"}
