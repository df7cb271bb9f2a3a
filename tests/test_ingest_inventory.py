from datetime import date
from pathlib import Path

import pytest

from kirz.config import load_settings
from kirz.ingest import loader
from kirz.ingest.base import FormatError, ParseContext
from kirz.ingest.inventory import METER_KINDS, detect, parse
from kirz.ingest.power import raw_schema
from kirz.warehouse import open_warehouse

FIX = Path(__file__).parent / "fixtures" / "inventory"
CTX = ParseContext()
FULL = (FIX / "inventory_full.yaml").read_text(encoding="utf-8")

GOOD = """\
cluster: kirz-leipzig
facility: {floor_area_m2: 1000, design_it_power_kw: 3000}
nodes:
  - {name: "gpu[001-004]", partition: gpu, rack: R01, gpus: 8, cpus: 128, idle_w: 1200, max_w: 10500}
  - {name: "cpu[01-02]", partition: cpu, rack: R07, gpus: 0, cpus: 256, idle_w: 250, max_w: 900}
meters:
  - {id: M-GRID, kind: grid_intake}
  - {id: M-IT, kind: it, parent: M-GRID}
"""


def test_detect():
    assert detect((FIX / "inventory.yaml").read_bytes()) == "inventory_yaml"
    assert detect(GOOD.encode()) == "inventory_yaml"
    assert detect(b"contract_id: C-2026-014\npartner: {id: P-0042}\n") is None
    assert detect(b"timestamp,node,watts\n") is None


def test_fixture_rows_and_lines():
    parsed = parse(FIX / "inventory.yaml", CTX)
    assert parsed.format == "inventory_yaml"
    for name, table in parsed.tables.items():
        assert table.schema == raw_schema(name)
    nodes = parsed.tables["inventory_nodes"].to_pylist()
    assert len(nodes) == 48 + 8 + 1
    # an inventory without the optional keys: no GPU model, no valid_from
    assert nodes[0] == {
        "line_no": 5, "cluster": "kirz-leipzig", "node": "gpu001", "partition": "gpu", "rack": "R01",
        "gpus": 8, "cpus": 128, "idle_w": 1200.0, "max_w": 10500.0, "gpu_model": None, "valid_from": None,
    }
    assert nodes[47]["node"] == "gpu048" and nodes[47]["line_no"] == 5
    assert [n["node"] for n in nodes[48:56]] == [f"cpu0{i}" for i in range(1, 9)]
    assert {n["line_no"] for n in nodes[48:56]} == {6}
    # the block-style entry: its line is the line of its first key
    assert nodes[56] == {
        "line_no": 7, "cluster": "kirz-leipzig", "node": "login01", "partition": "service", "rack": "R07",
        "gpus": 0, "cpus": 64, "idle_w": 180.5, "max_w": 400.0, "gpu_model": None, "valid_from": None,
    }
    meters = parsed.tables["inventory_meters"].to_pylist()
    assert [(m["line_no"], m["meter_id"], m["kind"], m["parent_meter_id"]) for m in meters] == [
        (15, "M-GRID", "grid_intake", None),
        (16, "M-IT", "it", "M-GRID"),
        (17, "M-COOL", "cooling", "M-GRID"),
        (18, "M-HEAT", "heat_reuse", None),
        (20, "M-PV", "renewable_supply", None),
    ]
    # every meter of the old inventory is read in kWh; nothing else is given
    assert {(m["unit"], m["potable"], m["of_meter_id"], m["pue_category"], m["valid_from"]) for m in meters} == {
        ("kWh", None, None, None, None)}
    facility = parsed.tables["inventory_facility"].to_pylist()
    assert facility == [{
        "line_no": 3, "cluster": "kirz-leipzig", "floor_area_m2": 1000.0, "design_it_power_kw": 3000.0,
        "valid_from": None, "name": None, "operator": None, "owner": None, "contact": None, "postcode": None,
        "lau_code": None, "nuts3": None, "dc_type": None, "commissioned_on": None, "building_area_m2": None,
        "rated_connection_kw": None, "non_redundant_connection_kw": None, "it_intake_setpoint_c": None,
    }]
    assert parsed.rows_read == 57 + 5 + 1 == parsed.rows_loaded
    assert parsed.quarantine == [] and parsed.warnings == []


