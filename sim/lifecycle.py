"""Cultivation as a sales process (顾客培养): lifecycle stages, sales activities and sales hours.

Used when a scenario sets ``cultivation.mode = "lifecycle"`` (classroom-v2). Each firm-client
relationship sits in a stage: 潜在期 potential -> 目标期 target -> 考察期 evaluation -> 形成期 formation
-> 稳定期 stable. Sales activities (客户调查 investigate, 电话联系 call, 上门拜访 visit, 产品演示 demo,
维护 maintain) cost money and sales-staff hours (工时) and buy progress toward the next stage, but only
at the stages where they count, so each stage needs the one before it. Rules, in the order
:func:`step_relationships` applies them:

1. **Resistance**: a client a rival holds in its stable stage resists a newcomer: progress is
   multiplied by ``rival_stable_resistance`` (a rival in formation: ``rival_formation_resistance``).
2. **Progress**: the activities' progress, times the resistance, plus ``delivery_progress`` for a
   full, on-promise contract delivery; a whole unit of progress advances one stage (at most one a
   period; the excess is lost).
3. **Shortfall**: a delivery whose outcome is below ``delivery_shortfall_below`` slips the stage back.
4. **Contact and slip**: an activity or a delivery is contact; after ``slip_after`` periods without
   contact the stage slips back one step (its progress lost).
5. **Relationship score** (used in tender scoring): the stage's value, plus the progress toward the
   next stage's value, less ``idle_relationship_loss`` per period without contact.

Everything here is a pure function of (firms, clients) arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from crmsim.scenarios.schema import ACTIVITIES, STAGES, Cultivation

POTENTIAL, TARGET, EVALUATION, FORMATION, STABLE = range(len(STAGES))
STAGE_INDEX = {name: i for i, name in enumerate(STAGES)}
#: 中文 names of the stages and activities, for reports and the rules page
STAGE_ZH = {"potential": "潜在期", "target": "目标期", "evaluation": "考察期", "formation": "形成期", "stable": "稳定期"}
ACTIVITY_ZH = {"investigate": "客户调查", "call": "电话联系", "visit": "上门拜访", "demo": "产品演示", "maintain": "维护"}

ClientId = str
Plan = Mapping[ClientId, Iterable[str]]  # client -> the activities a firm does with it this period


@dataclass(frozen=True)
class Relationships:
    """Every firm-client relationship's lifecycle: (firms, clients) arrays."""

    stage: np.ndarray  # int, index into STAGES
    progress: np.ndarray  # float in [0, 1): progress toward the next stage
    idle: np.ndarray  # int: periods since the last contact (activity or delivery)

    @classmethod
    def start(cls, n_firms: int, n_clients: int) -> Relationships:
        """Every relationship at 潜在期 potential, no progress, just in touch."""
        return cls(np.zeros((n_firms, n_clients), dtype=np.int64), np.zeros((n_firms, n_clients)), np.zeros((n_firms, n_clients), dtype=np.int64))


def counts_at(activity: str, stage: int, settings: Cultivation) -> bool:
    """Whether `activity` buys progress for a relationship at `stage` (each stage needs the one before it)."""
    return STAGES[stage] in settings.activities[activity].stages


def plan_cost(plan: Plan, settings: Cultivation) -> tuple[float, float]:
    """(¥, sales hours) a period's activities cost."""
    money = hours = 0.0
    for acts in plan.values():
        for a in acts:
            spec = settings.activities[a]
            money += spec.cost
            hours += spec.hours
    return money, hours


def reachable_stage(stage: int, periods: int) -> int:
    """The highest stage a relationship at `stage` can reach in `periods` periods: at most one stage a
    period (rule 2: a whole unit of progress advances one stage, the excess is lost)."""
    return min(STABLE, stage + max(periods, 0))


def hours_available(sales_staff: int, settings: Cultivation) -> float:
    """Sales hours (工时) a firm's sales staff have in a period."""
    return sales_staff * settings.hours_per_sales_staff


def effort(plans: Mapping[int, Plan], stage: np.ndarray, clients: tuple[ClientId, ...], settings: Cultivation) -> tuple[np.ndarray, np.ndarray]:
    """(progress bought, contact made) per (firm, client) by the firms' plans, before resistance.

    An activity that does not count at the relationship's stage buys no progress, but it is still contact.
    """
    pos = {c: k for k, c in enumerate(clients)}
    bought = np.zeros(stage.shape)
    contact = np.zeros(stage.shape, dtype=bool)
    for firm, plan in plans.items():
        for client, acts in plan.items():
            k = pos[client]
            for a in acts:
                contact[firm, k] = True
                if counts_at(a, int(stage[firm, k]), settings):
                    bought[firm, k] += settings.activities[a].progress
    return bought, contact


