"""The sweepable settings of a scenario, read from its pydantic schema, so the list is always complete.

Every number, switch and choice a scenario file can set is a sweepable parameter, named by its dotted
key (``market.customers``, ``scoring.metrics.equity.span``): the key ``load_scenario(overrides=...)``,
``crmsim sweep --param`` and experiment files take. For each, :func:`sweepable` gives its type, its
default (the schema's), its value in the scenario, its declared bounds and its description. Lists
(clients, events, firm names, stage scores) and free text (names, titles) are not sweepable, and neither is
``firms.count`` (:data:`SEAT_COUNT`): it is the number of seats, which every point of a sweep fills with the
same line-up, and a scenario that lists ``firms.names`` accepts it only with names of the same length. A
setting's own bounds are checked here; rules between settings (``memory_min <= memory_max``) are the
scenario validation's, applied when a point is loaded.

    crmsim params classroom-v1
"""

from __future__ import annotations

import math
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import annotated_types
import pandas as pd
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from crmsim.scenarios import Scenario, load_scenario
from crmsim.scenarios.schema import Text

#: the setting types a sweep can vary
SCALARS = (bool, int, float)
#: the number of seats: fixed for a whole sweep or experiment (``--set``, ``[fixed]``), never varied across its points
SEAT_COUNT = "firms.count"
#: why a sweep refuses to vary SEAT_COUNT, in the words its errors use
SEAT_COUNT_RULE = "the number of seats cannot vary across a sweep's points, which all play one line-up; fix it for the whole sweep"


@dataclass(frozen=True)
class Parameter:
    """One sweepable setting.

    Attributes:
        key: the dotted key (``market.customers``).
        type: "int", "float", "bool" or "choice".
        default: the schema's default (None where the schema requires a value).
        value: the value in the scenario listed.
        low, high: the declared bounds (None: unbounded); `low_open`/`high_open` when they are excluded.
        choices: the allowed values of a choice.
        description: the schema's description of the setting.
    """

    key: str
    type: str
    default: Any
    value: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()
    description: str = ""

    @property
    def bounds(self) -> str:
        """The bounds as an interval, ``[10, 50000000]``, ``(0, 1]``; the choices of a choice; "" if unbounded."""
        if self.choices:
            return " | ".join(map(str, self.choices))
        if self.type == "bool" or (self.low is None and self.high is None):
            return ""
        lo = "-inf" if self.low is None else _number(self.low)
        hi = "inf" if self.high is None else _number(self.high)
        return f"{'(' if self.low_open or self.low is None else '['}{lo}, {hi}{')' if self.high_open or self.high is None else ']'}"

    def problem(self, value: Any) -> str | None:
        """Why `value` cannot be this setting's (a rule in words), or None if it can."""
        if self.choices:
            return None if value in self.choices else f"must be one of {', '.join(map(repr, self.choices))}"
        if self.type == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number ({self.type})"
        if self.type == "int" and float(value) != int(value):
            return "must be a whole number"
        if not math.isfinite(value):
            return "must be finite"
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return f"must be {'>' if self.low_open else '>='} {_number(self.low)}"
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return f"must be {'<' if self.high_open else '<='} {_number(self.high)}"
        return None


def _number(x: float) -> str:
    """A bound as written: whole numbers below a billion in full, others in short form."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e9 else f"{x:g}"


def sweepable(scenario: Scenario | str = "classroom-v1", *, with_seat_count: bool = False) -> list[Parameter]:
    """Every sweepable setting of `scenario` (a Scenario, or a shipped name or path), in schema order.

    Args:
        with_seat_count: also list :data:`SEAT_COUNT`, which a sweep may fix but not vary.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return [p for p in _walk(Scenario, sc, None, "") if with_seat_count or p.key != SEAT_COUNT]


def parameter_table(scenario: Scenario | str = "classroom-v1") -> pd.DataFrame:
    """:func:`sweepable` as a frame: key, type, value, default, bounds, low, high, description."""
    rows = [{"key": p.key, "type": p.type, "value": p.value, "default": p.default, "bounds": p.bounds, "low": p.low,
             "high": p.high, "description": p.description} for p in sweepable(scenario)]
    return pd.DataFrame(rows, columns=["key", "type", "value", "default", "bounds", "low", "high", "description"])


def _walk(model: type[BaseModel], value: Any, default: Any, prefix: str) -> Iterator[Parameter]:
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        here = getattr(value, name)
        base = getattr(default, name, None) if default is not None else info.get_default(call_default_factory=True)
        kind = info.annotation
        if _is_model(kind):
            if kind is not Text:
                yield from _walk(kind, here, base, f"{key}.")
        elif typing.get_origin(kind) is dict and _is_model(typing.get_args(kind)[1]):
            entry = typing.get_args(kind)[1]
            for k in here:
                yield from _walk(entry, here[k], (base or {}).get(k), f"{key}.{k}.")
        else:
            param = _scalar(key, kind, info, here, base)
            if param is not None:
                yield param


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _scalar(key: str, kind: Any, info: FieldInfo, value: Any, default: Any) -> Parameter | None:
    description = info.description or ""
    if typing.get_origin(kind) is typing.Literal:
        return Parameter(key, "choice", default, value, choices=typing.get_args(kind), description=description)
    if kind not in SCALARS:
        return None  # lists, text, optional per-entry settings
    low = high = None
    low_open = high_open = False
    for m in info.metadata:
        if isinstance(m, annotated_types.Ge):
            low = m.ge
        elif isinstance(m, annotated_types.Gt):
            low, low_open = m.gt, True
        elif isinstance(m, annotated_types.Le):
            high = m.le
        elif isinstance(m, annotated_types.Lt):
            high, high_open = m.lt, True
    return Parameter(key, kind.__name__, default, value, low, high, low_open, high_open, (), description)
