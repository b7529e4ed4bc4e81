"""Input guards that run before any view: JSON and text a database cannot store, ids it cannot hold, request size.

Every JSON body goes through :func:`parse_json`, and every query and form value
through :func:`check_form_and_query`, so hostile input becomes a 400 naming the
field instead of a RecursionError, a UnicodeEncodeError or a database error.
Ids in URLs are bounded by :class:`DatabaseId` (a larger id is no game: 404).
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import current_app, request
from werkzeug.routing import IntegerConverter

DATABASE_ID_MAX = 2**31 - 1  # an INTEGER column (PostgreSQL's is 32-bit)
MAX_JSON_DEPTH = 32  # nesting of arrays and objects in a body; the largest real one (a decision's bids) is 3
DEFAULT_MAX_REQUEST_BYTES = 2**20  # a whole request body (a pasted scenario file is the largest, some 10 KB)
DEFAULT_DRAFT_MAX_BYTES = 64 * 1024  # a saved draft, as JSON


class InputRefused(ValueError):
    """Input the app cannot take, whatever the route: `field` names where it was, `rule` what is wrong."""

    def __init__(self, field: str, rule: str, value: Any = None):
        self.field, self.rule, self.value = field, rule, value
        self.more: list[InputRefused] = []  # the other problems of the same input, where there were several
        super().__init__(f"{field}: {rule}")


class DatabaseId(IntegerConverter):
    """``<int:...>`` in every route: a non-negative whole number the database's id columns can hold."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = DATABASE_ID_MAX, signed: bool = False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def text_problem(text: str) -> str | None:
    """Why a database cannot store `text` (a NUL byte, a lone surrogate), or None."""
    if "\x00" in text:
        return "must not contain a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogate)"
    return None


def preview(value: Any, limit: int = 80) -> Any:
    """A short, storable echo of a refused value for an error message."""
    text = value if isinstance(value, str) else repr(value)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:limit]


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(f"number out of range: {text[:40]}")
    return x


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data: bytes | str) -> Any:
    """Parse a request body: standard JSON only (no NaN or Infinity), finite numbers, text a database can store,
    nested at most MAX_JSON_DEPTH deep.

    Raises:
        InputRefused: naming the body, or the key path of the bad value.
    """
    try:
        value = json.loads(data, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise InputRefused("body", f"is nested too deeply (at most {MAX_JSON_DEPTH} levels)") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, the number checks above
        raise InputRefused("body", f"is not valid JSON: {preview(str(exc), 120)}") from None
    check_json(value)
    return value


def check_json(value: Any) -> None:
    """Raise InputRefused for a string or key a database cannot store, or nesting deeper than MAX_JSON_DEPTH."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise InputRefused("body", f"is nested too deeply (at most {MAX_JSON_DEPTH} levels)")
        if isinstance(node, str):
            problem = text_problem(node)
            if problem:
                raise InputRefused(path or "body", problem, preview(node))
        elif isinstance(node, dict):
            for key, item in node.items():
                where = f"{path}.{key}" if path else str(key)
                problem = text_problem(key)
                if problem:
                    raise InputRefused(path or "body", f"a key {problem}", preview(key))
                stack.append((item, where, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, f"{path}.{i}" if path else str(i), depth + 1) for i, item in enumerate(node))


def check_form_and_query() -> None:
    """Before every request: the query string and form fields must be text a database can store."""
    for source in (request.args, request.form):
        for key, values in source.lists():
            for text in (key, *values):
                problem = text_problem(text)
                if problem:
                    raise InputRefused(key if text is not key else "(field name)", problem, preview(text))


def request_limit() -> int:
    return int(current_app.config["MAX_CONTENT_LENGTH"])
