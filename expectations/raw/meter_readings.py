"""Suite raw.meter_readings: cumulative kWh registers of the facility meters.

Batch: the readings of a chunk of local days (a few hundred per meter and week), each with
the reading before it (looked up to two days back) so that steps between readings can be
checked. Repeated deliveries of the same reading collapse to one; a drop of the register to
less than half its previous value is a detected reset or rollover (listed as a warning); any
other drop breaks monotonicity.
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "raw.meter_readings"
TABLE = "raw.meter_readings"
GRAIN = "day"
REQUIRES = ("raw.meter_readings", "raw.inventory_meters")
RESET_BELOW_SHARE = 0.5
# No meter of the site can deliver more than this multiple of the design IT power (PUE 2.5).
MAX_LOAD_MULTIPLE = 2.5

SEVERITY = {
    "meters_kwh_valid": ("critical", "Every meter reading is a non-negative number of kWh."),
    "meters_monotonic": (
        "critical", "Energy registers never run backwards, except at a detected counter reset.",
    ),
    "meters_in_inventory": ("critical", "Every meter that delivers readings is listed in the inventory."),
    "meters_before_delivery": (
        "critical", "No meter reading is dated after the moment its file was delivered.",
    ),
    "meters_resets": ("warning", "No energy register was reset or rolled over (resets are listed)."),
    "meters_plausible_rate": (
        "warning", "No meter shows more power between two readings than the site can draw (2.5 × design IT load).",
    ),
    "meters_no_conflicting_duplicates": (
        "warning", "A meter never reports two different values for the same instant.",
    ),
}

EXAMPLES = {
    "meters_kwh_valid": ["meter_id", "reading_at", "kwh"],
    "meters_monotonic": ["meter_id", "prev_at", "prev_kwh", "reading_at", "kwh"],
    "meters_in_inventory": ["meter_id"],
    "meters_before_delivery": ["meter_id", "reading_at", "received_at"],
    "meters_resets": ["meter_id", "prev_at", "prev_kwh", "reading_at", "kwh"],
    "meters_plausible_rate": ["meter_id", "prev_at", "reading_at", "delta_kwh", "implied_kw", "limit_kw"],
    "meters_no_conflicting_duplicates": ["meter_id", "reading_at", "kwh_low", "kwh"],
}


def load_frame(con, scope):
    sql = f"""
    with inv as (
        select distinct meter_id from raw.inventory_meters
        where ingest_id = (select max(ingest_id) from raw.inventory_meters)
    ),
    r as (
        select meter_id, reading_at,
               count(*) filter (where kwh is null or not isfinite(kwh) or kwh < 0) as invalid,
               max(kwh) filter (where isfinite(kwh)) as kwh,
               min(kwh) filter (where isfinite(kwh)) as kwh_low,
               max(epoch(reading_at) - epoch(received_at)) as ahead_s,
               max(received_at) as received_at
        from raw.meter_readings
        where reading_at >= $lo - interval 2 day and reading_at < $hi
        group by meter_id, reading_at
    ),
    l as (
        select *,
               lag(kwh ignore nulls) over w as prev_kwh,
               lag(case when kwh is not null then reading_at end ignore nulls) over w as prev_at
        from r
        window w as (partition by meter_id order by reading_at)
    ),
    f as (
        select *, {scope.local_day('reading_at')} as day from l where reading_at >= $lo
    )
    select
        f.day as period_start, f.day as period_end,
        f.meter_id, f.reading_at, f.kwh, f.kwh_low, f.prev_at, f.prev_kwh, f.received_at,
        f.invalid = 0 as kwh_valid,
        f.kwh - f.prev_kwh as delta_kwh,
        coalesce(f.kwh < f.prev_kwh and f.kwh < $reset_share * f.prev_kwh, false) as is_reset,
        coalesce(f.kwh < f.prev_kwh and not (f.kwh < $reset_share * f.prev_kwh), false) as is_unexplained_drop,
        case when f.kwh >= f.prev_kwh and f.reading_at > f.prev_at
             then (f.kwh - f.prev_kwh) / ((epoch(f.reading_at) - epoch(f.prev_at)) / 3600.0) end as implied_kw,
        $limit_kw as limit_kw,
        inv.meter_id is not null as in_inventory,
        f.ahead_s,
        coalesce(f.kwh - f.kwh_low, 0) as conflict_kwh
    from f
    left join inv using (meter_id)
    where f.day in (select day from dq_days)
    order by f.meter_id, f.reading_at
    """
    return con.execute(
        sql,
        {
            "lo": scope.utc_start, "hi": scope.utc_end, "reset_share": RESET_BELOW_SHARE,
            "limit_kw": MAX_LOAD_MULTIPLE * scope.design_it_power_kw,
        },
    ).df()


def build_suite():
    import great_expectations as gx

    from kirz.validation import FUTURE_TOLERANCE_S

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("meters_kwh_valid", E.ExpectColumnValuesToBeInSet(column="kwh_valid", value_set=[True])),
        ("meters_monotonic", E.ExpectColumnValuesToBeInSet(column="is_unexplained_drop", value_set=[False])),
        ("meters_in_inventory", E.ExpectColumnValuesToBeInSet(column="in_inventory", value_set=[True])),
        ("meters_before_delivery", E.ExpectColumnValuesToBeBetween(column="ahead_s", max_value=FUTURE_TOLERANCE_S)),
        ("meters_resets", E.ExpectColumnValuesToBeInSet(column="is_reset", value_set=[False])),
        ("meters_plausible_rate",
         E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="limit_kw", column_B="implied_kw", or_equal=True,
                                                   ignore_row_if="either_value_is_missing")),
        ("meters_no_conflicting_duplicates",
         E.ExpectColumnValuesToBeBetween(column="conflict_kwh", min_value=0, max_value=0)),
    ])