def test_full_fixture_reads_every_optional_key():
    parsed = parse(FIX / "inventory_full.yaml", CTX)
    for name, table in parsed.tables.items():
        assert table.schema == raw_schema(name)
    july = date(2026, 7, 1)
    nodes = parsed.tables["inventory_nodes"].to_pylist()
    assert [(n["node"], n["gpu_model"], n["valid_from"], n["line_no"]) for n in nodes] == [
        ("gpu001", "h100", july, 21), ("gpu002", "h100", july, 21), ("cpu01", None, july, 22)]
    meters = parsed.tables["inventory_meters"].to_pylist()
    assert [(m["line_no"], m["meter_id"], m["kind"], m["unit"], m["potable"], m["of_meter_id"], m["pue_category"])
            for m in meters] == [
        (24, "M-GRID", "grid_intake", "kWh", None, None, None),
        (25, "M-IT", "it", "kWh", None, None, 1),
        (26, "M-COOL", "cooling", "kWh", None, None, None),
        (27, "M-EXPORT", "grid_export", "kWh", None, None, None),
        (28, "M-PV", "onsite_generation", "kWh", None, None, None),
        (29, "M-DIESEL", "backup_generator", "kWh", None, None, None),
        (30, "M-HEATREM", "heat_removed", "kWh", None, None, None),
        (31, "M-HEAT", "heat_reuse", "kWh", None, None, None),
        (32, "M-HEATREL", "heat_released", "kWh", None, None, None),
        (33, "M-WATER", "water_intake", "m3", True, None, None),
        (34, "M-WATER2", "water_intake", "m3", False, None, None),
        (35, "M-HEAT-T", "temperature", "degC", None, "M-HEAT", None),
    ]
    assert {m["valid_from"] for m in meters} == {july}
    assert parsed.tables["inventory_facility"].to_pylist() == [{
        "line_no": 4, "cluster": "kirz-leipzig", "floor_area_m2": 1000.0, "design_it_power_kw": 3000.0,
        "valid_from": july, "name": "KI-Rechenzentrum Leipzig", "operator": "Universität Leipzig",
        "owner": "Freistaat Sachsen", "contact": "energie-rz@example.org", "postcode": "04109",
        "lau_code": "14713000", "nuts3": "DED51", "dc_type": "enterprise", "commissioned_on": date(2026, 10, 19),
        "building_area_m2": 2400.0, "rated_connection_kw": 4500.0, "non_redundant_connection_kw": 3600.0,
        "it_intake_setpoint_c": 27.0,
    }]
    assert parsed.rows_read == 3 + 12 + 1 == parsed.rows_loaded


def test_quoted_days_are_read_as_days(tmp_path):
    f = tmp_path / "inv.yaml"
    f.write_text(FULL.replace("valid_from: 2026-07-01", 'valid_from: "2026-07-01"')
                 .replace("commissioned_on: 2026-10-19", "commissioned_on: '2026-10-19'"), encoding="utf-8")
    parsed = parse(f, CTX)
    assert parsed.tables["inventory_nodes"].column("valid_from").to_pylist() == [date(2026, 7, 1)] * 3
    assert parsed.tables["inventory_facility"].column("commissioned_on").to_pylist() == [date(2026, 10, 19)]


def test_loader_stores_the_new_columns_and_quarantines_a_bad_file(tmp_path):
    settings = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    bad = tmp_path / "bad.yaml"
    bad.write_text(FULL.replace("pue_category: 1", "pue_category: 4"), encoding="utf-8")
    good, rejected = loader.ingest_paths(settings, "inventory", [FIX / "inventory_full.yaml", bad])
    assert (good.status, good.rows_loaded, rejected.status) == ("loaded", 16, "rejected")
    with open_warehouse(settings.warehouse_path) as con:
        assert con.execute(
            "select node, gpu_model, valid_from from raw.inventory_nodes order by line_no, node"
        ).fetchall() == [("gpu001", "h100", date(2026, 7, 1)), ("gpu002", "h100", date(2026, 7, 1)),
                         ("cpu01", None, date(2026, 7, 1))]
        assert con.execute(
            "select meter_id, unit, potable, of_meter_id, pue_category from raw.inventory_meters"
            " where meter_id in ('M-IT', 'M-WATER', 'M-HEAT-T') order by meter_id"
        ).fetchall() == [("M-HEAT-T", "degC", None, "M-HEAT", None), ("M-IT", "kWh", None, None, 1),
                         ("M-WATER", "m3", True, None, None)]
        assert con.execute(
            "select name, postcode, lau_code, dc_type, commissioned_on, it_intake_setpoint_c, valid_from"
            " from raw.inventory_facility"
        ).fetchall() == [("KI-Rechenzentrum Leipzig", "04109", "14713000", "enterprise", date(2026, 10, 19), 27.0,
                          date(2026, 7, 1))]
        assert con.execute("select source_file, line_no, reason from raw.quarantine").fetchall() == [(
            str(bad), 25,
            "file rejected: inventory_yaml: meters[1].pue_category (line 25): "
            "pue_category must be 1, 2 or 3 (EN 50600-4-2), got 4",
        )]


