"""A trained policy as a strategy bot: ``PolicyStrategy`` plays a seat in CRMModel games, tournaments and
balance reports, seeing and acting exactly as it did in the learning environments (research/env.py).

The policy gets the observation vector the environments' codec (research/codec.py) builds from the
bot's own :class:`~crmsim.sim.observation.Observation` and its baseline decision, and its action is
decoded around that baseline by the same codec. So a policy that outputs the zero action with
``baseline="balanced"`` plays the balanced bot's game exactly.

    >>> from stable_baselines3 import PPO
    >>> model = PPO.load("ppo_crm")
    >>> from crmsim.research.policy import PolicyStrategy
    >>> bot = PolicyStrategy(model, baseline="standing", label="ppo")
    >>> tournament("classroom-v2", [bot, "balanced", "premium"], seeds=30)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from crmsim.agents.bots import RawDecision, Strategy
from crmsim.research.codec import ActionScales, FirmCodec
from crmsim.research.env import DEFAULT_BASELINE, BaselineSpec, baseline_bot, baseline_decision
from crmsim.scenarios import Scenario
from crmsim.sim.observation import Observation

Policy = Callable[[np.ndarray], Any]  # an observation vector -> an action (or anything with .predict, like an SB3 model)


class PolicyStrategy(Strategy):
    """A trained policy as a Strategy: observation -> codec vector -> policy -> action -> decision.

    Args:
        policy: a callable ``obs_vector -> action``, or an object with ``predict(obs, deterministic=...)``
            returning ``(action, state)`` (a stable-baselines3 model).
        baseline: the baseline the policy was trained around: ``"standing"`` or a bot spec (as the env's
            ``baseline=``); the baseline bot decides with the seat's generator, as in the environments.
        max_tenders, scales: the codec options the policy was trained with (as the env's); ignored when
            `codec` is given.
        codec: the environment's codec (``env.codec``), to share its scales exactly; by default one is made
            per scenario the strategy meets.
        deterministic: passed to ``predict`` (the policy's mean action when True).
        label: the name tables and line-ups give the strategy (its weights are no Python literal).
    """

    name: ClassVar[str] = "policy"
    description: ClassVar[str] = "A trained policy (residual actions around a baseline), decoded by the environments' codec."

    def __init__(self, policy: Policy | Any, baseline: BaselineSpec = DEFAULT_BASELINE, *, max_tenders: int | None = None,
                 scales: ActionScales | Mapping[str, Any] | None = None, codec: FirmCodec | None = None,
                 deterministic: bool = True, label: str = "policy"):
        if not (callable(policy) or callable(getattr(policy, "predict", None))):
            raise ValueError(f"policy: must be a callable obs -> action or have .predict(obs, deterministic=...); got {policy!r}")
        if not isinstance(label, str) or not label:
            raise ValueError(f"label: must be a non-empty string; got {label!r}")
        self.policy = policy
        self.baseline = baseline_bot(baseline)
        self.max_tenders = max_tenders
        self.scales = scales
        self.codec = codec
        self.deterministic = deterministic
        self.label = label
        self._codecs: dict[int, FirmCodec] = {}

    def codec_for(self, scenario: Scenario) -> FirmCodec:
        """The codec for a scenario: the one given, or one made (and kept) per scenario object."""
        if self.codec is not None:
            if self.codec.scenario.client_ids != scenario.client_ids or self.codec.n_firms != scenario.firms.count:
                raise ValueError(f"codec: made for {self.codec.scenario.name}'s clients and seats, not {scenario.name}'s")
            return self.codec
        key = id(scenario)
        if key not in self._codecs:
            self._codecs[key] = FirmCodec(scenario, self.max_tenders, self.scales)
        return self._codecs[key]

    def act(self, vector: np.ndarray) -> np.ndarray:
        """The policy's action for one observation vector, as the policy gives it (an env step would get the same)."""
        if callable(getattr(self.policy, "predict", None)):
            action, _ = self.policy.predict(vector, deterministic=self.deterministic)
        else:
            action = self.policy(vector)
        return np.asarray(action)

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        codec = self.codec_for(obs.scenario)
        baseline = baseline_decision(self.baseline, obs, rng)
        mask = codec.action_mask(obs, baseline)
        decision, _ = codec.to_decision(obs, baseline, self.act(codec.observe(obs, baseline)), mask)
        return decision.to_dict()
