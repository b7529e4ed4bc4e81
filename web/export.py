"""Exports of a game for the instructor: decisions, results, tenders, customers summary, event log (CSV zip, Excel).

Text typed by students or the instructor (team names, reasons) is neutralised
for spreadsheets: a cell that starts with = + - @ or a tab or carriage return
gets a leading apostrophe, so that Excel or LibreOffice shows it as text
instead of running it as a formula (CSV or formula injection).

A nested decision field (bids, cultivation, activities, research, care_split) is one cell of JSON text; a count or
an index is a whole number (its dtype declared in crmsim.sim.frames; ``Int64`` where a value may be missing).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsim.sim.frames import FRAMES
from crmsim.web.models import Adjustment, AuditEntry, DecisionRecord, Game
from crmsim.web.service import snapshots

CUSTOMER_COLUMNS = ["period", "firm", "name", "customers", "acquired", "lost", "retention_rate", "avg_satisfaction",
                    "avg_loyalty", "complaints", "resolution_rate", "share_of_wallet", "market_share_customers",
                    "customer_equity", "tier_a", "tier_b", "tier_c", "promoters", "detractors"]


#: each table's frame in crmsim.sim.frames, whose declarations give the dtypes of the columns they share
#: (the web's decisions hold the decision as sent: a column that holds no numbers here, bids, keeps its text)
DECLARED_AS = {"decisions": "decisions", "results": "firms", "customers": "firms", "tenders": "tenders", "bids": "bids",
               "relationships": "relationships", "adjustments": "events", "events": "events"}
RECORD_INTEGERS = {"id"}  # the web's own record ids

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text_cell(value: Any) -> Any:
    """`value`, or for text that a spreadsheet would run as a formula, the same text marked as text."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def neutralised(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell, and every column name, safe to open in a spreadsheet."""
    out = df.rename(columns=lambda c: as_text_cell(str(c)))
    text = [c for c in out.columns if out[c].dtype == object or pd.api.types.is_string_dtype(out[c])]
    for c in text:
        out[c] = out[c].map(as_text_cell)
    return out


def json_cell(value: Any) -> Any:
    """A nested value (a mapping or a list) as one cell of JSON text, keys sorted; any other value as it is."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, (dict, list)) else value


def nested_as_json(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every mapping or list cell as JSON text (a Python repr such as ``{'mengniu': 5000.0}`` never)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(json_cell)
    return out


def integer_columns(table: str, df: pd.DataFrame) -> list[str]:
    """The columns of `table` that hold whole numbers: declared integer in crmsim.sim.frames, and numeric here."""
    frame = FRAMES[DECLARED_AS[table]]

    def declared_integer(column: str) -> bool:
        col = frame.column(column)
        return column in RECORD_INTEGERS or (col is not None and col.dtype.lower().startswith("int"))

    declared = [c for c in df.columns if declared_integer(str(c))]
    numeric = [c for c in declared if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    return [c for c in numeric if (df[c].dropna() % 1 == 0).all()]  # a declaration never truncates a fraction


def with_integers(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """`df` with its counts and indexes as integers ("3", not "3.0"): ``int64``, or ``Int64`` where one is missing."""
    out = df.copy()
    for c in integer_columns(table, df):
        out[c] = out[c].astype("Int64" if out[c].isna().any() else "int64")
    return out


def in_language(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """`df` with its fixed vocabularies (booleans, codes, event kinds) and its headers in `lang` (web/export_headers.py)."""
    from crmsim.web.export_headers import cell, header

    out = df.copy()
    if lang != "en":
        for c in out.columns:
            if out[c].dtype == object or pd.api.types.is_bool_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
                out[c] = out[c].map(lambda v, c=c: cell(str(c), v, lang)).astype(object)
    return out.rename(columns=lambda c: header(str(c), lang))


def frames(db: Session, game: Game, lang: str = "en") -> dict[str, pd.DataFrame]:
    """The game's tables, each ready for a CSV file or a worksheet: nested cells as JSON, counts as integers,
    words and headers in `lang`, text neutralised."""
    tables = raw_frames(db, game)
    return {name: neutralised(in_language(with_integers(name, nested_as_json(df)), lang)) for name, df in tables.items()}


def raw_frames(db: Session, game: Game) -> dict[str, pd.DataFrame]:
    snaps = snapshots(db, game)
    decisions = db.scalars(select(DecisionRecord).where(DecisionRecord.game_id == game.id).order_by(DecisionRecord.id)).all()
    teams = {t.firm_index: t.name for t in game.teams}
    dec_rows = []
    for d in decisions:
        p = d.payload
        dec_rows.append({
            "id": d.id, "period": d.period, "firm": d.firm_index, "team": teams.get(d.firm_index), "source": d.source,
            "submitted_at": d.created_at, "rolled_back_at": d.rolled_back_at, **{k: v for k, v in p.items() if k not in ("bids", "cultivation")},
            "cultivation": p.get("cultivation", {}), "bids": p.get("bids", {}),
        })
    results = pd.DataFrame([r for s in snaps for r in s.firm_rows])
    adjustments = db.scalars(select(Adjustment).where(Adjustment.game_id == game.id)).all()
    audit = db.scalars(select(AuditEntry).where(AuditEntry.game_id == game.id).order_by(AuditEntry.id)).all()
    events = [{"period": e["period"], "kind": e["kind"], "firm": e["firm"], "detail": e["detail"]} for s in snaps for e in s.events]
    events += [{"period": a.period, "kind": f"instructor:{a.action}", "firm": None, "detail": a.detail} for a in audit]
    return {
        "decisions": pd.DataFrame(dec_rows),
        "results": results,
        "tenders": pd.DataFrame([r for s in snaps for r in s.tender_rows]),
        "bids": pd.DataFrame([r for s in snaps for r in s.bid_rows]),
        "customers": results[[c for c in CUSTOMER_COLUMNS if c in results.columns]] if len(results) else pd.DataFrame(),
        "relationships": pd.DataFrame([r for s in snaps for r in s.relationship_rows]),
        "adjustments": pd.DataFrame([{"period": a.period, "firm": a.firm_index, "amount": a.amount, "reason": a.reason, "at": a.created_at} for a in adjustments]),
        "events": pd.DataFrame(events),
    }


def csv_zip(db: Session, game: Game, lang: str = "en") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, df in frames(db, game, lang).items():
            z.writestr(f"{name}.csv", df.to_csv(index=False))
    return buf.getvalue()


def excel(db: Session, game: Game, lang: str = "en") -> bytes:
    from crmsim.web.export_headers import sheet_name

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, df in frames(db, game, lang).items():
            (df if len(df.columns) else pd.DataFrame({"(empty)": []})).to_excel(xw, sheet_name=sheet_name(name, lang), index=False)
    return buf.getvalue()
