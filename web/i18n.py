"""Language helpers: the current UI language and bilingual names from the scenario."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
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
    "retention": _l("Retention keeper"),
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


# ---------------------------------------------------------------------------
# names the engine uses as ids, in words

STAGE_NAMES = {
    "potential": ("potential", "潜在期"), "target": ("target", "目标期"), "evaluation": ("evaluation", "考察期"),
    "formation": ("formation", "形成期"), "stable": ("stable", "稳定期"), "none": ("none", "无"),
}
ACTIVITY_NAMES = {
    "investigate": ("investigate", "客户调查"), "call": ("call", "电话联系"), "visit": ("visit", "上门拜访"),
    "demo": ("demo", "产品演示"), "maintain": ("maintain", "维护"),
}
CULTIVATE_REASONS = {
    "the game's last tenders are awarded now": "本期之后不再有招标",
    "none in your tender forecast": "你的招标预测中没有它的招标",
}


def in_words(names: dict[str, tuple[str, str]], key: str) -> str:
    """`key` in the current language from a table of (English, Chinese) pairs; a key the table lacks stays as it is."""
    pair = names.get(key)
    return pair[1 if current_lang() == "zh" else 0] if pair else key


def stage_name(stage: str) -> str:
    return in_words(STAGE_NAMES, stage)


def activity_name(activity: str) -> str:
    return in_words(ACTIVITY_NAMES, activity)


def tender_label(tender_id: str, scenario_json: dict[str, Any]) -> str:
    """A tender in words: its client's name and the period that awards it (ids such as ``mengniu-03r1`` stay off pages)."""
    client, _, tail = str(tender_id).rpartition("-")
    period, _, reissue = tail.partition("r")
    if not client or not period.isdigit():
        return str(tender_id)
    name = client_name(scenario_json, client)
    if current_lang() == "zh":
        return f"{name}·第{int(period)}期招标" + ("（重新招标）" if reissue else "")
    return f"{name}, period {int(period)}" + (" (re-issued)" if reissue else "")


# ---------------------------------------------------------------------------
# the engine's notices (crmsim.sim.notices) in the user's language

