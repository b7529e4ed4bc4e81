"""Tests for sim/streams.py: the random streams' keys are fixed (every recorded result depends on them) and apart."""

from __future__ import annotations

import numpy as np

from crmsim.sim.engine import bot_rng, period_rng
from crmsim.sim.streams import STREAMS, stream_rng


def test_stream_keys_never_change():
    assert STREAMS == {"engine": 0, "bot": 1, "research": 2, "cohort": 7, "purchase_day": 8, "calibration": 11,
                       "balance": 0xBA1A, "design": 0x5EED, "sample": 0x70A1}


def test_every_stream_has_its_own_key():
    assert len(set(STREAMS.values())) == len(STREAMS)


def test_engine_and_bot_generators_are_seeded_by_their_spawn_keys():
    """period_rng(seed, t) = SeedSequence(seed, spawn_key=(0, t)); bot_rng(seed, firm, t) = (1, firm, t)."""
    assert period_rng(42, 3).random() == np.random.default_rng(np.random.SeedSequence(42, spawn_key=(0, 3))).random()
    assert bot_rng(42, 2, 3).random() == np.random.default_rng(np.random.SeedSequence(42, spawn_key=(1, 2, 3))).random()
    assert stream_rng(42, 11).random() == np.random.default_rng(np.random.SeedSequence(42, spawn_key=(11,))).random()
    assert period_rng(42, 3).random() != bot_rng(42, 0, 3).random()
