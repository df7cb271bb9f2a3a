"""Each raw suite: a crafted bad batch fails exactly the expectations it was built to break.

The clean warehouse (tests/test_validation_data.py) passes every suite; each test here spoils
a private copy with one planted defect per expectation and checks both the set of failed
expectation ids and that the examples point at the planted rows.
"""

from datetime import date

from kirz.validation import suite_module
from kirz.warehouse import open_warehouse
from test_validation_data import (  # noqa: F401  (fixtures)
    D1,
    D2,
    check,
    clean_warehouse,
    examples,
    failed,
    insert,
    job,
    warehouse,
)


def test_every_raw_suite_names_severity_and_meaning_for_each_expectation():
    for name in ("raw.slurm_jobs", "raw.node_power", "raw.gpu_samples", "raw.meter_readings", "raw.inventory_nodes",
                 "raw.inventory_meters", "raw.inventory_facility", "raw.contract_versions"):
        mod = suite_module(name)
        suite = mod.build_suite()
        assert {e.meta["id"] for e in suite.expectations} == set(mod.SEVERITY)
        for e in suite.expectations:
            assert e.meta["severity"] in ("critical", "warning") and len(e.meta["meaning"]) > 20


def test_slurm_jobs_each_planted_defect_fails_its_expectation(warehouse):
    with open_warehouse(warehouse) as con:
        t = "2026-10-20 {}:00+00".format
        base = dict(account="uni-ml", submit_at=t("09:30"), start_at=t("10:00"), end_at=t("12:00"),
                    elapsed_s=7200, ncpus=8, nodes=["cpu01"], node_list="cpu01", partition="cpu")
        job(con, 7, 1, "2001", **{**base, "end_at": t("09:00"), "elapsed_s": None})
        job(con, 7, 2, "2002", **{**base, "elapsed_s": 3600})
        job(con, 7, 3, "2003", **{**base, "gpus": 12, "nodes": ["gpu001"], "node_list": "gpu001"})
        job(con, 7, 4, "2004", **{**base, "nodes": ["gpu099"], "node_list": "gpu099"})
        job(con, 7, 5, "2005", **{**base, "state": "FOO"})
        job(con, 7, 6, "2006", **{**base, "account": "ghost"})
        job(con, 7, 7, "2007", **{**base, "submit_at": t("11:00")})
        job(con, 8, 1, "2008", "2026-10-20 09:00:00+00", **base)
        # a re-delivered final record of 1001 that disagrees with the first (end 09:30)
        job(con, 7, 9, "1001", account="mrob-ai", submit_at=t("06:50"), start_at=t("07:00"),
            end_at=t("09:30"), elapsed_s=9000, gpus=8, nodes=["gpu001"], node_list="gpu001")
        job(con, 7, 10, "2009", **{**base, "nnodes": 2, "nodes": ["gpu001"], "node_list": "gpu001"})
        job(con, 7, 11, "2010", **{**base, "gpus": -1, "nodes": ["gpu001"], "node_list": "gpu001"})
        job(con, 7, 12, "2011", **{**base, "allocation_id": None})
    rows = check(warehouse, "raw.slurm_jobs", days=(D1, D2))
    assert failed(rows) == set(suite_module("raw.slurm_jobs").SEVERITY)
    planted = {
        "jobs_end_after_start": "2001", "jobs_elapsed_consistent": "2002", "jobs_gpus_within_installed": "2003",
        "jobs_nodes_in_inventory": "2004", "jobs_state_known": "2005", "jobs_start_after_submit": "2007",
        "jobs_times_before_delivery": "2008", "jobs_node_count_matches": "2009",
        "jobs_resources_nonnegative": "2010", "jobs_allocation_id_present": "2011",
    }
    for expectation, job_id in planted.items():
        assert [e["job_id"] for e in examples(rows, expectation)] == [job_id], expectation
    # the uncovered account is listed (once, however many jobs it ran)
    assert examples(rows, "jobs_account_covered") == [{"account": "ghost"}]
    assert examples(rows, "jobs_no_conflicting_versions") == [{"allocation_id": "1001", "final_versions": 2}]
    assert examples(rows, "jobs_elapsed_consistent")[0]["elapsed_gap_s"] == 3600
    assert examples(rows, "jobs_gpus_within_installed")[0]["installed_gpus"] == 8
    # every defect sits on D1; D2 (job 1003, the pending array) stays clean
    assert {r["period_start"] for r in rows if not r["success"]} == {D1}
    severity = {r["expectation"]: r["severity"] for r in rows}
    assert severity["jobs_state_known"] == "warning" and severity["jobs_account_covered"] == "warning"
    assert severity["jobs_end_after_start"] == "critical"
    # no example carries the user pseudonym
    assert all("u_0123456789abcdef" not in r["unexpected_examples"] for r in rows)


