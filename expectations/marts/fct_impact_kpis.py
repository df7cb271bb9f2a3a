"""Suite marts.fct_impact_kpis: the impact KPIs per period (month, quarter, year) and usage area.

Batch: the KPI rows whose period overlaps the validated days; outcomes are kept per KPI
period. Periods are read as '2026-10' (month), '2026-Q4' (quarter) and '2026' (year); a
period given as its first day ('2026-10-01') is accepted too. Value ranges follow the KPI:
shares and utilisation (names containing 'share' or 'utili') lie in 0..100 %, PUE in 1.0..2.5,
ERF in 0..1, and no KPI is negative. Other percentages may pass 100 (a de-minimis ceiling
used beyond its limit, a peak above the design load): those are findings for the report.
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "marts.fct_impact_kpis"
TABLE = "marts.fct_impact_kpis"
GRAIN = "period"
REQUIRES = ("marts.fct_impact_kpis",)
PERIOD_TYPES = ("month", "quarter", "year")
# Ratios computed in floating point land a hair beyond their bounds (100.00000000000001 %).
EPS = 1e-9
USAGE_AREAS = ("methods_research", "cooperation", "education", "operations", "unassigned", "all", "total")

SEVERITY = {
    "kpi_period_type_known": ("critical", "Every KPI is for a month, a quarter or a year."),
    "kpi_period_format": ("critical", "Every KPI period is a readable month, quarter or year."),
    "kpi_key_unique": ("critical", "Each KPI appears once per period and usage area."),
    "kpi_nonnegative": ("critical", "No KPI value is negative."),
    "kpi_shares_within_0_100": ("critical", "Shares and utilisation lie between 0 % and 100 %."),
    "kpi_pue_range": ("critical", "PUE lies between 1.0 and 2.5."),
    "kpi_erf_range": ("critical", "The energy reuse factor lies between 0 and 1."),
    "kpi_value_present": ("warning", "Every KPI has a value."),
    "kpi_area_known": ("warning", "Every KPI is for a known usage area (or the whole centre)."),
}

EXAMPLES = {
    "kpi_period_type_known": ["period_type", "period", "kpi"],
    "kpi_period_format": ["period_type", "period", "kpi"],
    "kpi_key_unique": ["period_type", "period", "usage_area", "kpi"],
    "kpi_nonnegative": ["period", "usage_area", "kpi", "value", "unit"],
    "kpi_shares_within_0_100": ["period", "usage_area", "kpi", "value", "unit"],
    "kpi_pue_range": ["period", "usage_area", "kpi", "value"],
    "kpi_erf_range": ["period", "usage_area", "kpi", "value"],
    "kpi_value_present": ["period", "usage_area", "kpi"],
    "kpi_area_known": ["period", "kpi", "usage_area"],
}


def load_frame(con, scope):
    return con.execute(
        """
        with k as (
            select *, cast(period as varchar) as p, lower(kpi) as k_lower, lower(coalesce(unit, '')) as u
            from marts.fct_impact_kpis
        ),
        parsed as (
            select *,
                case
                    when regexp_full_match(p, '\\d{4}-\\d{2}-\\d{2}') then try_cast(p as date)
                    when period_type = 'month' and regexp_full_match(p, '\\d{4}-\\d{2}')
                        then try_cast(p || '-01' as date)
                    when period_type = 'quarter' and regexp_full_match(p, '\\d{4}-?Q[1-4]')
                        then make_date(cast(left(p, 4) as integer), 3 * cast(right(p, 1) as integer) - 2, 1)
                    when period_type = 'year' and regexp_full_match(p, '\\d{4}')
                        then make_date(cast(p as integer), 1, 1)
                end as ps
            from k
        ),
        spans as (
            select *,
                case period_type
                    when 'month' then cast(ps + interval 1 month - interval 1 day as date)
                    when 'quarter' then cast(ps + interval 3 month - interval 1 day as date)
                    when 'year' then cast(ps + interval 1 year - interval 1 day as date)
                end as pe
            from parsed
        )
        select
            coalesce(s.ps, $first) as period_start,
            coalesce(s.pe, $last) as period_end,
            s.period_type, s.p as period, s.usage_area, s.kpi, s.value, s.unit,
            s.ps is not null and s.pe is not null as period_ok,
            s.period_type || '|' || s.p || '|' || coalesce(s.usage_area, '') || '|' || s.kpi as row_key,
            coalesce(s.usage_area, 'all') as usage_area_or_all,
            -- shares of a whole; a share of an allowance may exceed 100 % (its status says so)
            case when (s.k_lower like '%share%' or s.k_lower like '%utili%') and s.k_lower not like '%allowance_share%'
                 then s.value end as percent_value,
            case when s.k_lower = 'pue' or s.k_lower like 'pue\\_%' escape '\\' then s.value end as pue_value,
            case when s.k_lower = 'erf' or s.k_lower like 'erf\\_%' escape '\\' then s.value end as erf_value
        from spans s
        where (s.ps is null or s.pe is null) or (s.ps <= $last and s.pe >= $first)
        order by period_start, s.period_type, s.kpi, s.usage_area
        """,
        {"first": scope.first_day, "last": scope.last_day},
    ).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("kpi_period_type_known", E.ExpectColumnValuesToBeInSet(column="period_type", value_set=list(PERIOD_TYPES))),
        ("kpi_period_format", E.ExpectColumnValuesToBeInSet(column="period_ok", value_set=[True])),
        ("kpi_key_unique", E.ExpectColumnValuesToBeUnique(column="row_key")),
        ("kpi_nonnegative", E.ExpectColumnValuesToBeBetween(column="value", min_value=-EPS)),
        ("kpi_shares_within_0_100", E.ExpectColumnValuesToBeBetween(column="percent_value", min_value=-EPS, max_value=100 + EPS)),
        ("kpi_pue_range", E.ExpectColumnValuesToBeBetween(column="pue_value", min_value=1.0 - EPS, max_value=2.5 + EPS)),
        ("kpi_erf_range", E.ExpectColumnValuesToBeBetween(column="erf_value", min_value=-EPS, max_value=1 + EPS)),
        ("kpi_value_present", E.ExpectColumnValuesToNotBeNull(column="value")),
        ("kpi_area_known", E.ExpectColumnValuesToBeInSet(column="usage_area_or_all", value_set=list(USAGE_AREAS))),
    ])
