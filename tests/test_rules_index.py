"""docs/rules.md section 14 indexes every rule to its function and its test: each named function and test exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "docs" / "rules.md"


def index_rows() -> list[tuple[str, list[str], list[str]]]:
    text = RULES.read_text(encoding="utf-8")
    section = text[text.index("## 14. Index"):text.index("## References")]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("rule", "---"):
            continue
        functions = re.findall(r"`(crmsim\.[\w.]+)`", cells[2])
        tests = re.findall(r"`(tests/[\w/]+\.py::\w+)`", cells[3])
        rows.append((cells[0], functions, tests))
    return rows


ROWS = index_rows()


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_the_index_lists_the_rules():
    assert len(ROWS) >= 40
    assert all(functions and tests for _, functions, tests in ROWS), [r for r, f, t in ROWS if not (f and t)]


@pytest.mark.parametrize("rule, functions, tests", ROWS, ids=[r for r, _, _ in ROWS])
def test_every_indexed_function_and_test_exists(rule, functions, tests):
    for dotted in functions:
        assert _resolve(dotted) is not None, dotted
    for ref in tests:
        path, name = ref.split("::")
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert name in names, f"{rule}: {ref} not found"