def test_node_power_each_planted_defect_fails_its_expectation(warehouse):
    with open_warehouse(warehouse) as con:
        def sample(node, at, watts, received="2026-10-22 01:00:00+00"):
            insert(con, "node_power", 9, 1, received, sample_at=f"2026-10-20 {at}+00", node=node, watts=watts)

        sample("gpu001", "10:00:30", float("nan"))
        sample("gpu002", "11:00:30", -5.0)
        sample("cpu01", "12:00:30", 950.0)
        for minute in ("10:00:00", "10:01:00", "10:02:00"):
            sample("gpu099", minute, 2000.0)
        sample("gpu001", "13:00:30", 2000.0, received="2026-10-20 12:00:00+00")
        sample("cpu01", "05:00:00", 310.0)  # same instant as a 300 W sample
        # two hours without samples from gpu002: 1,320 samples left; the one at 01:59 holds
        # for 5 intervals (300 s) instead of 7,260 s: covered 1,319 x 60 + 300 = 79,440 s of 86,400
        con.execute(
            "delete from raw.node_power where node = 'gpu002' "
            "and sample_at >= '2026-10-20 02:00:00+00' and sample_at < '2026-10-20 04:00:00+00'"
        )
    rows = check(warehouse, "raw.node_power")
    assert failed(rows) == set(suite_module("raw.node_power").SEVERITY)
    by = {e: examples(rows, e) for e in failed(rows)}
    assert [(e["node"], e["invalid_samples"]) for e in by["power_watts_valid"]] == [("gpu001", 1)]
    assert [(e["node"], e["min_watts"]) for e in by["power_watts_nonnegative"]] == [("gpu002", -5.0)]
    assert [(e["node"], e["max_watts"], e["max_w"], e["samples_over_max"]) for e in by["power_watts_within_node_max"]] == [
        ("cpu01", 950.0, 900.0, 1)]
    assert [(e["node"], e["samples"]) for e in by["power_nodes_in_inventory"]] == [("gpu099", 3)]
    assert [(e["node"], e["samples_after_delivery"]) for e in by["power_samples_before_delivery"]] == [("gpu001", 1)]
    assert [(e["node"], e["coverage_pct"]) for e in by["power_coverage"]] == [("gpu002", round(100 * 79440 / 86400, 3))]
    assert [(e["node"], e["conflicting_instants"]) for e in by["power_no_conflicting_duplicates"]] == [("cpu01", 1)]
    assert [(e["node"], e["gaps_beyond_hold"], e["longest_gap_s"]) for e in by["power_no_gap_beyond_hold"]] == [
        ("gpu002", 1, 7260.0)]


def test_node_power_counts_a_node_without_samples_as_uncovered(warehouse):
    with open_warehouse(warehouse) as con:
        con.execute("delete from raw.node_power where node = 'cpu01'")
    rows = check(warehouse, "raw.node_power", days=(D1, D2))
    assert failed(rows) == {"power_coverage"}
    assert [(r["period_start"], r["unexpected_count"]) for r in rows if not r["success"]] == [(D1, 1), (D2, 1)]
    assert examples(rows, "power_coverage")[0] == {"node": "cpu01", "period_start": "2026-10-20",
                                                    "coverage_pct": 0.0, "samples": 0}


def test_node_power_coverage_is_judged_up_to_the_latest_sample_delivered(warehouse):
    """Samples end at D2 12:00Z for all nodes (the rest of the day is not delivered yet); cpu01
    stopped at 08:00Z. Judged span: 22:00Z..11:59Z = 50,340 s; cpu01 covers 10 h = 36,000 s."""
    with open_warehouse(warehouse) as con:
        con.execute("delete from raw.node_power where sample_at >= '2026-10-21 12:00:00+00'")
        con.execute("delete from raw.node_power where node = 'cpu01' and sample_at >= '2026-10-21 08:00:00+00'")
    rows = check(warehouse, "raw.node_power", days=(D1, D2))
    assert {(r["expectation"], r["period_start"]) for r in rows if not r["success"]} == {("power_coverage", D2)}
    assert [(e["node"], e["coverage_pct"]) for e in examples(rows, "power_coverage")] == [
        ("cpu01", round(100 * 36000 / 50340, 3))]


