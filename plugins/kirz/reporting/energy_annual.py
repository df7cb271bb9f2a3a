"""The annual energy report of the whole centre.

Reads ``reporting.rpt_energy_register`` (the operator's master data and the statutory figures
of the year by EN 50600-4-x), ``reporting.rpt_energy_limits`` (the EnEfG § 11 limit in force and
met / not met), ``marts.fct_impact_kpis`` (energy KPIs per period), ``reporting.rpt_period_coverage``
(facility, capacity, days with data) and ``reporting.rpt_energy_period`` (meter sums per month).
"""

from __future__ import annotations

from kirz.reporting.data import (
    appendix, catalogue, confidential_names, coverage, coverage_view, kpis, previous_with_data, require, rows,
)
from kirz.reporting.model import Figure, L, Period, Q
from kirz.reporting.recipients import Recipient

HEADLINE = (
    ("facility_energy_kwh", "kwh", 0), ("it_energy_kwh", "kwh", 0), ("pue", "ratio", 2), ("erf", "ratio", 2),
    ("renewable_share_pct", "pct", 1), ("co2e_location_kg", "kg", 0), ("co2e_market_kg", "kg", 0),
    ("gpu_utilization_pct", "pct", 1), ("gpu_used_pct", "pct", 1), ("avg_it_load_kw", "kw", 1), ("peak_it_load_kw", "kw", 1),
)
METER_SUMS = ("grid_kwh", "it_kwh", "cooling_kwh", "heat_reuse_kwh", "renewable_kwh")
MASTER = ("facility_name", "operator", "owner", "contact", "postcode", "lau_code", "dc_type", "commissioned_on",
          "size_class")
# the statutory figures of the year: (column of rpt_energy_register, unit, decimals, figure of rpt_energy_limits)
STATUTORY = (
    ("dc_kwh", "kwh", 0, None), ("grid_intake_kwh", "kwh", 0, None), ("onsite_generation_kwh", "kwh", 0, None),
    ("grid_export_kwh", "kwh", 0, None), ("dc_bg_kwh", "kwh", 0, None), ("it_kwh", "kwh", 0, None),
    ("pue", "ratio", 2, "pue"), ("erf", "ratio", 2, "erf"), ("heat_reuse_temp_c", "degc", 1, None),
    ("ref", "ratio", 2, "ref"), ("wue_l_per_kwh", "ratio", 2, None), ("cer", "ratio", 2, None),
    ("water_intake_m3", "m3", 0, None), ("design_it_power_kw", "kw", 0, None),
)


def statutory(con, period: Period) -> dict:
    """Master data and the statutory figures of a year, each with its limit and verdict."""
    require(con, "reporting.rpt_energy_register", "reporting.rpt_energy_limits")
    if period.kind != "year":
        return {"available": False, "master": [], "figures": []}
    reg = rows(con, "select * from reporting.rpt_energy_register where year = ?", [period.year])
    if not reg:
        return {"available": False, "master": [], "figures": []}
    r = reg[0]
    limits = {x["figure"]: x for x in rows(con, "select * from reporting.rpt_energy_limits where year = ?",
                                            [period.year])}
    figures = []
    for col, unit, dec, limit_of in STATUTORY:
        lim = limits.get(limit_of) if limit_of else None
        figures.append({
            "key": col, "label": L("register_fields", col), "value": Q(r[col], unit, dec),
            "limit": Q(lim["limit_value"], unit, dec) if lim else None,
            "comparison": L("comparison", lim["comparison"]) if lim else None,
            "in_force_from": lim["in_force_from"] if lim else None,
            "binding": bool(lim["is_binding"]) if lim else None,
            "status": L("limit_status", lim["status"]) if lim else None,
            "status_key": lim["status"] if lim else "",
            "legal_reference": lim["legal_reference"] if lim else "",
        })
    return {
        "available": True,
        "master": [{"label": L("register_fields", k), "value": "" if r[k] is None else r[k]} for k in MASTER],
        "figures": figures,
        "pue_category": r["pue_category"],
        "pue_days_left_out": Q(r["pue_days_left_out"], "count"),
        "pue_days_left_out_list": r["pue_days_left_out_list"] or "",
    }