NOTICES_ZH: dict[str, str] = {
    "INVALID": "%(field)s：%(rule)s（填写的是 %(value)s）",
    "VOID_LATE": "%(tender)s：决策迟交，投标无效",
    "VOID_OVER_BID_LIMIT": "%(tender)s：%(sales_staff)s 名销售人员每期最多准备 %(limit)s 份标书，这份投标无效",
    "VOID_SERVICE_BELOW_REQUIRED": "%(tender)s：承诺服务 %(promised_service)s 低于要求 %(required_service)s，投标无效",
    "VOID_NOT_INVITED_STAGE": "%(tender)s 是邀请招标，只邀请处于%(stage_needed)s或之后阶段的企业；你处于%(stage)s，投标无效",
    "VOID_NOT_INVITED_RELATIONSHIP": "%(tender)s 是邀请招标，要求关系至少 %(relationship_needed)s；你的关系是 %(relationship)s，投标无效",
    "VOID_ABOVE_CAP": "%(tender)s：报价 %(price)s 高于最高投标限价 %(cap)s，投标无效",
    "VOID_BELOW_COST": "%(tender)s：报价 %(price)s 低于你在承诺服务 %(promised_service)s 下的单位成本 %(cost)s，投标无效",
    "VOID_NO_CAPACITY": "%(tender)s：你的服务负荷 %(load)s 加上本合同的 %(need)s 超过服务能力 %(capacity)s，投标无效",
    "VOID_NO_BOND": "%(tender)s：投标保证金 %(bond)s 超过可用于保证金的现金 %(cash)s，投标无效",
    "RISK_NO_CAPACITY_IF_WON": "%(tender)s：如果你同时中标 %(earlier)s（先开标），服务负荷 %(load)s 加上本合同的 %(need)s 将超过服务能力 %(capacity)s，本投标将无效",
    "RISK_NO_BOND_IF_WON": "%(tender)s：如果你同时中标 %(earlier)s（先开标），其保证金之后只剩 %(cash)s，少于本投标保证金 %(bond)s，本投标将无效",
    "RULE_MIN_VALID_BIDS": "%(tender)s 至少需要 %(min_valid_bids)s 份有效投标，否则流标",
    "RULE_ABNORMALLY_LOW": "%(tender)s：报价低于其他有效投标均价的 %(ratio)s 视为异常低价而无效；若其他投标均价高于 %(others_mean_above)s，你的报价 %(price)s 将无效",
    "RULE_LOWEST_PRICE": "%(tender)s 采用最低价中标：服务和关系不计分",
    "RULE_SCORING": "%(tender)s 按价格 %(w_price)s、服务 %(w_service)s、关系 %(w_relationship)s 综合评分：你的投标服务得 %(service_score)s 分，关系得 %(relationship_score)s 分，价格最多得 %(price_score_max)s 分（报价最低时）",
    "ASSUME_LAST_UNITS": "假设销量与上期相同：按你的价格 %(price)s 销售 %(units)s 件（上期 %(units_last)s 件，乘以本期市场事件的 %(purchase_change)s）；新价格也会改变销量，本预测未计入",
    "ASSUME_EXPECTED_UNITS": "尚无销售记录：按顾客的通常购买量估计，以你的价格 %(price)s 销售 %(units)s 件",
    "ASSUME_CUSTOMERS": "服务成本按你现有的 %(customers)s 名顾客估计",
    "ASSUME_NO_NEW_CONTRACTS": "本期中标的合同在下期交付并收款，不计入本期预测",
    "UTILISATION_ABOVE_KNEE": "服务人员利用率 %(utilisation)s 超过 %(knee)s（负荷 %(load)s，能力 %(capacity)s）：实际只能提供服务水平的 %(quality_factor)s，即 %(delivered_quality)s",
    "NO_SERVICE_CAPACITY": "你没有服务人员：顾客和合同（负荷 %(load)s）只能得到服务水平的 %(quality_factor)s",
    "DELIVERY_SHORTFALL": "%(tender)s 本期交付时服务人员不足：只能交付 %(share)s 的数量，服务 %(service)s，罚金 %(penalty)s",
    "CASH_NEGATIVE": "期末现金将为 %(cash)s：需要 %(loan)s 的紧急贷款，每期利率 %(rate)s（剩余授信 %(room)s）",
    "BANKRUPTCY_RISK": "即使有紧急贷款，期末现金仍为 %(cash)s：企业将破产",
    "PRICE_BELOW_UNIT_COST": "你的价格 %(price)s 低于单位成本 %(unit_cost)s：每卖一件都亏钱",
    "COST_RISE_ANNOUNCED": "单位成本将从第 %(period)s 期起由 %(unit_cost)s 升至 %(unit_cost_next)s（已公告）：现在中标的合同将按该成本交付",
    "SALES_HOURS": "销售活动使用 %(hours)s 工时，你有 %(hours_available)s 工时（%(sales_staff)s 名销售人员）",
    "SALES_HOURS_OVER": "销售活动需要 %(hours)s 工时；你的 %(sales_staff)s 名销售人员只有 %(hours_available)s 工时",
    "CULTIVATE_NO_TENDER_LEFT": "%(client)s：%(reason)s，现在培养它对投标没有帮助",
    "CULTIVATE_STAGE_OUT_OF_REACH": "%(client)s 只邀请%(stage_needed)s及之后的企业；你处于%(stage)s，每期最多升一个阶段，在最后一次招标（第 %(last_period)s 期）前无法投标",
    "CULTIVATE_STAGE_TOO_LATE": "%(client)s 只邀请%(stage_needed)s及之后的企业；你处于%(stage)s，每期最多升一个阶段：赶不上第 %(tender_period)s 期的招标；最早可投标的是第 %(earliest)s 期",
    "CULTIVATE_STAGE_NEEDED": "%(client)s 只邀请%(stage_needed)s及之后的企业；你处于%(stage)s：最早可在第 %(earliest)s 期投标",
    "CULTIVATE_RELATIONSHIP_NEEDED": "%(client)s 只邀请关系至少 %(relationship_needed)s 的企业；你的关系是 %(relationship)s",
    "STATEMENT_CASH_BASIS": "所有收支都按发生当期的现金入账（没有应收、应付、存货或折旧），所以经营现金流等于净利润",
    "STATEMENT_EQUITY": "权益是企业的净现金：现金减去借款和紧急借款。模型不记录其他资产或负债；员工、顾客和客户关系不在资产负债表上",
    "RESCORE_CAPACITY_BOND_UNCHECKED": "未提供你当时的服务容量和现金:改动后的投标未检查“容量不足”或“保证金不足”",
    "RESCORE_COST_UNCHECKED": "未提供你当时的单位成本:改动后的投标未检查“低于成本”",
    "RESCORE_RELATIONSHIP_UNKNOWN": "%(firms)s 的关系值未公布(其投标无效):按关系 0 计分",
    "RESCORE_TIE_BY_LOT": "总分和价格均相同:以固定随机数抽签,可能与实际抽签不同",
    "RESCORE_OTHER_TENDERS": "只重算这一个标书:这里结果不同,也可能改变你在之后开标的标书中的容量和现金",
    "REPLAY_BOTS_REACT": "机器人 %(bots)s 在第 %(period)s 期之后根据所见重新决策;各团队的决策按日志保留",
    "REPLAY_DECISION_ADJUSTED": "第 %(period)s 期:%(firm_name)s 记录的决策不再适用于改变后的游戏;%(fields)s 保持现行值",
    "REPLAY_BANKRUPT_SKIPPED": "第 %(period)s 期:%(firms)s 在改变后的游戏中破产,其记录的决策不再重放",
}


