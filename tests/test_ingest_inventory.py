from pathlib import Path

import pytest

from kirz.ingest.base import FormatError, ParseContext
from kirz.ingest.inventory import METER_KINDS, detect, parse
from kirz.ingest.power import raw_schema

FIX = Path(__file__).parent / "fixtures" / "inventory"
CTX = ParseContext()

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
    assert nodes[0] == {
        "line_no": 5, "cluster": "kirz-leipzig", "node": "gpu001", "partition": "gpu", "rack": "R01",
        "gpus": 8, "cpus": 128, "idle_w": 1200.0, "max_w": 10500.0,
    }
    assert nodes[47]["node"] == "gpu048" and nodes[47]["line_no"] == 5
    assert [n["node"] for n in nodes[48:56]] == [f"cpu0{i}" for i in range(1, 9)]
    assert {n["line_no"] for n in nodes[48:56]} == {6}
    # the block-style entry: its line is the line of its first key
    assert nodes[56] == {
        "line_no": 7, "cluster": "kirz-leipzig", "node": "login01", "partition": "service", "rack": "R07",
        "gpus": 0, "cpus": 64, "idle_w": 180.5, "max_w": 400.0,
    }
    meters = parsed.tables["inventory_meters"].to_pylist()
    assert [(m["line_no"], m["meter_id"], m["kind"], m["parent_meter_id"]) for m in meters] == [
        (15, "M-GRID", "grid_intake", None),
        (16, "M-IT", "it", "M-GRID"),
        (17, "M-COOL", "cooling", "M-GRID"),
        (18, "M-HEAT", "heat_reuse", None),
        (20, "M-PV", "renewable_supply", None),
    ]
    assert parsed.tables["inventory_facility"].to_pylist() == [
        {"line_no": 3, "cluster": "kirz-leipzig", "floor_area_m2": 1000.0, "design_it_power_kw": 3000.0}
    ]
    assert parsed.rows_read == 57 + 5 + 1 == parsed.rows_loaded
    assert parsed.quarantine == [] and parsed.warnings == []


def test_other_cluster_is_a_warning(tmp_path):
    f = tmp_path / "inv.yaml"
    f.write_text(GOOD.replace("cluster: kirz-leipzig", "cluster: test-bench"))
    parsed = parse(f, CTX)
    assert parsed.tables["inventory_facility"].column("cluster").to_pylist() == ["test-bench"]
    assert parsed.warnings == ["inventory is for cluster 'test-bench', the configured cluster is 'kirz-leipzig'"]


def reject(tmp_path, text):
    f = tmp_path / "inv.yaml"
    f.write_text(text)
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
    assert "meters[1].kind (line 8): Input should be 'grid_intake', 'it', 'cooling', 'heat_reuse', " in err.reason
    assert "got 'chiller'" in err.reason
    assert METER_KINDS == ("grid_intake", "it", "cooling", "heat_reuse", "renewable_supply", "other")


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
