"""Language helpers: the current UI language and bilingual names from the scenario."""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

VOID_REASONS = {
    "ABOVE_CAP": _l("price above the cap (最高投标限价)"),
    "BELOW_COST": _l("price below own unit cost"),
    "ABNORMALLY_LOW": _l("abnormally low: below %(percent)s percent of the other valid bids' mean"),
    "UNQUALIFIED": _l("unqualified: service or relationship below the requirement"),
    "NO_CAPACITY": _l("not enough service staff for the volume"),
    "NO_BOND": _l("cash cannot cover the bid bond"),
    "BANKRUPT": _l("the firm is bankrupt"),
    "LATE": _l("late"),
    "MALFORMED": _l("malformed bid"),
}


#: the shipped bots by name, in words (a bot registered by a researcher's module shows its registry name)
BOT_NAMES = {
    "price_cutter": _l("Price cutter"),
    "premium": _l("Premium"),
    "relationship": _l("Relationship builder"),
    "balanced": _l("Balanced"),
    "adaptive": _l("Adaptive"),
    "researcher": _l("Researcher"),
    "retention": _l("Retention"),
    "reckless": _l("Reckless bidder"),
    "random": _l("Random play-tester"),
    "standing": _l("Passive (keeps its decision)"),
    "quality_leader": _l("Quality leader"),
}


def bot_name(code: str | None) -> str:
    """A bot in words, in the current language; "" for a team seat."""
    if not code:
        return ""
    return str(BOT_NAMES.get(code, code))


def scenario_title(scenario_json: dict[str, Any]) -> str:
    """A scenario by its title in the current language (its id when it has none)."""
    title = scenario_json.get("title") or {}
    return title.get(current_lang()) or scenario_json.get("name", "")


def current_lang() -> str:
    loc = get_locale()
    return "zh" if loc is not None and loc.language == "zh" else "en"


def client_name(scenario_json: dict[str, Any], client_id: str) -> str:
    for c in scenario_json.get("clients", []):
        if c["id"] == client_id:
            return c["name"][current_lang()]
    return client_id


def void_reason_text(code: str | None, scenario_json: dict[str, Any]) -> str:
    """A void reason in words; the abnormally-low threshold is the game scenario's ``tenders.abnormally_low_ratio``."""
    text = str(VOID_REASONS.get(code, code or ""))
    if code == "ABNORMALLY_LOW":
        text = text % {"percent": format(100 * scenario_json["tenders"]["abnormally_low_ratio"], "g")}
    return text


#: Chinese text of the debrief's counterfactual notices (crmsim.sim.notices: same codes and placeholders)
NOTICES_ZH = {
    "RESCORE_CAPACITY_BOND_UNCHECKED": "未提供你当时的服务容量和现金:改动后的投标未检查“容量不足”或“保证金不足”",
    "RESCORE_COST_UNCHECKED": "未提供你当时的单位成本:改动后的投标未检查“低于成本”",
    "RESCORE_RELATIONSHIP_UNKNOWN": "%(firms)s 的关系值未公布(其投标无效):按关系 0 计分",
    "RESCORE_TIE_BY_LOT": "总分和价格均相同:以固定随机数抽签,可能与实际抽签不同",
    "RESCORE_OTHER_TENDERS": "只重算这一个标书:这里结果不同,也可能改变你在之后开标的标书中的容量和现金",
    "REPLAY_BOTS_REACT": "机器人 %(bots)s 在第 %(period)s 期之后根据所见重新决策;各团队的决策按日志保留",
    "REPLAY_DECISION_ADJUSTED": "第 %(period)s 期:%(firm_name)s 记录的决策不再适用于改变后的游戏;%(fields)s 保持现行值",
    "REPLAY_BANKRUPT_SKIPPED": "第 %(period)s 期:%(firms)s 在改变后的游戏中破产,其记录的决策不再重放",
}


def notice_text(notice: dict[str, Any]) -> str:
    """A notice (``Notice.to_dict()``) in the current language: the engine's English, or its Chinese here."""
    from crmsim.sim.notices import format_param

    template = NOTICES_ZH.get(notice.get("code", "")) if current_lang() == "zh" else None
    if template is None:
        return notice.get("message", "")
    return template % {k: format_param(k, v) for k, v in (notice.get("params") or {}).items()}
