"""The DuckDB warehouse: connections, the raw and audit schemas.

``raw.*`` tables are append-only. Every row carries its lineage: ``ingest_id`` (one per
ingested file), ``line_no`` (1-based line, or record number for JSON) and, through
``audit.ingests``, the source file, its sha256 and ``received_at``; these are also stored on
each row so that a raw table can be read on its own.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from kirz.ingest.source import raw_columns

LINEAGE = """
    ingest_id      bigint not null,
    source_file    varchar not null,
    file_sha256    varchar not null,
    line_no        bigint not null,
    received_at    timestamptz not null,
"""

# Column lists of the raw tables (after the lineage columns), as the sources declare them
# (kirz.ingest.<source>.SOURCE); parsers produce exactly these.
RAW_COLUMNS: dict[str, list[tuple[str, str]]] = raw_columns()
RAW_TABLES = tuple(RAW_COLUMNS)

DDL = [
    "create schema if not exists raw",
    "create schema if not exists audit",
    "create sequence if not exists audit.ingest_seq start 1",
    """
    create table if not exists audit.ingests (
        ingest_id        bigint primary key,
        source           varchar not null,
        format           varchar,
        source_file      varchar not null,
        file_sha256      varchar not null,
        file_bytes       bigint,
        received_at      timestamptz not null,
        status           varchar not null,   -- loaded | duplicate | rejected
        rows_read        bigint not null,
        rows_loaded      bigint not null,
        rows_quarantined bigint not null,
        duration_s       double,
        message          varchar
    )
    """,
    "create sequence if not exists audit.report_delivery_seq start 1",
    # one row per file delivered (kirz.reporting.audit.record_deliveries, from the versions' manifests)
    """
    create table if not exists audit.report_deliveries (
        delivery_id    bigint primary key default nextval('audit.report_delivery_seq'),
        recipient_id   varchar not null,
        kind           varchar not null,
        period         varchar not null,
        lang           varchar,
        version        integer not null,
        channel        varchar not null,   -- outbox | smtp
        address        varchar,            -- outbox folder, or e-mail addresses joined by ', '
        delivered_at   timestamptz not null,
        file_name      varchar not null,
        sha256         varchar not null,
        is_correction  boolean not null,
        changes        integer not null    -- changed figures against the version delivered before (0: first)
    )
    """,
    """
    create table if not exists raw.quarantine (
        ingest_id    bigint not null,
        source       varchar not null,
        source_file  varchar not null,
        file_sha256  varchar not null,
        line_no      bigint,
        raw_text     varchar,
        reason       varchar not null,
        received_at  timestamptz not null
    )
    """,
] + [
    f"create table if not exists raw.{name} ({LINEAGE}"
    + ",\n".join(f"    {col} {typ}" for col, typ in cols)
    + "\n)"
    for name, cols in RAW_COLUMNS.items()
]


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set TimeZone = 'UTC'")
    return con


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and audit schemas; add columns a newer RAW_COLUMNS declares to older tables."""
    for stmt in DDL:
        con.execute(stmt)
    present = set(con.execute(
        "select table_name, column_name from duckdb_columns() where schema_name = 'raw' and database_name = current_database()"
    ).fetchall())
    for name, cols in RAW_COLUMNS.items():
        for col, typ in cols:
            if (name, col) not in present:
                con.execute(f"alter table raw.{name} add column {col} {typ}")


@contextmanager
def open_warehouse(path: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only)
    try:
        if not read_only:
            init_schema(con)
        yield con
    finally:
        con.close()