def notice_param(name: str, value: Any, scenario_json: dict[str, Any]) -> str:
    """A notice's param as the page shows it: money as -¥1,234.50, tenders and clients by name, stages in words."""
    from crmsim.sim.notices import format_param

    zh = current_lang() == "zh"
    if value is None:
        return "–"
    if name == "tender":
        return tender_label(value, scenario_json)
    if name == "earlier":
        return "、".join(tender_label(v, scenario_json) for v in value) if zh else ", ".join(tender_label(v, scenario_json) for v in value)
    if name == "client":
        return client_name(scenario_json, value)
    if name in ("stage", "stage_needed"):
        return stage_name(value)
    if name == "reason" and zh:
        return CULTIVATE_REASONS.get(value, value)
    if name == "firms" or name == "bots" or name == "fields":
        return "、".join(map(str, value)) if zh else ", ".join(map(str, value))
    return format_param(name, value)


def notice_text(notice: Mapping[str, Any], scenario_json: dict[str, Any] | None = None) -> str:
    """An engine notice (``Notice.to_dict()``) as a sentence in the user's language, with no raw codes; tenders and
    clients by name when the game's scenario is given."""
    scenario_json = scenario_json or {}
    code, params = notice["code"], dict(notice.get("params") or {})
    if code == "INVALID":
        return problem_text(params.get("field", ""), params.get("rule", ""), params.get("value"), scenario_json)
    from crmsim.sim.notices import MESSAGES

    template = NOTICES_ZH.get(code) if current_lang() == "zh" else MESSAGES.get(code)
    if template is None:
        return notice.get("message", code)
    if current_lang() == "en":
        template = _CODE_SUFFIX.sub("", template)
    values = {k: notice_param(k, v, scenario_json) for k, v in params.items()}
    try:
        return template % values
    except (KeyError, TypeError, ValueError):
        return notice.get("message", code)


_CODE_SUFFIX = re.compile(r" \([A-Z_]+\)")  # the English messages end in the raw void code: pages show words only


# ---------------------------------------------------------------------------
# the validation's problems (crmsim.sim.decisions.Problem) in words