def build_energy_report(con, recipient: Recipient, period: Period, settings, *, run_id: str,
                        code_version: str, db_path=None) -> dict:
    cov = coverage(con, period)
    prev = previous_with_data(con, period)
    cur = kpis(con, period)
    old = kpis(con, prev) if prev else {}
    figures: list[Figure] = []
    headline = []
    for key, unit, dec in HEADLINE:
        q = Q(cur.get(key), unit, dec)
        headline.append({"key": key, "label": L("kpi", key), "value": q,
                         "previous": Q(old.get(key), unit, dec) if prev else None})
        figures.append(Figure(f"year.{key}", L("kpi", key), q))
    figures.append(Figure("year.avg_it_load_design_pct", L("kpi", "avg_load_share_of_design"),
                          Q(cur.get("avg_it_load_design_pct"), "pct", 1)))

    months = [m for m in period.months() if coverage(con, m) is not None]
    monthly = []
    series = {k: [] for k in ("pue", "gpu_utilization_pct", "it_energy_kwh", "facility_energy_kwh", "renewable_share_pct")}
    for m in months:
        k = kpis(con, m)
        mc = coverage(con, m)
        monthly.append({"month": m, "days": Q(mc["days_with_data"], "count"),
                        "facility": Q(k.get("facility_energy_kwh"), "kwh", 0),
                        "it": Q(k.get("it_energy_kwh"), "kwh", 0), "pue": Q(k.get("pue"), "ratio", 2),
                        "erf": Q(k.get("erf"), "ratio", 2), "renewable": Q(k.get("renewable_share_pct"), "pct", 1),
                        "utilisation": Q(k.get("gpu_utilization_pct"), "pct", 1),
                        "avg_load": Q(k.get("avg_it_load_kw"), "kw", 0), "peak_load": Q(k.get("peak_it_load_kw"), "kw", 0)})
        for key in series:
            series[key].append(k.get(key))
        figures.append(Figure(f"month.{m.label}.pue", L("kpi", "pue"), Q(k.get("pue"), "ratio", 2), m.label))
        figures.append(Figure(f"month.{m.label}.facility_energy_kwh", L("kpi", "facility_energy_kwh"),
                              Q(k.get("facility_energy_kwh"), "kwh", 0), m.label))

    require(con, "reporting.rpt_energy_period")
    labels = [m.label for m in months] + [period.label]
    by_p = {r["period"]: r for r in rows(
        con, "select * from reporting.rpt_energy_period where period in (select unnest(?::varchar[]))", [labels])}
    meter_rows = [{"month": m, "days": Q((by_p.get(m.label) or {}).get("days_with_meter_data"), "count"),
                   **{k: Q((by_p.get(m.label) or {}).get(k), "kwh", 0) for k in METER_SUMS}} for m in months]
    year_row = by_p.get(period.label) or {}
    meters = {"available": bool(meter_rows), "rows": meter_rows,
              "total": {"days": Q(year_row.get("days_with_meter_data"), "count"),
                        **{k: Q(year_row.get(k), "kwh", 0) for k in METER_SUMS}}}
    return {
        "kind": "energy_annual",
        "recipient": {"id": recipient.id, "name": recipient.name},
        "period": period,
        "previous_period": prev,
        "coverage": coverage_view(cov, period),
        "facility": {
            "floor_area_m2": Q(cov and cov["floor_area_m2"], "m2", 0),
            "design_it_power_kw": Q(cov and cov["design_it_power_kw"], "kw", 0),
            "installed_gpus": Q(cov and cov["installed_gpus"], "count"),
            "gpu_nodes": Q(cov and cov["gpu_nodes"], "count"),
            "cpu_nodes": Q(cov and cov["cpu_nodes"], "count"),
            "days_in_operation": Q(cov and cov["days_in_operation"], "count"),
            "avg_load_share_of_design": Q(cur.get("avg_it_load_design_pct"), "pct", 1),
            "peak_load_share_of_design": Q(cur.get("peak_it_load_design_pct"), "pct", 1),
        },
        "statutory": statutory(con, period),
        "headline": headline,
        "monthly": monthly,
        "series": {"months": months, **series},
        "meters": meters,
        "figures": figures,
        **appendix(con, period, settings, confidential_names(catalogue(con)), run_id=run_id,
                   code_version=code_version, db_path=db_path),
    }