def _gpu_day(con, nodes: str) -> None:
    """Utilisation 50 %, 300 W, 1,000 MiB every 5 minutes on D1 and the hour after it, for the
    GPUs named by ``nodes`` (a values list of node and GPU count)."""
    con.execute(
        f"""
        insert into raw.gpu_samples (ingest_id, source_file, file_sha256, line_no, received_at, sample_at, node,
                                     gpu_index, uuid, model, util_pct, power_w, fb_used_mib, hpc_job)
        select 9, 'landing/gpu/dcgm.json', 'sha-9', row_number() over (order by n.node, g.i, t.ts),
               timestamptz '2026-10-22 01:00:00+00', t.ts, n.node, g.i, n.node || '-' || g.i, 'NVIDIA H100',
               50.0, 300.0, 1000.0, null
        from (select unnest(generate_series(timestamptz '2026-10-19 22:00:00+00',
                                            timestamptz '2026-10-20 22:55:00+00', interval 5 minute)) as ts) t
        cross join (values {nodes}) n(node, gpus)
        cross join range(0, 8) g(i)
        where g.i < n.gpus
        """
    )


def test_gpu_samples_each_planted_defect_fails_its_expectation(warehouse):
    """D1 is 2026-10-19 22:00Z..2026-10-20 22:00Z. gpu001 reports all 8 GPUs every 5 minutes
    (100 % covered), gpu002 only GPUs 0-3: 4 x 86,400 s of 8 x 86,400 s = 50 %."""
    with open_warehouse(warehouse) as con:
        _gpu_day(con, "('gpu001', 8), ('gpu002', 4)")

        def sample(node, gpu, at, received="2026-10-22 01:00:00+00", **values):
            insert(con, "gpu_samples", 10, 1, received, sample_at=f"2026-10-20 {at}+00", node=node, gpu_index=gpu,
                   **values)

        sample("gpu002", 0, "10:00:30", util_pct=120.0)
        sample("gpu002", 1, "11:00:30", power_w=1600.0)
        sample("gpu002", 1, "11:01:30", fb_used_mib=-1.0)
        for minute in ("10:00:00", "10:05:00", "10:10:00"):
            sample("gpu099", 0, minute, util_pct=10.0)
        sample("cpu01", 0, "09:00:00", util_pct=0.0)
        sample("gpu002", 3, "13:00:30", received="2026-10-20 12:00:00+00", util_pct=50.0)
        sample("gpu002", 2, "12:00:00", util_pct=70.0)  # the first delivery said 50 %
    rows = check(warehouse, "raw.gpu_samples")
    assert failed(rows) == set(suite_module("raw.gpu_samples").SEVERITY)
    by = {e: examples(rows, e) for e in failed(rows)}
    assert [(e["node"], e["util_out_of_range"], e["min_util_pct"], e["max_util_pct"])
            for e in by["gpu_util_within_0_100"]] == [("gpu002", 1, 50.0, 120.0)]
    assert [(e["node"], e["power_out_of_range"], e["max_power_w"]) for e in by["gpu_power_plausible"]] == [
        ("gpu002", 1, 1600.0)]
    assert [(e["node"], e["fb_negative"]) for e in by["gpu_memory_nonnegative"]] == [("gpu002", 1)]
    assert [(e["node"], e["samples"]) for e in by["gpu_nodes_in_inventory"]] == [("gpu099", 3)]
    assert [(e["node"], e["max_gpu_index"], e["installed_gpus"]) for e in by["gpu_index_within_installed"]] == [
        ("cpu01", 0, 0)]
    assert [(e["node"], e["samples_after_delivery"]) for e in by["gpu_samples_before_delivery"]] == [("gpu002", 1)]
    assert [(e["node"], e["coverage_pct"], e["gpus_seen"]) for e in by["gpu_coverage"]] == [("gpu002", 50.0, 4)]
    assert [(e["node"], e["conflicting_instants"]) for e in by["gpu_no_conflicting_duplicates"]] == [("gpu002", 1)]


