from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from kirz.ingest.base import FormatError, ParseContext
from kirz.ingest.meters import detect, parse, resolve_local_times
from kirz.ingest.power import raw_schema

FIX = Path(__file__).parent / "fixtures" / "meters"
POWER_FIX = Path(__file__).parent / "fixtures" / "power"
UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
CTX = ParseContext(tz=BERLIN)


def rows(parsed):
    return parsed.tables["meter_readings"].to_pylist()


def reasons(parsed):
    return {q.line_no: q.reason for q in parsed.quarantine}


def assert_counts(parsed):
    assert parsed.rows_read == parsed.rows_loaded + len(parsed.quarantine)


def test_detect():
    assert detect((FIX / "meters.csv").read_bytes()) == "meters_csv"
    assert detect((FIX / "building_dst.csv").read_bytes()) == "building_export"  # cp1252 header
    assert detect((FIX / "building_utf8.csv").read_bytes()) == "building_export"
    assert detect("\ufeffZeitstempel;Zähler;Zählerstand [kWh]\r\n".encode("utf-8")) == "building_export"
    assert detect((POWER_FIX / "node_power.csv").read_bytes()) is None
    assert detect((POWER_FIX / "sacct-manyfields.txt").read_bytes()) is None


def test_meters_csv_rows_kept_as_delivered_and_quarantine():
    parsed = parse(FIX / "meters.csv", CTX)
    assert parsed.format == "meters_csv"
    assert parsed.tables["meter_readings"].schema == raw_schema("meter_readings")
    z = lambda h, m: datetime(2026, 10, 24, h, m, tzinfo=UTC)  # noqa: E731
    assert [(r["line_no"], r["reading_at"], r["meter_id"], r["kwh"]) for r in rows(parsed)] == [
        (2, z(22, 0), "M-GRID", 1234567.8),
        (3, z(22, 0), "M-IT", 800000.0),
        (4, z(22, 15), "M-GRID", 1234600.05),   # naive = UTC
        (5, z(22, 15), "M-IT", 800020.5),       # 00:15+02:00
        (6, z(22, 30), "M-GRID", 12.0),         # a reset: dbt's business
        (7, z(22, 30), "M-GRID", 12.0),         # a duplicate: dbt's business
    ]
    assert reasons(parsed) == {
        8: "kwh: 'abc' is not a number",
        9: "timestamp: '1772323200' is not ISO 8601",
        10: "meter_id: empty",
        11: "kwh: 'NaN' is NaN, not a reading",
        12: "field count: expected 3 fields (timestamp,meter_id,kwh), found 2",
    }
    assert_counts(parsed)


def test_building_export_repeated_hour_by_row_order_cp1252():
    parsed = parse(FIX / "building_dst.csv", CTX)
    assert parsed.format == "building_export"
    assert parsed.warnings == ["read as cp1252"]
    assert parsed.quarantine == []
    got = rows(parsed)
    # 01:45 CEST = 23:45 UTC the day before; 11 readings 15 min apart per meter, the
    # second pass through 02:00-02:45 being CET
    start = datetime(2026, 10, 24, 23, 45, tzinfo=UTC)
    expected = [start + timedelta(minutes=15 * i) for i in range(11)]
    for meter in ("M-GRID", "M-IT"):
        times = [r["reading_at"] for r in got if r["meter_id"] == meter]
        assert times == expected
        assert all(b - a == timedelta(minutes=15) for a, b in zip(times, times[1:]))
    grid = [r for r in got if r["meter_id"] == "M-GRID"]
    assert grid[0]["kwh"] == 1234567.8           # '1.234.567,8'
    assert grid[5]["line_no"] == 12 and grid[5]["reading_at"] == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert grid[5]["kwh"] == 1234620.3           # '1.234.620,3', the first 02:00 in winter time
    assert grid[-1]["kwh"] == 1234672.8
    assert parsed.rows_read == 22
    assert_counts(parsed)