def test_other_cluster_is_a_warning(tmp_path):
    f = tmp_path / "inv.yaml"
    f.write_text(GOOD.replace("cluster: kirz-leipzig", "cluster: test-bench"))
    parsed = parse(f, CTX)
    assert parsed.tables["inventory_facility"].column("cluster").to_pylist() == ["test-bench"]
    assert parsed.warnings == ["inventory is for cluster 'test-bench', the configured cluster is 'kirz-leipzig'"]


def reject(tmp_path, text):
    f = tmp_path / "inv.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(FormatError) as err:
        parse(f, CTX)
    assert err.value.path == str(f)
    return err.value


def test_missing_key(tmp_path):
    err = reject(tmp_path, GOOD.replace("rack: R07, ", ""))
    assert err.line_no == 5
    assert err.reason == "inventory_yaml: nodes[1].rack (line 5): required key missing (rack)"


def test_missing_section(tmp_path):
    err = reject(tmp_path, GOOD.replace("facility: {floor_area_m2: 1000, design_it_power_kw: 3000}\n", ""))
    assert err.line_no == 1 and "facility (line 1): required key missing (facility)" in err.reason


def test_wrong_type(tmp_path):
    err = reject(tmp_path, GOOD.replace("gpus: 8,", 'gpus: "8",'))
    assert err.line_no == 4
    assert err.reason == "inventory_yaml: nodes[0].gpus (line 4): Input should be a valid integer, got '8'"
    err = reject(tmp_path, GOOD.replace("rack: R07", "rack: 07"))
    assert err.line_no == 5 and "nodes[1].rack (line 5): Input should be a valid string, got 7" in err.reason


def test_unknown_meter_kind(tmp_path):
    err = reject(tmp_path, GOOD.replace("kind: it,", "kind: chiller,"))
    assert err.line_no == 8
    assert "meters[1].kind (line 8): Input should be 'grid_intake', 'it', 'cooling', 'grid_export', " in err.reason
    assert "got 'chiller'" in err.reason
    assert METER_KINDS == (
        "grid_intake", "it", "cooling", "grid_export", "onsite_generation", "backup_generator", "heat_removed",
        "heat_reuse", "heat_released", "water_intake", "temperature", "renewable_supply", "other",
    )


