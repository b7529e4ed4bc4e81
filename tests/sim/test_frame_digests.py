"""Speed work changes no result: whole bot games give the same frames, column for column, as before it.

tests/fixtures/frame_digests.json was recorded by tests/fixtures/record_frame_digests.py with the code
before the speed work of issue 12 (v1 and v2 scenarios, several seeds, bots in every seat): each column's
dtype and a digest of its values written out exactly. Columns added since are ignored here (the schema
test declares them); every recorded column must have the same values, and the same dtype unless the frame's
declared schema (crmsim.sim.frames, issue 12's data polish: counts as integers) gives it another. A column
whose meaning was changed on purpose (REDEFINED, with the reason) is checked against the recorded columns
it is made from instead.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from crmsim.sim.frames import FRAMES

FIXTURES = Path(__file__).parents[1] / "fixtures"
_spec = importlib.util.spec_from_file_location("record_frame_digests", FIXTURES / "record_frame_digests.py")
recorder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recorder)
#: the declared frame (crmsim.sim.frames) of each recorded frame that has one: its dtypes are the declared ones
SCHEMA = {"run_game": "runs"}
RECORDED = json.loads((FIXTURES / "frame_digests.json").read_text(encoding="utf-8"))


def test_fixture_covers_v1_and_v2_games():
    assert set(RECORDED) == {recorder.game_key(*g) for g in recorder.GAMES}
    scenarios = {g[0] for g in recorder.GAMES}
    assert {"classroom-v1", "classroom-v2"} <= scenarios


@pytest.mark.parametrize("game", recorder.GAMES, ids=lambda g: recorder.game_key(*g))
def test_whole_game_frames_are_identical_to_the_recorded_ones(game):
    """Every recorded frame of the game has the same rows, and every recorded column the same dtype and values."""
    recorded = RECORDED[recorder.game_key(*game)]
    frames = recorder.game_frames(*game)
    assert set(recorded) <= set(frames)
    for name, was in recorded.items():
        now = recorder.frame_digest(frames[name])
        assert now["rows"] == was["rows"], f"{name}: {now['rows']} rows now, {was['rows']} recorded"
        kept = [c for c in now["order"] if c in was["columns"]]
        assert kept == was["order"], f"{name}: the recorded columns are in another order"
        for column, digest in was["columns"].items():
            assert column in now["columns"], f"{name}.{column}: column gone"
            if (name, column) in recorder.REDEFINED:
                continue
            assert now["columns"][column]["values"] == digest["values"], f"{name}.{column}: values differ"
            declared = FRAMES[SCHEMA.get(name, name)].column(column) if SCHEMA.get(name, name) in FRAMES else None
            expected = declared.dtype if declared is not None and declared.dtype != "object" else digest["dtype"]
            assert now["columns"][column]["dtype"] == expected, f"{name}.{column}: dtype {now['columns'][column]['dtype']}, expected {expected}"
    # recorder.REDEFINED: a firm's tenders_won in the research rows is its firms-frame column summed over the game (a recorded digest)
    won = frames["firms"].groupby("firm")["tenders_won"].sum()
    assert frames["run_game"].sort_values("firm")["tenders_won"].tolist() == won.tolist()
