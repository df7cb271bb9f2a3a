"""Facility meters -> ``raw.meter_readings`` (reading_at, meter_id, kwh) and ``raw.meter_values``
(reading_at, meter_id, value).

Energy readings are cumulative kWh registers, loaded as delivered: counter resets, rollovers
and duplicates are dbt's business, not the parser's. Three formats:

``meters_csv``
    Header ``timestamp,meter_id,kwh`` (any column order), timestamps UTC ISO 8601 (naive =
    UTC), decimal point. Read in bulk like the power CSV (Arrow line split, DuckDB casts).

``meter_values_csv``
    Meters read in another unit than kWh (inventory ``unit: m3`` water registers, ``unit: degC``
    temperatures): header ``timestamp,meter_id,value``, otherwise as ``meters_csv``. The value
    is stored as read in ``raw.meter_values``; its unit is the meter's in the inventory (the
    parser does not know the inventory, so a value of a kWh meter is flagged by the raw suite
    ``raw.meter_values``, not here). A kWh register keeps its own table and checks, so water
    and temperatures never mix with energy.

``building_export``
    The building-management export: header ``Zeitstempel;Zähler;Zählerstand [kWh]``, ``;``
    separated, decimal comma with optional ``.`` thousands separators (``1.234.567,8``),
    timestamps ``dd.mm.yyyy HH:MM:SS`` in local time (``ctx.tz``), Windows-1252 (UTF-8 is
    accepted too). A number with a decimal point (``1234.5``) is refused rather than guessed.
    Local times become UTC by :func:`kirz.localtime.utc_candidates`. In the repeated hour at
    the end of summer time the row order of each meter decides: its readings are in time
    order, so the first pass through the hour is summer time (earliest candidate) and once
    a reading of that meter goes back (or repeats) within the hour, the later candidate is
    used. A local time in the spring gap does not exist and goes to quarantine.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from kirz.ingest.base import FormatError, ParseContext, Parsed, Quarantined
from kirz.ingest.csv_readers import (
    csv_positions,
    end_warnings,
    field_sql,
    finish_table,
    first_data_line,
    first_line,
    header_fields,
    numbered_lines,
    parse_measurement_csv,
    run_rows,
    split_sql,
    strip_bom,
)
from kirz.ingest.source import Format, RawTable, Source, detects_as
from kirz.localtime import utc_candidates

TABLE = "meter_readings"
VALUES_TABLE = "meter_values"
FORMATS = ("meters_csv", "meter_values_csv", "building_export")
CSV_HEADER = ("timestamp", "meter_id", "kwh")
VALUES_HEADER = ("timestamp", "meter_id", "value")
EXPORT_HEADER = ("zeitstempel", "zähler", "zählerstand [kwh]")
EXPORT_TIME_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M")

# German number: optional sign, digits with '.' groups of three or none, optional ',' decimals
GERMAN_NUMBER = r"[+-]?([0-9]{1,3}(\.[0-9]{3})+|[0-9]+)(,[0-9]+)?"

_EPOCH = datetime(1970, 1, 1)


def decode_export(data: bytes) -> tuple[str, str]:
    """Text of a building export and the encoding used: UTF-8, else Windows-1252, else Latin-1."""
    data = strip_bom(data)
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"  # cp1252 leaves five bytes undefined


def detect(head: bytes) -> str | None:
    """'meters_csv', 'meter_values_csv' or 'building_export' from the first bytes of a file, else None."""
    line = first_line(head)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode("cp1252", errors="replace")
    if sorted(header_fields(text, ",")) == sorted(CSV_HEADER):
        return "meters_csv"
    if sorted(header_fields(text, ",")) == sorted(VALUES_HEADER):
        return "meter_values_csv"
    if sorted(header_fields(text, ";")) == sorted(EXPORT_HEADER):
        return "building_export"
    return None


def parse(path: Path, ctx: ParseContext) -> Parsed:
    path = Path(path)
    data = path.read_bytes()
    fmt = ctx.fmt or detect(data[:65536])
    if fmt is None:
        raise FormatError(
            path,
            "not a meter file: expected a 'timestamp,meter_id,kwh' CSV, a 'timestamp,meter_id,value' CSV "
            "or a building export with header 'Zeitstempel;Zähler;Zählerstand [kWh]'",
        )
    if fmt == "meters_csv":
        return _parse_csv(path, data)
    if fmt == "meter_values_csv":
        return _parse_values_csv(path, data)
    if fmt == "building_export":
        return _parse_export(path, data, ctx.tz)
    raise FormatError(path, f"format {fmt!r} is not a meter format ({', '.join(FORMATS)})")


def _parse_csv(path: Path, data: bytes) -> Parsed:
    return parse_measurement_csv(path, data, fmt="meters_csv", table=TABLE, header=CSV_HEADER,
                                 columns=("reading_at", "meter_id", "kwh"), epoch=False, what="a reading")


def _parse_values_csv(path: Path, data: bytes) -> Parsed:
    return parse_measurement_csv(path, data, fmt="meter_values_csv", table=VALUES_TABLE, header=VALUES_HEADER,
                                 columns=("reading_at", "meter_id", "value"), epoch=False, what="a reading")


def _parse_export(path: Path, data: bytes, tz: ZoneInfo) -> Parsed:
    text, encoding = decode_export(data)
    lines, _ = numbered_lines(text.encode("utf-8"))
    if lines.num_rows == 0:
        raise FormatError(path, "building_export: empty file, no header")
    pos = csv_positions(path, first_data_line(lines), ";", EXPORT_HEADER, "building_export")
    formats = "[" + ", ".join(f"'{f}'" for f in EXPORT_TIME_FORMATS) + "]"
    has_cr = "\r" in text
    sql = f"""
        with s as ({split_sql(';', has_cr)}
        ), p as (
            select line_no, line, len(f) as nf,
                   {field_sql(pos['zeitstempel'])} as ts_raw,
                   {field_sql(pos['zähler'])} as meter_id,
                   {field_sql(pos['zählerstand [kwh]'])} as k_raw
            from s
        ), c as (
            select *, try_strptime(ts_raw, {formats}) as local_at,
                   case when regexp_full_match(k_raw, '{GERMAN_NUMBER}')
                        then try_cast(replace(replace(k_raw, '.', ''), ',', '.') as double) end as kwh
            from p
        ), r as (
            select *, case
                when nf <> 3 then format('field count: expected 3 fields (Zeitstempel;Zähler;Zählerstand [kWh]), found {{}}', nf)
                when local_at is null then format('timestamp: ''{{}}'' is not dd.mm.yyyy HH:MM:SS', ts_raw)
                when meter_id = '' then 'meter_id: empty'
                when kwh is null then format('kwh: ''{{}}'' is not a number in German notation (1.234.567,8)', k_raw)
            end as reason
            from c
        )
        select line_no, line, local_at, meter_id, kwh, reason
        from r where line_no > 1
        order by line_no
    """
    good, quarantine = run_rows(lines, sql, ["local_at", "meter_id", "kwh", "line"])
    reading_at, gap = resolve_local_times(
        good.column("local_at").cast(pa.int64()).to_numpy(zero_copy_only=False),
        good.column("meter_id").to_pylist(),
        tz,
    )
    if gap.any():
        bad = good.filter(pa.array(gap)).to_pylist()
        quarantine.extend(
            Quarantined(
                r["line_no"],
                r["line"],
                f"timestamp: local time {r['local_at']:%d.%m.%Y %H:%M:%S} does not exist in "
                f"{tz.key} (skipped when summer time starts)",
            )
            for r in bad
        )
        quarantine.sort(key=lambda q: q.line_no)
    keep = pa.array(~gap)
    table = pa.table(
        {
            "line_no": good.column("line_no").filter(keep),
            "reading_at": pa.array(reading_at[~gap], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "meter_id": good.column("meter_id").filter(keep),
            "kwh": good.column("kwh").filter(keep),
        }
    )
    table = finish_table(TABLE, table)
    warnings = ([] if encoding == "utf-8" else [f"read as {encoding}"]) + end_warnings(text)
    return Parsed(
        format="building_export",
        tables={TABLE: table},
        quarantine=quarantine,
        rows_read=table.num_rows + len(quarantine),
        warnings=warnings,
    )


def resolve_local_times(local_us: np.ndarray, meters: list[str], tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """UTC microseconds for naive local microseconds in row order, and a mask of nonexistent ones.

    Each distinct local time is converted once. An ambiguous reading takes the later (winter
    time) candidate when an earlier row of the same meter on the same day already showed
    an ambiguous local time at or after it: the clock went back.
    """
    uniq, inverse = np.unique(local_us, return_inverse=True)
    first = np.zeros(len(uniq), dtype=np.int64)
    second = np.zeros(len(uniq), dtype=np.int64)
    count = np.zeros(len(uniq), dtype=np.int64)
    for i, us in enumerate(uniq.tolist()):
        cands = utc_candidates(_EPOCH + timedelta(microseconds=us), tz)
        count[i] = len(cands)
        if cands:
            first[i] = _to_us(cands[0])
            second[i] = _to_us(cands[-1])
    utc = first[inverse]
    gap = count[inverse] == 0
    latest_seen: dict[tuple[str, int], int] = {}
    day_us = 86_400_000_000
    for row in np.flatnonzero(count[inverse] == 2).tolist():
        local = int(local_us[row])
        key = (meters[row], local // day_us)
        seen = latest_seen.get(key)
        if seen is not None and seen >= local:
            utc[row] = second[inverse[row]]
        latest_seen[key] = local if seen is None else max(seen, local)
    return utc, gap


def _to_us(dt: datetime) -> int:
    delta = dt.replace(tzinfo=None) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


METER_READINGS = RawTable(
    "meter_readings",
    (
        ("reading_at", "timestamptz"),
        ("meter_id", "varchar"),
        ("kwh", "double"),
    ),
    period_time="reading_at",
)

# meters read in another unit than kWh (water registers in m3, temperatures in degC): the
# unit is the meter's, from the inventory; the parser cannot know it and stores the value as read
METER_VALUES = RawTable(
    "meter_values",
    (
        ("reading_at", "timestamptz"),
        ("meter_id", "varchar"),
        ("value", "double"),
    ),
)

SOURCE = Source(
    name="meters",
    title="facility meters (UTC CSV of kWh registers or other units, the German building export)",
    tables=(METER_READINGS, METER_VALUES),
    formats=tuple(Format(name, detects_as(detect, name), parse) for name in FORMATS),
    order=60,
    aliases=("meter",),
)
