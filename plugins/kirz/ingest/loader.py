"""Loading parsed files into ``raw.*``: checksums, idempotence, lineage, quarantine, audit.

One file is one transaction: its rows, its quarantined rows and its ``audit.ingests`` row are
written together or not at all. A file whose sha256 was already loaded for the same source
adds nothing (an audit row with status ``duplicate`` says so). A file that is not of the
source's format at all is ``rejected``: one clear error, kept as one quarantine row, so that
nothing delivered vanishes.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import duckdb
import pyarrow as pa

from kirz.config import Settings
from kirz.ingest.base import FormatError, Lineage, ParseContext, Parsed, insert_select
from kirz.ingest.csv_readers import arrow_column
from kirz.ingest.source import Source, canonical_name, get_source
from kirz.warehouse import open_warehouse

HEAD_BYTES = 64 * 1024
IGNORED_NAMES = {"manifest.json"}


def canonical_source(name: str) -> str:
    """A source's name from its name or an alias (``sacct`` -> ``slurm``); ValueError otherwise."""
    return canonical_name(name)


@dataclass
class FileResult:
    source: str
    path: str
    sha256: str
    status: str  # loaded | duplicate | rejected
    format: str | None = None
    ingest_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    duration_s: float = 0.0
    message: str = ""
    reasons: dict[str, int] = field(default_factory=dict)


