"""What analysts use: SQL on the published snapshot, and exports of marts.

Everything here opens the latest published snapshot read-only, for as short as it takes: the
pipeline writes the live warehouse meanwhile and is never blocked by an analyst.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from kirz.config import Settings
from kirz.publish import MART_PERIOD_COLUMN, latest_snapshot

FORMATS = ("table", "csv", "json", "parquet")
EXPORT_FORMATS = ("parquet", "csv", "xlsx")


class QueryError(ValueError):
    """A query or export that cannot run, with a message an analyst can act on."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]


def _open(settings: Settings, snapshot: Path | None = None) -> duckdb.DuckDBPyConnection:
    path = snapshot or latest_snapshot(settings)
    con = duckdb.connect(str(path), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    return con


def run_query(settings: Settings, sql: str, snapshot: Path | None = None) -> QueryResult:
    if not sql.strip():
        raise QueryError("empty query")
    con = _open(settings, snapshot)
    try:
        try:
            cur = con.execute(sql)
        except duckdb.Error as exc:
            raise QueryError(f"{type(exc).__name__}: {exc}") from None
        if cur.description is None:
            return QueryResult([], [])
        cols = [d[0] for d in cur.description]
        return QueryResult(cols, cur.fetchall())
    finally:
        con.close()


def write_result(result: QueryResult, fmt: str, out: Path | None) -> str | None:
    """Write a result as csv/json/parquet to ``out`` (or return csv/json text when out is None)."""
    import pyarrow as pa

    if fmt not in FORMATS:
        raise QueryError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    table = pa.table({c: [r[i] for r in result.rows] for i, c in enumerate(result.columns)})
    if fmt == "parquet":
        if out is None:
            raise QueryError("--format parquet needs --out FILE")
        import pyarrow.parquet as pq

        pq.write_table(table, out)
        return None
    if fmt == "csv":
        import io

        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        text = buf.getvalue().decode()
    else:
        text = json.dumps(table.to_pylist(), default=_json_default, ensure_ascii=False, indent=1) + "\n"
    if out is not None:
        Path(out).write_text(text)
        return None
    return text


def _json_default(value):
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def period_bounds(period: str) -> tuple[date, date]:
    """'2026-10' -> Oct 2026, '2026-Q4' -> Oct–Dec, '2026' -> the year; [start, end) dates."""
    if m := re.fullmatch(r"(\d{4})-(\d{2})", period):
        y, mo = int(m[1]), int(m[2])
        return date(y, mo, 1), date(y + (mo == 12), mo % 12 + 1, 1)
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", period):
        y, q = int(m[1]), int(m[2])
        start = date(y, 3 * q - 2, 1)
        return start, date(y + (q == 4), (3 * q) % 12 + 1, 1)
    if m := re.fullmatch(r"(\d{4})", period):
        return date(int(m[1]), 1, 1), date(int(m[1]) + 1, 1, 1)
    raise QueryError(f"period {period!r} is not YYYY, YYYY-Qn or YYYY-MM")


def export_mart(
    settings: Settings,
    mart: str,
    fmt: str = "parquet",
    period: str | None = None,
    out: Path | None = None,
    snapshot: Path | None = None,
) -> Path:
    if fmt not in EXPORT_FORMATS:
        raise QueryError(f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    con = _open(settings, snapshot)
    try:
        marts = {r[0] for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'"
        ).fetchall()}
        if mart not in marts:
            raise QueryError(f"no mart {mart!r}; the marts are: {', '.join(sorted(marts))}")
        where, params = "", []
        if period:
            start, end = period_bounds(period)
            if mart == "fct_impact_kpis":
                where, params = "where period = ?", [period]
            elif mart in MART_PERIOD_COLUMN:
                col = MART_PERIOD_COLUMN[mart]
                if col == "start_at":
                    expr = f"cast(timezone('{settings.timezone}', start_at) as date)"
                else:
                    expr = f"cast({col} as date)" if col != "month" else "cast(left(cast(month as varchar), 7) || '-01' as date)"
                where, params = f"where {expr} >= ? and {expr} < ?", [start, end]
            else:
                raise QueryError(f"mart {mart!r} has no period; export it without --period")
        df = con.execute(f"select * from marts.{mart} {where}", params).df()
    finally:
        con.close()
    out = Path(out) if out else settings.home / "exports" / f"{mart}{'-' + period if period else ''}.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    for col in df.columns:
        if hasattr(df[col], "dt") and getattr(df[col].dt, "tz", None) is not None and fmt == "xlsx":
            df[col] = df[col].dt.tz_convert("UTC").dt.tz_localize(None)
    if fmt == "parquet":
        df.to_parquet(out, index=False)
    elif fmt == "csv":
        df.to_csv(out, index=False)
    else:
        df.to_excel(out, index=False, sheet_name=mart[:31])
    return out
