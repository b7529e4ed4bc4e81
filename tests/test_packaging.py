"""The wheel installs everything under one namespace, so a researcher's own `agents/` or `sim/` folder
shadows nothing, in an editable install and in a regular one; and the build names every shipped folder."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"crmsim": "crmsim", "sim": "crmsim.sim", "agents": "crmsim.agents", "scenarios": "crmsim.scenarios",
           "web": "crmsim.web", "research": "crmsim.research"}

PROBE = """
import sys, crmsim, crmsim.agents.bots, crmsim.sim.model, crmsim.scenarios, crmsim.web
from crmsim.sim.model import CRMModel
model = CRMModel("classroom-v1", seed=1, strategies=["balanced"] * 6).run()
assert len(model.results) == 12
print(crmsim.__file__)
print("own agents:", sys.modules.get("agents") is None or sys.modules["agents"].__file__)
"""


def _shadowing_project(tmp_path: Path) -> Path:
    """A research project with its own agents/ and sim/ packages, as agent-based modellers often have."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("agents", "sim", "web", "research", "scenarios"):
        pkg = tmp_path / name
        pkg.mkdir()
        (pkg / "__init__.py").write_text("OWN = True\n")
        (pkg / "bots.py").write_text("raise ImportError('the project\\'s own module was imported')\n")
    return tmp_path


def _run(cwd: Path, code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_editable_install_works_beside_a_projects_own_agents_and_sim(tmp_path):
    project = _shadowing_project(tmp_path)
    done = _run(project, PROBE)
    assert done.returncode == 0, done.stderr
    crmsim_file = done.stdout.splitlines()[0]
    assert Path(crmsim_file).resolve().parent == ROOT / "crmsim"
    # the project's own package stays importable under its own name, next to crmsim's
    own = _run(project, "import agents, crmsim.agents.bots; print(agents.OWN, crmsim.agents.bots.__name__)")
    assert own.stdout.split() == ["True", "crmsim.agents.bots"], own.stderr


def test_console_script_runs_from_a_folder_with_its_own_agents(tmp_path):
    project = _shadowing_project(tmp_path)
    done = subprocess.run([sys.executable, "-m", "crmsim", "run", "classroom-v1", "--seed", "2", "--quiet"],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Final standings" in done.stdout


@pytest.mark.slow
def test_regular_install_works_beside_a_projects_own_agents_and_sim(tmp_path):
    """Build the wheel and install it into a plain folder (not editable), then import from a shadowing project."""
    target = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    assert "BuildBackendWarning" not in build.stderr
    installed = {p.name for p in target.iterdir()}
    assert "crmsim" in installed
    assert not installed & {"sim", "agents", "web", "research", "scenarios"}, installed
    assert (target / "crmsim" / "web" / "templates" / "base.html").is_file()
    assert (target / "crmsim" / "scenarios" / "classroom-v1.toml").is_file()
    project = _shadowing_project(tmp_path / "project")
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = _run(project, PROBE, env)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.splitlines()[0]).resolve().is_relative_to(target.resolve())


def test_every_shipped_folder_is_a_listed_package():
    """Data folders (templates, static files, translations) must be listed, or the wheel leaves them out."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert cfg["package-dir"] == {package: folder for folder, package in FOLDERS.items()}
    listed = set(cfg["packages"])
    for folder, package in FOLDERS.items():
        for d in [ROOT / folder, *(p for p in (ROOT / folder).rglob("*") if p.is_dir())]:
            if d.name == "__pycache__" or "__pycache__" in d.parts or not any(f.is_file() for f in d.iterdir()):
                continue
            name = ".".join([package, *d.relative_to(ROOT / folder).parts])
            assert name in listed, f"{d.relative_to(ROOT)} ships files but {name} is not in [tool.setuptools] packages"
