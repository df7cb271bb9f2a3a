"""The funder impact report: one funder's scope over a quarter or a year.

Reads ``reporting.rpt_scope_period`` (the scope's figures by usage area), ``rpt_contract_period``
(contract positions), ``rpt_period_coverage`` (days with data, capacity), ``rpt_state_aid``,
``rpt_deminimis`` and ``marts.fct_impact_kpis`` (whole-centre energy). Figures about the whole
centre are labelled as such; contract detail is shown only for the funder's own contracts.

Every figure about the scope passes disclosure control (:mod:`kirz.reporting.disclosure`): the
builder describes each printed cell as the sum of partners' figures it is (per measure, contract
and month, read as non-zero flags from ``marts.fct_usage_daily``), the sheet decides what is
printed, merged or withheld, and the report prints its decision.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from kirz.reporting.data import (
    AREAS, Rules, ScopeView, appendix, confidential_names, contract_periods, coverage, coverage_view,
    deminimis_rows, kpis, previous_with_data, quality_view, require, rows, scope_rows, state_aid, status_label,
)
from kirz.reporting.disclosure import (
    WITHHELD, Aggregate, Sheet, Unit, choose_aggregate, deminimis_grouped, is_confidential, partner_label,
    region_rows,
)
from kirz.reporting.model import Figure, L, Period, Q
from kirz.reporting.recipients import Recipient

HEADLINE = (
    ("gpu_hours", "gpu_h", 1), ("cpu_core_hours", "core_h", 0), ("jobs", "count", 0),
    ("active_users", "users", 0), ("active_partners", "count", 0), ("new_partners", "count", 0),
    ("revier_gpu_hour_share_pct", "pct", 1), ("company_gpu_hour_share_pct", "pct", 1),
    ("trainees", "users", 0), ("cost_eur", "eur", 2), ("compute_value_eur", "eur", 2), ("subsidy_eur", "eur", 2),
    ("it_energy_kwh", "kwh", 0), ("co2e_kg", "kg", 0),
)

# the headline figures the executive summary repeats (in this order), besides the centre's utilisation
SUMMARY_FIGURES = ("gpu_hours", "active_partners", "revier_gpu_hour_share_pct", "trainees", "it_energy_kwh")

CENTRE_ENERGY = (
    ("it_energy_kwh", "kwh", 0), ("facility_energy_kwh", "kwh", 0), ("pue", "ratio", 2), ("erf", "ratio", 2),
    ("renewable_share_pct", "pct", 1), ("co2e_location_kg", "kg", 0), ("co2e_market_kg", "kg", 0),
)

# measures of marts.fct_usage_daily summed per contract and local day: (measure, column)
FLOWS = (
    ("gpu_hours", "gpu_hours"), ("cpu_core_hours", "cpu_core_hours"), ("jobs", "jobs_started"),
    ("cost_eur", "cost_eur"), ("compute_value_eur", "compute_value_eur"), ("subsidy_eur", "subsidy_eur"),
    ("measured_kwh", "measured_kwh"), ("interpolated_kwh", "interpolated_kwh"), ("estimated_kwh", "estimated_kwh"),
    ("facility_energy_kwh", "facility_energy_kwh"), ("co2e_kg", "co2e_kg"), ("co2e_market_kg", "co2e_market_kg"),
    ("users", "users_active"), ("economic", "economic_use_gpu_hours"),
)
QUALITY = ("measured_kwh", "interpolated_kwh", "estimated_kwh")
FLOW_MEASURES = tuple(m for m, _ in FLOWS if m not in ("users", "economic", "subsidy_eur"))


def usage_flags(con, start, end) -> dict[tuple[str, str], set[str]]:
    """Which measures each contract used in each local month between ``start`` and ``end``:
    (contract, 'YYYY-MM') -> the measures with a non-zero figure. What disclosure control needs
    to count contributors; no figure is read."""
    require(con, "marts.fct_usage_daily")
    flags = ", ".join(f"bool_or(coalesce({col}, 0) <> 0) as {m}" for m, col in FLOWS)
    out = {}
    for r in rows(con, f"select contract_id, strftime(day, '%Y-%m') as month, {flags} from marts.fct_usage_daily "
                       "where contract_id is not null and day between ? and ? group by all", [start, end]):
        out[(r["contract_id"], r["month"])] = {m for m, _ in FLOWS if r[m]}
    return out


def company_partners(con, ids: list[str]) -> set[str]:
    """The partners among ``ids`` that are undertakings (marts.dim_partner.is_company)."""
    if not ids:
        return set()
    return {r["partner_id"] for r in rows(
        con, "select partner_id from marts.dim_partner where is_company and list_contains(?::varchar[], partner_id)",
        [ids])}


class _Cells:
    """The scope's units and the forms of the report's cells over them.

    Units exist for the contracts with a position in the period or the previous one and for the
    economic contracts of the year (those are all contracts with use in any month a cell adds
    up); months run from the earliest term start to the period's end.
    """

    def __init__(self, sheet: Sheet, flags):
        self.sheet, self.flags = sheet, flags
        self.owner: dict[str, str] = {}
        self.inside: set[str] = set()

    def register(self, cid: str, pid: str, months: list[str], inside: bool = True) -> None:
        self.owner[cid] = pid
        if inside:
            self.inside.add(cid)
        units, nz = [], []
        for month in months:
            used = self.flags.get((cid, month), set())
            for measure in FLOW_MEASURES:
                u = Unit(measure, pid, cid, month, inside)
                units.append(u)
                if measure in used:
                    nz.append(u)
        self.sheet.add_units(units, nz)

    def flow(self, measure: str, cids, months: list[str], sign: int = 1) -> dict[Unit, int]:
        measures = QUALITY if measure == "it_energy_kwh" else (measure,)
        return {Unit(m, self.owner[c], c, month, c in self.inside): sign
                for m in measures for c in sorted(set(cids)) if c in self.owner for month in months}

    def subsidy(self, cids, months) -> dict[Unit, int]:
        return {**self.flow("compute_value_eur", cids, months), **self.flow("cost_eur", cids, months, -1)}

    def nonzero(self, measure: str, cids, months: list[str]) -> bool:
        return any(measure in self.flags.get((c, m), set()) for c in cids for m in months)

    def users(self, cids, bucket: str, months: list[str]) -> dict[Unit, int]:
        units = {Unit("users", self.owner[c], c, bucket): 1 for c in cids if c in self.owner}
        self.sheet.add_units(units, [u for u in units if self.nonzero("users", [u.part], months)])
        return units

    def partners(self, pids, measure: str, bucket: str) -> dict[Unit, int]:
        units = {Unit(measure, p, "", bucket): 1 for p in pids}
        self.sheet.add_units(units, units)
        return units

    def asof(self, measure: str, cids, nonzero) -> dict[Unit, int]:
        """Units of a contract's position at the period's end (allotment, used to date,
        committed jobs or trainees); ``nonzero``: the contracts whose figure is not zero."""
        units = {Unit(measure, self.owner[c], c, "asof"): 1 for c in cids}
        self.sheet.add_units(units, [u for u in units if u.part in nonzero])
        return units


def _q(row: dict | None, key: str, unit: str, dec: int) -> Q:
    return Q(None if row is None else row.get(key), "count" if unit == "users" else unit, dec)


def build_funder_report(con, recipient: Recipient, period: Period, settings, *, run_id: str,
                        code_version: str, db_path=None) -> dict:
    sv = ScopeView.of(con, recipient)
    rules, scoped, ids, partners, key = sv.rules, sv.contracts, sv.ids, sv.partners, sv.key
    catalog = {c["contract_id"]: c for c in scoped}
    k = rules.min_group_size
    cov = coverage(con, period)
    prev = previous_with_data(con, period)
    cur = scope_rows(con, key, period)
    old = scope_rows(con, key, prev) if prev else {}
    areas_filter = set(recipient.scope.usage_areas)
    main = cur.get("all") if not areas_filter else None
    if areas_filter and len(areas_filter) == 1:
        main = cur.get(next(iter(areas_filter)))
    main_old = (old.get("all") if not areas_filter else old.get(next(iter(areas_filter)))) if old else None
    figures: list[Figure] = []

    # ------------------------------------------------------------ positions, the aggregate, the units
    positions = contract_periods(con, ids, period)
    prev_positions = contract_periods(con, ids, prev) if prev else {}
    active = [c for c in scoped if c["contract_id"] in positions]
    use = defaultdict(float)
    for c in active:
        use[c["partner_id"]] += positions[c["contract_id"]]["gpu_hours"] or 0.0
    agg = choose_aggregate(partners.values(), use, k)
    sheet = Sheet(agg, k)

    year_months = [m for m in Period.parse(str(period.year)).months() if m.start <= period.end]
    first = min([period.start, year_months[0].start] + ([prev.start] if prev else [])
                + [p["term_start"] for p in positions.values() if p["term_start"]]).replace(day=1)
    flags = usage_flags(con, first, period.end)
    span = [m.label for m in _months_between(first, period.end)]
    P, PREV, YTD = [m.label for m in period.months()], [m.label for m in prev.months()] if prev else [], \
        [m.label for m in year_months]
    economic = sorted({cid for (cid, month), used in flags.items() if "economic" in used and month in YTD})
    cells = _Cells(sheet, flags)
    for c in sv.catalogue:
        cid = c["contract_id"]
        if cid in positions or cid in prev_positions or cid in economic:
            cells.register(cid, c["partner_id"], span, inside=cid in ids)
    all_ids = [c for c in ids if c in cells.owner]

    def by_area(area: str) -> list[str]:
        return [c["contract_id"] for c in scoped if (c["usage_area"] or "unassigned") == area
                and c["contract_id"] in cells.owner]

    # ------------------------------------------------------------ cells: headline and what it splits into
    companies = company_partners(con, sorted(partners))
    revier_ids = [c for c in all_ids if partners[cells.owner[c]]["is_revier"]]
    company_ids = [c for c in all_ids if cells.owner[c] in companies]
    edu_ids = by_area("education")
    for bucket, ms, row in (("period", P, main), ("prev", PREV, main_old)):
        if bucket == "prev" and not prev:
            continue
        tag = "" if bucket == "period" else ".previous"
        for m in ("gpu_hours", "cpu_core_hours", "jobs", "cost_eur", "compute_value_eur", "it_energy_kwh", "co2e_kg",
                  "facility_energy_kwh", "co2e_market_kg"):
            sheet.value(f"scope.{m}{tag}", cells.flow(m, all_ids, ms), rank=0, size=_v(row, m))
        sheet.value(f"scope.subsidy_eur{tag}", cells.subsidy(all_ids, ms), rank=0, size=_v(row, "subsidy_eur"),
                    contributors={cells.owner[c] for c in all_ids if cells.nonzero("subsidy_eur", [c], ms)})
        sheet.value(f"regional.revier_gpu_hours{tag}", cells.flow("gpu_hours", revier_ids, ms),
                    size=_v(row, "revier_gpu_hours"))
        sheet.value(f"regional.outside_gpu_hours{tag}", cells.flow("gpu_hours", set(all_ids) - set(revier_ids), ms),
                    shown=False)
        sheet.value(f"regional.company_gpu_hours{tag}", cells.flow("gpu_hours", company_ids, ms),
                    size=_v(row, "company_gpu_hours"))
        sheet.value(f"regional.other_gpu_hours{tag}", cells.flow("gpu_hours", set(all_ids) - set(company_ids), ms),
                    shown=False)
        users = cells.users(all_ids, bucket, ms)
        edu_users = {u: 1 for u in users if u.part in edu_ids}
        sheet.count(f"scope.active_users{tag}", users, _v(row, "active_users"), rank=0, nonzero=())
        sheet.count(f"scope.trainees{tag}", edu_users, _v(row, "trainees"), nonzero=())
        sheet.count(f"scope.other_users{tag}", {u: 1 for u in users if u not in edu_users},
                    max(_v(row, "active_users") - _v(row, "trainees"), 0), shown=False, nonzero=())
        pos = positions if bucket == "period" else prev_positions
        act = sorted({pos[c]["partner_id"] for c in ids if c in pos and pos[c]["is_partner_active"]})
        new = sorted({pos[c]["partner_id"] for c in ids if c in pos and pos[c]["is_new_partner"]})
        sheet.count(f"scope.active_partners{tag}", cells.partners(act, "partners", bucket), len(act), rank=0)
        new_units = cells.partners(new, "new_partners", bucket)
        named_new = {u: 1 for u in new_units if not is_confidential(partners[u.partner])}
        # the report lists the named new partners: without a confidential one, their names are the count
        sheet.count(f"scope.new_partners{tag}", new_units, len(new), rank=0,
                    listed=bucket == "period" and len(named_new) == len(new_units))
        if bucket == "period":
            sheet.count("regional.new_named", named_new, len(named_new), rank=-1, listed=True)
            sheet.count("regional.new_confidential", {u: 1 for u in new_units if u not in named_new},
                        len(new_units) - len(named_new))
    if main:
        for m in QUALITY:
            if main.get(m):
                sheet.value(f"scope.{m}", cells.flow(m, all_ids, P), size=main[m])

    # usage by area, and its monthly series (the chart stacks the areas: its bars are month totals)
    present = {c["usage_area"] or "unassigned" for c in scoped}
    present |= {a for a, r in cur.items() if a != "all" and r["gpu_hours"]}
    if areas_filter:
        present &= areas_filter
    areas = [a for a in AREAS if a in present]
    data_months = [m for m in period.months() if coverage(con, m) is not None]
    for area in areas:
        r, o = cur.get(area), (old.get(area) if old else None)
        sheet.value(f"area.{area}.gpu_hours", cells.flow("gpu_hours", by_area(area), P), size=_v(r, "gpu_hours"))
        sheet.value(f"area.{area}.jobs", cells.flow("jobs", by_area(area), P), size=_v(r, "jobs"))
        if prev:
            sheet.value(f"area.{area}.gpu_hours.previous", cells.flow("gpu_hours", by_area(area), PREV),
                        size=_v(o, "gpu_hours"))
        for m in data_months:
            sheet.value(f"series.{area}.{m.label}", cells.flow("gpu_hours", by_area(area), [m.label]), rank=2)
    for m in data_months:
        if not areas_filter:  # the scope's month totals: the stacked bars, the Revier share's denominator
            sheet.value(f"series.total.{m.label}", cells.flow("gpu_hours", all_ids, [m.label]), rank=2)
        sheet.value(f"series.revier.{m.label}", cells.flow("gpu_hours", revier_ids, [m.label]), rank=2)
        sheet.value(f"series.outside.{m.label}", cells.flow("gpu_hours", set(all_ids) - set(revier_ids), [m.label]),
                    shown=False)

    # regional counts: active partners by type and by region (small regions merged), Revier or not
    act_ids = sorted({positions[c]["partner_id"] for c in ids if c in positions and positions[c]["is_partner_active"]})
    by_type: dict[str, list[str]] = defaultdict(list)
    for pid in act_ids:
        by_type[partners[pid]["partner_type"] or "unknown"].append(pid)
    for t, pids in by_type.items():
        sheet.count(f"by_type.{t}", cells.partners(pids, "partners", "period"), len(pids))
    regions = region_rows([partners[p] for p in act_ids], k)
    for r in regions:
        sheet.count(f"by_region.{r['key']}", cells.partners(r["members"], "partners", "period"), len(r["members"]))
    in_revier = [p for p in act_ids if partners[p]["is_revier"]]
    sheet.count("regional.partners_revier", cells.partners(in_revier, "partners", "period"), len(in_revier))
    sheet.count("regional.partners_outside", cells.partners(set(act_ids) - set(in_revier), "partners", "period"),
                len(act_ids) - len(in_revier))

    # education
    edu = cur.get("education")
    edu_pos = [c for c in edu_ids if c in positions]
    sheet.value("education.gpu_hours", cells.flow("gpu_hours", edu_ids, P), size=_v(edu, "gpu_hours"))
    sheet.value("education.trainees_committed",
                cells.asof("trainees_committed", edu_pos, {c for c in edu_pos if catalog[c].get("trainees")}),
                size=_v(edu, "committed_trainees"),
                contributors={cells.owner[c] for c in edu_pos if catalog[c].get("trainees")})

    # cooperation projects: named contracts, the aggregate's contracts, the area's commitments
    coop = [c["contract_id"] for c in active if c["usage_area"] == "cooperation"]
    coop_named = [c for c in coop if not _in(agg, cells.owner[c])]
    coop_group = [c for c in coop if _in(agg, cells.owner[c])]
    jobs_nz = {c for c in coop if positions[c]["jobs_created_committed"]}
    coop_area = cur.get("cooperation")
    sheet.value("cooperation.jobs_created_committed", cells.asof("jobs_created", coop, jobs_nz),
                size=_v(coop_area, "committed_jobs_created"), contributors={cells.owner[c] for c in jobs_nz})
    for cid in coop_named:
        sheet.value(f"coop.{cid}.gpu_hours", cells.flow("gpu_hours", [cid], P), size=positions[cid]["gpu_hours"])
        sheet.value(f"coop.{cid}.jobs_created", cells.asof("jobs_created", [cid], jobs_nz),
                    size=positions[cid]["jobs_created_committed"] or 0,
                    contributors={cells.owner[cid]} if cid in jobs_nz else set())
    if coop_group:
        sheet.value("coop.group.gpu_hours", cells.flow("gpu_hours", coop_group, P),
                    size=sum(positions[c]["gpu_hours"] or 0.0 for c in coop_group))
        sheet.value("coop.group.jobs_created", cells.asof("jobs_created", coop_group, jobs_nz),
                    contributors={cells.owner[c] for c in coop_group if c in jobs_nz})

    # contract positions: allotment, use in the period, use to date, remaining; what was used
    # before the period (to date minus the period) is implied and protected as well
    named = [c for c in active if not _in(agg, c["partner_id"])]
    grouped = [c["contract_id"] for c in active if _in(agg, c["partner_id"])]
    nz = {col: {c for c in positions if positions[c][col]} for col in
          ("allotment_gpu_hours", "used_to_date_gpu_hours", "remaining_gpu_hours")}
    before = {c for c in positions if (positions[c]["used_to_date_gpu_hours"] or 0) != (positions[c]["gpu_hours"] or 0)}

    def position_cells(name: str, cids: list[str], rank: int) -> None:
        members = [c for c in all_ids if _in(agg, cells.owner[c])] if name == "group" else \
            (all_ids if name == "total" else cids)
        allot = cells.asof("allotment", cids, nz["allotment_gpu_hours"])
        utd = cells.asof("used_to_date", cids, nz["used_to_date_gpu_hours"])
        used = cells.flow("gpu_hours", members, P)

        def total(col):
            return sum(positions[c][col] or 0.0 for c in cids)
        sheet.value(f"contract.{name}.allotment", allot, rank=rank, size=total("allotment_gpu_hours"))
        sheet.value(f"contract.{name}.used", used, rank=rank, size=total("gpu_hours"))
        sheet.value(f"contract.{name}.used_to_date", utd, rank=rank, size=total("used_to_date_gpu_hours"))
        sheet.value(f"contract.{name}.remaining", {**allot, **{u: -1 for u in utd}}, rank=rank,
                    size=total("remaining_gpu_hours"),
                    contributors={cells.owner[c] for c in cids if c in nz["remaining_gpu_hours"]})
        sheet.value(f"contract.{name}.before", {**utd, **{u: -1 for u in used}}, shown=False,
                    contributors={cells.owner[c] for c in cids if c in before})

    for c in named:
        position_cells(c["contract_id"], [c["contract_id"]], 1)
    if grouped:
        position_cells("group", grouped, 1)
    if active:
        position_cells("total", [c["contract_id"] for c in active], 0)

    # state aid: economic use of the whole centre this year (the same GPU-hours as the scope's)
    sa = state_aid(con, period) or {}
    sheet.value("centre.economic_use_gpu_hours", cells.flow("gpu_hours", economic, YTD), rank=0,
                size=sa.get("economic_use_gpu_hours_ytd") or 0.0)

    sheet.protect()
    show = sheet.show

    # ------------------------------------------------------------ the report's data
    headline = []
    for k_, unit, dec in HEADLINE:
        cell = _headline_cell(k_)
        q_new = _share_or_value(sheet, k_, cell, _q(main, k_, unit, dec), "")
        q_old = _share_or_value(sheet, k_, cell, _q(main_old, k_, unit, dec), ".previous") if prev else None
        headline.append({"key": k_, "label": L("kpi", k_), "value": q_new, "previous": q_old})
        figures.append(Figure(f"scope.{k_}", L("kpi", k_), _figure(q_new, _q(main, k_, unit, dec))))

    area_rows = []
    for area in areas:
        r, o = cur.get(area), (old.get(area) if old else None)
        gh = show(f"area.{area}.gpu_hours", Q(r and r["gpu_hours"], "gpu_h", 1))
        area_rows.append({
            "key": area, "area": L("areas", area), "gpu_hours": gh,
            "share": show(f"area.{area}.gpu_hours", Q(r and r["share_of_scope_gpu_hours_pct"], "pct", 1)),
            "previous": show(f"area.{area}.gpu_hours.previous", Q(o and o["gpu_hours"], "gpu_h", 1)) if prev else None,
            "jobs": show(f"area.{area}.jobs", Q(r and r["jobs"], "count")),
            "contracts": Q(r and r["contracts_active"], "count"),
        })
        figures.append(Figure(f"area.{area}.gpu_hours", L("kpi", "gpu_hours"),
                              sheet.figure(f"area.{area}.gpu_hours", Q(r and r["gpu_hours"], "gpu_h", 1)),
                              f"@areas.{area}"))

    regional = {
        "revier_share": headline_value(headline, "revier_gpu_hour_share_pct"),
        "revier_share_previous": _share_or_value(sheet, "revier_gpu_hour_share_pct", "regional.revier_gpu_hours",
                                                 _q(main_old, "revier_gpu_hour_share_pct", "pct", 1), ".previous")
        if prev else None,
        "company_share": headline_value(headline, "company_gpu_hour_share_pct"),
        "revier_gpu_hours": show("regional.revier_gpu_hours", _q(main, "revier_gpu_hours", "gpu_h", 1)),
        "partners_total": show("scope.active_partners", Q(len(act_ids), "count")),
        "partners_revier": show("regional.partners_revier", Q(len(in_revier), "count")),
        "partners_outside": show("regional.partners_outside", Q(len(act_ids) - len(in_revier), "count")),
        "by_type": [{"type": L("partner_types", t), "partners": show(f"by_type.{t}", Q(len(p), "count"))}
                    for t, p in sorted(by_type.items())],
        "by_region": [{"nuts3": r["nuts3"], "region": r["region_name"] if r["group"] is None
                       else L("region_groups", r["group"]),
                       "revier": L("yesno", "yes" if r["revier"] else "no"),
                       "partners": show(f"by_region.{r['key']}", Q(len(r["members"]), "count"))} for r in regions],
        "new_partners": show("scope.new_partners", Q(_v(main, "new_partners"), "count")),
        "new_named": sorted(partners[u.partner]["partner_name"] for u in sheet.cells["regional.new_named"].units),
        "new_confidential": show("regional.new_confidential",
                                 Q(sheet.cells["regional.new_confidential"].count, "count")),
    }
    figures.append(Figure("regional.revier_gpu_hours", L("kpi", "revier_gpu_hours"),
                          sheet.figure("regional.revier_gpu_hours", _q(main, "revier_gpu_hours", "gpu_h", 1))))

    centre = scope_rows(con, "all", period).get("all")
    education = {
        "trainees": show("scope.trainees", Q(_v(edu, "trainees"), "count")),
        "trainees_previous": show("scope.trainees.previous", Q(old["education"]["trainees"], "count"))
        if old.get("education") else None,
        "courses_centre": Q(centre and centre["courses"], "count"),
        "gpu_hours": show("education.gpu_hours", Q(edu and edu["gpu_hours"], "gpu_h", 1)),
        "contracts": Q(edu and edu["contracts_active"], "count"),
        "trainees_committed": show("education.trainees_committed", Q(edu and edu["committed_trainees"], "count")),
    }
    figures.append(Figure("education.courses_centre", L("kpi", "courses"), education["courses_centre"], "@centre"))

    group_view = None
    if coop_group:
        group_view = agg.view({
            "gpu_hours": show("coop.group.gpu_hours", Q(sum(positions[c]["gpu_hours"] or 0.0 for c in coop_group),
                                                        "gpu_h", 1)),
            "jobs_created": show("coop.group.jobs_created", Q(sum(positions[c]["jobs_created_committed"] or 0
                                                                  for c in coop_group), "count")),
        })
        group_view["withheld"] = sheet.withheld("coop.group.gpu_hours") or sheet.withheld("coop.group.jobs_created")
    cooperation = {
        "active": Q(coop_area and coop_area["cooperation_projects_active"], "count"),
        "jobs_created_committed": show("cooperation.jobs_created_committed",
                                       Q(coop_area and coop_area["committed_jobs_created"], "count")),
        "rows": [{"contract_id": cid, "partner": partner_label(partners[cells.owner[cid]]),
                  "type": L("partner_types", partners[cells.owner[cid]]["partner_type"] or "unknown"),
                  "gpu_hours": show(f"coop.{cid}.gpu_hours", Q(positions[cid]["gpu_hours"], "gpu_h", 1)),
                  "jobs_created": show(f"coop.{cid}.jobs_created",
                                       Q(positions[cid]["jobs_created_committed"], "count"))}
                 for cid in coop_named],
        "group": group_view,
    }
    figures.append(Figure("cooperation.active", L("kpi", "cooperation_projects_active"), cooperation["active"]))

    centre_now = kpis(con, period)
    centre_old = kpis(con, prev) if prev else {}
    capacity = {
        "installed_gpus": Q(cov and cov["installed_gpus"], "count"),
        "gpu_nodes": Q(cov and cov["gpu_nodes"], "count"),
        "cpu_nodes": Q(cov and cov["cpu_nodes"], "count"),
        "capacity_gpu_hours": Q(cov and cov["gpu_capacity_hours"], "gpu_h", 0),
        "days_in_operation": Q(cov and cov["days_in_operation"], "count"),
        "scope_share_of_capacity": show("scope.gpu_hours", _q(main, "share_of_capacity_pct", "pct", 2)),
        "gpu_utilization_centre": Q(centre_now.get("gpu_utilization_pct"), "pct", 1),
        "gpu_used_centre": Q(centre_now.get("gpu_used_pct"), "pct", 1),
        "design_it_power_kw": Q(cov and cov["design_it_power_kw"], "kw", 0),
        "avg_it_load_kw": Q(centre_now.get("avg_it_load_kw"), "kw", 1),
        "peak_it_load_kw": Q(centre_now.get("peak_it_load_kw"), "kw", 1),
        "avg_load_share_of_design": Q(centre_now.get("avg_it_load_design_pct"), "pct", 1),
        "peak_load_share_of_design": Q(centre_now.get("peak_it_load_design_pct"), "pct", 1),
        "floor_area_m2": Q(cov and cov["floor_area_m2"], "m2", 0),
    }
    figures.append(Figure("centre.installed_gpus", L("kpi", "installed_gpus"), capacity["installed_gpus"], "@centre"))
    figures.append(Figure("centre.gpu_utilization_pct", L("kpi", "gpu_utilization_pct"),
                          capacity["gpu_utilization_centre"], "@centre"))
    figures.append(Figure("centre.gpu_used_pct", L("kpi", "gpu_used_pct"), capacity["gpu_used_centre"], "@centre"))

    energy_rows = []
    for k_, unit, dec in CENTRE_ENERGY:
        energy_rows.append({"label": L("kpi", k_), "value": Q(centre_now.get(k_), unit, dec),
                            "previous": Q(centre_old.get(k_), unit, dec) if prev else None})
        figures.append(Figure(f"centre.{k_}", L("kpi", k_), Q(centre_now.get(k_), unit, dec), "@centre"))
    month_k = [kpis(con, m) for m in data_months]
    quality = quality_view(main)
    for r in quality["rows"]:  # a row per quality with energy, each a cell of the sheet
        r["kwh"] = show(f"scope.{r['quality'].key}_kwh", r["kwh"])
        r["share"] = r["share"] if isinstance(r["kwh"], Q) and not sheet.withheld("scope.it_energy_kwh") else WITHHELD
    energy = {
        "centre": energy_rows,
        "scope_it_kwh": show("scope.it_energy_kwh", _q(main, "it_energy_kwh", "kwh", 0)),
        "scope_facility_kwh": show("scope.facility_energy_kwh", _q(main, "facility_energy_kwh", "kwh", 0)),
        "scope_co2e_kg": show("scope.co2e_kg", _q(main, "co2e_kg", "kg", 0)),
        "scope_co2e_market_kg": show("scope.co2e_market_kg", _q(main, "co2e_market_kg", "kg", 0)),
        "scope_share_of_it": show("scope.it_energy_kwh", _q(main, "share_of_centre_it_energy_pct", "pct", 1)),
        "quality": quality,
        "months": data_months,
        "pue_by_month": [m.get("pue") for m in month_k],
        "utilization_by_month": [m.get("gpu_utilization_pct") for m in month_k],
    }
    figures.append(Figure("scope.facility_energy_kwh", L("kpi", "facility_energy_kwh"),
                          sheet.figure("scope.facility_energy_kwh", _q(main, "facility_energy_kwh", "kwh", 0))))

    contracts, contract_figures = _contract_table(sheet, named, grouped, active, positions, partners, agg)
    figures += contract_figures

    state = _state_aid(sheet, sa, rules, deminimis_rows(con, period), agg, partners)
    figures.append(Figure("centre.economic_use_capacity_share_pct", L("kpi", "economic_use_capacity_share_pct"),
                          sheet.figure("centre.economic_use_gpu_hours", Q(sa.get("share_of_capacity_pct"), "pct", 2)),
                          "@centre"))
    figures.append(Figure("centre.economic_use_allowance_share_pct", L("kpi", "economic_use_allowance_share_pct"),
                          sheet.figure("centre.economic_use_gpu_hours", Q(sa.get("share_of_allowance_pct"), "pct", 1)),
                          "@centre"))

    # the executive summary: a few headline figures, and what each usage area and the Revier got
    summary = {
        "figures": [h for h in headline if h["key"] in SUMMARY_FIGURES]
        + [{"key": "gpu_utilization_pct", "label": L("kpi", "gpu_utilization_pct"), "centre": True,
            "value": capacity["gpu_utilization_centre"],
            "previous": Q(centre_old.get("gpu_utilization_pct"), "pct", 1) if prev else None}],
        "areas": area_rows,
    }

    return {
        "kind": "funder_impact",
        "summary": summary,
        "recipient": {"id": recipient.id, "name": recipient.name,
                      "funding": {lang: recipient.funding_line(lang) for lang in ("de", "en")}},
        "period": period,
        "previous_period": prev,
        "coverage": coverage_view(cov, period),
        "scope": {
            "definition": recipient.scope.to_json(),
            "contracts": Q(len(ids), "count"),
            "partners": Q(len(partners), "count"),
            "areas": [L("areas", a) for a in areas],
            "empty": not ids,
        },
        "disclosure": {
            "too_small": bool(agg and agg.suppressed),
            "types": [L("partner_types_plural", t) for t in agg.types] if agg else [],
            "withheld": sheet.any_withheld(),
            "small_counts": any(r == "small_count" and sheet.cells[key].shown for key, r in sheet.reasons.items()),
        },
        "headline": headline,
        "usage_by_area": {"rows": area_rows, "total": show("scope.gpu_hours", _q(main, "gpu_hours", "gpu_h", 1)),
                          "series": _series(con, key, sheet, data_months, areas, totals=not areas_filter)},
        "regional": regional,
        "education": education,
        "cooperation": cooperation,
        "capacity": capacity,
        "energy": energy,
        "contracts": contracts,
        "state_aid": state,
        "figures": figures,
        **appendix(con, period, settings, confidential_names(sv.catalogue), run_id=run_id,
                   code_version=code_version, db_path=db_path),
    }


# ---------------------------------------------------------------------------- helpers

SHARES = {"revier_gpu_hour_share_pct": "regional.revier_gpu_hours",
          "company_gpu_hour_share_pct": "regional.company_gpu_hours"}


def _headline_cell(key: str) -> str:
    return SHARES.get(key, f"scope.{key}")


def _share_or_value(sheet: Sheet, key: str, cell: str, q: Q, tag: str):
    """A headline figure as printed: a share only where its numerator and its denominator
    (the scope's GPU-hours) are both printed."""
    if key in SHARES:
        if sheet.withheld(cell + tag) or sheet.withheld("scope.gpu_hours" + tag):
            return WITHHELD
        return q
    return sheet.show(cell + tag, q)


def headline_value(headline: list[dict], key: str):
    return next(h["value"] for h in headline if h["key"] == key)


def _figure(shown, q: Q) -> Q:
    if isinstance(shown, Q):
        return shown
    return Q(None, q.unit, q.decimals, suppressed=True, withheld=True)


def _v(row: dict | None, key: str) -> float:
    return float((row or {}).get(key) or 0)


def _in(agg: Aggregate | None, partner_id: str) -> bool:
    return agg is not None and partner_id in agg


def _months_between(start, end) -> list[Period]:
    """The local months from the one holding ``start`` to the one holding ``end``."""
    out, p = [], Period.containing("month", start)
    while p.start <= end:
        out.append(p)
        p = Period.containing("month", p.end + timedelta(days=1))
    return out


def _contract_table(sheet: Sheet, named: list[dict], grouped: list[str], active: list[dict], positions: dict,
                    partners: dict, agg: Aggregate | None) -> tuple[dict, list[Figure]]:
    """Allotment, use and remaining hours per named contract, the aggregate's contracts in one
    row, the total; and the figures of the hours used (for CSV and versions)."""
    figures: list[Figure] = []

    def quantities(name: str, cids: list[str]) -> dict:
        def q(col, dec):
            return Q(sum(positions[c][col] or 0.0 for c in cids), "gpu_h", dec)
        qs = {"allotment": q("allotment_gpu_hours", 0), "used": q("gpu_hours", 1),
              "used_to_date": q("used_to_date_gpu_hours", 1), "remaining": q("remaining_gpu_hours", 1)}
        if name != "total":
            context = "@confidential_group" if name == "group" else name
            figures.append(Figure(f"contract.{'confidential_group' if name == 'group' else name}.gpu_hours_used",
                                  L("kpi", "gpu_hours_used"), sheet.figure(f"contract.{name}.used", qs["used"]), context))
        return {col: sheet.show(f"contract.{name}.{col}", q_) for col, q_ in qs.items()}

    out_rows = []
    for c in named:
        cid = c["contract_id"]
        pos = positions[cid]
        row = quantities(cid, [cid])
        flag = "exceeded" if pos["is_exhausted"] else ("warning" if pos["is_warn"] else "ok")
        open_ = not (sheet.withheld(f"contract.{cid}.used_to_date") or sheet.withheld(f"contract.{cid}.allotment"))
        out_rows.append({"contract_id": cid, "partner": partner_label(partners[c["partner_id"]]),
                         "area": L("areas", c["usage_area"] or "unassigned"),
                         "term_start": pos["term_start"], "term_end": pos["term_end"], **row,
                         "used_share": Q(pos["used_share_pct"], "pct", 1) if open_ else WITHHELD,
                         "projected": Q(pos["projected_at_term_end_gpu_hours"], "gpu_h", 0) if open_ else WITHHELD,
                         "status": L("status", flag) if open_ else WITHHELD, "status_key": flag if open_ else "ok"})
    group = None
    if grouped:
        group = agg.view(quantities("group", grouped))
        group["withheld"] = any(sheet.withheld(f"contract.group.{c}")
                                for c in ("allotment", "used", "used_to_date", "remaining"))
    total = quantities("total", [c["contract_id"] for c in active]) if active else {
        col: Q(0.0, "gpu_h", 1) for col in ("allotment", "used", "used_to_date", "remaining")}
    return {"rows": out_rows, "group": group, "total": total}, figures


def _state_aid(sheet: Sheet, sa: dict, rules: Rules, dm_rows: list[dict], agg: Aggregate | None,
               partners: dict) -> dict:
    """Economic use of the whole centre (withheld where it would split the aggregate) and the
    de-minimis positions of the undertakings in scope, the aggregate's undertakings in one row."""
    econ_open = not sheet.withheld("centre.economic_use_gpu_hours")
    status, status_key = status_label(sa.get("status")) if econ_open else (WITHHELD, "unknown")
    scope_pids = set(partners)
    in_scope = [r for r in dm_rows if scope_pids & set(r["partner_ids"] or [])]
    named, group = deminimis_grouped(in_scope, agg, partners, rules.min_group_size)
    dm = []
    for r in named:
        st, st_key = status_label(r["status"])
        dm.append({"partner": r["undertaking_name"], "aid": Q(r["total_eur"], "eur", 2),
                   "share": Q(r["share_pct"], "pct", 1), "status": st, "status_key": st_key})
    dm_group = None
    if group:
        st, st_key = status_label(group["status"])
        dm_group = {
            "undertakings": Q(group["undertakings"], "count"), "confidential": Q(group["confidential"], "count"),
            "types": [L("partner_types_plural", t) for t in group["types"]], "suppressed": group["suppressed"],
            "aid": WITHHELD if group["suppressed"] else Q(group["total_eur"], "eur", 2),
            "status": WITHHELD if group["suppressed"] else st, "status_key": "ok" if group["suppressed"] else st_key,
        }
    return {
        "share_of_capacity": Q(sa.get("share_of_capacity_pct"), "pct", 2) if econ_open else WITHHELD,
        "share_of_allowance": Q(sa.get("share_of_allowance_pct"), "pct", 1) if econ_open else WITHHELD,
        "economic_use_gpu_hours": Q(sa.get("economic_use_gpu_hours_ytd"), "gpu_h", 1) if econ_open else WITHHELD,
        "allowance": Q(100.0 * rules.economic_use_allowance_share, "pct", 0),
        "status": status, "status_key": status_key,
        "economic_withheld": not econ_open,
        "deminimis": {"available": True, "rows": dm, "group": dm_group},
        "ceiling": Q(rules.deminimis_ceiling_eur, "eur", 0),
        "warn_at": Q(100.0 * rules.warn_share, "pct", 0),
        "window_years": rules.deminimis_window_years,
    }


def _series(con, key: str, sheet: Sheet, months: list[Period], areas: list[str], totals: bool) -> dict:
    """GPU-hours per month and area for the months with data, withheld cells left out (None);
    the scope's month totals (for a chart without the areas where some are withheld) and the
    Revier share of a month, each only where printed (the share needs the month's total too)."""
    per_month = [scope_rows(con, key, m) for m in months]

    def cell(name: str, m: Period, value):
        key_ = f"series.{name}.{m.label}"
        return None if key_ not in sheet.cells or sheet.withheld(key_) else value

    gpu = {a: [cell(a, m, (r.get(a) or {}).get("gpu_hours") or 0.0) for m, r in zip(months, per_month)] for a in areas}
    total = [cell("total", m, (r.get("all") or {}).get("gpu_hours") or 0.0) if totals else None
             for m, r in zip(months, per_month)]
    revier = [None if t is None else cell("revier", m, (r.get("all") or {}).get("revier_gpu_hour_share_pct"))
              for t, m, r in zip(total, months, per_month)]
    shown = [a for a in areas if any(v is not None for v in gpu[a])]
    return {
        "bucket_kind": "month",
        "buckets": [m.start for m in months],
        "areas": shown,
        "gpu_hours": {a: gpu[a] for a in shown},
        "total": total,
        "revier_share": revier,
        "withheld": len(shown) < len(areas) or any(v is None for a in shown for v in gpu[a]),
    }
