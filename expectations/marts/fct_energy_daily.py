"""Suite marts.fct_energy_daily: the facility's energy per local day.

Batch: one row per local day of the chunk, also for a day the mart lacks (then PUE is
missing and that check fails). PUE = E_DC / IT energy (E_DC = grid intake + on-site generation +
backup generators - grid export, the mart's dc_kwh) must lie in [1.0, 2.5]; the IT
meter must cover the energy integrated from the node samples; peak and average IT load are
checked against each other, the day's length (23, 24 or 25 hours) and the design IT power.
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "marts.fct_energy_daily"
TABLE = "marts.fct_energy_daily"
GRAIN = "day"
REQUIRES = ("marts.fct_energy_daily",)
PUE_MIN, PUE_MAX = 1.0, 2.5
PUE_TOLERANCE = 0.005
AVG_LOAD_TOLERANCE_PCT = 1.0

SEVERITY = {
    "energy_pue_present": ("critical", "Every day has a PUE (grid intake and IT meters were read)."),
    "energy_pue_range": ("critical", "Every day's PUE lies between 1.0 and 2.5."),
    "energy_pue_consistent": (
        "critical", "Every day's PUE equals E_DC (grid intake + on-site generation - export) divided by IT energy.",
    ),
    "energy_it_covers_nodes": (
        "critical", "The IT meter shows at least the energy measured at the compute nodes.",
    ),
    "energy_idle_within_node": ("critical", "Idle node energy is part of, and never more than, node energy."),
    "energy_nonnegative": ("critical", "No energy figure of a day is negative."),
    "energy_peak_ge_avg": ("critical", "A day's peak IT load is at least its average IT load."),
    "energy_renewable_within_grid": ("warning", "Renewable supply never exceeds the energy drawn from the grid."),
    "energy_heat_reuse_within_grid": ("warning", "Reused heat never exceeds the energy drawn from the grid."),
    "energy_peak_within_design": ("warning", "The peak IT load stays within the design IT power."),
    "energy_avg_matches_it": (
        "warning", "The average IT load times the day's hours equals the day's IT energy (within 1 %).",
    ),
}

EXAMPLES = {
    "energy_pue_present": ["day", "grid_kwh", "it_kwh", "in_mart"],
    "energy_pue_range": ["day", "pue", "grid_kwh", "it_kwh"],
    "energy_pue_consistent": ["day", "pue", "dc_kwh", "it_kwh"],
    "energy_it_covers_nodes": ["day", "it_kwh", "node_kwh"],
    "energy_idle_within_node": ["day", "node_kwh", "idle_node_kwh"],
    "energy_nonnegative": ["day", "grid_kwh", "it_kwh", "node_kwh", "idle_node_kwh", "cooling_kwh", "heat_reuse_kwh", "renewable_kwh"],
    "energy_peak_ge_avg": ["day", "avg_it_kw", "peak_it_kw"],
    "energy_renewable_within_grid": ["day", "grid_kwh", "renewable_kwh"],
    "energy_heat_reuse_within_grid": ["day", "grid_kwh", "heat_reuse_kwh"],
    "energy_peak_within_design": ["day", "peak_it_kw", "design_kw"],
    "energy_avg_matches_it": ["day", "avg_it_kw", "hours", "it_kwh", "avg_gap_pct"],
}


def load_frame(con, scope):
    return con.execute(
        """
        select
            d.day as period_start, d.day as period_end, d.day, d.hours,
            e.day is not null as in_mart,
            e.grid_kwh, e.it_kwh, e.node_kwh, e.idle_node_kwh, e.cooling_kwh, e.heat_reuse_kwh,
            e.renewable_kwh, e.pue, e.avg_it_kw, e.peak_it_kw,
            e.dc_kwh,
            abs(e.pue - e.dc_kwh / nullif(e.it_kwh, 0)) as pue_gap,
            least(e.grid_kwh, e.it_kwh, e.node_kwh, e.idle_node_kwh, e.cooling_kwh, e.heat_reuse_kwh,
                  e.renewable_kwh) as min_energy,
            $design_kw as design_kw,
            case when e.it_kwh > 0
                 then 100.0 * abs(e.avg_it_kw * d.hours - e.it_kwh) / e.it_kwh end as avg_gap_pct
        from dq_days d
        left join marts.fct_energy_daily e on e.day = d.day
        order by d.day
        """,
        {"design_kw": scope.design_it_power_kw},
    ).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations

    def a_ge_b(a, b):
        return E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=a, column_B=b, or_equal=True, ignore_row_if="either_value_is_missing"
        )

    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("energy_pue_present", E.ExpectColumnValuesToNotBeNull(column="pue")),
        ("energy_pue_range", E.ExpectColumnValuesToBeBetween(column="pue", min_value=PUE_MIN, max_value=PUE_MAX)),
        ("energy_pue_consistent", E.ExpectColumnValuesToBeBetween(column="pue_gap", min_value=0, max_value=PUE_TOLERANCE)),
        ("energy_it_covers_nodes", a_ge_b("it_kwh", "node_kwh")),
        ("energy_idle_within_node", a_ge_b("node_kwh", "idle_node_kwh")),
        ("energy_nonnegative", E.ExpectColumnValuesToBeBetween(column="min_energy", min_value=0)),
        ("energy_peak_ge_avg", a_ge_b("peak_it_kw", "avg_it_kw")),
        ("energy_renewable_within_grid", a_ge_b("grid_kwh", "renewable_kwh")),
        ("energy_heat_reuse_within_grid", a_ge_b("grid_kwh", "heat_reuse_kwh")),
        ("energy_peak_within_design", a_ge_b("design_kw", "peak_it_kw")),
        ("energy_avg_matches_it",
         E.ExpectColumnValuesToBeBetween(column="avg_gap_pct", min_value=0, max_value=AVG_LOAD_TOLERANCE_PCT)),
    ])