def rival_hold(stage: np.ndarray, live: np.ndarray | None = None) -> np.ndarray:
    """For each (firm, client), the highest stage any *other* live firm has reached with the client."""
    s = np.where(live[:, None], stage, -1) if live is not None else stage
    n = s.shape[0]
    if n < 2:
        return np.full(s.shape, -1)
    order = np.sort(s, axis=0)
    top, second = order[-1], order[-2]
    # a firm holding the top stage sees the second highest; everyone else sees the top
    is_top = s >= top[None, :]
    return np.where(is_top, second[None, :], top[None, :])


def resistance(stage: np.ndarray, settings: Cultivation, live: np.ndarray | None = None) -> np.ndarray:
    """Progress multiplier per (firm, client): how much a rival's hold on the client blunts the firm's effort."""
    hold = rival_hold(stage, live)
    return np.where(hold >= STABLE, settings.rival_stable_resistance,
                    np.where(hold == FORMATION, settings.rival_formation_resistance, 1.0))


def step_relationships(
    rel: Relationships,
    bought: np.ndarray,
    contact: np.ndarray,
    delivery_outcome: np.ndarray,
    delivered: np.ndarray,
    settings: Cultivation,
    live: np.ndarray | None = None,
) -> tuple[Relationships, np.ndarray]:
    """Advance every relationship one period (rules 1-4 of the module docstring).

    Args:
        rel: the relationships at the start of the period.
        bought: progress the firms' activities bought (from :func:`effort`), before resistance.
        contact: where a firm did any activity with the client.
        delivery_outcome: 1 for a full, on-promise delivery, lower for shortfalls (where `delivered`).
        delivered: where a firm delivered a contract to the client this period.
        live: firms still in the market (a bankrupt firm's hold resists no one).

    Returns:
        The new relationships and the progress gained per (firm, client) (after resistance, before
        the stage cap), which research reports use to measure progress per ¥ and per hour.
    """
    full = delivered & (delivery_outcome >= settings.delivery_shortfall_below)
    short = delivered & ~full
    gained = bought * resistance(rel.stage, settings, live) + np.where(full, settings.delivery_progress * delivery_outcome, 0.0)
    progress = rel.progress + gained
    stage = rel.stage.copy()
    up = (progress >= 1.0) & (stage < STABLE)
    stage = np.where(up, stage + 1, stage)
    progress = np.where(up | (stage >= STABLE), 0.0, progress)
    # a shortfall slips the stage back (after any advance)
    stage = np.where(short & (stage > POTENTIAL), stage - 1, stage)
    progress = np.where(short, 0.0, progress)
    touched = contact | delivered
    idle = np.where(touched, 0, rel.idle + 1)
    slip = (idle >= settings.slip_after) & (stage > POTENTIAL)
    stage = np.where(slip, stage - 1, stage)
    progress = np.where(slip, 0.0, progress)
    idle = np.where(slip, 0, idle)
    return Relationships(stage, progress, idle), gained


def relationship_score(rel: Relationships, settings: Cultivation) -> np.ndarray:
    """The relationship R in [0, 1] that tender scoring uses (rule 5)."""
    values = np.asarray(settings.stage_relationship + (1.0,))
    base = values[rel.stage]
    step = values[np.minimum(rel.stage + 1, STABLE)] - base
    fresh = np.clip(1.0 - settings.idle_relationship_loss * rel.idle, 0.0, 1.0)
    return np.clip((base + step * rel.progress) * fresh, 0.0, 1.0)


def end_relationships(rel: Relationships, firm: int) -> Relationships:
    """A bankrupt firm's relationships end: every client back to potential, no progress."""
    stage, progress, idle = rel.stage.copy(), rel.progress.copy(), rel.idle.copy()
    stage[firm], progress[firm], idle[firm] = POTENTIAL, 0.0, 0
    return Relationships(stage, progress, idle)


def band(stage: int) -> str:
    """A research report's band for a rival's stage: weak (potential, target), medium (evaluation,
    formation) or strong (stable)."""
    return "strong" if stage >= STABLE else "medium" if stage >= EVALUATION else "weak"


__all__ = [
    "ACTIVITIES", "ACTIVITY_ZH", "STAGES", "STAGE_INDEX", "STAGE_ZH", "POTENTIAL", "TARGET", "EVALUATION", "FORMATION",
    "STABLE", "Relationships", "band", "counts_at", "effort", "end_relationships", "hours_available", "plan_cost",
    "reachable_stage", "relationship_score", "resistance", "rival_hold", "step_relationships",
]