def test_building_export_utf8_and_every_quarantine_path():
    parsed = parse(FIX / "building_utf8.csv", CTX)
    assert parsed.warnings == []
    assert [(r["line_no"], r["reading_at"], r["meter_id"], r["kwh"]) for r in rows(parsed)] == [
        (2, datetime(2026, 3, 29, 0, 45, tzinfo=UTC), "M-COOL", 98765.4),   # 01:45 CET
        (4, datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "M-COOL", 98775.5),    # 03:00 CEST
        (5, datetime(2026, 3, 29, 1, 15, tzinfo=UTC), "M-COOL", 98780.0),   # no seconds
        (10, datetime(2026, 3, 29, 2, 15, tzinfo=UTC), "M-COOL", -1.5),     # quoted
        (11, datetime(2026, 3, 29, 2, 30, tzinfo=UTC), "M-COOL", 1234.0),   # '1.234'
    ]
    assert reasons(parsed) == {
        3: "timestamp: local time 29.03.2026 02:30:00 does not exist in Europe/Berlin "
        "(skipped when summer time starts)",
        6: "kwh: '98780.5' is not a number in German notation (1.234.567,8)",
        7: "timestamp: '31.02.2026 10:00:00' is not dd.mm.yyyy HH:MM:SS",
        8: "field count: expected 3 fields (Zeitstempel;Zähler;Zählerstand [kWh]), found 2",
        9: "meter_id: empty",
    }
    assert {q.line_no: q.raw_text for q in parsed.quarantine}[3] == "29.03.2026 02:30:00;M-COOL;98.770,0"
    assert_counts(parsed)


def test_building_export_hourly_readings_and_two_years(tmp_path):
    text = (
        "Zeitstempel;Zähler;Zählerstand [kWh]\n"
        "26.10.2025 02:30:00;M-GRID;10,0\n"
        "26.10.2025 02:30:00;M-GRID;20,0\n"
        "25.10.2026 01:30:00;M-GRID;30,0\n"
        "25.10.2026 02:30:00;M-GRID;40,0\n"
        "25.10.2026 02:30:00;M-GRID;50,0\n"
        "25.10.2026 03:30:00;M-GRID;60,0\n"
    )
    f = tmp_path / "export.csv"
    f.write_bytes(text.encode("cp1252"))
    got = [r["reading_at"] for r in rows(parse(f, CTX))]
    assert got == [
        datetime(2025, 10, 26, 0, 30, tzinfo=UTC),
        datetime(2025, 10, 26, 1, 30, tzinfo=UTC),
        datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
    ]


def test_resolve_local_times_per_meter():
    # M-IT first reads 02:15 only after M-GRID went back: still its first pass (summer)
    us = lambda h, m: int((datetime(2026, 10, 25, h, m) - datetime(1970, 1, 1)).total_seconds() * 1e6)  # noqa: E731
    local = np.array([us(2, 30), us(2, 0), us(2, 15), us(2, 15)], dtype=np.int64)
    meters = ["M-GRID", "M-GRID", "M-IT", "M-IT"]
    utc, gap = resolve_local_times(local, meters, BERLIN)
    hours = [(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(x))).strftime("%H:%M") for x in utc]
    assert hours == ["00:30", "01:00", "00:15", "01:15"]
    assert not gap.any()


def test_truncated_file(tmp_path):
    data = (FIX / "building_dst.csv").read_bytes()
    cut = data[: data.rindex(b";") + 6]  # the last row cut inside '812.425,0'
    assert cut.endswith(b"M-IT;812.4")
    f = tmp_path / "cut.csv"
    f.write_bytes(cut)
    parsed = parse(f, CTX)
    assert parsed.rows_loaded == 21
    assert [(q.line_no, q.raw_text) for q in parsed.quarantine] == [(23, "25.10.2026 03:15:00;M-IT;812.4")]
    assert parsed.quarantine[0].reason.startswith("kwh: '812.4' is not a number in German notation")
    assert parsed.warnings == ["read as cp1252", "last line has no line break: the file may be truncated"]
    assert_counts(parsed)


def test_wrong_kind_file_is_rejected():
    with pytest.raises(FormatError, match="not a meter file"):
        parse(POWER_FIX / "sacct-manyfields.txt", CTX)
    with pytest.raises(FormatError, match="not a meter file"):
        parse(POWER_FIX / "node_power.csv", CTX)
    with pytest.raises(FormatError, match="does not match 'timestamp,meter_id,kwh'"):
        parse(FIX / "building_dst.csv", ParseContext(fmt="meters_csv"))
    with pytest.raises(FormatError, match="building_export: header"):
        parse(FIX / "meters.csv", ParseContext(fmt="building_export"))
    with pytest.raises(FormatError, match="not a meter format"):
        parse(FIX / "meters.csv", ParseContext(fmt="power_csv"))


