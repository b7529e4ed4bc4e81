"""research.facts: a stylised-fact check passes only when the 95% band across seeds lies inside its target.

The measurements themselves are checked fact by fact in tests/agents/test_stylised_facts.py.
"""

from __future__ import annotations

import pandas as pd

from crmsim.research.facts import Check, fact_table


def test_a_check_passes_only_when_its_whole_band_lies_inside_the_target():
    per_seed = pd.DataFrame({"a": [0.60, 0.62, 0.61], "b": [0.01, 0.02, -0.02], "c": [2.0, 2.1, 1.9]})
    checks = (Check("a", "A", "a", 0.55, 0.80), Check("b", "B", "b", 0.0), Check("c", "C", "c", 1.5))
    t = fact_table(per_seed, checks).set_index("check")
    assert t.loc["a", "passed"] and not t.loc["b", "passed"] and t.loc["c", "passed"]
    assert t.loc["b", "ci_low"] < 0 < t.loc["b", "ci_high"]
    assert [c.target for c in checks] == ["[0.55, 0.8]", "> 0", ">= 1.5"]
