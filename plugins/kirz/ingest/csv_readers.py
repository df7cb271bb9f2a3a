"""What the CSV readers of several sources share: bulk line splitting, header matching, casts
in DuckDB, and the ``timestamp,<key>,<value>`` reader of the power and meter CSVs.

A file of millions of rows is read without a Python loop over its rows: the bytes are split
into numbered lines by Arrow (no copy), every field is cut and cast in DuckDB
(``try_cast``), and each bad line comes back with its reason, so the line number of every row
is exact. Empty lines carry no row and are skipped (a line of blanks is a row with one field).
Fields may be wrapped in double quotes; a quoted field holding the delimiter is not supported
(none of these files needs one) and ends in quarantine as a field-count error.

A plain file (no blanks, quotes, carriage returns, every line of three fields) is read by
DuckDB's own CSV reader in one statement; the loader has it inserted straight into the raw
table (:func:`load_measurement_csv`), the rows that fail a cast quarantined with line and
reason.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kirz.ingest.base import FormatError, Lineage, Parsed, Quarantined, insert_select
from kirz.ingest.source import RawTable, raw_table

# epoch seconds accepted: 1970-01-01 up to the end of year 9999 (milliseconds are refused)
EPOCH_MAX = 253402300800


def raw_schema(table: str | RawTable) -> pa.Schema:
    """Arrow schema a parser returns for a raw table: ``line_no``, then its declared columns."""
    return (table if isinstance(table, RawTable) else raw_table(table)).arrow_schema


# Arrow arrays to and from numpy at the buffer level. pyarrow's own conversions (pa.array,
# to_numpy, a Python scalar in a compute call) import pandas on their first use, which costs an
# ingest process 0.2 s; the bulk paths that need no pandas build their arrays from buffers.


def numpy_values(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The values of a fixed-width Arrow column (no nulls) as a numpy array."""
    if isinstance(column, pa.ChunkedArray):
        parts = [numpy_values(chunk) for chunk in column.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=column.type.to_pandas_dtype())
    dtype = np.dtype(column.type.to_pandas_dtype())
    return np.frombuffer(column.buffers()[1], dtype=dtype, count=len(column) + column.offset)[column.offset:]


def numpy_column(values: np.ndarray, typ: pa.DataType, valid: np.ndarray | None = None) -> pa.Array:
    """An Arrow array of ``typ`` (fixed width, as wide as ``values``' dtype) over a numpy array;
    ``valid``: False where the value is null."""
    values = np.ascontiguousarray(values)
    bitmap = None
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(typ, len(values), [bitmap, pa.py_buffer(values)])


def string_column(strings: list) -> pa.Array:
    """An Arrow string array of a list of str (None: null)."""
    encoded = [b"" if v is None else v.encode("utf-8") for v in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    valid = np.array([v is not None for v in strings], dtype=bool)
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if not valid.all() else None
    return pa.Array.from_buffers(pa.large_string(), len(encoded),
                                 [bitmap, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]).cast(pa.string())


def numpy_bools(column: pa.Array) -> np.ndarray:
    """The values of a boolean Arrow array without nulls as a numpy bool array."""
    bits = np.unpackbits(np.frombuffer(column.buffers()[1], dtype=np.uint8), bitorder="little")
    return bits[column.offset:column.offset + len(column)].astype(bool)


def arrow_column(values, typ: pa.DataType) -> pa.Array:
    """``pa.array(values, typ)`` built from buffers: ``values`` a sequence of Python values
    (None: null) or a numpy array; ``typ`` a string, boolean, fixed-width numeric or temporal
    type, or a list of strings."""
    if isinstance(values, pa.Array):
        return values.cast(typ)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return string_column(list(values)).cast(typ)
    if pa.types.is_list(typ):
        values = list(values)
        valid = np.array([v is not None for v in values], dtype=bool)
        offsets = np.zeros(len(values) + 1, dtype=np.int32)
        np.cumsum([len(v) if v is not None else 0 for v in values], out=offsets[1:])
        items = string_column([item for v in values if v is not None for item in v]).cast(typ.value_type)
        mask = None if valid.all() else _bool_array(~valid)
        return pa.ListArray.from_arrays(numpy_column(offsets, pa.int32()), items, type=typ, mask=mask)
    if isinstance(values, np.ndarray):
        return numpy_column(values.astype(typ.to_pandas_dtype() if not pa.types.is_timestamp(typ) else np.int64),
                            typ)
    values = list(values)
    valid = np.array([v is not None for v in values], dtype=bool)
    if pa.types.is_boolean(typ):
        array = _bool_array(np.array([bool(v) for v in values], dtype=bool))
        return array if valid.all() else pc.if_else(_bool_array(valid), array, pa.nulls(len(values), pa.bool_()))
    dtype = np.int64 if pa.types.is_timestamp(typ) or pa.types.is_date(typ) else typ.to_pandas_dtype()
    filled = np.array([0 if v is None else v for v in values], dtype=dtype)
    return numpy_column(filled, typ, valid=valid)


def arrow_scalar(value, typ: pa.DataType) -> pa.Scalar:
    """``pa.scalar(value, typ)`` built from buffers (see :func:`arrow_column`)."""
    return arrow_column([value], typ)[0]


def _bool_array(values: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(np.packbits(values, bitorder="little"))])