FIELD_LABELS: dict[str, tuple[str, str]] = {
    "price": ("Price", "价格"), "service_level": ("Service level", "服务水平"), "care_budget": ("Care budget", "顾客关怀预算"),
    "advertising_budget": ("Advertising budget", "广告预算"), "hire_sales": ("Hire sales staff", "招聘销售人员"),
    "fire_sales": ("Fire sales staff", "解雇销售人员"), "hire_service": ("Hire service staff", "招聘服务人员"),
    "fire_service": ("Fire service staff", "解雇服务人员"), "borrow": ("Borrow", "借款"), "repay": ("Repay", "还款"),
    "cultivation": ("Key-client cultivation", "顾客培养"), "bids": ("Bids", "投标"), "activities": ("Sales activities", "销售活动"),
    "research": ("Market research", "市场调研"), "research.rivals": ("Research on rivals", "竞争对手调研"),
    "research.survey": ("Customer survey", "顾客调查"), "research.forecast": ("Tender forecast", "招标预测"),
    "retention_budget": ("Retention budget", "挽留预算"), "care_split": ("Care split by tier", "分级关怀比例"),
    "late": ("Late flag", "迟交标记"), "period": ("Period", "期数"), "deadline": ("Deadline", "截止时间"), "status": ("Game", "游戏"),
    # the console's, the new-game form's and the join form's fields
    "minutes": ("Minutes", "分钟数"), "amount": ("Amount", "金额"), "reason": ("Reason", "原因"), "firm": ("Team", "团队"),
    "text": ("Message", "公告内容"), "bot": ("Bot", "机器人"), "scope": ("Seats", "席位"), "public": ("Public", "公开"),
    "auto_resolve": ("Resolve at the deadline", "截止时自动结算"), "confirm_missing": ("Confirmation", "确认"),
    "teams": ("Team names", "团队名称"), "bots": ("Bot seats", "机器人席位"), "seed": ("Seed", "随机种子"),
    "name": ("Game name", "游戏名称"), "period_minutes": ("Minutes per period", "每期分钟数"), "scenario": ("Scenario", "情景"),
    "scenario_toml": ("Scenario file", "情景文件"), "code": ("Team code", "加入码"), "body": ("Form", "表单"),
    "practice": ("Practice period", "练习期"), "team": ("Team", "团队"), "game": ("Game", "游戏"),
    # the debrief's what-if and replay forms
    "wi_tender": ("Tender", "招标"), "wi_price": ("Price in the what-if", "假设的报价"),
    "wi_service": ("Promised service in the what-if", "假设的承诺服务"), "rp_field": ("Decision to change", "要改变的决策"),
    "rp_value": ("New value", "新数值"), "rp_period": ("Period to change", "要改变的期数"), "tender": ("Tender", "招标"),
    "relationship": ("Relationship", "关系"), "stage": ("Stage", "阶段"), "change": ("Change", "改动"),
    "promised_service": ("Promised service", "承诺服务"),
}


def field_label(name: str, scenario_json: dict[str, Any]) -> str:
    """A decision field in words: ``bids.mengniu-03.price`` is "Bid price, Mengniu Dairy, period 3"."""
    zh = current_lang() == "zh"
    if name in FIELD_LABELS:
        return FIELD_LABELS[name][1 if zh else 0]
    head, _, rest = name.partition(".")
    if head == "bids" and rest:
        tid, _, part = rest.partition(".")
        what = {"price": ("bid price", "报价"), "promised_service": ("promised service", "承诺服务")}.get(part)
        label = tender_label(tid, scenario_json)
        if what is None:
            return f"投标 {label}" if zh else f"Bid on {label}"
        return f"{label} 的{what[1]}" if zh else f"{label}: {what[0]}"
    if head in ("cultivation", "activities") and rest:
        cid, _, act = rest.partition(".")
        label = f"{FIELD_LABELS[head][1 if zh else 0]}（{client_name(scenario_json, cid)}" + (f"·{activity_name(act)}" if act else "") + "）" if zh \
            else f"{FIELD_LABELS[head][0]} ({client_name(scenario_json, cid)}" + (f", {activity_name(act)}" if act else "") + ")"
        return label
    if head == "care_split" and rest:
        return f"{rest} 级顾客关怀比例" if zh else f"Care share of tier {rest}"
    return name


