"""The partner statement: one partner's contracts over a month, or over a calendar year.

A statement the partner can check and file: its legal name (confidentiality protects a partner
from third parties, not from itself), a statement number (``KIRZ-<period>-<partner>``, the
renderer appends ``-v<version>``), each contract's term and position (allotment, used in the
period and to date, remaining), the amounts (GPU-hours x contract price = net, the value at
list price and the subsidy, VAT and gross), the de-minimis notice where the partner is an
undertaking (Reg. (EU) 2023/2831, art. 6 (1): the aid granted, in writing, with the regulation's
title), the energy attributable to it (for a year: the customer information of EnEfG § 15),
its use by day (by month for a year; days and months without use left out), its jobs by state,
a short data-quality note and the provenance.

Reads ``reporting.rpt_scope_period`` (scope ``partner:<id>``: totals, users, energy quality),
``rpt_contract_period`` (position and amounts per contract), ``rpt_partner_amounts`` (the
statement's net, VAT and gross), ``rpt_deminimis`` (the undertaking's position at the period's
end), ``rpt_deminimis_grants`` (the grants), ``rpt_contract_jobs_by_state``,
``marts.fct_usage_daily`` (the days with use) and ``marts.dim_partner`` (whether the partner is
an undertaking).
"""

from __future__ import annotations

from kirz.reporting.data import (
    ScopeView, appendix, confidential_names, contract_periods, coverage, coverage_view, quality_view, require,
    rows, scope_rows, status_label, users_q,
)
from kirz.reporting.model import Figure, L, Period, Q
from kirz.reporting.recipients import Recipient

TOTALS = (
    ("gpu_hours", "gpu_h", 1), ("cpu_core_hours", "core_h", 0), ("jobs", "count", 0),
    ("it_energy_kwh", "kwh", 1), ("facility_energy_kwh", "kwh", 1), ("co2e_kg", "kg", 1),
    ("co2e_market_kg", "kg", 1), ("cost_eur", "eur", 2), ("compute_value_eur", "eur", 2), ("subsidy_eur", "eur", 2),
)

# (figure key, rpt_contract_period column, unit, decimals): the figures the statement prints per
# contract (VAT and gross it prints for the whole statement, from rpt_partner_amounts)
CONTRACT_FIGURES = (
    ("allotment_gpu_hours", "allotment_gpu_hours", "gpu_h", 0),
    ("gpu_hours", "gpu_hours", "gpu_h", 1),
    ("used_to_date_gpu_hours", "used_to_date_gpu_hours", "gpu_h", 1),
    ("remaining_gpu_hours", "remaining_gpu_hours", "gpu_h", 1),
    ("price_eur_per_gpu_hour", "price_eur_per_gpu_hour", "eur_per_gpu_h", 2),
    ("list_price_eur_per_gpu_hour", "list_price_eur_per_gpu_hour", "eur_per_gpu_h", 2),
    ("cost_eur", "cost_eur", "eur", 2),
    ("compute_value_eur", "compute_value_eur", "eur", 2),
    ("subsidy_eur", "subsidy_eur", "eur", 2),
)


def statement_number(partner_id: str, period: Period) -> str:
    """The statement's number without its version: ``KIRZ-2026-10-P-0042`` (the renderer adds ``-v1``)."""
    return f"KIRZ-{period.label}-{partner_id}"


