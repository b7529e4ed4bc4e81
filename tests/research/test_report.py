"""research.report: `crmsim validate` writes a report that lists every fact, the sensitivity table and the plots."""

from __future__ import annotations

import pandas as pd

from crmsim.research.facts import CHECK_KEYS, CHECKS
from crmsim.cli import main


def test_validate_command_writes_a_report_that_lists_every_fact(tmp_path, capsys):
    """`crmsim validate` with 2 seeds and a one-parameter, one-seed sweep: every check of CHECKS is in the
    printed table, report.md (with its target and result) and facts.csv; the plots are PNGs."""
    out = tmp_path / "report"
    status = main(["validate", "classroom-v1", "--seeds", "2", "--sensitivity-seeds", "1", "--params", "dropout_mean",
                   "--no-holdout", "--workers", "1", "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out
    report = (out / "report.md").read_text(encoding="utf-8")
    facts = pd.read_csv(out / "facts.csv")
    assert status == (0 if facts["passed"].all() else 1)  # validate exits 1 when a check fails
    assert list(facts["check"]) == list(CHECK_KEYS) and set(facts["seeds"]) == {2}
    for c in CHECKS:
        assert c.key in printed
        row = next(line for line in report.splitlines() if f"`{c.key}`" in line and c.target in line)
        assert c.fact in row and ("pass" in row or "FAIL" in row)
    sens = pd.read_csv(out / "sensitivity.csv")
    assert set(sens["parameter"]) == {"dropout_mean"} and set(sens["output"]) == set(CHECK_KEYS)
    assert sens.set_index("output").loc["year_one_retention", "swing"] < 0  # more dropout, fewer kept a year
    for name in ("validation-facts.png", "validation-sensitivity.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Out of sample" in report