#: pydantic's reasons for the forms' checks (the pattern of its English), in the app's English and in Chinese
_PYDANTIC_WORDS = (
    (r"^Input should be less than or equal to (\S+)$", r"must be at most \1", r"不能大于 \1"),
    (r"^Input should be greater than or equal to (\S+)$", r"must be at least \1", r"不能小于 \1"),
    (r"^Input should be less than (\S+)$", r"must be less than \1", r"必须小于 \1"),
    (r"^Input should be greater than (\S+)$", r"must be more than \1", r"必须大于 \1"),
    (r"^Input should be a finite number$", "must be a finite number", "必须是有限的数字"),
    (r"^Input should be a valid number.*$", "must be a number", "必须是数字"),
    (r"^Input should be a valid integer.*$", "must be a whole number", "必须是整数"),
    (r"^Input should be a valid boolean.*$", "must be yes or no", "必须是“是”或“否”"),
    (r"^String should have at most (\d+) characters?$", r"must have at most \1 characters", r"最多 \1 个字符"),
    (r"^String should have at least 1 character$", "must not be blank", "不能为空"),
    (r"^String should have at least (\d+) characters$", r"must have at least \1 characters", r"至少 \1 个字符"),
    (r"^Field required$", "must be filled in", "必须填写"),
)
# English rule texts of crmsim.sim.decisions and crmsim.web.service, as patterns, with their Chinese
_RULES_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), z) for p, z in (
    (r"^must be a number$", "必须是数字"),
    (r"^must be a finite number$", "必须是有限的数字"),
    (r"^must be a whole number$", "必须是整数"),
    (r"^must be > (\S+) and <= (\S+)$", r"必须大于 \1 且不超过 \2"),
    (r"^must be >= (\S+) and <= (\S+)$", r"必须在 \1 到 \2 之间"),
    (r"^cannot hire and fire (sales|service) staff in the same period$", "同一期不能既招聘又解雇同类员工"),
    (r"^unknown client; clients: (.*)$", "没有这个客户"),
    (r"^(\d+) sales staff can cultivate at most (\d+) clients$", r"\1 名销售人员最多培养 \2 个客户"),
    (r"^not a published tender \(a scheduled one opens in its period\); open now: (.*)$", "这次招标尚未发布（预告中的招标在其所在期才开放）"),
    (r"^the tender is closed \(LATE\); open now: (.*)$", "这次招标已截止，投标迟交"),
    (r"^must be \{price, promised_service\}$", "必须包含报价和承诺服务"),
    (r"^allowed keys are price and promised_service$", "只能填写报价和承诺服务"),
    (r"^(\d+) sales staff can bid at most (\d+) tenders per period$", r"\1 名销售人员每期最多投 \2 份标"),
    (r"^must be true or false$", "必须是“是”或“否”"),
    (r"^unknown field; allowed: .*$", "不是决策中的字段"),
    (r"^is set by the server, never by a team$", "由服务器设置，不能由队伍填写"),
    (r"^this scenario cultivates key clients through sales activities \(activities\), not a budget$", "本场景通过销售活动培养客户，不用培养预算"),
    (r"^this scenario cultivates key clients with a budget per client \(cultivation\), not sales activities$", "本场景用培养预算培养客户，没有销售活动"),
    (r"^unknown activity; activities: .*$", "没有这种销售活动"),
    (r"^each activity at most once per client and period$", "每个客户每期每种活动最多一次"),
    (r"^need (\S+) sales hours; (\d+) sales staff have (\S+) \((\S+) each\)$", r"需要 \1 工时；\2 名销售人员只有 \3 工时（每人 \4）"),
    (r"^this scenario offers no retention budget \(must be 0\)$", "本场景没有挽留预算（必须为 0）"),
    (r"^this scenario offers no market research$", "本场景不提供市场调研"),
    (r"^this scenario does not split care by tier$", "本场景不按级别分配关怀预算"),
    (r"^unknown tier; tiers: A, B, C$", "没有这个级别；级别为 A、B、C"),
    (r"^shares must add up to 1$", "各级比例之和必须为 1"),
    (r"^must be a list of client ids$", "必须是客户列表"),
    (r"^the deadline for this period has passed$", "本期截止时间已过"),
    (r"^the game is paused; submit when the instructor resumes$", "游戏已暂停；教师恢复后再提交"),
    (r"^the game is finished$", "游戏已结束"),
    (r"^the game is over after period (\d+)$", r"游戏已在第 \1 期后结束"),
    (r"^firm: must be a live firm index; got .*$", "企业已破产，无法预览"),
    (r"^must be a mapping of client id to spend$", "必须是“客户 → 金额”的对应表"),
    (r"^must be a mapping of tender id to \{price, promised_service\}$", "必须是“招标 → 报价和承诺服务”的对应表"),
    (r"^must be a mapping of client id to a list of activities$", "必须是“客户 → 销售活动列表”的对应表"),
    (r"^must be a list of activities$", "必须是销售活动的列表"),
    (r"^must be \{rivals: \[client ids\], survey: customers, forecast: true/false\}$", "必须包含竞争对手调研（客户列表）、顾客调查（人数）和招标预测（是或否）"),
    (r"^allowed keys are rivals, survey and forecast$", "只能填写竞争对手调研、顾客调查和招标预测"),
    (r"^must be a mapping of tier \(A, B, C\) to a share of the care budget$", "必须是“级别（A、B、C）→ 关怀预算比例”的对应表"),
    (r"^must be a mapping of field names to values$", "必须是“字段 → 数值”的对应表"),
    # the service's refusals (crmsim.web.service) and the forms' checks (pydantic's words)
    (r"^period (\d+) is closed: reload$", r"第 \1 期已结束：请重新加载"),
    (r"^period (\d+) was rolled back: period (\d+) is open again; reload$", r"第 \1 期已被教师回退，现在开放的是第 \2 期：请重新加载"),
    (r"^period (\d+) has not started: period (\d+) is open$", r"第 \1 期尚未开始，现在开放的是第 \2 期"),
    (r"^must be a period of the log, 1 to (\d+)$", r"必须是已记录的一期：第 1 到第 \1 期"),
    (r"^must be the open period (\d+)$", r"必须是当前开放的第 \1 期"),
    (r"^was just resolved or paused; submit for the period that is open now$", "刚刚被结算或暂停：请为当前开放的一期提交"),
    (r"^was already resolved$", "已经结算过"),
    (r"^was resolved by another request$", "已由另一个请求结算"),
    (r"^no period has been resolved yet: nothing to roll back$", "还没有结算任何一期：没有可回退的"),
    (r"^is not the last resolved period \((\d+)\)$", r"不是最近结算的一期（第 \1 期）"),
    (r"^only an open period can be paused$", "只有开放中的一期可以暂停"),
    (r"^only a paused game can resume$", "只有暂停的游戏可以恢复"),
    (r"^must not be blank$", "不能为空"),
    (r"^must have at most (\d+) characters$", r"最多 \1 个字符"),
    (r"^must say why \(it is shown in the debrief\)$", "必须写明原因（会在复盘中显示）"),
    (r"^the scenario seats (\d+) teams$", r"本情景有 \1 个席位"),
    (r"^each team needs a name of its own$", "每个团队的名称必须不同"),
    (r"^at most (\d+) names: the scenario seats (\d+) teams$", r"最多 \1 个名称：本情景有 \2 个席位"),
    (r"^no such seat: the (?:scenario|game) seats (\d+) teams \(0 to (\d+)\)$", r"没有这个席位：共有 \1 个席位"),
    (r"^unknown bot; known: (.*)$", "没有这种机器人"),
    (r"^must be in \[0, 2147483647\]$", "必须在 0 到 2147483647 之间"),
    (r"^must be absent \(seats no team joined\) or all \(every team seat\)$", "必须是“无团队加入的席位”或“所有团队席位”"),
    (r"^no team has this join code$", "没有团队使用此加入码"),
    (r"^this seat is played by a bot$", "这个席位由机器人操作"),
    (r"^belongs to another game$", "属于另一个游戏"),
    (r"^must be a number$", "必须是数字"),
    (r"^must be a number in \[(\S+), (\S+)\]$", r"必须是 \1 到 \2 之间的数字"),
    (r"^must be a number >= 0$", "必须是不小于 0 的数字"),
    (r"^must be one of (.*)$", r"必须是以下之一：\1"),
    (r"^must be a resolved period, 1 to (\d+)$", r"必须是已结算的一期（1 到 \1）"),
    (r"^must be a seat, 0 to (\d+)$", r"必须是席位 0 到 \1"),
    (r"^no resolved period awarded this tender \(bids are public only after the award\)$", "还没有结算的期数开标这次招标（投标在开标后才公开）"),
    (r"^a replay is possible once the game is finished.*$", "游戏结束后才能重放：之前后续的游戏尚未公开"),
    (r"^must name at least one decision field to change$", "至少要改变一项决策"),
    *((pattern, zh) for pattern, _en, zh in _PYDANTIC_WORDS),
    (r"^unknown field; allowed: .*$", "不是表单中的字段"),
))

