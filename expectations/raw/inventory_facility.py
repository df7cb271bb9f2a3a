"""Suite raw.inventory_facility: the facility figures of the latest delivered inventory.

Not period-bound. The design IT power is the denominator of the load KPIs and of the
meters' plausibility bound; the floor area is a funding condition (at least 1,000 m²).
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "raw.inventory_facility"
TABLE = "raw.inventory_facility"
GRAIN = None
REQUIRES = ("raw.inventory_facility",)
MIN_FLOOR_AREA_M2 = 1000.0

SEVERITY = {
    "facility_one_row": ("critical", "The inventory describes the facility exactly once."),
    "facility_design_power_present": ("critical", "The facility's design IT power is recorded."),
    "facility_design_power_range": ("critical", "The design IT power is a plausible figure (1 kW to 100 MW)."),
    "facility_floor_area": ("warning", "The recorded server floor area is at least the funded 1,000 m²."),
}

EXAMPLES = {
    "facility_design_power_present": ["cluster", "design_it_power_kw"],
    "facility_design_power_range": ["cluster", "design_it_power_kw"],
    "facility_floor_area": ["cluster", "floor_area_m2"],
}


def load_frame(con, scope):
    return con.execute(
        """
        select cluster, floor_area_m2, design_it_power_kw, line_no
        from raw.inventory_facility
        where ingest_id = (select max(ingest_id) from raw.inventory_facility)
        """
    ).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("facility_one_row", E.ExpectTableRowCountToBeBetween(min_value=1, max_value=1)),
        ("facility_design_power_present", E.ExpectColumnValuesToNotBeNull(column="design_it_power_kw")),
        ("facility_design_power_range",
         E.ExpectColumnValuesToBeBetween(column="design_it_power_kw", min_value=1, max_value=100000)),
        ("facility_floor_area", E.ExpectColumnValuesToBeBetween(column="floor_area_m2", min_value=MIN_FLOOR_AREA_M2)),
    ])