def strip_bom(data: bytes) -> bytes:
    return data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data


def header_fields(line: str, delim: str) -> list[str]:
    return [f.strip().strip('"').strip().lower() for f in line.split(delim)]


def first_line(head: bytes) -> bytes:
    """Line 1 without BOM and line break: where a CSV's header must be."""
    return strip_bom(head).split(b"\n", 1)[0].rstrip(b"\r")


def _line_array(data: bytes) -> pa.LargeStringArray:
    """The lines of ``data`` as an Arrow string array over the same bytes (no copy); each
    line keeps its line break."""
    breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    n = len(breaks) + (1 if data and not data.endswith(b"\n") else 0)
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1 : len(breaks) + 1] = breaks + 1
    offsets[n] = len(data)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def numbered_lines(data: bytes) -> tuple[pa.Table, bool]:
    """All lines of UTF-8 bytes as (line_no, line), 1-based; :func:`split_sql` removes the
    line breaks. Invalid UTF-8 bytes become U+FFFD and the flag says so."""
    data = strip_bom(data)
    lines = _line_array(data)
    replaced = False
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        lines = _line_array(data.decode("utf-8", errors="replace").encode("utf-8"))
        replaced = True
    n = len(lines)
    return pa.table({"line_no": pa.array(np.arange(1, n + 1, dtype=np.int64)), "line": lines}), replaced


def first_data_line(lines: pa.Table) -> str:
    return lines.column("line")[0].as_py().rstrip("\r\n")


def csv_positions(path: Path, header: str, delim: str, expected: tuple[str, ...], fmt: str) -> dict[str, int]:
    """1-based position of each expected column in the header; FormatError if it does not match."""
    found = header_fields(header, delim)
    if sorted(found) != sorted(expected):
        raise FormatError(
            path, f"{fmt}: header {header[:200]!r} does not match {delim.join(expected)!r}", 1
        )
    return {name: found.index(name) + 1 for name in expected}


def field_sql(pos: int) -> str:
    """Field ``pos`` of the split line ``f``; blanks and quotes are removed only where the
    line has any (``messy``), which keeps the common case cheap."""
    return f"case when messy then trim(trim(trim(f[{pos}]), '\"')) else f[{pos}] end"


def split_sql(delim: str, cr: bool) -> str:
    """Non-empty data lines as (line_no, line, f = fields, messy), line breaks removed.

    ``cr``: the file holds carriage returns (CRLF line ends), removed as well. Removing
    characters with ``replace`` costs DuckDB far less than ``rtrim`` with a character set.
    """
    clean = "replace(line, chr(10), '')"
    if cr:
        clean = f"replace({clean}, chr(13), '')"
    return f"""
        select line_no, line, string_split(line, '{delim}') as f,
               contains(line, '"') or contains(line, ' ') or contains(line, chr(9)) as messy
        from (select line_no, {clean} as line from lines)
        where line <> ''
    """


def run_rows(
    lines: pa.Table,
    select_sql: str,
    columns: list[str],
) -> tuple[pa.Table, list[Quarantined]]:
    """Run ``select_sql`` over the table ``lines`` in DuckDB.

    The query returns ``line_no``, ``line``, the ``columns`` and ``reason`` (null for a good
    row), in line order; ``line`` is only needed where ``reason`` is set. Good rows come back
    as one Arrow table, bad rows as Quarantined entries.
    """
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.register("lines", lines)
        out = con.sql(select_sql).to_arrow_table()
    finally:
        con.close()
    bad_mask = pc.is_valid(out.column("reason"))
    bad = out.filter(bad_mask).select(["line_no", "line", "reason"]).to_pylist()
    good = out.filter(pc.invert(bad_mask)).select(["line_no"] + columns)
    quarantine = [Quarantined(r["line_no"], r["line"], r["reason"]) for r in bad]
    return good, quarantine


