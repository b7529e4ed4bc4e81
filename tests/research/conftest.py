"""Shared fixtures of the research tests: the CDNOW data, which the ``lifetimes`` wheel (the test extra) ships."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def cdnow():
    """Call a CDNOW loader: without lifetimes the test skips with the reason, except under CI=true, where it fails."""

    def load(loader):
        try:
            return loader()
        except ImportError as exc:
            if IN_CI:
                pytest.fail(f"CI=true: the CDNOW data must be there ({exc}); .ci/run installs the test extra with lifetimes==0.11.3")
            pytest.skip(f"no CDNOW data: {exc}")

    return load


PLUGIN_SOURCE = '''"""A researcher's own strategies, written outside the crmsim package (a test fixture)."""

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from crmsim.agents.bots import BOTS, Balanced
from crmsim.research.runner import run_game


@dataclass
class LoyaltyFirst(Balanced):
    """The balanced bot with its care budget scaled: it spends to keep its customers."""

    name: ClassVar[str] = "loyalty_first"
    care_factor: float = 2.0

    def decide(self, obs, rng):
        decision = super().decide(obs, rng)
        decision["care_budget"] = round(decision["care_budget"] * self.care_factor, 2)
        return decision


REGISTER = {register}
if REGISTER:
    BOTS[LoyaltyFirst.name] = LoyaltyFirst

FLAG = Path({flag!r})


def flaky_run(spec):
    """run_game, but failing until the flag file exists (a retry test)."""
    if not FLAG.exists():
        raise RuntimeError("the flag file is not there yet")
    return run_game(spec)
'''

_modules = iter(range(10_000))


@pytest.fixture
def plugin_module(tmp_path_factory, monkeypatch):
    """Write a strategy module to a fresh folder outside the package, put the folder on sys.path and return a
    maker: ``make(register=False)`` -> (module name, folder). BOTS and sys.modules are restored after the test."""
    import sys

    from crmsim.agents.bots import BOTS

    saved = dict(BOTS)
    names = []

    def make(register: bool = False):
        folder = tmp_path_factory.mktemp("plugins")
        name = f"crm_plugin_{os.getpid()}_{next(_modules)}"
        (folder / f"{name}.py").write_text(PLUGIN_SOURCE.format(register=register, flag=str(folder / "flag")), encoding="utf-8")
        monkeypatch.syspath_prepend(str(folder))
        names.append(name)
        return name, folder

    yield make
    BOTS.clear()
    BOTS.update(saved)
    for name in names:
        sys.modules.pop(name, None)
