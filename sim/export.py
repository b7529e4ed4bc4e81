"""Writing a game's frames and decision log to disk (CSV, Parquet, JSON) and reading them back, each
stamped with its provenance: the code that made it, the scenario's content, the seed and the line-up.

Provenance is one record (:func:`provenance`), the same in every output: Parquet files carry it as
key-value metadata (keys ``crmsim.<field>``, values JSON), JSON files under ``"provenance"``. Its
``run_id`` hashes the crmsim version, the scenario's content, the seed(s) and the line-up(s), so equal
games have equal ids in every process and any edit to the scenario or upgrade of crmsim changes it.
The git commit (and whether the checkout had uncommitted changes) is recorded beside it, not hashed:
a development checkout commits often, and an installed crmsim has no commit (``None``). So is
``strategy_code``, a hash of each plug-in strategy's module, for games with strategies from outside crmsim.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import numbers
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import crmsim
from crmsim.scenarios import per_scenario

if TYPE_CHECKING:
    from crmsim.scenarios import Scenario
    from crmsim.sim.model import CRMModel

FORMATS = ("csv", "parquet")
LOG_FILE = "decisions.json"
#: prefix of the provenance keys in a Parquet file's key-value metadata
METADATA_PREFIX = "crmsim."
#: the fields that say which code made an output (compared when a folder is resumed or a cluster is joined)
CODE_FIELDS = ("crmsim_version", "git_commit", "git_dirty")


# ---------------------------------------------------------------------------
# provenance


def git_state(root: str | Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout whose top folder is `root`; (None, None) without git or a checkout.

    `dirty` is True when tracked files have uncommitted changes. Never raises.
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != Path(root).resolve():
            return None, None  # crmsim is installed inside some other repository (a virtualenv in a project)
        return git("rev-parse", "HEAD"), bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None, None


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """This process's crmsim: version, and git commit and dirtiness when it runs from a checkout (else None)."""
    commit, dirty = git_state(Path(crmsim.__file__).resolve().parents[1])
    return {"crmsim_version": crmsim.__version__, "git_commit": commit, "git_dirty": dirty}


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


@per_scenario
def scenario_hash(scenario: Scenario) -> str:
    """A stable hash of the validated scenario's content (``model_dump(mode="json")``, after overrides);
    worked out once per scenario object (a Scenario is frozen)."""
    return hashlib.sha256(_canonical(scenario.model_dump(mode="json"))).hexdigest()[:16]


def run_id(version: str, scenario_digest: str, seed: Any, lineup: Any, extra: Mapping[str, Any] | None = None) -> str:
    """The hash that names a game (or a study): crmsim version, scenario content, seed(s), line-up(s), extra."""
    key = {"crmsim_version": version, "scenario_hash": scenario_digest, "seed": seed, "lineup": lineup, **(extra or {})}
    return hashlib.sha256(_canonical(key)).hexdigest()[:16]


