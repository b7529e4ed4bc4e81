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
