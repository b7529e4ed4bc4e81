"""The frames' declared schema (crmsim.sim.frames): every column a game produces is declared and typed as
declared, counts are whole-number dtypes, CSV and Parquet read back with the same dtypes and values, every
frame carries its game's run_id and seed, and docs/data.md is the schema's text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crmsim.agents.bots import DEFAULT_LINEUP, lineup
from crmsim.research.runner import RunSpec, run_game
from crmsim.scenarios import load_scenario
from crmsim.sim.export import model_provenance, read_frame, roundtrip, write_frames
from crmsim.sim.frames import DTYPES, FRAMES, markdown, typed
from crmsim.sim.model import CRMModel

DOCS = Path(__file__).parents[2] / "docs" / "data.md"
SCENARIOS = ("classroom-v1", "classroom-v2")
SMALL = {"market.customers": 2000, "market.track_customers": 50}


@pytest.fixture(scope="module")
def games() -> dict[str, tuple[CRMModel, dict[str, pd.DataFrame]]]:
    out = {}
    for name in SCENARIOS:
        scenario = load_scenario(name, overrides=SMALL)
        model = CRMModel(scenario, seed=4, strategies=lineup(["adaptive", "premium", "random", "relationship", "price_cutter", "researcher"],
                                                             scenario.firms.count)).run()
        frames = dict(model.frames())
        frames["customers"] = model.customer_panel()
        out[name] = (model, frames)
    return out


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    return run_game(RunSpec("classroom-v2", DEFAULT_LINEUP, 5, overrides=tuple(SMALL.items()), tags=(("replicate", 0),)))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_frame_column_is_declared_and_has_its_declared_dtype(games, scenario):
    _, frames = games[scenario]
    assert set(frames) == set(FRAMES) - {"runs"}
    for name, df in frames.items():
        frame = FRAMES[name]
        for column in df.columns:
            declared = frame.column(column)
            assert declared is not None, f"{name}.{column} is not declared in crmsim.sim.frames"
            assert str(df[column].dtype) == declared.dtype, f"{name}.{column}: {df[column].dtype}, declared {declared.dtype}"


def test_every_declared_column_appears_in_a_v1_or_v2_game(games, runs):
    seen = {name: set() for name in FRAMES}
    for _, frames in games.values():
        for name, df in frames.items():
            seen[name] |= set(df.columns)
    seen["runs"] = set(runs.columns)
    for name, frame in FRAMES.items():
        assert {c.name for c in frame.columns} == seen[name] - {c for c in seen[name] if c.startswith(("param:", "tag:"))}, name


def test_research_rows_are_declared_and_typed(runs):
    for column in runs.columns:
        declared = FRAMES["runs"].column(column)
        assert declared is not None, f"runs.{column} is not declared"
        if declared.dtype != "object":
            assert str(runs[column].dtype) == declared.dtype, f"runs.{column}: {runs[column].dtype}, declared {declared.dtype}"
    assert runs["param:market.customers"].tolist() == [2000] * 6 and runs["tag:replicate"].tolist() == [0] * 6


def test_counts_are_integers_and_missing_ones_nullable(games, runs):
    """customers, events.firm and bankrupt_period were float64; counts are whole-number dtypes now."""
    _, frames = games["classroom-v1"]
    assert frames["firms"]["customers"].dtype == "int64"
    assert frames["firms"]["bankrupt_period"].dtype == "Int64"
    assert frames["events"]["firm"].dtype == "Int64"
    assert frames["events"]["firm"].isna().any()  # market-wide entries (tenders published) name no firm
    assert frames["tenders"]["winner"].dtype == "Int64" and frames["bids"]["rank"].dtype == "Int64"
    assert runs["customers"].dtype == "int64" and runs["bankrupt_period"].dtype == "Int64"
    firms = frames["firms"]
    assert (firms.groupby("period")["customers"].sum() + frames["market"].set_index("period")["prospects"] == 2000).all()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_game_frame_carries_the_run_id_and_seed(games, scenario):
    model, frames = games[scenario]
    run_id = model_provenance(model)["run_id"]
    assert model.run_id == run_id
    for name, df in frames.items():
        assert list(df.columns[:2]) == ["run_id", "seed"], name
        assert (df["run_id"] == run_id).all() and (df["seed"] == 4).all(), name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_csv_and_parquet_read_back_with_the_same_dtypes_and_values(games, scenario, tmp_path):
    _, frames = games[scenario]
    write_frames(frames, tmp_path)
    for name, df in frames.items():
        parquet = pd.read_parquet(tmp_path / f"{name}.parquet")
        csv = roundtrip(df, "csv", name)
        for read in (parquet, csv):
            pd.testing.assert_frame_equal(read, df, check_exact=True, obj=name)
    assert read_frame(tmp_path, "firms")[1] == "parquet"
    (tmp_path / "firms.parquet").unlink()
    csv, fmt = read_frame(tmp_path, "firms")
    assert fmt == "csv"
    pd.testing.assert_frame_equal(csv, frames["firms"], check_exact=True)


def test_research_rows_read_back_from_csv_with_their_dtypes(runs, tmp_path):
    runs.to_csv(tmp_path / "runs.csv", index=False)
    back = read_frame(tmp_path, "runs")[0]
    declared = [c for c in runs.columns if FRAMES["runs"].column(c).dtype != "object"]
    pd.testing.assert_frame_equal(back[declared], runs[declared], check_exact=True)


def test_an_undeclared_column_or_a_fractional_count_is_refused():
    with pytest.raises(ValueError, match="not declared.*surprise"):
        typed("events", pd.DataFrame({"period": [1], "kind": ["x"], "firm": [0], "detail": ["d"], "surprise": [1]}))
    with pytest.raises(ValueError, match="prospects is declared int64"):
        typed("market", pd.DataFrame({"period": [1], "prospects": [1.5]}))
    with pytest.raises(ValueError, match="customers is declared int64"):
        typed("firms", pd.DataFrame({"period": [1], "customers": [float("nan")]}))
    assert typed("events", pd.DataFrame({"period": [1], "firm": [float("nan")]}))["firm"].isna().all()


def test_every_declared_dtype_is_one_the_schema_knows_and_every_column_is_documented():
    for frame in FRAMES.values():
        for column in (*frame.columns, *frame.prefixes):
            assert column.dtype in DTYPES and column.doc, f"{frame.name}.{column.name}"
        names = [c.name for c in frame.columns]
        assert len(names) == len(set(names)), f"{frame.name}: a column declared twice"


def test_docs_data_md_is_generated_from_the_schema():
    """docs/data.md is `python -m crmsim.sim.frames docs/data.md`'s output: regenerate it after changing a frame."""
    assert DOCS.read_text(encoding="utf-8") == markdown()
    text = markdown()
    for frame in FRAMES.values():
        for column in frame.columns:
            assert f"| `{column.name}` | {column.dtype} |" in text
