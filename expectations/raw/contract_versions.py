"""Suite raw.contract_versions: partner contracts, one row per version (as signed, amendments).

Not period-bound: the latest delivery of every contract is checked whole on each run. The
loader already rejects a contract file whose accounts overlap another contract; this suite is
the second line for data that reached the table another way. Examples name contracts, partner
ids and accounts, never partner names (some partners are confidential).
"""

from __future__ import annotations

from kirz.validation import make_suite

SUITE = "raw.contract_versions"
TABLE = "raw.contract_versions"
GRAIN = None
REQUIRES = ("raw.contract_versions",)

USAGE_AREAS = ("methods_research", "cooperation", "education", "operations")
PARTNER_TYPES = (
    "university", "research_institute", "sme", "large_enterprise", "startup",
    "public_administration", "education_provider",
)
# The NUTS-2 regions of Germany (NUTS 2021); a NUTS-3 code lies in one of them.
GERMAN_NUTS2 = (
    "DE11", "DE12", "DE13", "DE14", "DE21", "DE22", "DE23", "DE24", "DE25", "DE26", "DE27",
    "DE30", "DE40", "DE50", "DE60", "DE71", "DE72", "DE73", "DE80", "DE91", "DE92", "DE93",
    "DE94", "DEA1", "DEA2", "DEA3", "DEA4", "DEA5", "DEB1", "DEB2", "DEB3", "DEC0", "DED2",
    "DED4", "DED5", "DEE0", "DEF0", "DEG0",
)
NUTS3_PATTERN = r"^DE[0-9A-Z]{3}$"

SEVERITY = {
    "contracts_ids_present": ("critical", "Every contract version names its contract and its partner."),
    "contracts_usage_area_valid": (
        "critical", "Every contract serves one of the usage areas: AI methods research, cooperation, education, operations.",
    ),
    "contracts_partner_type_valid": ("critical", "Every partner has one of the defined partner types."),
    "contracts_nuts3_shape": ("critical", "Every partner's region is a German NUTS-3 code (DE and three characters)."),
    "contracts_no_account_overlap": (
        "critical", "No Slurm account belongs to two contracts at the same time, so every job has one contract.",
    ),
    "contracts_dates_ordered": ("critical", "Every contract and version ends on or after the day it starts."),
    "contracts_amounts_nonnegative": ("critical", "Allocated GPU-hours and prices are never negative."),
    "contracts_have_accounts": ("critical", "Every contract version names at least one Slurm account."),
    "contracts_nuts3_known": ("warning", "Every partner's NUTS-3 code lies in a German NUTS-2 region."),
    "contracts_postcode_shape": ("warning", "Every partner's postcode has five digits."),
    "contracts_effective_within_valid": ("warning", "Every version takes effect within the contract's term."),
    "contracts_versions_contiguous": ("warning", "Each amendment takes over on the day after the previous version ends."),
    "contracts_have_funders": ("warning", "Every contract names at least one funder."),
    "contracts_partner_consistent": (
        "warning", "A partner has the same type and region in all its contracts.",
    ),
}

EXAMPLES = {
    "contracts_ids_present": ["contract_id", "version_no", "partner_id"],
    "contracts_usage_area_valid": ["contract_id", "version_no", "usage_area"],
    "contracts_partner_type_valid": ["contract_id", "partner_id", "partner_type"],
    "contracts_nuts3_shape": ["contract_id", "partner_id", "partner_nuts3"],
    "contracts_no_account_overlap": ["contract_id", "version_no", "effective_from", "effective_to", "shared_accounts"],
    "contracts_dates_ordered": ["contract_id", "version_no", "valid_from", "valid_to", "effective_from", "effective_to"],
    "contracts_amounts_nonnegative": ["contract_id", "version_no", "gpu_hours_allocated", "price_eur_per_gpu_hour"],
    "contracts_have_accounts": ["contract_id", "version_no", "n_accounts"],
    "contracts_nuts3_known": ["contract_id", "partner_id", "partner_nuts3"],
    "contracts_postcode_shape": ["contract_id", "partner_id", "partner_postcode"],
    "contracts_effective_within_valid": ["contract_id", "version_no", "valid_from", "valid_to", "effective_from", "effective_to"],
    "contracts_versions_contiguous": ["contract_id", "version_no", "effective_from", "gap_days"],
    "contracts_have_funders": ["contract_id", "version_no"],
    "contracts_partner_consistent": ["partner_id", "contract_id", "partner_type", "partner_nuts3"],
}