def test_gpu_samples_judge_installed_gpus_only_once_exporters_run(warehouse):
    """No GPU sample at all: nothing is judged (the centre runs no DCGM exporter). Once gpu001
    reports, gpu002 (8 GPUs in the inventory, no samples) has coverage 0 on D1."""
    rows = check(warehouse, "raw.gpu_samples")
    assert failed(rows) == set() and {r["observed_value"] for r in rows} == {"0 unexpected of 0 rows"}
    with open_warehouse(warehouse) as con:
        _gpu_day(con, "('gpu001', 8)")
    rows = check(warehouse, "raw.gpu_samples")
    assert failed(rows) == {"gpu_coverage"}
    assert examples(rows, "gpu_coverage") == [
        {"node": "gpu002", "period_start": "2026-10-20", "coverage_pct": 0.0, "gpus_seen": 0, "installed_gpus": 8}]


def test_meter_readings_each_planted_defect_fails_its_expectation(warehouse):
    with open_warehouse(warehouse) as con:
        def reading(meter, at, kwh, received="2026-10-22 01:00:00+00"):
            insert(con, "meter_readings", 9, 1, received, reading_at=f"2026-10-20 {at}+00", meter_id=meter, kwh=kwh)

        # M-IT reads 40000 + 1.2 k at 21:00Z + 15 min x k: 40043.2 at 06:00 (k = 36)
        reading("M-IT", "06:07:00", 40043.2 - 3.0)            # runs backwards by 3 kWh
        reading("M-COOL", "10:07:00", float("nan"))
        reading("M-COOL", "15:07:00", 5018.1, received="2026-10-20 14:00:00+00")
        reading("M-GRID", "03:00:00", 50000.0 + 24 * 1.5 + 0.5)  # second value for 03:00
        for minute in ("10:00:00", "10:15:00"):
            reading("M-X", minute, 10.0)
        # M-GRID register reset at 12:00: from 50000 + 60 x 1.5 = 50090 down to 90
        con.execute("update raw.meter_readings set kwh = kwh - 50000 where meter_id = 'M-GRID' "
                    "and reading_at >= '2026-10-20 12:00:00+00' and ingest_id = 6")
        # M-COOL jumps by 2,000 kWh in the quarter hour to 18:00: 8,001 kW > 2.5 x 3,000 kW
        con.execute("update raw.meter_readings set kwh = kwh + 2000 where meter_id = 'M-COOL' "
                    "and reading_at >= '2026-10-20 18:00:00+00' and ingest_id = 6")
    rows = check(warehouse, "raw.meter_readings")
    assert failed(rows) == set(suite_module("raw.meter_readings").SEVERITY)
    by = {e: examples(rows, e) for e in failed(rows)}
    assert [(e["meter_id"], e["prev_kwh"], e["kwh"]) for e in by["meters_monotonic"]] == [("M-IT", 40043.2, 40040.2)]
    assert [(e["meter_id"], e["prev_kwh"], e["kwh"]) for e in by["meters_resets"]] == [("M-GRID", 50088.5, 90.0)]
    assert [e["meter_id"] for e in by["meters_kwh_valid"]] == ["M-COOL"]
    assert by["meters_in_inventory"] == [{"meter_id": "M-X"}]
    assert [e["reading_at"] for e in by["meters_before_delivery"]] == ["2026-10-20T15:07:00+00:00"]
    assert [(e["meter_id"], e["implied_kw"]) for e in by["meters_plausible_rate"]] == [("M-COOL", 8001.0)]
    assert [(e["meter_id"], e["kwh_low"], e["kwh"]) for e in by["meters_no_conflicting_duplicates"]] == [
        ("M-GRID", 50036.0, 50036.5)]
    severity = {r["expectation"]: r["severity"] for r in rows}
    assert severity["meters_resets"] == "warning" and severity["meters_monotonic"] == "critical"


def test_meter_reading_after_a_gap_is_compared_with_the_day_before(warehouse):
    """The first reading of a day is checked against the last one of the previous day."""
    with open_warehouse(warehouse) as con:
        con.execute("update raw.meter_readings set kwh = kwh - 2 where meter_id = 'M-IT' "
                    "and reading_at >= '2026-10-20 22:00:00+00' and ingest_id = 6")
    rows = check(warehouse, "raw.meter_readings", days=(D1, D2))
    assert {(r["expectation"], r["period_start"]) for r in rows if not r["success"]} == {("meters_monotonic", D2)}


