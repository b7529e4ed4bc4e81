"""Writing a game's frames and decision log to disk (CSV, Parquet, JSON) and reading them back."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

FORMATS = ("csv", "parquet")
LOG_FILE = "decisions.json"


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


def write_frames(frames: Mapping[str, pd.DataFrame], out_dir: str | Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write each frame as NAME.csv and/or NAME.parquet; returns the paths written."""
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
                _parquet_safe(df).to_parquet(path, index=False)
            written.append(path)
    return written


def write_log(log: Mapping[str, Any], out_dir: str | Path) -> Path:
    path = Path(out_dir) / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(log, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


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
    """A recorded frame and its format (Parquet preferred), or None if the folder has none."""
    d = Path(out_dir)
    if (d / f"{name}.parquet").exists():
        return pd.read_parquet(d / f"{name}.parquet"), "parquet"
    if (d / f"{name}.csv").exists():
        return pd.read_csv(d / f"{name}.csv"), "csv"
    return None


def roundtrip(df: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """The frame as it reads back from disk in `fmt` (to compare a fresh frame with a recorded one)."""
    buf = io.BytesIO()
    if fmt == "csv":
        df.to_csv(buf, index=False)
        buf.seek(0)
        return pd.read_csv(buf)
    _parquet_safe(df).to_parquet(buf, index=False)
    buf.seek(0)
    return pd.read_parquet(buf)