def test_meter_values_csv_detected_apart_from_kwh_registers():
    assert detect((FIX / "meter_values.csv").read_bytes()) == "meter_values_csv"
    assert detect(b"value,timestamp,meter_id\n") == "meter_values_csv"  # any column order
    assert detect(b"timestamp,meter_id,kwh,value\n") is None


def test_meter_values_csv_rows_as_read_and_quarantine():
    """Water registers (m3) and temperatures (degC) keep their value as read, in their own table:
    line 3 is naive (= UTC), line 5 has an offset (00:15+02:00 = 22:15 UTC) and a negative
    temperature, which is a reading like any other."""
    parsed = parse(FIX / "meter_values.csv", CTX)
    assert parsed.format == "meter_values_csv"
    assert set(parsed.tables) == {"meter_values"}
    table = parsed.tables["meter_values"]
    assert table.schema == raw_schema("meter_values")
    z = lambda h, m: datetime(2026, 10, 24, h, m, tzinfo=UTC)  # noqa: E731
    assert [(r["line_no"], r["reading_at"], r["meter_id"], r["value"]) for r in table.to_pylist()] == [
        (2, z(22, 0), "M-WATER", 1520.25),
        (3, z(22, 0), "M-HEAT-T", 45.5),
        (4, z(22, 15), "M-WATER", 1520.75),
        (5, z(22, 15), "M-HEAT-T", -3.5),
    ]
    assert reasons(parsed) == {
        6: "value: 'abc' is not a number",
        7: "meter_id: empty",
        8: "value: 'NaN' is NaN, not a reading",
        9: "field count: expected 3 fields (timestamp,meter_id,value), found 2",
    }
    assert_counts(parsed)


def test_meter_values_loaded_with_lineage_and_quarantine(tmp_path):
    from kirz.config import load_settings
    from kirz.ingest.loader import ingest_paths
    from kirz.warehouse import open_warehouse

    settings = load_settings(env={}, home=tmp_path, pseudonym_key="k")
    first, again = ingest_paths(settings, "meters", [FIX / "meter_values.csv", FIX / "meter_values.csv"])
    assert (first.status, first.format, first.rows_loaded, first.rows_quarantined) == (
        "loaded", "meter_values_csv", 4, 4)
    assert again.status == "duplicate"
    with open_warehouse(settings.warehouse_path) as con:
        assert con.execute("select count(*), min(line_no), max(line_no) from raw.meter_values").fetchall() == [(4, 2, 5)]
        assert con.execute("select count(*) from raw.meter_readings").fetchall() == [(0,)]
        assert con.execute(
            "select source, line_no, reason from raw.quarantine order by line_no"
        ).fetchall()[0] == ("meters", 6, "value: 'abc' is not a number")


def test_meter_values_raw_suite(tmp_path):
    """Against an inventory with M-WATER (water_intake, m3), M-HEAT-T (temperature of M-HEAT) and
    M-GRID (kWh): the fixture's -3.5 degC passes, and a second file plants one defect per
    expectation: a negative water register, 120 degC, a kWh meter's value and an unknown meter."""
    from kirz.config import load_settings
    from kirz.ingest.loader import ingest_paths
    from kirz.validation import FrameScope, run_suite, suite_module
    from kirz.warehouse import open_warehouse

    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "cluster: kirz-leipzig\nfacility: {floor_area_m2: 1000, design_it_power_kw: 3000}\nnodes: []\n"
        "meters:\n  - {id: M-GRID, kind: grid_intake}\n  - {id: M-IT, kind: it}\n  - {id: M-HEAT, kind: heat_reuse}\n"
        "  - {id: M-WATER, kind: water_intake, potable: true}\n  - {id: M-HEAT-T, kind: temperature, of: M-HEAT}\n")
    settings = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    ingest_paths(settings, "inventory", [inventory])
    ingest_paths(settings, "meters", [FIX / "meter_values.csv"])
    mod = suite_module("raw.meter_values")

    def failed():
        with open_warehouse(settings.warehouse_path) as con:
            return {r["expectation"] for r in run_suite(con, mod, FrameScope(tz="Europe/Berlin")) if not r["success"]}

    assert failed() == set()
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,meter_id,value\n2026-10-25T00:00:00Z,M-WATER,-1\n2026-10-25T00:00:00Z,M-HEAT-T,120\n"
                   "2026-10-25T00:00:00Z,M-GRID,5\n2026-10-25T00:00:00Z,M-GHOST,5\n")
    ingest_paths(settings, "meters", [bad])
    assert failed() == set(mod.SEVERITY)
