"""Resumable output folders that never mix results: each kept run carries its provenance, and a resume
checks it against the study being run.

A batch given an output folder keeps each finished game as ``runs/<run_id>.parquet``, with its
provenance record (crmsim.sim.export.provenance: crmsim version, git commit, scenario, scenario content
hash, overrides, seed, line-up, run_id; with plug-in strategies, a hash of each of their modules) in the
file's metadata. The run_id hashes the crmsim version and the scenario's content, so after an upgrade or
an edit of the scenario file the study's games have new ids (the strategies' module hashes are recorded
beside it, as the git commit). A resume finds the kept runs the study names and compares their records with
this process's:

- a kept run whose code or scenario content differs, or that records another game than its file name
  says (its metadata edited, the file copied over another, or written without provenance) is stale;
- a game the study needs that is missing while the folder holds the same game (same scenario name,
  overrides, seed and line-up) made with other code or scenario content is stale too: that is an
  edited scenario file or strategy module, or an upgraded crmsim.

Stale runs are refused (:class:`StaleRuns`, naming the folder, what differs and both values), or, when
asked, played again; they are never read into the study's results.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from crmsim import InputError
from crmsim.sim.export import read_provenance, write_parquet

if TYPE_CHECKING:
    from crmsim.research.runner import RunSpec

RunId = str
#: what to do with stale kept runs
STALE_POLICIES = ("refuse", "rerun")
#: the fields a kept run must share with the study: the code (crmsim's, and the plug-in strategies' modules) and
#: the scenario content
COMPARED = ("crmsim_version", "strategy_code", "scenario_hash")
#: and, for the file kept under a game's run_id, the game it records
IDENTITY = ("run_id", "seed", "lineup")


class StaleRuns(InputError):
    """Kept runs in an output folder were made with another crmsim version or scenario content."""


class WorkerMismatch(InputError):
    """A worker played a game with other code or scenario content than this process expects."""


def game_key(record: Mapping[str, Any]) -> str:
    """What the user asked for, independent of code and content: scenario as named, overrides, seed, line-up."""
    return json.dumps([record.get("scenario"), record.get("overrides"), record.get("seed"), record.get("lineup")],
                      sort_keys=True, default=str)


def differences(kept: Mapping[str, Any] | None, now: Mapping[str, Any], same_game: bool = False) -> list[tuple[str, str, str]]:
    """(what, kept value, value now) for each compared field that differs; a run without a record differs in all.

    `same_game`: `kept` is the record of the file kept under `now`'s run_id, so it must also record that game
    (run_id, seed, line-up); a file copied or renamed over another game's is refused, not read.
    """
    if kept is None:
        return [("provenance", "none (written by a crmsim that did not record it)", "recorded")]
    out = []
    for field in COMPARED + (IDENTITY if same_game else ()):
        if kept.get(field) == now.get(field):
            continue
        if field == "strategy_code":
            was, code = kept.get(field) or {}, now.get(field) or {}
            out += [(f"code of strategy module {m}", _short(was.get(m)), _short(code.get(m)))
                    for m in sorted(set(was) | set(code)) if was.get(m) != code.get(m)]
        elif field in IDENTITY:
            out.append((f"the game recorded in {now['run_id']}.parquet ({field})", str(kept.get(field)), str(now.get(field))))
        else:
            what = f"scenario content of {now.get('scenario')}" if field == "scenario_hash" else field.replace("_", " ")
            out.append((what, str(kept.get(field)), str(now.get(field))))
    return out


def _short(digest: str | None) -> str:
    return digest[:16] if digest else "none"


def resume(out_dir: str | Path, specs: Mapping[RunId, RunSpec], stale: str = "refuse") -> tuple[dict[RunId, pd.DataFrame], dict[RunId, RunSpec]]:
    """Split a study's games into those kept in `out_dir` (read) and those to play.

    Args:
        out_dir: the output folder (its ``runs/`` holds the kept games).
        specs: the study's distinct games by run id.
        stale: "refuse" raises :class:`StaleRuns` if any kept game is stale; "rerun" plays those games again.

    Returns:
        (kept rows by run id, specs to play by run id).
    """
    if stale not in STALE_POLICIES:
        raise InputError(f"stale: must be one of {', '.join(STALE_POLICIES)}; got {stale!r}")
    runs = runs_folder(out_dir)
    kept: dict[RunId, pd.DataFrame] = {}
    todo: dict[RunId, RunSpec] = {}
    found: list[tuple[str, str, str]] = []
    for rid, spec in specs.items():
        path = runs / f"{rid}.parquet"
        if not path.exists():
            todo[rid] = spec
            continue
        diff = differences(read_provenance(path), spec.provenance, same_game=True)
        if diff:
            found += diff
            todo[rid] = spec
        else:
            kept[rid] = pd.read_parquet(path)
    if todo:
        found += _superseded(runs, set(specs), todo)
    if found and stale == "refuse":
        raise StaleRuns(_stale_message(out_dir, found))
    return kept, todo


def _superseded(runs: Path, wanted: set[RunId], todo: Mapping[RunId, RunSpec]) -> list[tuple[str, str, str]]:
    """Differences of the kept games that are the same request as a missing one but other code or content."""
    others = [p for p in runs.glob("*.parquet") if p.stem not in wanted]
    if not others:
        return []
    by_key: dict[str, Mapping[str, Any]] = {}
    for path in others:
        record = read_provenance(path)
        if record is not None:
            by_key.setdefault(game_key(record), record)
    out = []
    for spec in todo.values():
        record = by_key.get(game_key(spec.provenance))
        if record is not None:
            out += differences(record, spec.provenance)
    return out


def _stale_message(out_dir: str | Path, found: list[tuple[str, str, str]]) -> str:
    counts = Counter(found)
    lines = [f"{what}: kept {a}, now {b} ({n} run{'s' if n > 1 else ''})" for (what, a, b), n in sorted(counts.items())]
    return (f"{out_dir}: kept runs were made with other code or scenario content, or record another game, so they "
            "cannot be resumed into this study:\n  " + "\n  ".join(lines) + f"\nUse another output folder, delete "
            f"{runs_folder(out_dir)}, or play them again (--rerun-stale; in Python stale='rerun')")


def runs_folder(out_dir: str | Path) -> Path:
    """The folder of kept games, ``out_dir/runs``."""
    return Path(out_dir) / "runs"


def keep_run(out_dir: str | Path, rid: RunId, rows: pd.DataFrame, record: Mapping[str, Any]) -> Path:
    """Write a finished game as ``runs/<run_id>.parquet`` with its provenance (atomically: a killed run leaves no half file)."""
    runs = runs_folder(out_dir)
    runs.mkdir(parents=True, exist_ok=True)
    tmp = runs / f".{rid}.parquet.tmp"
    write_parquet(rows, tmp, record)
    return tmp.replace(runs / f"{rid}.parquet")


def check_returned(spec: RunSpec, record: Mapping[str, Any] | None) -> None:
    """Refuse rows a worker made with other code or scenario content than this process expects.

    Raises:
        WorkerMismatch: naming the game, what differs and both values.
    """
    expected = spec.provenance
    if record is None or (record.get("run_id") == spec.run_id and record.get("strategy_code") == expected.get("strategy_code")):
        return
    fields = [f for f in ("crmsim_version", "git_commit", "strategy_code", "scenario_hash", "lineup") if record.get(f) != expected.get(f)]
    detail = "; ".join(f"{f}: worker {record.get(f)}, here {expected.get(f)}" for f in fields) or "its provenance"
    raise WorkerMismatch(f"game {spec.run_id} (seed {spec.seed}) came back as {record.get('run_id')} from a worker "
                         f"with other code or scenario content: {detail}")
