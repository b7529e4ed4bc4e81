"""Shared fixtures: small, fast versions of the shipped scenarios."""

from __future__ import annotations

import pytest

from crmsim.scenarios import load_scenario


@pytest.fixture(scope="session")
def classroom():
    return load_scenario("classroom-v1")


@pytest.fixture(scope="session")
def small_classroom():
    """classroom-v1 with 3,000 customers: same rules, quicker."""
    return load_scenario("classroom-v1", overrides={"market.customers": 3000, "market.track_customers": 3000})