# each new key's faults: (replace this, by that) in FULL -> (line, reason after "inventory_yaml: ")
NEW_KEY_ERRORS = {
    "valid_from_not_a_day": (
        ("valid_from: 2026-07-01", "valid_from: 2026-07"), 3,
        "valid_from (line 3): must be a day (YYYY-MM-DD), got '2026-07'"),
    "valid_from_with_a_time": (
        ("valid_from: 2026-07-01", "valid_from: 2026-07-01 08:00:00"), 3,
        "valid_from (line 3): must be a day without a time (YYYY-MM-DD), got 2026-07-01 08:00:00"),
    "impossible_day": (
        ("commissioned_on: 2026-10-19", "commissioned_on: 2026-02-30"), 15,
        "not valid YAML: '2026-02-30' is not a valid date (day is out of range for month)"),
    "quoted_impossible_day": (
        ("commissioned_on: 2026-10-19", 'commissioned_on: "2026-02-30"'), 15,
        "facility.commissioned_on (line 15): '2026-02-30' is not a valid day (day is out of range for month)"),
    "postcode_unquoted": (
        ('postcode: "04109"', "postcode: 04103"), 11,
        'facility.postcode (line 11): must be a quoted German postcode of 5 digits (write "04109"), got 2115'),
    "postcode_digits": (
        ('postcode: "04109"', 'postcode: "4109"'), 11,
        "facility.postcode (line 11): '4109' is not a German postcode of 5 digits (e.g. \"04109\")"),
    "lau_code_unquoted": (
        ('lau_code: "14713000"', "lau_code: 14713000"), 12,
        'facility.lau_code (line 12): must be a quoted LAU code (Gemeindeschlüssel) of 8 digits '
        '(write "14713000"), got 14713000'),
    "nuts3": (
        ("nuts3: DED51", "nuts3: Leipzig"), 13,
        "facility.nuts3 (line 13): 'Leipzig' is not a German NUTS-3 code (DE and 3 capitals or digits, e.g. DED51)"),
    "dc_type": (
        ("dc_type: enterprise", "dc_type: hyperscale"), 14,
        "facility.dc_type (line 14): Input should be 'enterprise', 'colocation' or 'co-hosting', got 'hyperscale'"),
    "building_area_not_positive": (
        ("building_area_m2: 2400", "building_area_m2: 0"), 16,
        "facility.building_area_m2 (line 16): Input should be greater than 0, got 0"),
    "connection_not_a_number": (
        ("rated_connection_kw: 4500", 'rated_connection_kw: "4.5 MW"'), 17,
        "facility.rated_connection_kw (line 17): Input should be a valid number, got '4.5 MW'"),
    "non_redundant_above_rated": (
        ("non_redundant_connection_kw: 3600", "non_redundant_connection_kw: 4600"), 4,
        "facility (line 4): non_redundant_connection_kw 4600 is above rated_connection_kw 4500"),
    "setpoint_out_of_range": (
        ("it_intake_setpoint_c: 27", "it_intake_setpoint_c: 270"), 19,
        "facility.it_intake_setpoint_c (line 19): Input should be less than or equal to 45, got 270"),
    "master_data_blank": (
        ("operator: Universität Leipzig", 'operator: " "'), 8,
        "facility.operator (line 8): String should have at least 1 character, got ' '"),
    "gpu_model_without_gpus": (
        ("gpus: 0, cpus: 256", "gpus: 0, gpu_model: h100, cpus: 256"), 22,
        "nodes[1] (line 22): gpu_model 'h100' is given for a node without GPUs (gpus: 0)"),
    "unit_unknown": (
        ("kind: grid_export, unit: kWh", "kind: grid_export, unit: MWh"), 27,
        "meters[3].unit (line 27): Input should be 'kWh', 'm3' or 'degC', got 'MWh'"),
    "energy_meter_in_m3": (
        ("kind: grid_export, unit: kWh", "kind: grid_export, unit: m3"), 27,
        "meters[3] (line 27): unit 'm3' does not fit kind 'grid_export', which is read in kWh"),
    "water_not_in_m3": (
        ("kind: water_intake, unit: m3", "kind: water_intake, unit: kWh"), 34,
        "meters[10] (line 34): unit 'kWh' does not fit kind 'water_intake', which is read in m3"),
    "temperature_not_in_degC": (
        ("kind: temperature, of: M-HEAT", "kind: temperature, unit: kWh, of: M-HEAT"), 35,
        "meters[11] (line 35): unit 'kWh' does not fit kind 'temperature', which is read in degC"),
    "temperature_without_of": (
        ("kind: temperature, of: M-HEAT", "kind: temperature"), 35,
        "meters[11] (line 35): a temperature meter needs `of`: the meter whose medium it measures"),
    "of_on_another_kind": (
        ("kind: heat_released}", "kind: heat_released, of: M-HEAT}"), 32,
        "meters[8] (line 32): `of` is for temperature meters only, not kind 'heat_released'"),
    "of_names_no_meter": (
        ("of: M-HEAT}", "of: M-HAET}"), 35,
        "meters[11] (line 35): of 'M-HAET' names no other meter"),
    "of_names_itself": (
        ("of: M-HEAT}", "of: M-HEAT-T}"), 35,
        "meters[11] (line 35): of 'M-HEAT-T' names no other meter"),
    "potable_on_another_kind": (
        ("kind: heat_released}", "kind: heat_released, potable: false}"), 32,
        "meters[8] (line 32): `potable` is for water_intake meters only, not kind 'heat_released'"),
    "potable_not_a_flag": (
        ("potable: true", "potable: drinking"), 33,
        "meters[9].potable (line 33): Input should be a valid boolean, got 'drinking'"),
    "pue_category_on_another_kind": (
        ("kind: cooling, parent: M-GRID}", "kind: cooling, parent: M-GRID, pue_category: 2}"), 26,
        "meters[2] (line 26): pue_category is for it meters only, not kind 'cooling'"),
    "pue_category_range": (
        ("pue_category: 1", "pue_category: 4"), 25,
        "meters[1].pue_category (line 25): pue_category must be 1, 2 or 3 (EN 50600-4-2), got 4"),
    "pue_category_not_a_number": (
        ("pue_category: 1", 'pue_category: "1"'), 25,
        "meters[1].pue_category (line 25): Input should be a valid integer, got '1'"),
}


