"""The random streams: every spawn key that derives a generator from a game or master seed, in one list.

A generator is ``default_rng(SeedSequence(seed, spawn_key=(KEY, ...)))``. Each
consumer has its own key, so no stream shifts another's draws: a bot's draws
never move the engine's, a sweep's design never moves its games. The values
are part of every recorded result; changing one changes every game that uses
it (docs/rules.md section 1).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISpawnableSeedSequence

ENGINE_STREAM = 0  # the engine: (ENGINE_STREAM, period); period 0 builds the initial state
BOT_STREAM = 1  # a bot seat: (BOT_STREAM, firm, period)
RESEARCH_STREAM = 2  # a firm's market research (its survey sample): (RESEARCH_STREAM, firm, period)
COHORT_STREAM = 7  # research: the customer cohort of the holdout test (validation, crmsim_histories)
PURCHASE_DAY_STREAM = 8  # research: the day of each cohort purchase within its period (validation, crmsim_cohort)
CALIBRATION_STREAM = 11  # research: draws of the calibration's simulated customers (calibration)
BALANCE_STREAM = 0xBA1A  # research: the balance report's generator, default_rng([master_seed, BALANCE_STREAM])
DESIGN_STREAM = 0x5EED  # research: a sweep's Sobol / Latin-hypercube design
SAMPLE_STREAM = 0x70A1  # research: the tournament's sample of line-ups

STREAMS = {
    "engine": ENGINE_STREAM,
    "bot": BOT_STREAM,
    "research": RESEARCH_STREAM,
    "cohort": COHORT_STREAM,
    "purchase_day": PURCHASE_DAY_STREAM,
    "calibration": CALIBRATION_STREAM,
    "balance": BALANCE_STREAM,
    "design": DESIGN_STREAM,
    "sample": SAMPLE_STREAM,
}


# ---------------------------------------------------------------------------
# the generators, built fast
#
# Building ``np.random.SeedSequence`` and drawing PCG64's seed from it costs ~50 µs (NumPy's array and
# error-state overhead around a few dozen 32-bit multiplications), and the bots need one generator per
# seat and period. :class:`StreamSeed` does the same arithmetic on Python ints, with the entropy pool
# of a seed and of all but the last index of a key worked out once, so PCG64 gets the very same 256 bits
# (tests/sim/test_streams.py compares states and draws with NumPy's for many seeds and keys).

_MASK32 = 0xFFFF_FFFF
_POOL_SIZE = 4  # SeedSequence's default pool size
_XSHIFT = 16
_MIX_MULT_L, _MIX_MULT_R = 0xCA01_F9DD, 0x4973_F715
_MAX_SEED_WORDS, _MAX_KEY = 8, 8  # beyond: NumPy's SeedSequence (the tables below cover 64 hashes)
_SEED_LIMIT = 1 << (32 * _MAX_SEED_WORDS)
_WORD, _WORD_PAIR = np.dtype("<u4"), np.dtype("<u8")  # little-endian, as SeedSequence's words are read everywhere


def _hash_consts(init: int, mult: int, n: int = 64) -> tuple[int, ...]:
    """SeedSequence's hash constant before each of the first `n` hashes (and after the last): it only ever multiplies."""
    return tuple(init * pow(mult, k, 1 << 32) & _MASK32 for k in range(n + 1))


_HASH_IN = _hash_consts(0x43B0_D7E5, 0x931E_8875)  # hashing the entropy mixed into the pool
_HASH_OUT = _hash_consts(0x8B51_F9DD, 0x58F3_8DED)  # hashing the words drawn from the pool


def _hashmix(value: int, n: int) -> int:
    """SeedSequence's hashmix of `value` as its `n`-th hash of entropy (counting from 0)."""
    value = ((value ^ _HASH_IN[n]) * _HASH_IN[n + 1]) & _MASK32
    return value ^ (value >> _XSHIFT)


def _mix(x: int, y: int) -> int:
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK32
    return result ^ (result >> _XSHIFT)


def _words(n: int) -> list[int]:
    """A non-negative int as SeedSequence reads it: 32-bit words, least significant first (0 is one word)."""
    words = [n & _MASK32]
    while n >> 32:
        n >>= 32
        words.append(n & _MASK32)
    return words


Pool = tuple[tuple[int, ...], int]  # SeedSequence's entropy pool, and the hashes done so far


