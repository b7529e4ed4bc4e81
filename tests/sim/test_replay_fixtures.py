"""Old decision logs replay identically: every frame recorded before a change equals the replay after it.

The fixtures (tests/fixtures/replay/<scenario>/) were recorded by tests/fixtures/record_replay_fixtures.py
at commit a04f3a9, one bot game per shipped v1 scenario (the classroom game with instructor adjustments).
Columns added since are ignored; every recorded column must match value for value (dtypes may widen).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crmsim.sim.export import read_log
from crmsim.sim.model import CRMModel

FIXTURES = Path(__file__).parents[1] / "fixtures" / "replay"
GAMES = sorted(p.name for p in FIXTURES.iterdir() if (p / "decisions.json").is_file())


def test_fixtures_cover_every_v1_scenario():
    assert GAMES == ["classroom-v1", "large-market-v1", "price-war-v1", "service-economy-v1"]


@pytest.mark.parametrize("name", GAMES)
def test_recorded_log_replays_identically(name):
    """Replaying a log recorded before the change gives every recorded frame value for value."""
    folder = FIXTURES / name
    model = CRMModel.replay(read_log(folder))
    frames = model.frames()
    recorded_any = False
    for path in sorted(folder.glob("*.parquet")):
        recorded = pd.read_parquet(path)
        now = frames[path.stem]
        missing = [c for c in recorded.columns if c not in now.columns]
        assert not missing, f"{name}/{path.stem}: columns gone: {missing}"
        assert len(now) == len(recorded), f"{name}/{path.stem}: {len(now)} rows now, {len(recorded)} recorded"
        now = now[list(recorded.columns)].reset_index(drop=True)
        for col in recorded.columns:
            a, b = now[col], recorded[col]
            if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b):
                a = pd.to_numeric(a, errors="coerce").astype("float64")
                b = b.astype("float64")
            else:
                a, b = a.astype(object).where(a.notna(), None), b.astype(object).where(b.notna(), None)
            pd.testing.assert_series_equal(a, b, check_exact=True, check_names=False, obj=f"{name}/{path.stem}.{col}")
        recorded_any = True
    assert recorded_any
    assert model.results[-1].period == model.scenario.periods
