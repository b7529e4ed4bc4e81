"""The optional parts of crmsim and the modules each installs, so that a command can name the extra it is missing.

The base install is the engine and the classroom server. ``pip install 'crmsim[research]'`` adds the
research batches, environments and validation; ``[rl]`` stable-baselines3 for training agents on the environments
(not part of ``[test]``); ``[postgres]`` the PostgreSQL driver; ``[redis]`` the
rate limiter's shared store. pyproject.toml lists the same packages (tests/test_extras.py checks it).
"""

from __future__ import annotations

import importlib.util

# extra -> the top-level modules its packages install
EXTRAS: dict[str, tuple[str, ...]] = {
    "research": ("scipy", "dask", "distributed", "SALib", "pettingzoo", "gymnasium"),
    "rl": ("stable_baselines3",),
    "postgres": ("psycopg",),
    "redis": ("redis",),
}


class MissingExtra(RuntimeError):
    """Something needs an optional extra that is not installed; the message says what to install."""

    def __init__(self, what: str, extra: str, missing: list[str]):
        self.extra = extra
        self.missing = missing
        super().__init__(f"{what} needs the {extra} extra: pip install 'crmsim[{extra}]' (missing: {', '.join(missing)})")


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, what: str) -> None:
    """Raise MissingExtra naming `what` (a command, a setting) unless every module of `extra` is installed."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(what, extra, missing)
