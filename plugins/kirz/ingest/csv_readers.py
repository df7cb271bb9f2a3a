"""What the CSV readers of several sources share: bulk line splitting, header matching, casts
in DuckDB, and the ``timestamp,<key>,<value>`` reader of the power and meter CSVs.

A file of millions of rows is read without a Python loop over its rows: the bytes are split
into numbered lines by Arrow (no copy), every field is cut and cast in DuckDB
(``try_cast``), and each bad line comes back with its reason, so the line number of every row
is exact. Empty lines carry no row and are skipped (a line of blanks is a row with one field).
Fields may be wrapped in double quotes; a quoted field holding the delimiter is not supported
(none of these files needs one) and ends in quarantine as a field-count error.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kirz.ingest.base import FormatError, Parsed, Quarantined
from kirz.ingest.source import RawTable, raw_table

# epoch seconds accepted: 1970-01-01 up to the end of year 9999 (milliseconds are refused)
EPOCH_MAX = 253402300800


def raw_schema(table: str | RawTable) -> pa.Schema:
    """Arrow schema a parser returns for a raw table: ``line_no``, then its declared columns."""
    return (table if isinstance(table, RawTable) else raw_table(table)).arrow_schema


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
    fast = _plain_measurement_csv(path, data, fmt=fmt, table=table, header=header, columns=columns,
                                  epoch=epoch, what=what)
    if fast is not None:
        return fast
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


def _plain_measurement_csv(
    path: Path,
    data: bytes,
    *,
    fmt: str,
    table: str,
    header: tuple[str, str, str],
    columns: tuple[str, str, str],
    epoch: bool,
    what: str,
) -> Parsed | None:
    """The common case of :func:`parse_measurement_csv` in one DuckDB statement, or None.

    A plain file -- no byte-order mark, carriage return, quote, blank, tab or empty line, and
    every line of exactly three fields -- is read by DuckDB's own CSV reader with every field
    as text, numbered ``with ordinality`` (line = row + 1: one header line, no line without a
    row), cast with ``try_cast`` and each row's reason computed as in the general reader;
    the raw text of a refused row is its three fields joined again (exact in a plain file).
    Anything else (and any file DuckDB's reader refuses: a field count off, invalid UTF-8)
    returns None and goes through the line-by-line reader, which quarantines each such line.
    """
    if not data or data.startswith(codecs.BOM_UTF8) or any(
        c in data for c in (b"\r", b'"', b" ", b"\t", b"\n\n")
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
    ts_name, key_name, value_name = header
    at_col, key_col, value_col = columns
    as_text = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(3))
    field = {name: f"coalesce(c{names.index(name)}, '')" for name in header}
    time_formats = "ISO 8601 or epoch seconds" if epoch else "ISO 8601"
    sql = f"""
        with p as (
            select ordinality + 1 as line_no, c0, c1, c2,
                   {field[ts_name]} as ts_raw, {field[key_name]} as {key_col}, {field[value_name]} as v_raw
            from read_csv(?, header = true, auto_detect = false, delim = ',', quote = '', escape = '',
                          new_line = '\\n', strict_mode = true, null_padding = false, ignore_errors = false,
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
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        out = con.sql(sql, params=[str(path)]).to_arrow_table()
    except (duckdb.InvalidInputException, duckdb.ConversionException):
        return None
    finally:
        con.close()
    if out.num_rows != data.count(b"\n") - (1 if data.endswith(b"\n") else 0):
        return None  # a row count off the line count: not plain after all
    if out.column("reason").null_count == out.num_rows:
        bad, good = [], out.select(["line_no", *columns])  # every row cast: no copy through a filter
    else:
        bad_mask = pc.is_valid(out.column("reason"))
        bad = sorted(out.filter(bad_mask).select(["line_no", "line", "reason"]).to_pylist(), key=lambda r: r["line_no"])
        good = out.filter(pc.invert(bad_mask)).select(["line_no", *columns])
    good = finish_table(table, good)
    return Parsed(
        format=fmt,
        tables={table: good},
        quarantine=[Quarantined(r["line_no"], r["line"], r["reason"]) for r in bad],
        rows_read=good.num_rows + len(bad),
        warnings=end_warnings(data),
    )