def provenance(
    scenario: Scenario,
    seed: int | Sequence[int],
    lineup: Sequence[str] | Sequence[Sequence[str]],
    *,
    scenario_ref: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The provenance record of an output: which code, which scenario content, which seed(s) and line-up(s).

    Args:
        scenario: the validated scenario played (after overrides).
        seed: the game seed, or a study's seeds.
        lineup: the strategy labels by seat, or a study's line-ups.
        scenario_ref: the scenario as the user named it (a shipped name or a path); default its name.
        overrides: the dotted settings applied to the file.
        extra: more fields that identify a study (e.g. its design); hashed into ``run_id``.

    Returns:
        crmsim_version, git_commit, git_dirty, scenario, scenario_hash, overrides, seed, lineup, run_id
        (and the extra fields).
    """
    code = code_version()
    digest = scenario_hash(scenario)
    seed = int(seed) if isinstance(seed, numbers.Integral) else [int(s) for s in seed]
    lineup = [str(s) if isinstance(s, str) else [str(x) for x in s] for s in lineup]
    return {
        **code,
        "scenario": str(scenario_ref if scenario_ref is not None else scenario.name),
        "scenario_hash": digest,
        "overrides": dict(overrides or {}),
        "seed": seed,
        "lineup": lineup,
        **dict(extra or {}),
        "run_id": run_id(code["crmsim_version"], digest, seed, lineup, extra),
    }


def model_provenance(model: CRMModel, scenario_ref: str | None = None) -> dict[str, Any]:
    """The provenance of a played (or replayed) game: its scenario (`scenario_ref`: as the user named it; default
    its name), seed and the seats' strategy labels, and the plug-in strategies' code (:func:`strategy_code`)."""
    record = provenance(model.scenario, model.seed, model_lineup(model), scenario_ref=scenario_ref)
    return with_strategy_code(record, [a.strategy for a in model.firm_agents if a.strategy is not None])


def module_digest(name: str) -> str | None:
    """A SHA-256 of the module's source file as this process would import it now; None if it cannot be found."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.has_location:
        return None
    try:
        return hashlib.sha256(spec.loader.get_data(spec.origin)).hexdigest()
    except (OSError, AttributeError):
        return None


def strategy_code(strategies: Iterable[Any]) -> dict[str, str]:
    """module -> :func:`module_digest` of each module outside crmsim that defines one of `strategies` (bot specs
    or instances).

    Built-in bots are covered by the crmsim version. A class defined in the running script (``__main__``), or
    whose source file cannot be found, is left out. The digest is of the file on disk: in a long-lived session
    (a notebook), reload a module after editing it, or the games play the code loaded before the edit.
    """
    from crmsim.agents.bots import BUILT_IN, defining_modules, make_bot

    classes = {type(make_bot(s)) for s in strategies if not (isinstance(s, str) and s in BUILT_IN)}
    digests = {m: module_digest(m) for m in defining_modules(classes)}
    return {m: d for m, d in digests.items() if d is not None}


def with_strategy_code(record: dict[str, Any], strategies: Iterable[Any]) -> dict[str, Any]:
    """`record` with ``strategy_code`` (:func:`strategy_code`) when a strategy comes from outside crmsim. Recorded
    beside the run_id, not hashed into it (as the git commit): a resume compares it and refuses kept games made
    with other strategy code (research.provenance)."""
    code = strategy_code(strategies)
    if code:
        record["strategy_code"] = code
    return record


def model_lineup(model: CRMModel) -> list[str]:
    """The seats' strategy labels of a played (or replayed) game ("human" for a seat with no bot)."""
    from crmsim.agents.bots import strategy_label

    return [a.recorded_label or (strategy_label(a.strategy) if a.strategy else "human") for a in model.firm_agents]


def model_run_id(model: CRMModel) -> str:
    """The run_id of :func:`model_provenance`, without asking git for the commit (which the hash leaves out)."""
    return run_id(crmsim.__version__, scenario_hash(model.scenario), int(model.seed), model_lineup(model))


def write_parquet(df: pd.DataFrame, path: str | Path, record: Mapping[str, Any] | None = None) -> Path:
    """Write `df` (without its index) as Parquet with the provenance `record` as key-value metadata."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    if record:
        meta = dict(table.schema.metadata or {})
        meta.update({f"{METADATA_PREFIX}{k}".encode(): json.dumps(v, default=str).encode() for k, v in record.items()})
        table = table.replace_schema_metadata(meta)
    pq.write_table(table, path)
    return Path(path)


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance record in a Parquet file's metadata, or None if it has none (written before crmsim kept it)."""
    meta = pq.read_schema(path).metadata or {}
    out = {}
    for key, value in meta.items():
        name = key.decode()
        if name.startswith(METADATA_PREFIX):
            out[name.removeprefix(METADATA_PREFIX)] = json.loads(value)
    return out or None


# ---------------------------------------------------------------------------
# frames and the decision log


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing None and values become strings or numbers Parquet can store."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            non_null = out[col].dropna()
            if non_null.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
                out[col] = pd.to_numeric(out[col])
            elif non_null.map(lambda v: isinstance(v, bool)).all():
                out[col] = out[col].astype("boolean")
            else:
                out[col] = out[col].astype("string")
    return out


def write_frames(frames: Mapping[str, pd.DataFrame], out_dir: str | Path, formats: Iterable[str] = FORMATS,
                 record: Mapping[str, Any] | None = None) -> list[Path]:
    """Write each frame as NAME.csv and/or NAME.parquet (Parquet with the provenance `record`); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in frames.items():
        for fmt in formats:
            if fmt not in FORMATS:
                raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
            path = out / f"{name}.{fmt}"
            if fmt == "csv":
                df.to_csv(path, index=False)
            else:
                write_parquet(_parquet_safe(df), path, record)
            written.append(path)
    return written


def write_tables(frames: Mapping[str, pd.DataFrame], out_dir: str | Path, record: Mapping[str, Any] | None = None) -> list[Path]:
    """Write each frame as NAME.parquet, its dtypes as they are, with the provenance `record`; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [write_parquet(df, out / f"{name}.parquet", record) for name, df in frames.items()]


def write_json(data: Mapping[str, Any], path: str | Path, record: Mapping[str, Any] | None = None, indent: int = 2) -> Path:
    """Write `data` as JSON, with the provenance `record` under ``"provenance"``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**data, "provenance": dict(record)} if record else dict(data)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=indent, default=str), encoding="utf-8")
    return path


def write_log(log: Mapping[str, Any], out_dir: str | Path, record: Mapping[str, Any] | None = None) -> Path:
    """Write the decision log as decisions.json, with the provenance `record` under ``"provenance"``."""
    return write_json(log, Path(out_dir) / LOG_FILE, record, indent=1)


def read_log(path: str | Path) -> dict[str, Any]:
    """Read a decision log; a folder means its decisions.json."""
    p = Path(path)
    if p.is_dir():
        p = p / LOG_FILE
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{p}: no such decision log") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not a valid decision log ({exc})") from None


def read_frame(out_dir: str | Path, name: str) -> tuple[pd.DataFrame, str] | None:
    """A recorded frame and its format (Parquet preferred), or None if the folder has none. A CSV file of a
    declared frame (crmsim.sim.frames) reads back with the dtypes Parquet keeps."""
    d = Path(out_dir)
    if (d / f"{name}.parquet").exists():
        return pd.read_parquet(d / f"{name}.parquet"), "parquet"
    if (d / f"{name}.csv").exists():
        return _read_csv(d / f"{name}.csv", name), "csv"
    return None


def _read_csv(source: Any, name: str | None) -> pd.DataFrame:
    from crmsim.sim.frames import FRAMES, read_csv

    return read_csv(source, name) if name in FRAMES else pd.read_csv(source)


def roundtrip(df: pd.DataFrame, fmt: str, name: str | None = None) -> pd.DataFrame:
    """The frame as it reads back from disk in `fmt` (to compare a fresh frame with a recorded one); `name`
    is the declared frame it is (crmsim.sim.frames), whose dtypes a CSV file reads back with."""
    buf = io.BytesIO()
    if fmt == "csv":
        df.to_csv(buf, index=False)
        buf.seek(0)
        return _read_csv(buf, name)
    _parquet_safe(df).to_parquet(buf, index=False)
    buf.seek(0)
    return pd.read_parquet(buf)
