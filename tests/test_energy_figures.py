"""The statutory energy figures, worked out by hand and run through the real path.

Files (inventory, meter CSVs, certificate ledger) -> ingest -> ``kirz.transform.transform`` ->
``kirz validate`` -> ``kirz report --kind energy_register``. Time zone Europe/Berlin; the centre
was commissioned on 1 October 2026 (after 1 July 2026: PUE limit 1.2 and ERF limit 10 %, both to
be reached two years after commissioning, i.e. from 1 October 2028; renewable share 50 % in 2026).

Meters (kWh registers read every 15 minutes from local 1 October 00:00 to 1 December 00:00, each
at a constant power): grid intake 800 kW, PV 90 kW, grid export 10 kW, IT 800 kW (PUE category 1),
cooling 60 kW, heat removed 780 kW, heat reused 110 kW, heat released 670 kW. On 10 November the
grid takes 950 kW and IT 900 kW, and the grid meter has no reading from local 06:00 to 18:00 (a
12-hour gap, more than 5 times the meter's 15 minutes): its energy still counts, but the day is
left out of the PUE. Values (m3 and
degC): potable water 0.2 m3 an hour; the heat delivered for reuse at 45 degC in October and 50 degC
in November; no temperature of the heat released. A second inventory from 1 November raises
P_DIT from 3000 to 3600 kW. The 2026 ledger: cancelled guarantees of origin 500,000 kWh, a GoO of
50,000 kWh without a cancellation day (not counted), a PPA of 143,830 kWh and the PV meter.

October has 31 x 24 + 1 = 745 hours (summer time ends on the 25th), November 720, together 1,465.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
START = datetime(2026, 10, 1, tzinfo=BERLIN).astimezone(UTC)   # 2026-09-30 22:00 UTC
END = datetime(2026, 12, 1, tzinfo=BERLIN).astimezone(UTC)     # 2026-11-30 23:00 UTC
GAP_DAY = date(2026, 11, 10)
GAP = (datetime(2026, 11, 10, 6, tzinfo=BERLIN), datetime(2026, 11, 10, 18, tzinfo=BERLIN))
KW = {"M-GRID": 800.0, "M-PV": 90.0, "M-EXPORT": 10.0, "M-IT": 800.0, "M-COOL": 60.0, "M-HEATRM": 780.0,
      "M-HEAT": 110.0, "M-HEATREL": 670.0}
GAP_DAY_KW = {"M-GRID": 950.0, "M-IT": 900.0}
SCHEMA = Path(__file__).resolve().parents[1] / "reports" / "schemas" / "energy_register.schema.json"
CSV_HEADER = ("field_id", "section", "name_de", "name_en", "unit", "value", "status", "missing_reason", "enefg_anlage3",
              "eu_2024_1364", "limit_value", "limit_comparison", "limit_in_force_from", "limit_binding", "limit_status",
              "limit_reference")

FACILITY = (
    'floor_area_m2: 1000, design_it_power_kw: {pdit}, name: KI-Rechenzentrum Leipzig, operator: Universität Leipzig, '
    'owner: Freistaat Sachsen, contact: energie-rz@example.org, postcode: "04109", lau_code: "14713000", '
    'nuts3: DED51, dc_type: enterprise, commissioned_on: 2026-10-01, building_area_m2: 2400, '
    'rated_connection_kw: 4500, non_redundant_connection_kw: 3600, it_intake_setpoint_c: 27'
)
METERS = """meters:
  - {id: M-GRID, kind: grid_intake}
  - {id: M-PV, kind: onsite_generation}
  - {id: M-EXPORT, kind: grid_export}
  - {id: M-IT, kind: it, parent: M-GRID, pue_category: 1}
  - {id: M-COOL, kind: cooling, parent: M-GRID}
  - {id: M-HEATRM, kind: heat_removed}
  - {id: M-HEAT, kind: heat_reuse}
  - {id: M-HEATREL, kind: heat_released}
  - {id: M-WATER, kind: water_intake, potable: true}
  - {id: M-HEAT-T, kind: temperature, of: M-HEAT}
"""
NODES = 'nodes:\n  - {name: gpu001, partition: gpu, rack: R01, gpus: 8, gpu_model: h100, cpus: 128, idle_w: 1200, max_w: 10500}\n'
LEDGER = """year: 2026
items:
  - {kind: goo, kwh: 500000, id: HKN-2026-000123, issuer: UBA-HKNR, technology: wind, cancelled_on: 2027-02-15, unsubsidised: true}
  - {kind: goo, kwh: 50000, id: HKN-2026-000124, issuer: UBA-HKNR, technology: solar}
  - {kind: ppa, kwh: 143830, id: PPA-2025-07, counterparty: Windpark Muster GmbH}
  - {kind: onsite, meter: M-PV}
