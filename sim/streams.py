"""The random streams: every spawn key that derives a generator from a game or master seed, in one list.

A generator is ``default_rng(SeedSequence(seed, spawn_key=(KEY, ...)))``. Each
consumer has its own key, so no stream shifts another's draws: a bot's draws
never move the engine's, a sweep's design never moves its games. The values
are part of every recorded result; changing one changes every game that uses
it (docs/rules.md section 1).
"""

from __future__ import annotations

import numpy as np

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


def stream_rng(seed: int, *key: int) -> np.random.Generator:
    """The generator of stream ``key`` (a stream constant, then any indices such as period or firm) for `seed`."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
