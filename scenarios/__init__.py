"""Shipped scenarios and the loader that validates scenario files.

``load_scenario("classroom-v1")`` loads a shipped scenario by name;
``load_scenario(path)`` loads any TOML file. A file may say
``extends = "classroom-v1"`` and state only what differs (tables merge key by
key; lists such as ``clients`` and ``events`` replace the parent's whole).
Errors name the file, the key, the rule and the value.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from crmsim.scenarios.schema import Scenario

__all__ = [
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "list_scenarios",
    "scenario_from_dict",
    "scenario_with_overrides",
    "per_scenario",
    "SCENARIO_DIR",
]

T = TypeVar("T")


def per_scenario(fn: Callable[[Scenario], T]) -> Callable[[Scenario], T]:
    """Cache ``fn(scenario)`` per scenario object: worked out on the first call for a scenario, then reused.

    A Scenario is frozen but holds dicts, so it is not hashable; it is looked up by identity and kept alive
    with its value, so that its id is not reused. A long-lived process (a sweep, the web app) meets many
    scenarios: the cache starts afresh after 64.
    """
    cache: dict[int, tuple[Scenario, T]] = {}

    @functools.wraps(fn)
    def cached(sc: Scenario) -> T:
        hit = cache.get(id(sc))
        if hit is None or hit[0] is not sc:
            if len(cache) >= 64:
                cache.clear()
            hit = cache[id(sc)] = (sc, fn(sc))
        return hit[1]

    cached.cache_clear = cache.clear  # type: ignore[attr-defined]
    return cached

SCENARIO_DIR = Path(__file__).resolve().parent


class ScenarioError(ValueError):
    """A scenario file is missing, unreadable or breaks a rule; `problems` lists each one."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid scenario\n" + "\n".join(f"  - {p}" for p in problems))


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios, sorted."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return p
    shipped = SCENARIO_DIR / f"{name_or_path}.toml"
    if shipped.exists():
        return shipped
    raise ScenarioError(
        str(name_or_path),
        [f"no such scenario file or shipped scenario; shipped: {', '.join(list_scenarios())}"],
    )


def _merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(parent)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise ScenarioError(str(path), [f"extends: circular inheritance through {', '.join(map(str, seen))}"])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(str(path), ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), [f"not valid TOML: {exc}"]) from None
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return data
    if not isinstance(parent_name, str):
        raise ScenarioError(str(path), [f"extends: must be a scenario name or path; got {parent_name!r}"])
    if "name" not in data:
        raise ScenarioError(str(path), ["name: required key is missing (a scenario that extends another needs its own name)"])
    local = path.parent / parent_name
    try:
        parent_path = local if local.suffix == ".toml" and local.exists() else _resolve(parent_name)
    except ScenarioError as exc:
        raise ScenarioError(str(path), [f"extends: {p}" for p in exc.problems]) from None
    return _merge(_read(parent_path, seen + (path,)), data)


def format_validation_error(source: str, exc: ValidationError) -> ScenarioError:
    """Turn a pydantic error into one line per problem: key, rule, value."""
    problems = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        if err["type"] == "missing":
            problems.append(f"{key}: required key is missing")
        elif isinstance(value, Mapping) and err["type"] != "extra_forbidden":
            problems.append(f"{key}: {msg}")
        else:
            problems.append(f"{key}: {msg}; got {value!r}")
    return ScenarioError(source, problems)


def scenario_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Scenario:
    """Validate a parsed scenario mapping (as read from TOML)."""
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise format_validation_error(source, exc) from None


def load_scenario(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario by shipped name or file path.

    Args:
        name_or_path: a shipped name such as ``"classroom-v1"`` or a path to a TOML file.
        overrides: dotted keys to set after loading, e.g. ``{"market.customers": 5000}``
            (used by sweeps and tests); validated like the file itself.

    Raises:
        ScenarioError: naming the file, the key, the rule and the value.
    """
    path = _resolve(name_or_path)
    source = str(path) + (" with overrides " + ", ".join(f"{k}={v!r}" for k, v in overrides.items()) if overrides else "")
    return scenario_from_dict(set_overrides(_read(path), overrides, source), source)


def scenario_with_overrides(scenario: Scenario | str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """A scenario by name, path or object, with dotted overrides (``{"market.customers": 1500}``) applied and validated.

    Raises:
        ScenarioError: an override breaks a rule, or sets a key inside a value that is not a table.
    """
    if not isinstance(scenario, Scenario):
        return load_scenario(scenario, overrides=overrides)
    if not overrides:
        return scenario
    source = f"{scenario.name} with overrides"
    return scenario_from_dict(set_overrides(scenario.model_dump(mode="json"), overrides, source), source)


def set_overrides(data: dict[str, Any], overrides: Mapping[str, Any] | None, source: str) -> dict[str, Any]:
    """Set dotted keys (``"market.customers"``) in parsed scenario data, creating tables on the way (in place)."""
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ScenarioError(source, [f"{dotted}: cannot set inside a non-table value"])
        node[leaf] = value
    return data