def _mixed_in(pool: Pool, n: int) -> Pool:
    """`pool` with the words of `n` mixed into each cell, as SeedSequence mixes entropy beyond the pool's size."""
    cells, hashes = pool
    for word in _words(n):
        mixed = []
        for cell in cells:  # _mix(cell, _hashmix(word, hashes)), written out: the bots' hot path
            value = ((word ^ _HASH_IN[hashes]) * _HASH_IN[hashes + 1]) & _MASK32
            value = (_MIX_MULT_L * cell - _MIX_MULT_R * (value ^ (value >> _XSHIFT))) & _MASK32
            mixed.append(value ^ (value >> _XSHIFT))
            hashes += 1
        cells = tuple(mixed)
    return cells, hashes


@functools.lru_cache(maxsize=1024)
def _key_pool(seed: int, key: tuple[int, ...]) -> Pool:
    """The pool of ``SeedSequence(seed, spawn_key=key)``: a key's pool is its head's with its last index mixed in."""
    if key:
        return _mixed_in(_key_pool(seed, key[:-1]), key[-1])
    words = _words(seed)
    words += [0] * (_POOL_SIZE - len(words))  # SeedSequence pads a seed to the pool's size before the key
    cells = [_hashmix(w, i) for i, w in enumerate(words[:_POOL_SIZE])]
    hashes = _POOL_SIZE
    for src in range(_POOL_SIZE):
        for dst in range(_POOL_SIZE):
            if src != dst:
                cells[dst] = _mix(cells[dst], _hashmix(cells[src], hashes))
                hashes += 1
    pool: Pool = (tuple(cells), hashes)
    for w in words[_POOL_SIZE:]:
        pool = _mixed_in(pool, w)
    return pool


class StreamSeed(ISpawnableSeedSequence):
    """``np.random.SeedSequence(seed, spawn_key=key)``, built in Python (see :func:`fast_seed`).

    :meth:`generate_state` gives NumPy's words; anything else (``spawn``, ``entropy``, ``pool``, ...) is
    asked of NumPy's SeedSequence, built on first use, so a generator seeded with this one behaves as one
    seeded with NumPy's in every way.
    """

    def __init__(self, seed: int, key: tuple[int, ...]):
        self.seed, self.key = seed, key
        self._cells = _mixed_in(_key_pool(seed, key[:-1]), key[-1])[0] if key else _key_pool(seed, ())[0]
        self._numpy: np.random.SeedSequence | None = None

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        """`n_words` words of state, uint32 or uint64, as :meth:`np.random.SeedSequence.generate_state`."""
        wide = dtype is np.uint64 or np.dtype(dtype) == np.uint64
        n = 2 * n_words if wide else n_words
        if n >= len(_HASH_OUT) or not (wide or np.dtype(dtype) == np.uint32):
            return self.numpy.generate_state(n_words, dtype)  # many words, or NumPy's error for another dtype
        cells = self._cells  # read once: StreamSeed's __getattr__ slows every attribute look-up
        words = []
        for i in range(n):
            value = ((cells[i % _POOL_SIZE] ^ _HASH_OUT[i]) * _HASH_OUT[i + 1]) & _MASK32
            words.append(value ^ (value >> _XSHIFT))
        if wide:  # pairs of words, little-endian first, as NumPy reads them on every machine
            return np.array(words, dtype=_WORD).view(_WORD_PAIR).astype(np.uint64, copy=False)
        return np.array(words, dtype=np.uint32)

    @property
    def numpy(self) -> np.random.SeedSequence:
        """NumPy's SeedSequence for the same seed and key (built once, on first use)."""
        if self._numpy is None:
            self._numpy = np.random.SeedSequence(self.seed, spawn_key=self.key)
        return self._numpy

    def spawn(self, n_children: int) -> list[np.random.SeedSequence]:
        return self.numpy.spawn(n_children)

    def __getattr__(self, name: str) -> Any:  # entropy, spawn_key, pool, pool_size, n_children_spawned, state
        if name.startswith("_") or name in ("seed", "key"):
            raise AttributeError(name)
        return getattr(self.numpy, name)

    def __repr__(self) -> str:
        return repr(self.numpy)


def fast_seed(seed: Any, key: tuple[Any, ...]) -> bool:
    """Whether :class:`StreamSeed` stands in for NumPy's SeedSequence: an int seed of at most 256 bits and at most
    8 indices below 2**32 (the tables cover that many hashes); anything else goes to NumPy."""
    if type(seed) is not int or not 0 <= seed < _SEED_LIMIT or len(key) > _MAX_KEY:
        return False
    for k in key:  # a loop, not all(...): the bots ask for every seat and period
        if type(k) is not int or not 0 <= k <= _MASK32:
            return False
    return True


def stream_rng(seed: int, *key: int) -> np.random.Generator:
    """The generator of stream ``key`` (a stream constant, then any indices such as period or firm) for `seed`."""
    if fast_seed(seed, key):
        return np.random.Generator(np.random.PCG64(StreamSeed(seed, key)))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