def iter_files(paths: Iterable[Path | str]) -> list[Path]:
    """Files named, and files below folders named, in a stable order (hidden files skipped)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(
                f
                for f in sorted(p.rglob("*"))
                if f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and f.name not in IGNORED_NAMES
            )
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def sha256_of(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def detect_format(source: str, path: Path, forced: str | None = None) -> str:
    """The format of a file as its source declares them (``forced`` is taken as given)."""
    declared = get_source(source)
    if forced:
        return forced
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    fmt = declared.detect(head)
    if fmt is None:
        raise FormatError(path, f"not a {declared.name} file of any known format")
    return fmt


def parse_file(declared: Source, path: Path, fmt: str, ctx: ParseContext) -> Parsed:
    """Parse a file with the reader its source declares for ``fmt``."""
    reader = declared.format(fmt)
    if reader is None:
        raise FormatError(
            path, f"format {fmt!r} is not a {declared.name} format ({', '.join(declared.format_names)})"
        )
    return reader.parse(path, replace(ctx, fmt=fmt))


def _next_ingest_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select nextval('audit.ingest_seq')").fetchall()[0][0]


def _already_loaded(con, source: str, sha: str) -> int | None:
    rows = con.execute(
        "select ingest_id from audit.ingests where source = ? and file_sha256 = ? and status = 'loaded' limit 1",
        [source, sha],
    ).fetchall()
    return rows[0][0] if rows else None


def _rejected_head(declared: Source, path: Path) -> str | None:
    """The start of a rejected file, kept beside the reason (none where the source says a file
    may hold what must not be stored as delivered, such as Slurm user names that were never
    pseudonymised: the file itself stays where it was)."""
    if not declared.keeps_rejected_head:
        return None
    with open(path, "rb") as fh:
        return fh.read(2000).decode("utf-8", errors="replace")


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    source: str,
    path: Path,
    ctx: ParseContext,
) -> FileResult:
    declared = get_source(source)
    source = declared.name
    path = Path(path)
    t0 = time.perf_counter()
    sha, size = sha256_of(path)
    received_at = datetime.now(timezone.utc)
    result = FileResult(source=source, path=str(path), sha256=sha, status="loaded")
    previous = _already_loaded(con, source, sha)

    con.execute("begin transaction")
    try:
        ingest_id = _next_ingest_id(con)
        result.ingest_id = ingest_id
        lineage = Lineage(ingest_id, str(path), sha, received_at)
        parsed: Parsed | None = None
        if previous is not None:
            result.status = "duplicate"
            result.message = f"already loaded as ingest {previous}; nothing added"
        else:
            try:
                result.format = detect_format(source, path, ctx.fmt)
                reader = declared.format(result.format)
                if reader is not None and reader.load is not None and declared.check is None:
                    # read by DuckDB straight into the raw table (None: the file is for the parser)
                    parsed = reader.load(con, path, replace(ctx, fmt=result.format), lineage)
                if parsed is None:
                    parsed = parse_file(declared, path, result.format, ctx)
                if declared.check is not None:
                    declared.check(con, parsed, path)
            except FormatError as exc:
                parsed = None
                result.status = "rejected"
                result.message = str(exc)
                head = _rejected_head(declared, path)
                con.execute(
                    "insert into raw.quarantine values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [ingest_id, source, str(path), sha, exc.line_no, head, f"file rejected: {exc.reason}", received_at],
                )
                result.rows_quarantined = 1
                result.reasons = {f"file rejected: {exc.reason}": 1}
        if parsed is not None:
            result.format = parsed.format
            declared_tables = {t.name: t for t in declared.tables}
            for table_name, table in parsed.tables.items():
                if table_name not in declared_tables:
                    raise ValueError(f"parser returned unknown table {table_name!r} (source {source} declares "
                                     f"{', '.join(declared_tables)})")
                if table.num_rows == 0:
                    continue
                # the lineage columns are constants of the statement, not columns built per row;
                # a column the parser does not deliver (an optional field of the format) is null
                present = set(table.column_names)
                columns = declared_tables[table_name].column_names
                values = ", ".join(["line_no"] + [c if c in present else f"null as {c}" for c in columns])
                con.register("_kirz_batch", table)
                try:
                    con.execute(
                        insert_select(table_name, columns, f"select {values} from _kirz_batch"),
                        lineage.params,
                    )
                finally:
                    con.unregister("_kirz_batch")
            if parsed.quarantine:
                # built from buffers: pyarrow's own conversion would import pandas (0.2 s)
                q = pa.Table.from_arrays(
                    [
                        arrow_column([q.line_no for q in parsed.quarantine], pa.int64()),
                        arrow_column([q.raw_text for q in parsed.quarantine], pa.string()),
                        arrow_column([q.reason for q in parsed.quarantine], pa.string()),
                    ],
                    names=["line_no", "raw_text", "reason"],
                )
                con.register("_kirz_q", q)
                try:
                    con.execute(
                        "insert into raw.quarantine select ?::bigint, ?::varchar, ?::varchar, ?::varchar, "
                        "line_no, raw_text, reason, ?::timestamptz from _kirz_q",
                        [ingest_id, source, str(path), sha, received_at],
                    )
                finally:
                    con.unregister("_kirz_q")
            result.rows_read = parsed.rows_read
            result.rows_loaded = parsed.rows_loaded
            result.rows_quarantined = len(parsed.quarantine)
            for q in parsed.quarantine:
                key = q.reason.split(":")[0] if len(q.reason) > 80 else q.reason
                result.reasons[key] = result.reasons.get(key, 0) + 1
            if result.rows_read != result.rows_loaded + result.rows_quarantined:
                raise RuntimeError(
                    f"{path}: counting does not hold: read {result.rows_read} != loaded "
                    f"{result.rows_loaded} + quarantined {result.rows_quarantined}"
                )
            if parsed.warnings:
                result.message = "; ".join(parsed.warnings)
        result.duration_s = time.perf_counter() - t0
        con.execute(
            "insert into audit.ingests values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ingest_id, source, result.format, str(path), sha, size, received_at, result.status,
                result.rows_read, result.rows_loaded, result.rows_quarantined, result.duration_s,
                result.message or None,
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def parse_context(settings: Settings, fmt: str | None = None, fields: str | None = None, create_key: bool = False) -> ParseContext:
    return ParseContext(
        tz=settings.tz,
        pseudonym_key=settings.pseudonym_key_bytes(create=create_key),
        cluster=settings.cluster,
        fmt=fmt,
        fields=tuple(f.strip() for f in fields.split(",")) if fields else None,
    )


def ingest_paths(
    settings: Settings,
    source: str,
    paths: Iterable[Path | str],
    *,
    fmt: str | None = None,
    fields: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    create_key: bool = False,
) -> list[FileResult]:
    """Ingest files (or folders of files) of one source; returns one result per file."""
    source = canonical_source(source)
    files = iter_files(paths)
    ctx = parse_context(settings, fmt, fields, create_key=create_key)
    results = []
    if con is None:
        with open_warehouse(settings.warehouse_path) as own:
            for f in files:
                results.append(ingest_file(own, source, f, ctx))
                if on_file:
                    on_file(results[-1])
    else:
        for f in files:
            results.append(ingest_file(con, source, f, ctx))
            if on_file:
                on_file(results[-1])
    return results