#: pydantic's words for the forms' checks, as the rest of the app words its rules (the API keeps pydantic's)
_RULES_EN: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), en) for p, en, _zh in _PYDANTIC_WORDS)


def _stage_rule(rule: str) -> str | None:
    """The engine's "<activity> counts at the <stages> stage; <client id> is at the <stage> stage" in the user's
    language, in words and without the client's id (the field's label names the client)."""
    m = re.match(r"^(\w+) counts at the (.+) stage; (\S+) is at the (\w+) stage$", rule)
    if not m:
        return None
    if current_lang() == "zh":
        stages = "或".join(stage_name(s) for s in m.group(2).split(" or "))
        return f"{activity_name(m.group(1))}只在{stages}有效；你与该客户处于{stage_name(m.group(4))}"
    stages = " or ".join(stage_name(s) for s in m.group(2).split(" or "))
    return f"{activity_name(m.group(1))} counts only at the {stages} stage; you are at the {stage_name(m.group(4))} stage with this client"


def rule_text(rule: str) -> str:
    """A validation rule in the user's language (English as the engine wrote it, less raw codes; a limit the engine
    writes as 1e+12 in full: 1,000,000,000,000)."""
    return _SCIENTIFIC.sub(lambda m: f"{float(m.group(0)):,.0f}", _rule_words(rule))


