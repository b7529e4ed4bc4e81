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