@pytest.mark.parametrize("case", list(NEW_KEY_ERRORS))
def test_new_key_errors_name_file_and_line(tmp_path, case):
    (old, new), line, reason = NEW_KEY_ERRORS[case]
    assert FULL.count(old) == 1
    err = reject(tmp_path, FULL.replace(old, new))
    assert (err.line_no, err.reason) == (line, "inventory_yaml: " + reason)
    assert str(err).startswith(f"{tmp_path / 'inv.yaml'}:{line}: ")


def test_unknown_key_is_refused(tmp_path):
    err = reject(tmp_path, GOOD.replace("parent: M-GRID", "parnet: M-GRID"))
    assert err.line_no == 8 and "meters[1].parnet (line 8): Extra inputs are not permitted" in err.reason


def test_parent_names_no_meter(tmp_path):
    err = reject(tmp_path, GOOD.replace("parent: M-GRID", "parent: M-GRDI"))
    assert err.line_no == 8
    assert err.reason == "inventory_yaml: meters[1] (line 8): parent 'M-GRDI' names no meter"


def test_parent_cycle(tmp_path):
    err = reject(tmp_path, GOOD.replace("{id: M-GRID, kind: grid_intake}", "{id: M-GRID, kind: grid_intake, parent: M-IT}"))
    assert err.line_no == 7 and "parent cycle M-GRID -> M-IT -> M-GRID" in err.reason


def test_node_named_twice(tmp_path):
    err = reject(tmp_path, GOOD.replace('name: "cpu[01-02]"', 'name: "cpu01,gpu003"'))
    assert err.line_no == 5
    assert err.reason == "inventory_yaml: node gpu003 named twice (lines 4 and 5)"


def test_meter_named_twice(tmp_path):
    err = reject(tmp_path, GOOD + "  - {id: M-IT, kind: other}\n")
    assert err.line_no == 9 and err.reason == "inventory_yaml: meter M-IT named twice (lines 8 and 9)"


def test_bad_host_list(tmp_path):
    err = reject(tmp_path, GOOD.replace('name: "cpu[01-02]"', 'name: "cpu[02-01]"'))
    assert err.line_no == 5 and "nodes[1].name (line 5): descending range" in err.reason


def test_max_below_idle(tmp_path):
    err = reject(tmp_path, GOOD.replace("max_w: 900", "max_w: 200"))
    assert err.line_no == 5 and err.reason == "inventory_yaml: nodes[1] (line 5): max_w 200 is below idle_w 250"


def test_key_given_twice(tmp_path):
    err = reject(tmp_path, GOOD + "cluster: other\n")
    assert err.line_no == 9 and "key 'cluster' given twice (lines 1 and 9)" in err.reason


def test_not_yaml_and_not_a_mapping(tmp_path):
    err = reject(tmp_path, GOOD.replace("meters:\n", "meters: [\n"))
    assert err.line_no is not None and "not valid YAML" in err.reason
    err = reject(tmp_path, "- just\n- a list\n")
    assert err.line_no == 1 and "not a mapping" in err.reason
    err = reject(tmp_path, "")
    assert "empty document" in err.reason


def test_wrong_kind_file(tmp_path):
    with pytest.raises(FormatError, match="not a mapping"):
        parse(Path(__file__).parent / "fixtures" / "power" / "node_power.csv", CTX)
    with pytest.raises(FormatError, match="not an inventory format"):
        parse(FIX / "inventory.yaml", ParseContext(fmt="power_csv"))