_SCIENTIFIC = re.compile(r"(?<![\w.])\d+(?:\.\d+)?e\+\d+(?![\w.])")


def _rule_words(rule: str) -> str:
    staged = _stage_rule(rule)
    if staged:
        return staged
    for pattern, words in _RULES_ZH if current_lang() == "zh" else _RULES_EN:
        if pattern.match(rule):
            return pattern.sub(words, rule)
    return rule


def value_text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def problem_text(field: str, rule: str, value: Any, scenario_json: dict[str, Any]) -> str:
    """One problem of a refused decision as a sentence: the field in words, the rule, the value given."""
    label = field_label(field, scenario_json)
    if current_lang() == "zh":
        return f"{label}：{rule_text(rule)}（填写的是 {value_text(value)}）"
    return f"{label}: {rule_text(rule)}; got {value_text(value)}"


UNSHOWN_VALUES = {"status", "deadline"}  # the game's state as an id or a timestamp: the rule says it in words


def rule_words(rule: str) -> str:
    """A rule in Chinese: the catalogue's translation of the exact text, else the patterns of :func:`rule_text`."""
    from flask_babel import gettext

    translated = gettext(rule)
    return translated if translated != rule else rule_text(rule)


def stated_in(value: Any, rule: str) -> bool:
    """Whether `rule` already states `value` as a whole number or word ("period 5 is closed" states 5; "must be
    >= 0.5" does not state 0)."""
    return re.search(rf"(?<![\w.]){re.escape(value_text(value))}(?![\w.])", rule) is not None


def refusal_text(field: str, rule: str, value: Any = None, scenario_json: dict[str, Any] | None = None) -> str:
    """A refused request (a ServiceError's or InputRefused's field, rule and value) as a page shows it: the field in
    words, the rule in the user's language, and the value given when there is one."""
    label = field_label(field, scenario_json or {})
    zh = current_lang() == "zh"
    text = f"{label}：{rule_words(rule)}" if zh else f"{label}: {rule_text(rule)}"
    if value is None or value == "" or field in UNSHOWN_VALUES or stated_in(value, rule):
        return text
    return f"{text}（填写的是 {value_text(value)}）" if zh else f"{text}; got {value_text(value)}"


