"""Tests for sim/streams.py: the random streams' keys are fixed (every recorded result depends on them) and apart."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from crmsim.sim.engine import bot_rng, period_rng
from crmsim.sim.streams import STREAMS, StreamSeed, stream_rng


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


def _numpy_rng(seed, key):
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def test_stream_generators_are_numpys_bit_for_bit():
    """stream_rng builds PCG64's seed in Python (StreamSeed): for seeds of 0 to 256 bits and keys of 0 to 8 indices
    (0 and 2**32 - 1 included), the generator's state and draws equal NumPy's SeedSequence's."""
    rng = np.random.default_rng(20261201)
    seeds = [0, 1, 2**32 - 1, 2**32, 2**64 + 5, 2**127, 2**128 - 1, 2**128, 2**200 + 12345, 2**256 - 1]
    seeds += [int(rng.integers(0, 2**62)) << int(rng.integers(0, 190)) for _ in range(60)]
    keys = [(), (0,), (1, 0, 0), (1, 5, 12), (2, 3, 7), (11,), (0xBA1A, 2**32 - 1), (9, 8, 7, 6, 5, 4, 3, 2)]
    for seed in seeds:
        for key in keys + [tuple(int(k) for k in rng.integers(0, 2**int(rng.integers(1, 33)), int(rng.integers(0, 5))))]:
            ours, numpys = stream_rng(seed, *key), _numpy_rng(seed, key)
            assert isinstance(ours.bit_generator.seed_seq, StreamSeed), (seed, key)
            assert ours.bit_generator.state == numpys.bit_generator.state, (seed, key)
            assert ours.random(3).tolist() == numpys.random(3).tolist()
            assert ours.bit_generator.seed_seq.generate_state(5).tolist() == numpys.bit_generator.seed_seq.generate_state(5).tolist()


def test_other_seeds_and_keys_go_to_numpy():
    """A seed over 256 bits, a key index of 2**32 or more, a NumPy integer: NumPy's own SeedSequence, same draws."""
    for seed, key in [(2**300 + 1, (1, 2)), (5, (2**40, 1)), (np.uint32(5), (1, 2)), (5, (np.int64(1), 2))]:
        ours = stream_rng(seed, *key)
        assert isinstance(ours.bit_generator.seed_seq, np.random.SeedSequence)
        assert ours.bit_generator.state == _numpy_rng(seed, key).bit_generator.state


def test_stream_generators_spawn_pickle_and_describe_themselves_as_numpys():
    """Whatever a bot does with its generator beyond drawing (spawn, pickle, read its seed sequence) matches NumPy's."""
    ours, numpys = stream_rng(12345, 1, 2, 3), _numpy_rng(12345, (1, 2, 3))
    assert [g.random() for g in ours.spawn(3)] == [g.random() for g in numpys.spawn(3)]
    seq = ours.bit_generator.seed_seq
    assert (seq.entropy, seq.spawn_key, seq.pool_size, seq.n_children_spawned) == (12345, (1, 2, 3), 4, 3)
    assert seq.pool.tolist() == numpys.bit_generator.seed_seq.pool.tolist()
    again = pickle.loads(pickle.dumps(ours))
    assert again.bit_generator.state == ours.bit_generator.state and again.random() == ours.random()
    with pytest.raises(ValueError):
        seq.generate_state(4, np.float64)
