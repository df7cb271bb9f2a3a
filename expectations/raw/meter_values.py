"""Suite raw.meter_values: readings of the meters not read in kWh (water m3, temperatures degC).

Not period-bound: the readings of the latest delivery of each meter and instant, checked whole
on every run (a few meters at 15-minute readings: tens of thousands of rows a year).
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "raw.meter_values"
TABLE = "raw.meter_values"
GRAIN = None
REQUIRES = ("raw.meter_values", "raw.inventory_meters")
# a reading outside this range is no temperature of a cooling or heat-reuse medium
TEMPERATURE_RANGE_C = (-30.0, 100.0)

SEVERITY = {
    "values_meter_in_inventory": ("critical", "Every meter that delivers values is listed in the inventory."),
    "values_meter_not_kwh": (
        "critical",
        "Every meter that delivers values is read in m3 or degC: kWh registers belong in the meters CSV.",
    ),
    "values_water_nonnegative": ("critical", "Water registers (m3) never read below zero."),
    "values_temperature_plausible": (
        "warning", "Temperatures lie between -30 and 100 degC (the range of a cooling or heat-reuse medium).",
    ),
}

EXAMPLES = {
    "values_meter_in_inventory": ["meter_id", "reading_at", "value"],
    "values_meter_not_kwh": ["meter_id", "unit", "reading_at", "value"],
    "values_water_nonnegative": ["meter_id", "reading_at", "value"],
    "values_temperature_plausible": ["meter_id", "reading_at", "value"],
}


def load_frame(con, scope):
    lo, hi = TEMPERATURE_RANGE_C
    return con.execute(
        f"""
        with latest as (
            select * from raw.meter_values
            qualify row_number() over (partition by meter_id, reading_at order by ingest_id desc, line_no desc) = 1
        ),
        meters as (
            select meter_id, coalesce(unit, case kind when 'water_intake' then 'm3' when 'temperature' then 'degC'
                                                 else 'kWh' end) as unit
            from raw.inventory_meters
            where ingest_id = (select max(ingest_id) from raw.inventory_meters)
        )
        select latest.meter_id, latest.reading_at, latest.value, meters.unit,
               meters.meter_id is not null as in_inventory,
               coalesce(meters.unit <> 'kWh', true) as not_kwh,
               coalesce(meters.unit <> 'm3' or latest.value >= 0, true) as water_ok,
               coalesce(meters.unit <> 'degC' or latest.value between {lo} and {hi}, true) as temperature_ok
        from latest
        left join meters using (meter_id)
        order by latest.meter_id, latest.reading_at
        """
    ).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("values_meter_in_inventory", E.ExpectColumnValuesToBeInSet(column="in_inventory", value_set=[True])),
        ("values_meter_not_kwh", E.ExpectColumnValuesToBeInSet(column="not_kwh", value_set=[True])),
        ("values_water_nonnegative", E.ExpectColumnValuesToBeInSet(column="water_ok", value_set=[True])),
        ("values_temperature_plausible", E.ExpectColumnValuesToBeInSet(column="temperature_ok", value_set=[True])),
    ])