"""


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_inputs(folder: Path) -> dict[str, list[Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    inv1, inv2 = folder / "inventory-1.yaml", folder / "inventory-2.yaml"
    inv1.write_text(f"cluster: kirz-leipzig\nfacility: {{{FACILITY.format(pdit=3000)}}}\n{NODES}{METERS}", encoding="utf-8")
    inv2.write_text(f"cluster: kirz-leipzig\nvalid_from: 2026-11-01\nfacility: {{{FACILITY.format(pdit=3600)}}}\n"
                    f"{NODES}{METERS}", encoding="utf-8")
    kwh, values = ["timestamp,meter_id,kwh"], ["timestamp,meter_id,value"]
    register = {m: 10_000.0 for m in KW}
    water = 1000.0
    t = START
    while True:
        local = t.astimezone(BERLIN)
        for m in KW:
            if m == "M-GRID" and GAP[0] < local < GAP[1]:
                continue
            kwh.append(f"{_stamp(t)},{m},{register[m]:.6f}")
        values.append(f"{_stamp(t)},M-WATER,{water:.6f}")
        values.append(f"{_stamp(t)},M-HEAT-T,{45.0 if local.month == 10 else 50.0}")
        if t >= END:
            break
        for m, kw in KW.items():
            register[m] += (GAP_DAY_KW.get(m, kw) if local.date() == GAP_DAY else kw) * 0.25
        water += 0.2 * 0.25
        t += timedelta(minutes=15)
    (folder / "meters.csv").write_text("\n".join(kwh) + "\n", encoding="utf-8")
    (folder / "values.csv").write_text("\n".join(values) + "\n", encoding="utf-8")
    (folder / "2026.yaml").write_text(LEDGER, encoding="utf-8")
    return {"inventory": [inv1, inv2], "meters": [folder / "meters.csv", folder / "values.csv"],
            "certificates": [folder / "2026.yaml"]}


def _build(root: Path, inputs: dict[str, list[Path]]):
    from kirz.config import load_settings
    from kirz.ingest.loader import ingest_paths
    from kirz.transform import transform
    from kirz.validation import validate

    settings = load_settings(env={}, home=root / "home", pseudonym_key="energy-figures-key")
    for source in ("inventory", "meters", "certificates"):
        for path in inputs.get(source, []):
            result, = ingest_paths(settings, source, [path])
            assert result.status == "loaded" and result.rows_quarantined == 0, result.message
    result = transform(settings)
    assert result.ok, result.message
    validate(settings)
    return settings


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    root = tmp_path_factory.mktemp("energy-figures")
    return _build(root, _write_inputs(root / "inputs"))


def _rows(settings, sql: str) -> list[dict]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def _figures(settings) -> dict[str, dict]:
    return {r["period"]: r for r in _rows(settings, "select * from reporting.rpt_energy_figures")}


def test_monthly_energy_and_pue_over_matched_days(centre):
    """October: E_DC = (800 + 90 - 10) kW x 745 h = 655,600 kWh, E_IT = 800 x 745 = 596,000, PUE 1.1
    on all 31 days. November: grid 800 x 696 h + 950 x 24 h = 579,600, PV 90 x 720 = 64,800, export
    7,200, E_DC = 637,200; E_IT = 800 x 696 + 900 x 24 = 578,400. 10 November (E_DC 1,030 x 24 =
    24,720 against E_IT 21,600: 1.144) is left out, the PUE is 612,480 / 556,800 = 1.1 over 29 days,
    where all 30 would give 637,200 / 578,400 = 1.1017."""
    f = _figures(centre)
    oct_, nov = f["2026-10"], f["2026-11"]
    assert (oct_["days_in_period"], oct_["days_in_operation"], oct_["days_with_meter_data"]) == (31, 31, 31)
    assert oct_["grid_intake_kwh"] == pytest.approx(596_000)
    assert oct_["onsite_generation_kwh"] == pytest.approx(67_050)
    assert oct_["grid_export_kwh"] == pytest.approx(7_450)
    assert oct_["dc_kwh"] == pytest.approx(655_600)
    assert oct_["it_kwh"] == pytest.approx(596_000)
    assert (oct_["pue_days"], oct_["pue_days_left_out"], oct_["pue_days_left_out_list"]) == (31, 0, "")
    assert oct_["pue"] == pytest.approx(1.1)
    assert nov["grid_intake_kwh"] == pytest.approx(579_600)
    assert nov["dc_kwh"] == pytest.approx(637_200)
    assert nov["it_kwh"] == pytest.approx(578_400)
    assert (nov["dc_days_measured"], nov["it_days_measured"], nov["pue_days"]) == (29, 30, 29)
    assert (nov["pue_days_left_out"], nov["pue_days_left_out_list"]) == (1, "2026-11-10")
    assert (nov["pue_dc_kwh"], nov["pue_it_kwh"]) == (pytest.approx(612_480), pytest.approx(556_800))
    assert nov["pue"] == pytest.approx(1.1)
    assert nov["dc_kwh"] / nov["it_kwh"] == pytest.approx(1.10166, abs=1e-5)   # what a PUE over every day would say
    assert oct_["dc_bg_kwh"] is None and oct_["pue_category"] == 1


def test_heat_water_cooling_and_size_by_month(centre):
    """ERF October 110 / 880 = 0.125, November 79,200 / 637,200 = 0.12429; heat delivered at 45 and
    50 degC. CER = 780 / 60 = 13. Water 0.2 m3/h: October 149 m3 -> WUE 149,000 L / 596,000 kWh =
    0.25 L/kWh; November 144 m3 / 578,400 kWh = 0.24896. P_DIT 3000 kW in October, 3600 kW in
    November (the second inventory)."""
    f = _figures(centre)
    oct_, nov = f["2026-10"], f["2026-11"]
    assert oct_["heat_reuse_kwh"] == pytest.approx(81_950) and nov["heat_reuse_kwh"] == pytest.approx(79_200)
    assert oct_["erf"] == pytest.approx(0.125) and nov["erf"] == pytest.approx(79_200 / 637_200)
    assert (oct_["heat_reuse_temp_c"], nov["heat_reuse_temp_c"]) == (pytest.approx(45), pytest.approx(50))
    assert oct_["heat_released_kwh"] == pytest.approx(670 * 745) and oct_["heat_released_temp_c"] is None
    assert (oct_["cer"], nov["cer"]) == (pytest.approx(13), pytest.approx(13))
    assert (oct_["water_intake_m3"], nov["water_intake_m3"]) == (pytest.approx(149), pytest.approx(144))
    assert oct_["water_potable_m3"] == pytest.approx(149)
    assert oct_["wue_l_per_kwh"] == pytest.approx(0.25) and nov["wue_l_per_kwh"] == pytest.approx(144_000 / 578_400)
    assert (oct_["design_it_power_kw"], nov["design_it_power_kw"]) == (pytest.approx(3000), pytest.approx(3600))
    assert (oct_["floor_area_m2"], oct_["building_area_m2"]) == (pytest.approx(1000), pytest.approx(2400))


def test_year_figures_ledger_and_co2(centre):
    """2026: E_DC 655,600 + 637,200 = 1,292,800 kWh, E_IT 1,174,400, PUE 1.1 over 60 days (10 November
    left out of 61 in operation). ERF 161,150 / 1,292,800 = 0.12465, heat at (45 x 81,950 + 50 x
    79,200) / 161,150 = 47.457 degC. WUE 293,000 / 1,174,400 = 0.24949. Ledger: GoO 500,000 (the
    uncancelled 50,000 not counted) + PPA 143,830 + PV 90 x 1,465 = 131,850 = 775,680 = 60 % of
    E_DC. P_DIT (3000 x 745 + 3600 x 720) / 1,465 = 3,294.88 kW. CO2: location 1,292,800 x 363 g
    (UBA 2024 for 2026, provisional) = 469,286.4 kg; market 1,292,800 x 0.4 x 701.47 g (AIB 2025,
    provisional) = 362,744.17 kg."""
    y = _figures(centre)["2026"]
    assert (y["days_in_period"], y["days_in_operation"], y["is_partial"]) == (365, 61, True)
    assert y["dc_kwh"] == pytest.approx(1_292_800) and y["it_kwh"] == pytest.approx(1_174_400)
    assert (y["pue_days"], y["pue_days_left_out"], y["pue_days_left_out_list"]) == (60, 1, "2026-11-10")
    assert y["pue"] == pytest.approx(1.1)
    assert y["erf"] == pytest.approx(161_150 / 1_292_800)
    assert y["heat_reuse_temp_c"] == pytest.approx(7_647_750 / 161_150)
    assert y["cer"] == pytest.approx(13)
    assert y["water_intake_m3"] == pytest.approx(293) and y["wue_l_per_kwh"] == pytest.approx(293_000 / 1_174_400)
    assert (y["eres_goo_kwh"], y["eres_ppa_kwh"]) == (pytest.approx(500_000), pytest.approx(143_830))
    assert y["eres_os_kwh"] == pytest.approx(131_850) and y["eres_tot_kwh"] == pytest.approx(775_680)
    assert y["ref"] == pytest.approx(0.6)
    assert y["design_it_power_kw"] == pytest.approx(4_827_000 / 1_465)
    assert y["co2e_location_kg"] == pytest.approx(469_286.4)
    assert y["co2e_market_kg"] == pytest.approx(362_744.1664)
    assert (y["grid_factor_year"], y["is_grid_provisional"]) == (2024, True)
    assert (y["residual_factor_year"], y["is_residual_provisional"]) == (2025, True)
    kpis = {r["kpi"]: r["value"] for r in _rows(
        centre, "select kpi, value from marts.fct_impact_kpis where period = '2026' and usage_area = 'all'")}
    assert kpis["facility_energy_kwh"] == pytest.approx(1_292_800) and kpis["pue"] == pytest.approx(1.1)
    assert kpis["erf"] == pytest.approx(161_150 / 1_292_800) and kpis["renewable_share_pct"] == pytest.approx(60)
    assert kpis["co2e_market_kg"] == pytest.approx(362_744.1664)


def test_limits_for_a_centre_commissioned_after_july_2026(centre):
    """PUE 1.1 <= 1.2 and ERF 12.5 % >= 10 %: met, binding from 1 October 2028 (two years after
    commissioning); renewable share 60 % >= 50 % (EnEfG § 11 (5) 1, in force since 2024): met."""
    limits = {r["figure"]: r for r in _rows(centre, "select * from reporting.rpt_energy_limits where year = 2026")}
    pue, erf, ref = limits["pue"], limits["erf"], limits["ref"]
    assert (pue["limit_id"], pue["limit_value"], pue["comparison"]) == ("pue_from_2026", 1.2, "max")
    assert (pue["in_force_from"], pue["is_binding"], pue["status"], pue["is_met"]) == (
        date(2028, 10, 1), False, "met", True)
    assert (erf["limit_id"], erf["limit_value"], erf["in_force_from"], erf["status"]) == (
        "erf_from_2026", 0.10, date(2028, 10, 1), "met")
    assert (ref["limit_id"], ref["limit_value"], ref["is_binding"], ref["status"]) == (
        "ref_from_2024", 0.5, True, "met")
    assert pue["commissioned_on"] == date(2026, 10, 1)


MISSING = [
    "dc_structure", "redundancy_electrical", "redundancy_cooling", "e_dc_bg_kwh", "heat_released_temp_c", "t_wh_c",
    "refrigerants", "cooling_degree_days", "wue_category", "data_volume", "grid_functions", "battery_capacity_kw",
    "ict_capacity_servers", "ict_capacity_storage_pb", "bandwidth_in_gb_s", "bandwidth_out_gb_s", "traffic_in_eb",
    "traffic_out_eb",
]


def _validate(doc: dict) -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)


def test_register_export_through_the_cli(centre):
    """`kirz report --kind energy_register --period 2026` without a recipient writes the regulator's
    JSON and CSV; the JSON validates against the schema; a second run makes no new version."""
    from typer.testing import CliRunner

    from kirz.cli import app

    args = ["report", "--kind", "energy_register", "--period", "2026", "--home", str(centre.home),
            "--db", str(centre.warehouse_path)]
    env = {"KIRZ_PSEUDONYM_KEY": "energy-figures-key", "KIRZ_TIMEZONE": "Europe/Berlin"}
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    folder = centre.reports_dir / "energy-regulator" / "2026"
    assert sorted(p.name for p in folder.iterdir()) == [
        "energy_register.v1.csv", "energy_register.v1.json", "energy_register.v1.manifest.json"]
    doc = json.loads((folder / "energy_register.v1.json").read_text(encoding="utf-8"))
    _validate(doc)
    again = CliRunner().invoke(app, args, env=env)
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in folder.iterdir())[-1] == "energy_register.v1.manifest.json"

    fields = {f["id"]: f for f in doc["fields"]}
    assert doc["reporting_year"] == 2026
    assert doc["reporting_period"] == {"from": "2026-10-01", "to": "2026-11-30", "days_in_operation": 61,
                                       "full_year": False}
    assert doc["missing"] == MISSING
    expected = {
        "name": "KI-Rechenzentrum Leipzig", "owner": "Freistaat Sachsen", "operator": "Universität Leipzig",
        "postcode": "04109", "lau_code": "14713000", "dc_type": "enterprise", "entry_into_operation": "2026-10",
        "size_class": "< 5 MW", "building_area_m2": 2400.0, "computer_room_area_m2": 1000.0, "p_dit_kw": 3294.9,
        "non_redundant_connection_kw": 3600.0, "e_dc_kwh": 1292800.0, "grid_intake_kwh": 1175600.0,
        "grid_export_kwh": 14650.0, "onsite_generation_kwh": 131850.0, "e_it_kwh": 1174400.0, "pue_category": 1,
        "pue": 1.1, "renewable_energy_factor": 0.6, "eres_tot_kwh": 775680.0, "eres_goo_kwh": 500000.0,
        "eres_ppa_kwh": 143830.0, "eres_os_kwh": 131850.0, "heat_released_kwh": 981550.0, "e_reuse_kwh": 161150.0,
        "heat_reuse_temp_c": 47.5, "erf": 0.1247, "t_in_c": 27.0, "cer": 13.0, "w_in_m3": 293.0, "w_in_pot_m3": 293.0,
        "wue_l_per_kwh": 0.249, "pue_days": 60, "pue_days_left_out": 1, "pue_days_left_out_list": "2026-11-10",
    }
    assert {k: fields[k]["value"] for k in expected} == expected
    assert {k: fields[k]["status"] for k in expected} == {k: "reported" for k in expected}
    assert fields["pue"]["limit"] == {
        "status": "met", "limit_id": "pue_from_2026", "value": 1.2, "comparison": "max", "in_force_from": "2028-10-01",
        "binding": False, "met": True, "legal_reference": fields["pue"]["limit"]["legal_reference"]}
    assert (fields["erf"]["limit"]["value"], fields["erf"]["limit"]["status"]) == (0.1, "met")
    assert (fields["renewable_energy_factor"]["limit"]["value"], fields["renewable_energy_factor"]["limit"]["binding"],
            fields["renewable_energy_factor"]["limit"]["status"]) == (0.5, True, "met")
    assert fields["e_dc_bg_kwh"]["missing_reason"] == "no backup_generator meter readings in the year"
    assert (fields["pue"]["enefg_anlage3"], fields["pue"]["eu_2024_1364"]) == (
        "EnEfG Anlage 3 Nr. 2 f", "Delegated Regulation (EU) 2024/1364 Annex III (a)")

    text = (folder / "energy_register.v1.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(CSV_HEADER)
    table = {r["field_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert list(table) == [f["id"] for f in doc["fields"]]
    assert {k: table["pue"][k] for k in ("name_de", "unit", "value", "status", "limit_value", "limit_comparison",
                                         "limit_in_force_from", "limit_binding", "limit_status")} == {
        "name_de": "Energieverbrauchseffektivität (PUE, DIN EN 50600-4-2)", "unit": "1", "value": "1.1",
        "status": "reported", "limit_value": "1.2", "limit_comparison": "max", "limit_in_force_from": "2028-10-01",
        "limit_binding": "false", "limit_status": "met"}
    assert (table["t_wh_c"]["value"], table["t_wh_c"]["status"]) == ("", "missing")


def test_delivered_to_the_outbox_only(centre):
    """With --deliver the export is copied to the regulator's outbox (JSON and CSV) and recorded, on
    its due day: the regulator's file says `deliver: {by: "03-31"}`, so the 2026 register goes out
    on 31 March 2027 and is a preview before."""
    from datetime import datetime, timezone

    from kirz.reporting.service import report

    early = report(centre, recipient="energy-regulator", period="2026", kinds=["energy_register"], deliver=True,
                   db=centre.warehouse_path, now=datetime(2027, 3, 30, 12, tzinfo=timezone.utc))
    assert [(o.delivered, o.held) for o in early] == [([], "preview: due on 2027-03-31")]
    assert not (centre.home / "outbox").exists()
    outputs = report(centre, recipient="energy-regulator", period="2026", kinds=["energy_register"], deliver=True,
                     db=centre.warehouse_path, now=datetime(2027, 3, 31, 6, tzinfo=timezone.utc))
    assert [(o.kind, o.version, o.new, o.delivered) for o in outputs] == [("energy_register", 1, False, ["outbox"])]
    outbox = centre.home / "outbox" / "energy-regulator"
    assert sorted(p.name for p in outbox.iterdir()) == ["2026.energy_register.v1.csv", "2026.energy_register.v1.json"]
    manifest = json.loads(outputs[0].manifest.read_text(encoding="utf-8"))
    assert [d["channel"] for d in manifest["deliveries"]] == ["outbox"]


@pytest.fixture(scope="module")
def old_centre(tmp_path_factory):
    """An inventory of the first format (floor area and design power only), two days of grid and IT
    readings at 500 and 400 kW, no ledger."""
    root = tmp_path_factory.mktemp("energy-old-inventory")
    inv = root / "inventory.yaml"
    inv.write_text("cluster: kirz-leipzig\nfacility: {floor_area_m2: 1000, design_it_power_kw: 3000}\n" + NODES
                   + "meters:\n  - {id: M-GRID, kind: grid_intake}\n  - {id: M-IT, kind: it, parent: M-GRID}\n",
                   encoding="utf-8")
    lines, t, k = ["timestamp,meter_id,kwh"], START, 0
    while t <= START + timedelta(days=2):
        lines += [f"{_stamp(t)},M-GRID,{500 * 0.25 * k:.3f}", f"{_stamp(t)},M-IT,{400 * 0.25 * k:.3f}"]
        t, k = t + timedelta(minutes=15), k + 1
    (root / "meters.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return _build(root, {"inventory": [inv], "meters": [root / "meters.csv"]})


def test_old_inventory_loads_and_the_export_lists_its_gaps(old_centre):
    """PUE 500 / 400 = 1.25 over both days (1 and 2 October, in operation from the first data day);
    no master data, no ledger, no heat or water meters: all listed as missing. Without
    commissioned_on the PUE and ERF limits cannot be chosen; the renewable-share limit applies to
    every centre, but there is no REF to compare."""
    from kirz.reporting.service import report

    outputs = report(old_centre, recipient="energy-regulator", period="2026", kinds=["energy_register"],
                     db=old_centre.warehouse_path)
    doc = json.loads(outputs[0].pdf.read_text(encoding="utf-8"))
    _validate(doc)
    fields = {f["id"]: f for f in doc["fields"]}
    assert doc["reporting_period"] == {"from": "2026-10-01", "to": "2026-10-02", "days_in_operation": 2,
                                       "full_year": False}
    assert (fields["pue"]["value"], fields["e_dc_kwh"]["value"], fields["p_dit_kw"]["value"]) == (1.25, 24000.0, 3000.0)
    for key in ("name", "owner", "operator", "contact", "postcode", "lau_code", "dc_type", "entry_into_operation",
                "building_area_m2", "non_redundant_connection_kw", "t_in_c", "pue_category",
                "renewable_energy_factor", "eres_tot_kwh", "e_reuse_kwh", "erf", "w_in_m3", "wue_l_per_kwh", "cer"):
        assert fields[key]["status"] == "missing" and fields[key]["value"] is None, key
        assert key in doc["missing"]
    assert fields["owner"]["missing_reason"] == "the inventory's facility block gives no `owner`"
    assert fields["renewable_energy_factor"]["missing_reason"] == (
        "no certificate ledger for the year (certificates/<year>.yaml)")
    assert fields["pue"]["limit"]["status"] == fields["erf"]["limit"]["status"] == "commissioning_unknown"
    assert (fields["renewable_energy_factor"]["limit"]["limit_id"],
            fields["renewable_energy_factor"]["limit"]["status"]) == ("ref_from_2024", "no_data")


def test_docs_list_every_register_field_with_its_paragraphs():
    """docs/energy-register.md has one table row per field, with the paragraphs the field answers."""
    from kirz.reporting.energy_register import FIELDS

    text = (Path(__file__).resolve().parents[1] / "docs" / "energy-register.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`"): line for line in text.splitlines() if line.startswith("| `")}
    for f in FIELDS:
        assert f.id in rows, f.id
        assert f.name_de in rows[f.id] and (f.eu or "") in rows[f.id]
        assert (f"Nr. {f.enefg[4:]}" if f.enefg else "") in rows[f.id]
