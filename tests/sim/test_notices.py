"""sim/notices.py: a notice's numbers as text."""

from __future__ import annotations

from crmsim.sim.notices import format_param


def test_levels_and_points_are_written_without_trailing_zeros():
    assert format_param("promised_service", 0.4) == "0.4"
    assert format_param("promised_service", 0.75) == "0.75"
    assert format_param("promised_service", 1.0) == "1"
    assert format_param("promised_service", 0.0) == "0"
    assert format_param("service_score", 12.0) == "12"
    assert format_param("service_score", 12.5) == "12.5"


def test_money_keeps_its_cents():
    assert format_param("price", 115.0) == "¥115.00"
