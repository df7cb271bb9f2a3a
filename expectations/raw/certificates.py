"""Suite raw.certificates: the certificate ledger of each year (its latest delivery).

Not period-bound: the ledgers are small (a few items a year) and checked whole on every run.
The renewable energy factor counts cancelled guarantees of origin, PPAs and the named on-site
meters (int_energy_ledger_yearly); an item that cannot count is flagged here.
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "raw.certificates"
TABLE = "raw.certificates"
GRAIN = None
REQUIRES = ("raw.certificates", "raw.inventory_meters")

SEVERITY = {
    "certificates_onsite_meter_known": (
        "critical",
        "Every on-site item names an onsite_generation meter of the inventory, so its energy can be counted.",
    ),
    "certificates_goo_cancelled": (
        "warning",
        "Every guarantee of origin in a ledger is cancelled (cancelled_on given); one that is not does not "
        "count towards the renewable share.",
    ),
    "certificates_cancelled_for_year": (
        "warning",
        "No guarantee of origin was cancelled before the first day of the year its ledger covers.",
    ),
}

EXAMPLES = {
    "certificates_onsite_meter_known": ["year", "item_no", "meter_id", "meter_kind"],
    "certificates_goo_cancelled": ["year", "item_no", "certificate_id", "kwh"],
    "certificates_cancelled_for_year": ["year", "item_no", "certificate_id", "cancelled_on"],
}


def load_frame(con, scope):
    return con.execute(
        """
        with latest as (
            select * from raw.certificates
            qualify ingest_id = max(ingest_id) over (partition by year)
        ),
        meters as (
            select meter_id, kind from raw.inventory_meters
            where ingest_id = (select max(ingest_id) from raw.inventory_meters)
        )
        select latest.year, latest.item_no, latest.kind, latest.kwh, latest.certificate_id, latest.cancelled_on,
               latest.meter_id, meters.kind as meter_kind,
               latest.kind <> 'onsite' or coalesce(meters.kind = 'onsite_generation', false) as onsite_meter_ok,
               latest.kind <> 'goo' or latest.cancelled_on is not null as goo_cancelled,
               latest.cancelled_on is null or latest.cancelled_on >= make_date(latest.year, 1, 1)
                   as cancelled_for_year
        from latest
        left join meters on latest.meter_id = meters.meter_id
        order by latest.year, latest.item_no
        """
    ).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("certificates_onsite_meter_known", E.ExpectColumnValuesToBeInSet(column="onsite_meter_ok", value_set=[True])),
        ("certificates_goo_cancelled", E.ExpectColumnValuesToBeInSet(column="goo_cancelled", value_set=[True])),
        ("certificates_cancelled_for_year",
         E.ExpectColumnValuesToBeInSet(column="cancelled_for_year", value_set=[True])),
    ])
