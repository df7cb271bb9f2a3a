"""The register export: ``kirz report --kind energy_register --period 2026``.

One JSON file and one CSV file per year with the information the operator of a data centre
must publish and submit to the German register of data centres by 31 March (EnEfG § 13 Abs. 1
and Anlage 3), which forwards it to the European database (Delegated Regulation (EU) 2024/1364,
Annexes I to III). Each field carries the register's name (German and English), its unit, its
value, and the paragraphs it answers; a value the data do not give is listed as ``missing`` with
the reason, never filled in. PUE, ERF and REF carry the EnEfG § 11 limit chosen for the centre
and whether the year's figure meets it.

The figures are columns of ``reporting.rpt_energy_register`` (one row per year) and the limits
rows of ``reporting.rpt_energy_limits``: this module only selects the year, rounds and writes.
The JSON follows ``reports/schemas/energy_register.schema.json``; the field list and its sources
are in ``docs/energy-register.md``.

Files are versioned like the rendered reports: ``<reports>/<recipient>/<year>/energy_register.v<N>.json``
and ``.csv``, then the manifest ``energy_register.v<N>.manifest.json`` (written last); unchanged
data make no new version. The register is filed through the register's portal, so the export is
delivered to the outbox, not by e-mail.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from kirz.reporting.data import require, rows
from kirz.reporting.model import Period, data_hash
from kirz.reporting.versions import export_manifests, period_dir, sha256_bytes

KIND = "energy_register"
FORMAT = "kirz-energy-register"
FORMAT_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "reports" / "schemas" / "energy_register.schema.json"

ENEFG = "EnEfG Anlage 3"
EU = "Delegated Regulation (EU) 2024/1364"


@dataclass(frozen=True)
class RegisterField:
    """One field of the register: where its value comes from and which paragraphs ask for it.

    ``column``: the column of ``rpt_energy_register`` holding the value; None when kirz's inputs do
    not describe it at all (then ``reason`` says what is missing, and the field is always missing).
    ``reason`` is also given when the column is null for a year. ``decimals``: rounding of a number.
    ``limit``: the figure of ``rpt_energy_limits`` that carries a limit (pue, erf, ref).
    """

    id: str
    section: str
    name_de: str
    name_en: str
    unit: str | None
    column: str | None
    enefg: str | None
    eu: str | None
    reason: str
    decimals: int | None = None
    limit: str | None = None


def _f(*args, **kwargs) -> RegisterField:
    return RegisterField(*args, **kwargs)


NO_DATA = "the year's data do not give it"
FIELDS: tuple[RegisterField, ...] = (
    # 1. the data centre (EnEfG Anlage 3 Nr. 1; EU Annex I 1 and 2)
    _f("name", "data_centre", "Bezeichnung des Rechenzentrums", "Data centre name", None, "facility_name",
       "Nr. 1 a", "Annex I 1 (a)", "the inventory's facility block gives no `name`"),
    _f("owner", "data_centre", "Eigentümer des Rechenzentrums", "Owner of the data centre", None, "owner",
       "Nr. 1 b", "Annex I 1 (b)", "the inventory's facility block gives no `owner`"),
    _f("operator", "data_centre", "Betreiber des Rechenzentrums", "Operator of the data centre", None, "operator",
       "Nr. 1 b", "Annex I 1 (b)", "the inventory's facility block gives no `operator`"),
    _f("contact", "data_centre", "Kontaktdaten von Eigentümer und Betreiber", "Contact details of owner and operator",
       None, "contact", None, "Annex I 1 (b)", "the inventory's facility block gives no `contact`"),
    _f("postcode", "data_centre", "Postleitzahl des Standorts", "Postcode of the site", None, "postcode",
       "Nr. 1 d", None, "the inventory's facility block gives no `postcode`"),
    _f("lau_code", "data_centre", "LAU-Code des Standorts", "LAU code of the site", None, "lau_code",
       None, "Annex I 1 (c)", "the inventory's facility block gives no `lau_code`"),
    _f("dc_type", "data_centre", "Art des Rechenzentrums", "Type of data centre", None, "dc_type",
       None, "Annex I 1 (d)", "the inventory's facility block gives no `dc_type`"),
    _f("dc_structure", "data_centre", "Struktur oder Gruppe von Strukturen", "Structure or group of structures", None,
       None, None, "Annex I 1 (d)", "the inventory does not record whether the centre is one structure or a group"),
    _f("entry_into_operation", "data_centre", "Jahr und Monat der Inbetriebnahme",
       "Year and month of entry into operation", "YYYY-MM", "entry_into_operation", None, "Annex I 1 (e)",
       "the inventory's facility block gives no `commissioned_on`"),
    _f("size_class", "data_centre", "Größenklasse nach Informationstechnik-Anschlussleistung",
       "Size class by IT connection power", None, "size_class", "Nr. 1 c", None, NO_DATA),
    _f("building_area_m2", "data_centre", "Gesamtgröße der Gebäudefläche (S_DC)", "Data centre total floor area (S_DC)",
       "m2", "building_area_m2", "Nr. 1 e", "Annex II 1 (b)",
       "the inventory's facility block gives no `building_area_m2`", decimals=1),
    _f("computer_room_area_m2", "data_centre", "Fläche der Rechnerräume (S_CR)",
       "Data centre computer room floor area (S_CR)", "m2", "floor_area_m2", None, "Annex II 1 (c)", NO_DATA,
       decimals=1),
    _f("p_dit_kw", "data_centre", "Nennanschlussleistung der Informationstechnik (P_DIT)",
       "Installed information technology power demand (P_DIT)", "kW", "design_it_power_kw", "Nr. 1 f",
       "Annex II 1 (a)", NO_DATA, decimals=1),
    _f("non_redundant_connection_kw", "data_centre", "Nicht redundante Nennanschlussleistung des Rechenzentrums",
       "Non-redundant rated connection power of the data centre", "kW", "non_redundant_connection_kw", "Nr. 1 f",
       None, "the inventory's facility block gives no `non_redundant_connection_kw`", decimals=1),
    _f("redundancy_electrical", "data_centre", "Redundanz der elektrischen Infrastruktur",
       "Electrical infrastructure redundancy level", None, None, None, "Annex I 2 (a)",
       "the inventory does not record redundancy levels"),
    _f("redundancy_cooling", "data_centre", "Redundanz der Kühlinfrastruktur",
       "Cooling infrastructure redundancy level", None, None, None, "Annex I 2 (b)",
       "the inventory does not record redundancy levels"),
    # 2. operation in the calendar year (EnEfG Anlage 3 Nr. 2; EU Annex II 1 and Annex III)
    _f("e_dc_kwh", "energy", "Gesamtstromverbrauch inklusive Eigenerzeugung (E_DC)",
       "Total energy consumption (E_DC)", "kWh", "dc_kwh", "Nr. 2 a", "Annex II 1 (d)",
       "no grid intake readings in the year", decimals=1),
    _f("grid_intake_kwh", "energy", "Gesamtstrombezug", "Electricity taken from the grid", "kWh", "grid_intake_kwh",
       "Nr. 2 a", None, "no grid intake readings in the year", decimals=1),
    _f("grid_export_kwh", "energy", "Stromrückspeisung in das Versorgungsnetz", "Electricity fed back into the grid",
       "kWh", "grid_export_kwh", "Nr. 2 a", None, "no grid_export meter readings in the year", decimals=1),
    _f("onsite_generation_kwh", "energy", "Eigenerzeugung", "On-site generation", "kWh", "onsite_generation_kwh",
       "Nr. 2 a", None, "no onsite_generation meter readings in the year", decimals=1),
    _f("e_dc_bg_kwh", "energy", "davon aus Netzersatzanlagen (E_DC-BG)", "of which from backup generators (E_DC-BG)",
       "kWh", "dc_bg_kwh", None, "Annex II 1 (d)", "no backup_generator meter readings in the year", decimals=1),
    _f("e_it_kwh", "energy", "Energieverbrauch der Informationstechnik (E_IT)",
       "Total energy consumption of IT equipment (E_IT)", "kWh", "it_kwh", None, "Annex II 1 (e)",
       "no IT meter readings in the year", decimals=1),
    _f("pue_category", "energy", "Kategorie der PUE-Messung (DIN EN 50600-4-2)",
       "PUE measurement category (EN 50600-4-2)", None, "pue_category", None, "Annex II 1 (e)",
       "the inventory gives no `pue_category` for the IT meters"),
    _f("pue", "energy", "Energieverbrauchseffektivität (PUE, DIN EN 50600-4-2)", "Power usage effectiveness (PUE)",
       "1", "pue", "Nr. 2 f", "Annex III (a)", "no day in the year with E_DC and E_IT both measured",
       decimals=3, limit="pue"),
    _f("renewable_energy_factor", "energy",
       "Anteil der erneuerbaren Energien am Gesamtstromverbrauch (REF, DIN EN 50600-4-3)",
       "Renewable energy factor (REF)", "1", "ref", "Nr. 2 b", "Annex III (d)",
       "no certificate ledger for the year (certificates/<year>.yaml)", decimals=4, limit="ref"),
    _f("eres_tot_kwh", "energy", "Erneuerbare Energien gesamt (ERES-TOT)",
       "Total renewable energy consumption (ERES-TOT)", "kWh", "eres_tot_kwh", None, "Annex II 1 (o)",
       "no certificate ledger for the year", decimals=1),
    _f("eres_goo_kwh", "energy", "davon aus entwerteten Herkunftsnachweisen (ERES-GOO)",
       "of which from guarantees of origin (ERES-GOO)", "kWh", "eres_goo_kwh", None, "Annex II 1 (p)",
       "no certificate ledger for the year", decimals=1),
    _f("eres_ppa_kwh", "energy", "davon aus Stromlieferverträgen (ERES-PPA)",
       "of which from power purchase agreements (ERES-PPA)", "kWh", "eres_ppa_kwh", None, "Annex II 1 (q)",
       "no certificate ledger for the year", decimals=1),
    _f("eres_os_kwh", "energy", "davon aus erneuerbarer Eigenerzeugung (ERES-OS)",
       "of which from on-site renewables (ERES-OS)", "kWh", "eres_os_kwh", None, "Annex II 1 (r)",
       "no certificate ledger for the year", decimals=1),
    # heat
    _f("heat_released_kwh", "heat", "An Luft, Gewässer oder Boden abgegebene Abwärme",
       "Waste heat released to air, water or ground", "kWh", "heat_released_kwh", "Nr. 2 c", None,
       "no heat_released meter readings in the year", decimals=1),
    _f("heat_released_temp_c", "heat", "Durchschnittliche Temperatur der abgegebenen Abwärme",
       "Mean temperature of the waste heat released", "degC", "heat_released_temp_c", "Nr. 2 c", None,
       "no temperature meter of a heat_released meter in the year", decimals=1),
    _f("e_reuse_kwh", "heat", "An Wärmeabnehmer gelieferte Abwärme (E_REUSE)", "Waste heat reused (E_REUSE)", "kWh",
       "heat_reuse_kwh", "Nr. 2 d", "Annex II 1 (j)", "no heat_reuse meter readings in the year", decimals=1),
    _f("heat_reuse_temp_c", "heat", "Durchschnittliche Temperatur der gelieferten Abwärme",
       "Mean temperature of the waste heat delivered", "degC", "heat_reuse_temp_c", "Nr. 2 d", None,
       "no temperature meter of a heat_reuse meter in the year", decimals=1),
    _f("erf", "heat", "Anteil der wiederverwendeten Energie (ERF, DIN EN 50600-4-6)", "Energy reuse factor (ERF)", "1",
       "erf", "Nr. 2 g", "Annex III (c)", "no day in the year with heat reuse and E_DC", decimals=4, limit="erf"),
    _f("t_wh_c", "heat", "Durchschnittliche Abwärmetemperatur am Wärmetauscher der Rechnerräume (T_WH)",
       "Average waste heat temperature (T_WH)", "degC", None, None, "Annex II 1 (k)",
       "no temperature meter at the computer-room heat exchangers is part of kirz's inputs"),
    _f("t_in_c", "heat", "Sollwert der Zulufttemperatur der Informationstechnik (T_IN)",
       "Average set point IT equipment intake air temperature (T_IN)", "degC", "it_intake_setpoint_c", None,
       "Annex II 1 (l)", "the inventory's facility block gives no `it_intake_setpoint_c`", decimals=1),
    _f("cer", "heat", "Effizienz des Kühlsystems (CER, DIN EN 50600-4-7)", "Cooling efficiency ratio (CER)", "1",
       "cer", "Nr. 2 h", None, "no day in the year with heat_removed and cooling meter readings", decimals=3),
    _f("refrigerants", "heat", "Arten der Kältemittel", "Types of refrigerants", None, None, None, "Annex II 1 (m)",
       "the inventory does not record refrigerants"),
    _f("cooling_degree_days", "heat", "Kühlgradtage (CDD)", "Cooling degree days (CDD)", "degree-days", None, None,
       "Annex II 1 (n)", "cooling degree days of the site are not part of kirz's inputs"),
    # water
    _f("w_in_m3", "water", "Wassereinsatz gesamt (W_IN)", "Total water input (W_IN)", "m3", "water_intake_m3", None,
       "Annex II 1 (h)", "no water_intake meter readings in the year", decimals=3),
    _f("w_in_pot_m3", "water", "Trinkwassereinsatz (W_IN-POT)", "Total potable water input (W_IN-POT)", "m3",
       "water_potable_m3", None, "Annex II 1 (i)", "no potable water_intake meter readings in the year", decimals=3),
    _f("wue_l_per_kwh", "water", "Effizienzkennzahl der Wassernutzung (WUE, DIN EN 50600-4-9)",
       "Water usage effectiveness (WUE)", "L/kWh", "wue_l_per_kwh", "Nr. 2 i", "Annex III (b)",
       "no day in the year with water intake and E_IT", decimals=3),
    _f("wue_category", "water", "WUE-Kategorie (DIN EN 50600-4-9)", "WUE category used (EN 50600-4-9)", None, None,
       None, "Annex II 1 (h)", "the inventory does not record the WUE category of the water meters"),
    # the rest of Anlage 3 and Annex II that kirz's inputs do not describe
    _f("data_volume", "other", "Menge der gespeicherten und verarbeiteten Daten",
       "Amount of data stored and processed", None, None, "Nr. 2 e", None,
       "data volumes are not part of kirz's inputs"),
    _f("grid_functions", "other", "Netzdienliche Funktionen", "Electrical grid functions", None, None, None,
       "Annex II 1 (f)", "grid functions are not part of kirz's inputs"),
    _f("battery_capacity_kw", "other", "Durchschnittliche dem Netz angebotene Batteriekapazität (C_BtG)",
       "Average battery capacity offered to the grid (C_BtG)", "kW", None, None, "Annex II 1 (g)",
       "battery capacity offered to the grid is not part of kirz's inputs"),
    _f("ict_capacity_servers", "other", "IKT-Kapazität der Server (C_SERV)", "ICT capacity for servers (C_SERV)",
       "SERT", None, None, "Annex II 2 (a)", "SERT ratings of the servers are not part of the inventory"),
    _f("ict_capacity_storage_pb", "other", "IKT-Kapazität der Speichersysteme (C_STOR)",
       "ICT capacity for storage equipment (C_STOR)", "PB", None, None, "Annex II 2 (b)",
       "storage capacities are not part of the inventory"),
    _f("bandwidth_in_gb_s", "other", "Bandbreite eingehend (B_IN)", "Incoming traffic bandwidth (B_IN)", "GB/s", None,
       None, "Annex II 3 (a)", "network bandwidths are not part of kirz's inputs"),
    _f("bandwidth_out_gb_s", "other", "Bandbreite ausgehend (B_OUT)", "Outgoing traffic bandwidth (B_OUT)", "GB/s",
       None, None, "Annex II 3 (b)", "network bandwidths are not part of kirz's inputs"),
    _f("traffic_in_eb", "other", "Eingehender Datenverkehr (T_IN)", "Incoming data traffic (T_IN)", "EB", None, None,
       "Annex II 3 (c)", "data traffic is not part of kirz's inputs"),
    _f("traffic_out_eb", "other", "Ausgehender Datenverkehr (T_OUT)", "Outgoing data traffic (T_OUT)", "EB", None, None,
       "Annex II 3 (d)", "data traffic is not part of kirz's inputs"),
    # how the PUE was taken (kirz's coverage of the year)
    _f("pue_days", "coverage", "Tage der PUE-Berechnung", "Days the PUE is taken over", "d", "pue_days", None, None,
       NO_DATA),
    _f("pue_days_left_out", "coverage", "Ausgelassene Betriebstage", "Days in operation left out of the PUE", "d",
       "pue_days_left_out", None, None, NO_DATA),
    _f("pue_days_left_out_list", "coverage", "Ausgelassene Tage", "Days left out", None, "pue_days_left_out_list",
       None, None, NO_DATA),
)
CSV_COLUMNS = (
    "field_id", "section", "name_de", "name_en", "unit", "value", "status", "missing_reason", "enefg_anlage3",
    "eu_2024_1364", "limit_value", "limit_comparison", "limit_in_force_from", "limit_binding", "limit_status",
    "limit_reference",
)


def _value(raw, fld: RegisterField):
    if raw is None or raw == "":
        return None
    if isinstance(raw, (date, datetime)):
        return raw.isoformat()
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return round(raw, fld.decimals if fld.decimals is not None else 6)
    return str(raw)


def _day(raw) -> str | None:
    return raw.isoformat() if raw is not None else None


def _write(path: Path, data: bytes) -> None:
    """Write through a hidden temporary file and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _limit(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {
        "status": row["status"],
        "limit_id": row["limit_id"],
        "value": row["limit_value"],
        "comparison": row["comparison"],
        "in_force_from": row["in_force_from"].isoformat() if row["in_force_from"] else None,
        "binding": bool(row["is_binding"]),
        "met": row["is_met"],
        "legal_reference": row["legal_reference"],
    }


def build_register(con, period: Period) -> dict:
    """The register content of a year, as a JSON-ready dict (without provenance)."""
    if period.kind != "year":
        raise ValueError(f"the register covers a calendar year, not {period.kind} {period.label}")
    require(con, "reporting.rpt_energy_register", "reporting.rpt_energy_limits")
    found = rows(con, "select * from reporting.rpt_energy_register where year = ?", [period.year])
    row = found[0] if found else {}
    limits = {r["figure"]: r for r in rows(con, "select * from reporting.rpt_energy_limits where year = ?",
                                            [period.year])}
    fields = []
    for fld in FIELDS:
        value = _value(row.get(fld.column), fld) if fld.column else None
        fields.append({
            "id": fld.id,
            "section": fld.section,
            "name_de": fld.name_de,
            "name_en": fld.name_en,
            "unit": fld.unit,
            "value": value,
            "status": "reported" if value is not None else "missing",
            "missing_reason": None if value is not None else (fld.reason if row else "no data for the year"),
            "enefg_anlage3": f"{ENEFG} {fld.enefg}" if fld.enefg else None,
            "eu_2024_1364": f"{EU} {fld.eu}" if fld.eu else None,
            "source": f"reporting.rpt_energy_register.{fld.column}" if fld.column else None,
            "limit": _limit(limits.get(fld.limit)) if fld.limit else None,
        })
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "register": {
            "de": "Energieeffizienzregister für Rechenzentren (EnEfG § 13 Abs. 1, § 14, Anlage 3)",
            "en": "Register of data centres (EnEfG § 13 (1), § 14, Annex 3) and European database on data "
                  "centres (Delegated Regulation (EU) 2024/1364, Annexes I to III)",
        },
        "reporting_year": period.year,
        "reporting_period": {
            "from": _day(row.get("operation_from")),
            "to": _day(row.get("operation_to")),
            "days_in_operation": row.get("days_in_operation"),
            "full_year": bool(row.get("is_full_year")),
        },
        "fields": fields,
        "missing": [f["id"] for f in fields if f["status"] == "missing"],
    }


