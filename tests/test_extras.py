"""crmsim.extras names the same packages as pyproject.toml's extras, and finds which of an extra's modules are missing."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from crmsim.extras import EXTRAS, MissingExtra, missing_modules, require_extra

ROOT = Path(__file__).resolve().parents[1]


def _requirement(spec: str) -> tuple[str, set[str]]:
    """'dask[distributed]>=2024.1' -> ('dask', {'distributed'}); a dash in a name reads as the module's underscore
    ('stable-baselines3' -> 'stable_baselines3')."""
    m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[([^\]]*)\])?", spec)
    return m.group(1).replace("-", "_"), {e.strip() for e in (m.group(2) or "").split(",") if e.strip()}


def test_each_extra_lists_the_modules_of_the_packages_pyproject_installs_for_it():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras) - {"test"} == set(EXTRAS)
    for extra, modules in EXTRAS.items():
        packages = [_requirement(spec) for spec in extras[extra]]
        names = {name.lower() for name, _ in packages}
        # every package's own module is listed; any other listed module comes with one of them (dask[distributed])
        assert names <= {m.lower() for m in modules}, extra
        assert {m.lower() for m in modules} <= names | {e.lower() for _, es in packages for e in es}, extra
    assert "crmsim[research,postgres,redis]" in extras["test"]  # [test] pulls in every extra


def test_a_missing_module_is_named_with_the_extra_that_installs_it(monkeypatch):
    assert missing_modules("research") == []  # the test install has everything
    monkeypatch.setitem(sys.modules, "SALib", None)
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    assert missing_modules("research") == ["SALib", "gymnasium"]
    with pytest.raises(MissingExtra) as err:
        require_extra("research", "crmsim sweep")
    assert str(err.value) == "crmsim sweep needs the research extra: pip install 'crmsim[research]' (missing: SALib, gymnasium)"
    assert (err.value.extra, err.value.missing) == ("research", ["SALib", "gymnasium"])
    require_extra("postgres", "a PostgreSQL database")  # installed: no error