def load_frame(con, scope):
    return con.execute(
        """
        with cv as (
            select v.* exclude (document, partner_name)
            from raw.contract_versions v
            join (select contract_id, max(ingest_id) as ingest_id from raw.contract_versions group by contract_id) l
              using (contract_id, ingest_id)
        ),
        acc as (
            select contract_id, version_no, effective_from,
                   coalesce(effective_to, date '9999-12-31') as effective_to, unnest(accounts) as account
            from cv
        ),
        shared as (
            select a.contract_id, a.version_no,
                   string_agg(distinct a.account || ' also in ' || b.contract_id, '; ') as shared_accounts
            from acc a join acc b
              on a.account = b.account and a.contract_id <> b.contract_id
             and a.effective_from <= b.effective_to and b.effective_from <= a.effective_to
            group by a.contract_id, a.version_no
        ),
        partners as (
            select partner_id, count(distinct coalesce(partner_type, '') || '|' || coalesce(partner_nuts3, '')) as variants
            from cv group by partner_id
        )
        select
            cv.contract_id, cv.version_no, cv.partner_id, cv.partner_type, cv.partner_postcode,
            cv.partner_nuts3, cv.usage_area, cv.valid_from, cv.valid_to, cv.effective_from,
            cv.effective_to, cv.gpu_hours_allocated, cv.price_eur_per_gpu_hour,
            cv.contract_id is not null and cv.partner_id is not null as ids_present,
            coalesce(len(cv.accounts), 0) as n_accounts,
            coalesce(len(cv.funders), 0) as n_funders,
            o.shared_accounts,
            o.shared_accounts is null as no_overlap,
            least(cv.valid_to - cv.valid_from, cv.effective_to - cv.effective_from) as min_span_days,
            least(cv.gpu_hours_allocated, cv.price_eur_per_gpu_hour) as min_amount,
            left(cv.partner_nuts3, 4) in (select unnest($nuts2)) as nuts3_known,
            cv.effective_from >= cv.valid_from and cv.effective_to <= cv.valid_to as effective_within_valid,
            case when cv.version_no > 0 then
                cv.effective_from - (lag(cv.effective_to) over (partition by cv.contract_id order by cv.version_no)) - 1
            end as gap_days,
            p.variants = 1 as partner_consistent
        from cv
        left join shared o using (contract_id, version_no)
        left join partners p using (partner_id)
        order by cv.contract_id, cv.version_no
        """,
        {"nuts2": list(GERMAN_NUTS2)},
    ).df()


def build_suite():
    import great_expectations as gx

    E = gx.expectations
    return make_suite(SUITE, SEVERITY, EXAMPLES, [
        ("contracts_ids_present", E.ExpectColumnValuesToBeInSet(column="ids_present", value_set=[True])),
        ("contracts_usage_area_valid", E.ExpectColumnValuesToBeInSet(column="usage_area", value_set=list(USAGE_AREAS))),
        ("contracts_partner_type_valid",
         E.ExpectColumnValuesToBeInSet(column="partner_type", value_set=list(PARTNER_TYPES))),
        ("contracts_nuts3_shape", E.ExpectColumnValuesToMatchRegex(column="partner_nuts3", regex=NUTS3_PATTERN)),
        ("contracts_no_account_overlap", E.ExpectColumnValuesToBeInSet(column="no_overlap", value_set=[True])),
        ("contracts_dates_ordered", E.ExpectColumnValuesToBeBetween(column="min_span_days", min_value=0)),
        ("contracts_amounts_nonnegative", E.ExpectColumnValuesToBeBetween(column="min_amount", min_value=0)),
        ("contracts_have_accounts", E.ExpectColumnValuesToBeBetween(column="n_accounts", min_value=1)),
        ("contracts_nuts3_known", E.ExpectColumnValuesToBeInSet(column="nuts3_known", value_set=[True])),
        ("contracts_postcode_shape", E.ExpectColumnValuesToMatchRegex(column="partner_postcode", regex=r"^[0-9]{5}$")),
        ("contracts_effective_within_valid",
         E.ExpectColumnValuesToBeInSet(column="effective_within_valid", value_set=[True])),
        ("contracts_versions_contiguous", E.ExpectColumnValuesToBeBetween(column="gap_days", min_value=0, max_value=0)),
        ("contracts_have_funders", E.ExpectColumnValuesToBeBetween(column="n_funders", min_value=1)),
        ("contracts_partner_consistent",
         E.ExpectColumnValuesToBeInSet(column="partner_consistent", value_set=[True])),
    ])
