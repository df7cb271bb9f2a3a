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

LINEAGE = """
    ingest_id      bigint not null,
    source_file    varchar not null,
    file_sha256    varchar not null,
    line_no        bigint not null,
    received_at    timestamptz not null,
"""

# Column lists of the raw tables (after the lineage columns). Parsers produce exactly these.
RAW_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "slurm_jobs": [
        ("cluster", "varchar"),
        ("job_id", "varchar"),          # as sacct prints it: 123, 123_4, 123_[5-9], 123+0, 123.batch
        ("job_id_raw", "varchar"),
        ("allocation_id", "varchar"),   # job_id without the step suffix
        ("step_id", "varchar"),         # batch, extern, 0, ... ; null for the allocation itself
        ("is_step", "boolean"),
        ("array_job_id", "varchar"),
        ("array_task_id", "varchar"),   # 4, or [5-9] for a pending range
        ("het_job_id", "varchar"),
        ("het_job_offset", "integer"),
        ("job_name", "varchar"),
        ("user_pseudonym", "varchar"),  # keyed HMAC; the user name is never stored
        ("account", "varchar"),
        ("partition", "varchar"),
        ("qos", "varchar"),
        ("state", "varchar"),           # first word, upper case: COMPLETED, CANCELLED, ...
        ("state_raw", "varchar"),       # as delivered, e.g. 'CANCELLED by 1234'
        ("cancelled_by_uid", "integer"),
        ("exit_code", "varchar"),
        ("submit_at", "timestamptz"),
        ("start_at", "timestamptz"),
        ("end_at", "timestamptz"),
        ("elapsed_s", "bigint"),
        ("nnodes", "integer"),
        ("ncpus", "integer"),
        ("gpus", "integer"),            # gres/gpu of AllocTRES, 0 when absent
        ("mem_mb", "double"),
        ("alloc_tres", "varchar"),
        ("node_list", "varchar"),       # compressed, as delivered
        ("nodes", "varchar[]"),         # expanded
        ("consumed_energy_j", "double"),
    ],
    "node_power": [
        ("sample_at", "timestamptz"),
        ("node", "varchar"),
        ("watts", "double"),
    ],
    "meter_readings": [
        ("reading_at", "timestamptz"),
        ("meter_id", "varchar"),
        ("kwh", "double"),
    ],
    "inventory_nodes": [
        ("cluster", "varchar"),
        ("node", "varchar"),
        ("partition", "varchar"),
        ("rack", "varchar"),
        ("gpus", "integer"),
        ("cpus", "integer"),
        ("idle_w", "double"),
        ("max_w", "double"),
    ],
    "inventory_meters": [
        ("cluster", "varchar"),
        ("meter_id", "varchar"),
        ("kind", "varchar"),
        ("parent_meter_id", "varchar"),
    ],
    "inventory_facility": [
        ("cluster", "varchar"),
        ("floor_area_m2", "double"),
        ("design_it_power_kw", "double"),
    ],
    # one row per contract version: the base document and each amendment applied in order
    "contract_versions": [
        ("contract_id", "varchar"),
        ("version_no", "integer"),       # 0 = as signed, 1.. = amendments in date order
        ("effective_from", "date"),
        ("effective_to", "date"),        # inclusive; day before the next version, or valid_to
        ("valid_from", "date"),
        ("valid_to", "date"),            # inclusive
        ("partner_id", "varchar"),
        ("partner_name", "varchar"),
        ("partner_type", "varchar"),
        ("partner_postcode", "varchar"),
        ("partner_nuts3", "varchar"),
        ("partner_confidential", "boolean"),
        ("usage_area", "varchar"),
        ("funders", "varchar[]"),
        ("accounts", "varchar[]"),
        ("gpu_hours_allocated", "double"),
        ("price_eur_per_gpu_hour", "double"),
        ("jobs_created", "integer"),
        ("trainees", "integer"),
        ("document", "json"),            # the whole YAML document as delivered
    ],
}

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
    for stmt in DDL:
        con.execute(stmt)


@contextmanager
def open_warehouse(path: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only)
    try:
        if not read_only:
            init_schema(con)
        yield con
    finally:
        con.close()
