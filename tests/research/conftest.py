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
