"""An older commit of crmsim beside this checkout, importable from a fresh process, for side-by-side figures.

``check_out(ref, into)`` makes a detached git worktree of `ref` under `into` and lays its packages out as
an importable ``crmsim`` (pyproject's package-dir mapping, as symbolic links); a subprocess started with
``PYTHONPATH`` set to the returned folder imports that commit's crmsim ahead of the installed one.
Used by benchmarks/games.py and benchmarks/env.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def package_dirs(checkout: Path) -> dict[str, str]:
    """The crmsim sub-packages and the folders they install from (pyproject's package-dir mapping)."""
    config = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))
    mapping = config["tool"]["setuptools"]["package-dir"]
    return {name.split(".", 1)[1]: folder for name, folder in mapping.items() if name.startswith("crmsim.")}


def check_out(ref: str, into: Path) -> tuple[str, Path]:
    """Check `ref` out into a detached worktree under `into` and lay out its packages as an importable crmsim;
    returns (the commit, the folder to put on PYTHONPATH)."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    source = into / "source"
    subprocess.run(["git", "worktree", "add", "--detach", str(source), sha], cwd=ROOT, check=True, capture_output=True)
    site = into / "site"
    package = site / "crmsim"
    package.mkdir(parents=True)
    for item in (source / "crmsim").iterdir():
        (package / item.name).symlink_to(item)
    for name, folder in package_dirs(source).items():
        (package / name).symlink_to(source / folder)
    return sha, site


def remove_checkout(into: Path) -> None:
    """Remove the worktree `check_out` made under `into` (if it made one) and the folder itself."""
    if (into / "source").exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(into / "source")], cwd=ROOT, capture_output=True)
    shutil.rmtree(into, ignore_errors=True)


def finish_figures(figures: dict[str, Any], json_path: str | None) -> None:
    """Record the load average after the run, print it beside the one before and the command that reproduces the
    figures, and write them as JSON to `json_path` when given."""
    figures["load_average_after"] = os.getloadavg()
    before, after = (" ".join(f"{x:.2f}" for x in figures[k]) for k in ("load_average_before", "load_average_after"))
    print(f"load average (1, 5, 15 min) before: {before}; after: {after}\nreproduce: {figures['command']}")
    if json_path:
        out = Path(json_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
