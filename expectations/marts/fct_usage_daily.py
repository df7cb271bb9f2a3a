"""Suite marts.fct_usage_daily: usage per local day, contract and usage area.

Batch: the rows of a chunk of local days. The cross-checks against fct_job_usage and the raw
layer (conservation of jobs, GPU-hours and energy) are in the suite marts.conservation.
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "marts.fct_usage_daily"
TABLE = "marts.fct_usage_daily"
GRAIN = "day"
REQUIRES = ("marts.fct_usage_daily",)
USAGE_AREAS = ("methods_research", "cooperation", "education", "operations", "unassigned")

SEVERITY = {
    "usage_daily_key_unique": ("critical", "Each day, contract and usage area appears once."),
    "usage_daily_nonnegative": (
        "critical", "No day shows negative jobs, GPU-hours, core-hours, energy, emissions or cost.",
    ),
    "usage_daily_area_known": ("critical", "All usage is in one of the known usage areas."),
    "usage_daily_contract_area": ("critical", "Usage is 'unassigned' exactly when no contract covers it."),
    "usage_daily_facility_ge_it": ("critical", "Facility energy is at least IT energy (PUE is at least 1)."),
}

EXAMPLES = {
    "usage_daily_key_unique": ["day", "contract_id", "usage_area"],
    "usage_daily_nonnegative": ["day", "contract_id", "jobs_started", "gpu_hours", "cpu_core_hours", "it_energy_kwh", "cost_eur"],
    "usage_daily_area_known": ["day", "contract_id", "usage_area"],
    "usage_daily_contract_area": ["day", "contract_id", "usage_area"],
    "usage_daily_facility_ge_it": ["day", "contract_id", "it_energy_kwh", "facility_energy_kwh"],
}


def load_frame(con, scope):
    return con.execute(
        """
        select
            u.day as period_start, u.day as period_end,
            u.day, u.contract_id, u.partner_id, u.usage_area, u.jobs_started, u.gpu_hours,
            u.cpu_core_hours, u.it_energy_kwh, u.facility_energy_kwh, u.co2e_kg, u.cost_eur,
            cast(u.day as varchar) || '|' || coalesce(u.contract_id, '(none)') || '|' || coalesce(u.usage_area, '(none)')
                as row_key,
            coalesce(u.usage_area, '(none)') as usage_area_or_none,
            least(u.jobs_started, u.gpu_hours, u.cpu_core_hours, u.it_energy_kwh, u.facility_energy_kwh,
                  u.co2e_kg, u.cost_eur) as min_usage,
            (u.contract_id is null) = (u.usage_area = 'unassigned') as contract_area_consistent,
            u.facility_energy_kwh - u.it_energy_kwh as facility_minus_it
        from marts.fct_usage_daily u
        where u.day in (select day from dq_days)
        order by u.day, u.contract_id nulls last, u.usage_area
        """
    ).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("usage_daily_key_unique", E.ExpectColumnValuesToBeUnique(column="row_key")),
        ("usage_daily_nonnegative", E.ExpectColumnValuesToBeBetween(column="min_usage", min_value=0)),
        ("usage_daily_area_known",
         E.ExpectColumnValuesToBeInSet(column="usage_area_or_none", value_set=list(USAGE_AREAS))),
        ("usage_daily_contract_area",
         E.ExpectColumnValuesToBeInSet(column="contract_area_consistent", value_set=[True])),
        ("usage_daily_facility_ge_it", E.ExpectColumnValuesToBeBetween(column="facility_minus_it", min_value=-1e-9)),
    ])