def utc_timestamp_sql(expr: str, epoch: bool) -> str:
    """SQL turning a UTC text timestamp into timestamptz (null when unreadable)."""
    iso = f"try_cast({expr} as timestamptz)"
    if not epoch:
        return iso
    # an ISO date has '-' after the year; epoch seconds (never negative here) have none
    dec = f"try_cast({expr} as decimal(18, 6))"
    return (
        f"case when contains({expr}, '-') then {iso} "
        f"when {dec} >= 0 and {dec} < {EPOCH_MAX} "
        f"then make_timestamp(cast(cast({dec} as decimal(38, 6)) * 1000000 as bigint))::timestamptz end"
    )


def end_warnings(data: bytes | str) -> list[str]:
    """A warning when the last line has no line break although others have: the file may
    have been cut while written (a cut that still reads as a value cannot be told apart)."""
    nl = b"\n" if isinstance(data, bytes) else "\n"
    if data and not data.endswith(nl) and nl in data:
        return ["last line has no line break: the file may be truncated"]
    return []


def finish_table(table: str, good: pa.Table) -> pa.Table:
    return good.cast(raw_schema(table))


def parse_measurement_csv(
    path: Path,
    data: bytes,
    *,
    fmt: str,
    table: str,
    header: tuple[str, str, str],
    columns: tuple[str, str, str],
    epoch: bool,
    what: str,
) -> Parsed:
    """A ``timestamp,<key>,<value>`` CSV (any column order, header required) into ``table``.

    ``header`` names the three CSV columns, ``columns`` the raw columns they become (instant,
    key, value); ``epoch`` also accepts epoch seconds as timestamps; ``what`` names a value in
    the NaN message ("a measurement", "a reading"). Every bad line is quarantined with its
    reason; the file itself fails only without a usable header.
    """
    ts_name, key_name, value_name = header
    at_col, key_col, value_col = columns
    lines, replaced = numbered_lines(data)
    if lines.num_rows == 0:
        raise FormatError(path, f"{fmt}: empty file, no header")
    pos = csv_positions(path, first_data_line(lines), ",", header, fmt)
    utf8_check = "when contains(line, '\ufffd') then 'encoding: invalid UTF-8 bytes in line'" if replaced else ""
    has_cr = b"\r" in data
    time_formats = "ISO 8601 or epoch seconds" if epoch else "ISO 8601"
    sql = f"""
        with s as ({split_sql(',', has_cr)}
        ), p as (
            select line_no, line, len(f) as nf,
                   {field_sql(pos[ts_name])} as ts_raw,
                   {field_sql(pos[key_name])} as {key_col},
                   {field_sql(pos[value_name])} as v_raw
            from s
        ), c as (
            select *, {utc_timestamp_sql('ts_raw', epoch=epoch)} as {at_col},
                   try_cast(v_raw as double) as {value_col}
            from p
        ), r as (
            select *, case
                when nf <> 3 then format('field count: expected 3 fields ({','.join(header)}), found {{}}', nf)
                {utf8_check}
                {_value_checks(header, columns, time_formats, what)}
            end as reason
            from c
        )
        select line_no, case when reason is not null then line end as line,
               {at_col}, {key_col}, {value_col}, reason
        from r where line_no > 1
        order by line_no
    """
    good, quarantine = run_rows(lines, sql, list(columns))
    result = finish_table(table, good)
    return Parsed(
        format=fmt,
        tables={table: result},
        quarantine=quarantine,
        rows_read=result.num_rows + len(quarantine),
        warnings=end_warnings(data),
    )


def _value_checks(header: tuple[str, str, str], columns: tuple[str, str, str], time_formats: str, what: str) -> str:
    """The CASE branches giving the reason a row of a measurement CSV is refused (columns
    ``ts_raw`` and ``v_raw`` hold the text of instant and value)."""
    ts_name, key_name, value_name = header
    at_col, key_col, value_col = columns
    return f"""
                when {at_col} is null then format('{ts_name}: ''{{}}'' is not {time_formats}', ts_raw)
                when {key_col} = '' then '{key_name}: empty'
                when {value_col} is null then format('{value_name}: ''{{}}'' is not a number', v_raw)
                when isnan({value_col}) then format('{value_name}: ''{{}}'' is NaN, not {what}', v_raw)
                when isinf({value_col}) then format('{value_name}: ''{{}}'' is not finite', v_raw)"""