def test_inventory_nodes_each_planted_defect_fails_its_expectation(warehouse):
    with open_warehouse(warehouse) as con:
        nodes = [
            ("gpu001", "gpu", 8, 128, 1200.0, 10500.0), ("gpu001", "gpu", 8, 128, 1200.0, 10500.0),
            ("gpu 003", "gpu", 8, 128, 1200.0, 10500.0), ("gpu004", "gpu", 20, 128, 1200.0, 10500.0),
            ("cpu02", "cpu", 0, 0, 250.0, 900.0), ("gpu005", "gpu", 8, 128, None, 10500.0),
            ("gpu006", "gpu", 8, 128, -5.0, 10500.0), ("gpu007", "gpu", 8, 128, 11000.0, 10500.0),
            ("gpu008", "gpu", 8, 128, 1200.0, 25000.0), ("gpu009", None, 8, 128, 1200.0, 10500.0),
        ]
        for no, (node, part, gpus, cpus, idle, mx) in enumerate(nodes, start=1):
            insert(con, "inventory_nodes", 9, no, cluster="kirz-leipzig", node=node, partition=part, rack="R02",
                   gpus=gpus, cpus=cpus, idle_w=idle, max_w=mx)
    rows = check(warehouse, "raw.inventory_nodes")
    assert failed(rows) == set(suite_module("raw.inventory_nodes").SEVERITY) - {"inventory_nodes_present"}
    planted = {
        "inventory_node_unique": ["gpu001"], "inventory_node_name": ["gpu 003"], "inventory_gpus_range": ["gpu004"],
        "inventory_cpus_positive": ["cpu02"], "inventory_power_rated": ["gpu005"], "inventory_idle_nonnegative": ["gpu006"],
        "inventory_max_above_idle": ["gpu007"], "inventory_max_w_plausible": ["gpu008"],
        "inventory_partition_present": ["gpu009"],
    }
    for expectation, nodes_ in planted.items():
        assert [e["node"] for e in examples(rows, expectation)] == nodes_, expectation
    # a whole-table suite has one result per expectation and no period
    assert {(r["period_start"], r["batch"]) for r in rows} == {(None, "test")}


def test_inventory_nodes_missing_altogether(warehouse):
    with open_warehouse(warehouse) as con:
        con.execute("delete from raw.inventory_nodes")
    rows = check(warehouse, "raw.inventory_nodes")
    assert failed(rows) == {"inventory_nodes_present"}
    assert next(r["observed_value"] for r in rows if not r["success"]) == "0"


def test_inventory_meters_each_planted_defect_fails_its_expectation(warehouse):
    with open_warehouse(warehouse) as con:
        for no, (meter, kind, parent) in enumerate(
            [("M-GRID", "grid_intake", None), ("M-GRID", "grid_intake", None), ("M-X", "gas", "M-GRID"),
             ("M-Y", "cooling", "M-NOPE")], start=1):
            insert(con, "inventory_meters", 9, no, cluster="kirz-leipzig", meter_id=meter, kind=kind, parent_meter_id=parent)
    rows = check(warehouse, "raw.inventory_meters")
    assert failed(rows) == set(suite_module("raw.inventory_meters").SEVERITY)
    assert examples(rows, "inventory_meter_unique") == [{"meter_id": "M-GRID"}]
    assert examples(rows, "inventory_meter_kind_known") == [{"meter_id": "M-X", "kind": "gas"}]
    assert examples(rows, "inventory_meter_parent_known") == [{"meter_id": "M-Y", "parent_meter_id": "M-NOPE"}]
    assert next(r["observed_value"] for r in rows if r["expectation"] == "inventory_meters_for_pue") == '{"partial_missing_list": ["it"]}'


def test_inventory_facility_each_planted_defect_fails_its_expectation(warehouse):
    with open_warehouse(warehouse) as con:
        insert(con, "inventory_facility", 9, 1, cluster="kirz-leipzig", floor_area_m2=500.0, design_it_power_kw=None)
        insert(con, "inventory_facility", 9, 2, cluster="kirz-leipzig", floor_area_m2=1200.0, design_it_power_kw=0.0)
    rows = check(warehouse, "raw.inventory_facility")
    assert failed(rows) == set(suite_module("raw.inventory_facility").SEVERITY)
    assert examples(rows, "facility_floor_area") == [{"cluster": "kirz-leipzig", "floor_area_m2": 500.0}]
    assert examples(rows, "facility_design_power_range") == [{"cluster": "kirz-leipzig", "design_it_power_kw": 0.0}]