def _contract_rows(scoped: list[dict], positions: dict, year: dict, figures: list[Figure]) -> list[dict]:
    out = []
    for c in scoped:
        pos = positions.get(c["contract_id"])
        if pos is None:
            continue
        ytd = year.get(c["contract_id"]) or {}
        cid = c["contract_id"]
        out.append({
            "contract_id": cid, "area": L("areas", c["usage_area"] or "unassigned"),
            "term_start": pos["term_start"], "term_end": pos["term_end"],
            "allotment": Q(pos["allotment_gpu_hours"], "gpu_h", 0),
            "used": Q(pos["gpu_hours"], "gpu_h", 1),
            "used_ytd": Q(ytd.get("gpu_hours"), "gpu_h", 1),
            "used_to_date": Q(pos["used_to_date_gpu_hours"], "gpu_h", 1),
            "remaining": Q(pos["remaining_gpu_hours"], "gpu_h", 1),
            "used_share": Q(pos["used_share_pct"], "pct", 1),
            "pro_rata_target": Q(pos["pro_rata_target_gpu_hours"], "gpu_h", 0),
            "projected": Q(pos["projected_at_term_end_gpu_hours"], "gpu_h", 0),
            "price": Q(pos["price_eur_per_gpu_hour"], "eur_per_gpu_h", 2),
            "list_price": Q(pos["list_price_eur_per_gpu_hour"], "eur_per_gpu_h", 2),
            "cost": Q(pos["cost_eur"], "eur", 2),
            "net": Q(pos["net_eur"], "eur", 2),
            "compute_value": Q(pos["compute_value_eur"], "eur", 2),
            "subsidy": Q(pos["subsidy_eur"], "eur", 2),
            "it_energy": Q(pos["it_energy_kwh"], "kwh", 1),
            "facility_energy": Q(pos["facility_energy_kwh"], "kwh", 1),
            "is_exhausted": bool(pos["is_exhausted"]),
            "is_warn": bool(pos["is_warn"]),
        })
        for key, column, unit, dec in CONTRACT_FIGURES:
            figures.append(Figure(f"contract.{cid}.{key}", L("statement_figures", key), Q(pos[column], unit, dec), cid))
    return out


def _amounts(con, partner_id: str | None, period: Period, figures: list[Figure]) -> dict:
    """The statement's net, VAT and gross (reporting.rpt_partner_amounts)."""
    require(con, "reporting.rpt_partner_amounts")
    found = rows(con, "select * from reporting.rpt_partner_amounts where partner_id = ? and period_type = ? "
                      "and period = ?", [partner_id, period.kind, period.label]) if partner_id else []
    row = found[0] if found else None
    rate = None if row is None or row["vat_rate"] is None else 100.0 * row["vat_rate"]
    out = {
        "available": row is not None,
        "net": Q(row and row["net_eur"], "eur", 2),
        "vat_rate": Q(rate, "pct", 0),
        "vat": Q(row and row["vat_eur"], "eur", 2),
        "gross": Q(row and row["gross_eur"], "eur", 2),
    }
    for key in ("net", "vat", "gross"):
        figures.append(Figure(f"amounts.{key}_eur", L("statement_figures", f"{key}_eur"), out[key]))
    figures.append(Figure("amounts.vat_rate_pct", L("statement_figures", "vat_rate_pct"), out["vat_rate"]))
    return out


