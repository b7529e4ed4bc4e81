"""The exports' words in Chinese: column headers, sheet names and the fixed vocabularies in the cells (the CSV zip and
the Excel workbook follow the page's language).

A column the table does not name keeps its code, the same in both languages; the English export uses the codes.
Cells translated are the fixed vocabularies only: booleans, void-bid reasons, event kinds, decision sources, tie
breaks and lifecycle stages. Free text (team names, the instructor's reasons, the event log's details) stays as typed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crmsim.web.i18n import STAGE_NAMES

#: a void bid's reason (crmsim.sim.tenders.VOID_REASONS), in short: the bids' void_reason cells and the results' void_* headers
VOID_REASONS_ZH: dict[str, str] = {
    "ABNORMALLY_LOW": "异常低价", "ABOVE_CAP": "超过限价", "BANKRUPT": "破产", "BELOW_COST": "低于成本", "LATE": "逾期",
    "MALFORMED": "格式有误", "NO_BOND": "保证金不足", "NO_CAPACITY": "容量不足", "UNQUALIFIED": "不合格",
}

COLUMNS_ZH: dict[str, str] = {
    # who and when
    "id": "编号", "period": "期", "firm": "企业序号", "team": "团队", "name": "企业", "source": "来源", "submitted_at": "提交时间",
    "rolled_back_at": "回退时间", "at": "时间", "kind": "类型", "detail": "详情", "amount": "金额", "reason": "原因",
    "submitted": "已提交", "late": "逾期",
    # decisions
    "price": "价格", "service_level": "服务水平", "care_budget": "关怀预算", "advertising_budget": "广告预算",
    "hire_sales": "招聘销售人员", "fire_sales": "解雇销售人员", "hire_service": "招聘服务人员", "fire_service": "解雇服务人员",
    "borrow": "借款", "repay": "还款", "cultivation": "顾客培养", "bids": "投标", "activities": "销售活动", "research": "市场调研",
    "retention_budget": "挽留预算", "care_split": "关怀分配",
    # results: customers
    "customers": "顾客数", "customers_start": "期初顾客数", "customers_released": "释放顾客数", "acquired": "新获顾客",
    "lost": "流失顾客", "acquisition_rate": "获客率", "retention": "保留顾客", "retention_rate": "保留率", "churn_rate": "流失率",
    "buyers": "购买者", "units_sold": "销量", "avg_satisfaction": "平均满意度", "avg_loyalty": "平均忠诚度", "awareness": "知名度",
    "reputation": "声誉", "complaints": "投诉", "resolved": "已解决投诉", "resolved_quickly": "快速解决投诉", "unresolved": "未解决投诉",
    "resolution_rate": "投诉解决率", "promoters": "推荐者", "detractors": "贬损者", "silent_dissatisfied": "沉默的不满者",
    "market_share_customers": "市场份额(顾客)", "market_share_revenue": "市场份额(收入)", "share_of_wallet": "钱包份额",
    "customer_equity": "顾客资产", "tier_a": "A 类顾客", "tier_b": "B 类顾客", "tier_c": "C 类顾客", "at_risk_a": "A 类流失风险",
    "at_risk_b": "B 类流失风险", "at_risk_c": "C 类流失风险", "margin_a": "A 类毛利", "margin_b": "B 类毛利", "margin_c": "C 类毛利",
    "revenue_a": "A 类收入", "revenue_b": "B 类收入", "revenue_c": "C 类收入", "care_intensity": "关怀强度",
    "delivered_quality": "实际服务质量", "utilisation": "服务人员利用率",
    # results: money
    "revenue": "营业收入", "revenue_market": "市场收入", "revenue_contracts": "合同收入", "cost_of_goods": "销售成本",
    "salaries": "工资", "hiring": "招聘费用", "severance": "遣散费", "service_cost": "服务成本", "care": "关怀费用",
    "advertising": "广告费用", "operating_costs": "营业成本", "operating_profit": "营业利润", "cum_operating_profit": "累计营业利润",
    "net_profit": "净利润", "interest": "利息", "penalties": "罚金", "adjustment": "教师调整", "bonds_kept": "被没收保证金",
    "cash": "现金", "cash_start": "期初现金", "debt": "负债", "emergency_debt": "紧急贷款余额", "emergency_loan": "紧急贷款",
    "borrowing": "借入", "repayment": "偿还", "equity": "权益", "sales_staff": "销售人员", "service_staff": "服务人员",
    # results: scorecard and bankruptcy
    "score": "综合得分", "score_financial": "财务得分", "score_customer": "顾客得分", "score_relationship": "关系得分",
    "score_growth": "成长得分", "rank": "排名", "bankrupt": "破产", "bankrupt_period": "破产期",
    # tenders and bids
    "tender": "标书", "client": "客户", "volume": "数量", "price_cap": "最高投标限价", "required_service": "服务要求",
    "closed": "邀请招标", "reissue": "重新招标次数", "valid_bids": "有效投标数", "failed": "流标", "winner": "中标企业",
    "winning_price": "中标价", "margin_points": "领先分数", "max_winning_price": "最高可中标价", "tie_break": "平局处理",
    "promised_service": "承诺服务", "valid": "有效", "void_reason": "废标原因", "void_detail": "废标详情", "price_score": "价格得分",
    "service_score": "服务得分", "relationship_score": "关系得分", "total": "总分", "won": "中标", "points_behind": "落后分数",
    "tender_failed": "标书流标", "tenders_bid": "投标数", "tenders_won": "中标数", "tenders_voided": "废标数",
    **{f"void_{code.lower()}": f"废标:{words}" for code, words in VOID_REASONS_ZH.items()},
    # relationships
    "relationship": "关系", "relationship_mean": "平均关系", "client_satisfaction": "客户满意度", "stage": "生命周期阶段",
    "progress": "阶段进度", "idle": "未联系期数", "activity_cost": "活动费用", "activity_hours": "活动工时",
    "progress_gained": "本期进度", "rival_hold": "对手最高阶段",
}


SHEETS_ZH: dict[str, str] = {
    "decisions": "决策", "results": "经营结果", "tenders": "招标", "bids": "投标", "customers": "顾客",
    "relationships": "客户关系", "adjustments": "教师调整", "events": "事件日志",
}

#: the engine's event log (crmsim.sim.engine, ``note``), a scheduled market event (crmsim.scenarios.schema.EventKind)
#: after ``event:``, and the instructor's actions (crmsim.web.service, ``audit``) after ``instructor:``
EVENT_KINDS_ZH: dict[str, str] = {
    "standing_decision": "沿用上期决策", "tender_published": "发布招标", "tender_awarded": "中标", "tender_failed": "流标",
    "bid_void": "废标", "bankruptcy": "破产", "emergency_loan": "紧急贷款", "delivery_shortfall": "交付不足",
    "contract_default": "合同违约", "relationships_end": "客户关系终止", "adjustment": "奖惩调整",
    "event": "市场事件", "recession": "经济衰退", "boom": "经济繁荣", "scandal": "丑闻", "cost_shock": "成本冲击",
    "new_entrant": "新进入者",
    "instructor": "教师", "create": "创建游戏", "deadline": "设置截止时间", "pause": "暂停", "resume": "恢复",
    "bots": "机器人接管", "resolve": "结算", "auto-resolve": "到期自动结算", "rollback": "回退", "announce": "公告",
    "options": "设置",
}

STAGES_ZH = {k: zh for k, (_, zh) in STAGE_NAMES.items()}

#: cells of a fixed vocabulary, by column: their Chinese (a value a table lacks stays as it is)
VALUES_ZH: dict[str, dict[str, str]] = {
    "void_reason": VOID_REASONS_ZH,
    "source": {"form": "网页表单", "api": "接口", "engine": "系统（机器人或沿用上期）"},
    "tie_break": {"price": "价格较低者", "lot": "抽签"},
    "stage": STAGES_ZH,
    "rival_hold": STAGES_ZH,
}

BOOLEANS_ZH = {True: "是", False: "否"}


def header(column: str, lang: str) -> str:
    """A column's header in `lang` ("zh": Chinese where the table names it; otherwise the code)."""
    return COLUMNS_ZH.get(column, column) if lang == "zh" else column


def sheet_name(table: str, lang: str) -> str:
    """A table's worksheet name in `lang` (Excel allows 31 characters)."""
    return (SHEETS_ZH.get(table, table) if lang == "zh" else table)[:31]


def event_kind(kind: str) -> str:
    """An event-log kind in Chinese, part by part: ``event:recession`` is 市场事件:经济衰退; a part the table lacks stays."""
    return ":".join(EVENT_KINDS_ZH.get(part, part) for part in kind.split(":"))


def cell(column: str, value: Any, lang: str) -> Any:
    """A cell of `column` in `lang`: booleans and the fixed vocabularies in Chinese for "zh"; anything else as it is."""
    if lang != "zh":
        return value
    if isinstance(value, (bool, np.bool_)):
        return BOOLEANS_ZH[bool(value)]
    if not isinstance(value, str):
        return value
    if column == "kind":
        return event_kind(value)
    return VALUES_ZH.get(column, {}).get(value, value)
