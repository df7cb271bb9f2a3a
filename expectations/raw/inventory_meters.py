"""Suite raw.inventory_meters: the facility meters of the latest delivered inventory.

Not period-bound: checked whole on every run. PUE needs a grid intake and an IT meter.
"""

from __future__ import annotations

from kirz.ingest.inventory import METER_KINDS
from kirz.validation import make_suite

SUITE = "raw.inventory_meters"
TABLE = "raw.inventory_meters"
GRAIN = None
REQUIRES = ("raw.inventory_meters",)

SEVERITY = {
    "inventory_meter_unique": ("critical", "Each meter is listed once."),
    "inventory_meters_for_pue": (
        "critical", "The inventory has a grid intake meter and an IT meter, so PUE can be computed.",
    ),
    "inventory_meter_kind_known": (
        "warning",
        "Every meter is of a known kind (grid intake, IT, cooling, grid export, on-site generation, backup "
        "generator, heat removed, reused or released, water intake, temperature, renewable supply, other).",
    ),
    "inventory_meter_parent_known": ("warning", "Every parent meter named is itself in the inventory."),
}

EXAMPLES = {
    "inventory_meter_unique": ["meter_id"],
    "inventory_meter_kind_known": ["meter_id", "kind"],
    "inventory_meter_parent_known": ["meter_id", "parent_meter_id"],
}


def load_frame(con, scope):
    return con.execute(
        """
        with m as (
            select * from raw.inventory_meters
            where ingest_id = (select max(ingest_id) from raw.inventory_meters)
        )
        select m.cluster, m.meter_id, m.kind, m.parent_meter_id, m.line_no,
               m.parent_meter_id is null or m.parent_meter_id in (select meter_id from m) as parent_known
        from m
        order by m.line_no, m.meter_id
        """
    ).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("inventory_meter_unique", E.ExpectColumnValuesToBeUnique(column="meter_id")),
        ("inventory_meters_for_pue",
         E.ExpectColumnDistinctValuesToContainSet(column="kind", value_set=["grid_intake", "it"])),
        ("inventory_meter_kind_known", E.ExpectColumnValuesToBeInSet(column="kind", value_set=list(METER_KINDS))),
        ("inventory_meter_parent_known", E.ExpectColumnValuesToBeInSet(column="parent_known", value_set=[True])),
    ])