def _deminimis(con, partner: dict | None, ids: list[str], period: Period, figures: list[Figure]) -> dict:
    """The de-minimis notice: the grants of the partner's contracts in its undertaking's window and
    the undertaking's position at the period's end (reporting.rpt_deminimis_grants, rpt_deminimis).

    rpt_deminimis holds the periods of the years with operating data; for another period (a year
    before the centre opened) the notice lists the grants up to the period's end and says that
    the position is not available, rather than that no aid was granted.
    """
    if partner is None or not partner["is_company"]:
        return {"applies": False}
    require(con, "reporting.rpt_deminimis", "reporting.rpt_deminimis_grants")
    positions = rows(con, "select * from reporting.rpt_deminimis where period_type = ? and period = ? "
                          "and list_contains(partner_ids, ?)", [period.kind, period.label, partner["partner_id"]])
    pos = positions[0] if positions else None
    grants = rows(
        con,
        "select * from reporting.rpt_deminimis_grants where list_contains(?::varchar[], contract_id) "
        "and granted_on <= ? and (?::date is null or granted_on >= ?) order by granted_on, grant_key",
        [ids, period.end, pos and pos["window_start"], pos and pos["window_start"]],
    )
    grant_rows = []
    for g in grants:
        aid = Q(g["aid_eur"], "eur", 2)
        grant_rows.append({
            "granted_on": g["granted_on"], "contract_id": g["contract_id"],
            "event": L("deminimis_event", "amendment" if g["is_amendment"] else "signature"),
            "allotment": Q(g["allotment_gpu_hours"], "gpu_h", 0),
            "list_price": Q(g["list_price_eur_per_gpu_hour"], "eur_per_gpu_h", 2),
            "price": Q(g["price_eur_per_gpu_hour"], "eur_per_gpu_h", 2),
            "aid": aid,
        })
        figures.append(Figure(f"deminimis.{g['grant_key']}.aid_eur", L("statement_figures", "deminimis_aid_eur"), aid,
                              g["contract_id"]))
    if pos is None:
        return {"applies": True, "granted": bool(grant_rows), "position": False, "period_end": period.end,
                "grants": grant_rows}
    status, status_key = status_label(pos["status"])
    single = pos["partner_ids"] == [partner["partner_id"]]
    view = {
        "applies": True, "granted": True, "position": True, "period_end": pos["period_end"],
        "window_start": pos["window_start"], "grants": grant_rows,
        # a group of partners is named by its id, a partner alone by its own (legal) name
        "undertaking": partner["partner_name"] if single and partner["partner_name"] else pos["undertaking_id"],
        "is_group": not single,
        "aid_in_window": Q(pos["aid_in_window_eur"], "eur", 2),
        "other": Q(pos["other_deminimis_eur"], "eur", 2),
        "total": Q(pos["total_eur"], "eur", 2),
        "ceiling": Q(pos["ceiling_eur"], "eur", 0),
        "share": Q(pos["share_pct"], "pct", 1),
        "status": status, "status_key": status_key,
    }
    figures.append(Figure("deminimis.undertaking_total_eur", L("statement_figures", "deminimis_total_eur"),
                          view["total"]))
    figures.append(Figure("deminimis.undertaking_share_pct", L("statement_figures", "deminimis_share_pct"),
                          view["share"]))
    return view


def _use_by_day(con, ids: list[str], period: Period) -> list[dict]:
    """The days of the period with use (marts.fct_usage_daily); days without use are left out."""
    if not ids:
        return []
    return [{"day": r["day"], "gpu_hours": Q(r["gpu_hours"], "gpu_h", 1), "it": Q(r["it"], "kwh", 1),
             "facility": Q(r["fac"], "kwh", 1), "co2e": Q(r["co2e"], "kg", 1), "cost": Q(r["cost"], "eur", 2)}
            for r in rows(
                con,
                "select day, sum(gpu_hours) as gpu_hours, sum(it_energy_kwh) as it, sum(facility_energy_kwh) as fac, "
                "sum(co2e_kg) as co2e, sum(cost_eur) as cost from marts.fct_usage_daily "
                "where list_contains(?::varchar[], contract_id) and day between ? and ? "
                "group by day having sum(gpu_hours) + sum(cpu_core_hours) > 0 order by day",
                [ids, period.start, period.end],
            )]


def _use_by_month(con, key: str, period: Period) -> list[dict]:
    """The months of a year with use (the scope's month rows of rpt_scope_period); months without use left out."""
    out = []
    for month in period.months():
        r = scope_rows(con, key, month).get("all")
        if not r or not (r["gpu_hours"] or r["cpu_core_hours"]):
            continue
        out.append({"month": month, "gpu_hours": Q(r["gpu_hours"], "gpu_h", 1), "it": Q(r["it_energy_kwh"], "kwh", 1),
                    "facility": Q(r["facility_energy_kwh"], "kwh", 1), "co2e": Q(r["co2e_kg"], "kg", 1),
                    "cost": Q(r["cost_eur"], "eur", 2)})
    return out


def _dq_note(dq: dict) -> dict:
    """The short data-quality note: the counts and the checks that did not pass (failed or accepted)."""
    return {"available": dq["available"], "counts": dq["counts"],
            "issues": [r for r in dq["results"] if r["outcome_key"] != "passed"]}