def _plain_names(data: bytes, header: tuple[str, str, str]) -> list[str] | None:
    """The header fields of a plain measurement CSV (see :func:`load_measurement_csv`), or None
    when the file is not plain: no byte-order mark, carriage return, quote, blank or tab. An
    empty line is not searched for here (the slowest check): it gives no row, and the caller's
    row count finds it."""
    if not data or data.startswith(codecs.BOM_UTF8) or any(
        c in data for c in (b"\r", b'"', b" ", b"\t")
    ) or data.startswith(b"\n"):
        return None
    head = data.split(b"\n", 1)
    if len(head) < 2 or not head[1]:
        return None
    try:
        names = header_fields(head[0].decode("utf-8"), ",")
    except UnicodeDecodeError:
        return None
    if sorted(names) != sorted(header) or len(set(names)) != 3:
        return None
    return names


def _plain_rows(data: bytes) -> int:
    """Data rows of a plain file: one per line after the header."""
    return data.count(b"\n") - (1 if data.endswith(b"\n") else 0)


def _plain_sql(
    names: list[str],
    *,
    header: tuple[str, str, str],
    columns: tuple[str, str, str],
    epoch: bool,
    what: str,
) -> str:
    """The rows of a plain measurement CSV (the file is the statement's one parameter):
    ``line_no``, ``line`` (the raw text, only where refused), the three ``columns`` and
    ``reason`` (null for a row that is read). DuckDB's reader skips a line it cannot read (a
    field count off, invalid UTF-8) instead of failing the statement; the caller sees the
    missing row in the count."""
    ts_name, key_name, value_name = header
    at_col, key_col, value_col = columns
    as_text = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(3))
    field = {name: f"coalesce(c{names.index(name)}, '')" for name in header}
    time_formats = "ISO 8601 or epoch seconds" if epoch else "ISO 8601"
    return f"""
        with p as (
            select ordinality + 1 as line_no, c0, c1, c2,
                   {field[ts_name]} as ts_raw, {field[key_name]} as {key_col}, {field[value_name]} as v_raw
            from read_csv(?, header = true, auto_detect = false, delim = ',', quote = '', escape = '',
                          new_line = '\\n', strict_mode = true, null_padding = false,
                          ignore_errors = true,
                          columns = {{{as_text}}}) with ordinality
        ), c as (
            select *, {utc_timestamp_sql('ts_raw', epoch=epoch)} as {at_col},
                   try_cast(v_raw as double) as {value_col}
            from p
        )
        select line_no,
               case when reason is not null then concat_ws(',', coalesce(c0, ''), coalesce(c1, ''), coalesce(c2, ''))
               end as line,
               {at_col}, {key_col}, {value_col}, reason
        from (select *, case {_value_checks(header, columns, time_formats, what)}
                        end as reason
              from c)
    """


def load_measurement_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    lineage: Lineage,
    *,
    fmt: str,
    table: str,
    header: tuple[str, str, str],
    columns: tuple[str, str, str],
    epoch: bool,
    what: str,
) -> Parsed | None:
    """:func:`parse_measurement_csv` of a plain file as one ``insert ... select`` from DuckDB's
    reader into ``raw.<table>`` on the warehouse connection ``con`` (a format's ``load``).

    The statement is the bulk reader's (:func:`_plain_sql`): every field read as text,
    numbered by its line, cast with ``try_cast``; the rows without a reason are inserted with
    the lineage as constants, no Arrow table in between. The rows with a reason (the rows
    that failed a cast, the anti-join of the insert) are read again only when the insert
    wrote fewer rows than the file has lines, and quarantined with line, text and reason.
    The reader skips a line it cannot read instead of failing the file's transaction; when
    rows are missing from the count that way, the inserted rows are deleted again and None
    sends the file to :func:`parse_measurement_csv`, which quarantines each such line.
    """
    path = Path(path)
    data = path.read_bytes()
    names = _plain_names(data, header)
    if names is None:
        return None
    n = _plain_rows(data)
    at_col, key_col, value_col = columns
    sql = _plain_sql(names, header=header, columns=columns, epoch=epoch, what=what)
    good_rows = f"select line_no, {at_col}, {key_col}, {value_col} from ({sql}) where reason is null"
    inserted = con.execute(insert_select(table, list(columns), good_rows),
                           [*lineage.params, str(path)]).fetchall()[0][0]
    bad: list[tuple] = []
    if inserted != n:
        bad = con.execute(f"select line_no, line, reason from ({sql}) where reason is not null order by line_no",
                          [str(path)]).fetchall()
        if inserted + len(bad) != n:
            con.execute(f"delete from raw.{table} where ingest_id = ?", [lineage.ingest_id])
            return None
    return Parsed(
        format=fmt,
        tables={},
        inserted={table: inserted},
        quarantine=[Quarantined(line_no, line, reason) for line_no, line, reason in bad],
        rows_read=inserted + len(bad),
        warnings=end_warnings(data),
    )