def register_csv(doc: dict) -> str:
    """One row per field, the columns of CSV_COLUMNS (UTF-8, comma-separated, header first)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in doc["fields"]:
        lim = f["limit"] or {}
        writer.writerow([
            f["id"], f["section"], f["name_de"], f["name_en"], f["unit"] or "",
            "" if f["value"] is None else f["value"], f["status"], f["missing_reason"] or "",
            f["enefg_anlage3"] or "", f["eu_2024_1364"] or "",
            "" if lim.get("value") is None else lim["value"], lim.get("comparison") or "",
            lim.get("in_force_from") or "", "" if not lim else str(lim["binding"]).lower(), lim.get("status") or "",
            lim.get("legal_reference") or "",
        ])
    return buf.getvalue()


def export_register(settings, con, db_path, recipient, period: Period, gate: dict, *, code_version: str):
    """Write the register export of ``period`` for ``recipient`` (a new version only when the content
    changed) and return it as a :class:`~kirz.reporting.service.ReportOutput` (``pdf`` = the JSON file)."""
    from kirz.reporting.service import ReportOutput

    doc = build_register(con, period)
    h = data_hash(doc)
    folder = period_dir(settings.reports_dir, recipient.id, period.label)
    versions = export_manifests(folder, KIND)
    latest = versions[-1] if versions else None
    lang = recipient.languages[0]
    if latest and latest["data_hash"] == h:
        n = latest["version"]
        return ReportOutput(recipient=recipient.id, kind=KIND, period=period.label, lang=lang, version=n, new=False,
                            html=None, pdf=folder / f"{KIND}.v{n}.json", csv=folder / f"{KIND}.v{n}.csv",
                            manifest=Path(latest["_path"]), data_hash=h, gate=gate)
    n = (latest["version"] + 1) if latest else 1
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    doc["provenance"] = {
        "recipient": recipient.id, "version": n, "created_at": created, "code_version": code_version,
        "warehouse": str(db_path), "data_hash": h, "gate": gate["status"], "gate_override_id": gate["override_id"],
    }
    json_bytes = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    csv_bytes = register_csv(doc).encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = folder / f"{KIND}.v{n}.json", folder / f"{KIND}.v{n}.csv"
    _write(json_path, json_bytes)
    _write(csv_path, csv_bytes)
    manifest = {
        "recipient": recipient.id, "recipient_name": recipient.name, "kind": KIND, "period": period.label,
        "version": n, "data_hash": h, "created_at": created, "code_version": code_version,
        "warehouse": str(db_path), "scope": recipient.scope.to_json(),
        "gate": {"status": gate["status"], "override_id": gate["override_id"], "reason": gate["reason"],
                 "by": gate["by"], "when": gate["when"].isoformat() if gate["when"] else None},
        "missing": doc["missing"],
        "files": {json_path.name: sha256_bytes(json_bytes), csv_path.name: sha256_bytes(csv_bytes)},
        "deliveries": [],
    }
    manifest_path = folder / f"{KIND}.v{n}.manifest.json"
    _write(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
    return ReportOutput(recipient=recipient.id, kind=KIND, period=period.label, lang=lang, version=n, new=True,
                        html=None, pdf=json_path, csv=csv_path, manifest=manifest_path, data_hash=h, gate=gate)