def _company_flags(con, partner_ids: list[str]) -> dict[str, bool]:
    require(con, "marts.dim_partner")
    if not partner_ids:
        return {}
    return {r["partner_id"]: bool(r["is_company"]) for r in rows(
        con, "select partner_id, is_company from marts.dim_partner where list_contains(?::varchar[], partner_id)",
        [partner_ids])}


def build_partner_statement(con, recipient: Recipient, period: Period, settings, *, run_id: str,
                            code_version: str, db_path=None) -> dict:
    sv = ScopeView.of(con, recipient)
    rules, scoped, ids, partners, key = sv.rules, sv.contracts, sv.ids, sv.partners, sv.key
    require(con, "reporting.rpt_contract_jobs_by_state", "marts.fct_usage_daily")
    total_row = scope_rows(con, key, period).get("all")
    positions = contract_periods(con, ids, period)
    year = contract_periods(con, ids, Period.parse(str(period.year)))
    companies = _company_flags(con, list(partners))
    partner_id = recipient.partner_id or (next(iter(partners)) if len(partners) == 1 else None)
    partner = partners.get(partner_id) if partner_id else None
    if partner is not None:
        partner = {**partner, "is_company": companies.get(partner_id, False)}
    figures: list[Figure] = []

    contract_rows = _contract_rows(scoped, positions, year, figures)
    amounts = _amounts(con, partner_id, period, figures)

    states = rows(
        con,
        "select state, sum(jobs) as jobs, sum(gpu_hours) as gpu_hours from reporting.rpt_contract_jobs_by_state "
        "where list_contains(?::varchar[], contract_id) and period_type = ? and period = ? "
        "group by state order by jobs desc, state",
        [ids, period.kind, period.label],
    ) if ids else []
    jobs_by_state = [{"state": L("job_states", r["state"]), "jobs": Q(r["jobs"], "count"),
                      "gpu_hours": Q(r["gpu_hours"], "gpu_h", 1)} for r in states]
    for r in states:
        figures.append(Figure(f"jobs.{r['state']}", L("kpi", "jobs"), Q(r["jobs"], "count"), f"@job_states.{r['state']}"))

    totals = {k: Q(total_row and total_row[k], unit, dec) for k, unit, dec in TOTALS}
    totals["jobs"] = Q(total_row and total_row["jobs"], "count")
    totals["users"] = users_q(total_row and total_row["active_users"], rules)
    for k, q in totals.items():
        figures.append(Figure(f"total.{k}", L("kpi", "active_users" if k == "users" else k), q))

    deminimis = _deminimis(con, partner, ids, period, figures)
    own = {p["partner_name"] for p in partners.values()}
    secrets = [n for n in confidential_names(sv.catalogue) if n not in own]
    names = ", ".join(p["partner_name"] or p["partner_id"] for p in partners.values())
    closing = appendix(con, period, settings, secrets, run_id=run_id, code_version=code_version, db_path=db_path)
    return {
        "kind": "partner_statement",
        "recipient": {"id": recipient.id, "name": names or recipient.name},
        "period": period,
        "yearly": period.kind == "year",
        "statement": {"number": statement_number(partner_id or recipient.id, period), "partner_id": partner_id or "",
                      "period_start": period.start, "period_end": period.end},
        "coverage": coverage_view(coverage(con, period), period),
        "partners": [{"id": p["partner_id"], "name": p["partner_name"] or p["partner_id"],
                      "type": L("partner_types", p["partner_type"] or "unknown")} for p in partners.values()],
        "contracts": contract_rows,
        "amounts": amounts,
        "deminimis": deminimis,
        "jobs_by_state": jobs_by_state,
        "daily": _use_by_day(con, ids, period) if period.kind != "year" else [],
        "monthly": _use_by_month(con, key, period) if period.kind == "year" else [],
        "totals": totals,
        "quality": quality_view(total_row),
        "dq_note": _dq_note(closing["dq"]),
        "empty": not ids,
        "figures": figures,
        **closing,
    }