def localise_preview(preview: dict[str, Any], scenario_json: dict[str, Any]) -> dict[str, Any]:
    """The preview's JSON (web.service.preview) with a ``text`` in the user's language beside every notice and
    every problem, and each bid's tender in words (``label``). Codes and numbers are kept for scripts."""
    def add(notices: list[dict[str, Any]]) -> None:
        for n in notices:
            n["text"] = notice_text(n, scenario_json)

    for p in preview.get("problems", []):
        p["text"] = problem_text(p["field"], p["rule"], p.get("value"), scenario_json)
    add(preview.get("warnings", []))
    add((preview.get("projection") or {}).get("assumptions", []))
    for b in preview.get("bids", []):
        b["label"] = tender_label(b["tender"], scenario_json)
        add(b.get("notices", []))
    return preview


BAND_NAMES = {"weak": ("weak", "弱"), "medium": ("medium", "中"), "strong": ("strong", "强")}


def band_name(band: str) -> str:
    return in_words(BAND_NAMES, band)


# the lines of the financial statements (crmsim.sim.statements), in words
STATEMENT_LINES: dict[str, tuple[str, str]] = {
    "revenue_market": ("Revenue, mass market", "大众市场收入"), "revenue_contracts": ("Revenue, contracts", "合同收入"),
    "revenue": ("Revenue", "营业收入"), "cost_of_goods": ("Cost of goods sold", "销售成本"), "gross_profit": ("Gross profit", "毛利"),
    "salaries": ("Salaries", "工资"), "hiring": ("Hiring", "招聘费用"), "severance": ("Severance", "遣散费"),
    "service_cost": ("Service cost", "服务成本"), "care": ("Customer care", "顾客关怀"), "advertising": ("Advertising", "广告"),
    "cultivation": ("Cultivation", "顾客培养"), "research": ("Market research", "市场调研"), "retention": ("Retention", "顾客挽留"),
    "bonds_kept": ("Bid bonds forfeited", "没收的投标保证金"), "penalties": ("Penalties", "违约罚金"),
    "operating_expenses": ("Operating expenses", "营业费用"), "operating_profit": ("Operating profit", "营业利润"),
    "interest": ("Interest", "利息"), "net_profit": ("Net profit", "净利润"),
    "receipts_market": ("Receipts, mass market", "大众市场收款"), "receipts_contracts": ("Receipts, contracts", "合同收款"),
    "operating_cash_flow": ("Operating cash flow", "经营活动现金流"), "adjustment": ("Instructor's bonus or penalty", "教师奖惩"),
    "borrowing": ("Borrowing", "借款"), "repayment": ("Repayment", "还款"), "emergency_loan": ("Emergency loan", "紧急贷款"),
    "financing_cash_flow": ("Financing cash flow", "筹资活动现金流"), "net_change_in_cash": ("Net change in cash", "现金净变动"),
    "cash_start": ("Cash at the start", "期初现金"), "cash_end": ("Cash at the end", "期末现金"), "cash": ("Cash", "现金"),
    "total_assets": ("Total assets", "资产合计"), "debt": ("Debt", "借款"), "emergency_debt": ("Emergency debt", "紧急借款"),
    "total_liabilities": ("Total liabilities", "负债合计"), "equity": ("Equity", "所有者权益"),
    "total_liabilities_and_equity": ("Total liabilities and equity", "负债和所有者权益合计"),
    "equity_start": ("Equity at the start", "期初权益"), "equity_end": ("Equity at the end", "期末权益"),
}


def statement_line(key: str) -> str:
    return in_words(STATEMENT_LINES, key)


METRIC_NAMES: dict[str, tuple[str, str]] = {
    "equity": ("Equity", "所有者权益"), "cum_operating_profit": ("Cumulative operating profit", "累计营业利润"),
    "avg_satisfaction": ("Average satisfaction", "平均满意度"), "retention_rate": ("Retention rate", "顾客保留率"),
    "market_share_customers": ("Market share (customers)", "市场份额(顾客)"), "relationship_mean": ("Mean relationship with key clients", "与重点客户的平均关系"),
    "customer_equity": ("Customer equity", "顾客资产"),
}
REFERENCE_NAMES = {"start": ("your starting value", "你的初始值"), "market": ("the live firms' mean", "在营企业的平均值"),
                   "fixed": ("a fixed value", "固定值")}


def metric_name(key: str) -> str:
    return in_words(METRIC_NAMES, key)


def reference_name(key: str) -> str:
    return in_words(REFERENCE_NAMES, key)