def test_contract_versions_each_planted_defect_fails_its_expectation(warehouse):
    with open_warehouse(warehouse) as con:
        common = dict(valid_from=date(2026, 1, 1), valid_to=date(2026, 12, 31), partner_confidential=True,
                      partner_name="Vertraulich AG", jobs_created=0, trainees=0, document="{}",
                      gpu_hours_allocated=100.0, price_eur_per_gpu_hour=1.0, funders=["eu-jtf"])

        def version(ingest, contract, no, eff_from, eff_to, **kw):
            row = {**common, "contract_id": contract, "version_no": no, "effective_from": eff_from,
                   "effective_to": eff_to, "partner_id": f"P-{contract}", "partner_type": "sme",
                   "partner_postcode": "04109", "partner_nuts3": "DED51", "usage_area": "cooperation",
                   "accounts": [contract.lower()]}
            row.update(kw)
            insert(con, "contract_versions", ingest, no + 1, **row)

        # C-3: unknown area and partner type, a region outside Germany's NUTS-2 list, uni-ml
        # (C-2's account) from March, a negative price, taking effect before its term, and a
        # month's gap between its versions
        version(9, "C-3", 0, date(2025, 12, 1), date(2026, 5, 31), usage_area="marketing", partner_type="ngo",
                partner_nuts3="DEZ99", accounts=["uni-ml"], price_eur_per_gpu_hour=-1.0)
        version(9, "C-3", 1, date(2026, 7, 1), date(2026, 12, 31), usage_area="marketing", partner_type="ngo",
                partner_nuts3="DEZ99", accounts=["c-3"])
        # C-4: a malformed region and postcode, and a term that ends before it starts
        version(10, "C-4", 0, date(2026, 1, 1), date(2026, 12, 31), partner_nuts3="de-d51", partner_postcode="4109",
                valid_to=date(2025, 12, 31))
        # C-5: no accounts, no funders, and partner P-1 with another type than in C-1
        version(11, "C-5", 0, date(2026, 1, 1), date(2026, 12, 31), accounts=[], funders=[], partner_id="P-1",
                partner_type="university")
        # C-6: no partner id
        version(12, "C-6", 0, date(2026, 1, 1), date(2026, 12, 31), partner_id=None)
    rows = check(warehouse, "raw.contract_versions")
    assert failed(rows) == set(suite_module("raw.contract_versions").SEVERITY)

    def contracts(expectation):
        return sorted({e["contract_id"] for e in examples(rows, expectation)})

    assert contracts("contracts_usage_area_valid") == ["C-3"]
    assert contracts("contracts_partner_type_valid") == ["C-3"]
    assert contracts("contracts_nuts3_shape") == ["C-4"]
    assert contracts("contracts_nuts3_known") == ["C-3", "C-4"]
    assert contracts("contracts_no_account_overlap") == ["C-2", "C-3"]
    assert contracts("contracts_dates_ordered") == ["C-4"]
    assert contracts("contracts_amounts_nonnegative") == ["C-3"]
    assert contracts("contracts_effective_within_valid") == ["C-3", "C-4"]
    assert [(e["contract_id"], e["gap_days"]) for e in examples(rows, "contracts_versions_contiguous")] == [("C-3", 30)]
    assert contracts("contracts_have_accounts") == ["C-5"]
    assert contracts("contracts_have_funders") == ["C-5"]
    assert contracts("contracts_partner_consistent") == ["C-1", "C-5"]
    assert contracts("contracts_ids_present") == ["C-6"]
    assert contracts("contracts_postcode_shape") == ["C-4"]
    overlap = {e["contract_id"]: e["shared_accounts"] for e in examples(rows, "contracts_no_account_overlap")}
    assert overlap == {"C-2": "uni-ml also in C-3", "C-3": "uni-ml also in C-2"}
    # confidential partner names never reach the examples
    assert all("Vertraulich" not in r["unexpected_examples"] for r in rows)
