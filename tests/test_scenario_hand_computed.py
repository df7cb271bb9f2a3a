"""A scenario computed by hand, run through the real path: files -> `kirz ingest` -> `kirz transform`.

Three nodes draw constant power, sampled every minute: gpu001 2000 W, gpu002 1000 W, cpu01
500 W. The meters see IT = 3.5 kW and grid = 1.25 x IT, so PUE = 1.25 on every day. The time
zone is Europe/Berlin (summer time ends 2026-10-25 03:00 -> 02:00).

| job | node(s) | local start -> end | GPUs | GPU-h | IT kWh | account -> area |
|---|---|---|---|---|---|---|
| 101 | gpu001 | 10-24 10:00 -> 12:00 (aligned; steps add nothing) | 4 | 8 | 2 kW x 2 h = 4 | res-a -> methods_research |
| 102 | gpu002 | 10-24 14:00:30 -> 15:00:30 (unaligned, shares the node with 103) | 2 | 2 | 1 kWh x 2/8 = 0.25 | res-a -> methods_research |
| 103 | gpu002 | same as 102 | 6 | 6 | 1 kWh x 6/8 = 0.75 | coop-b -> cooperation |
| 104 | gpu[001-002] | 10-26 23:00 -> 10-27 01:00 (crosses midnight) | 16 | 32 (16 per day) | 4 + 2 = 6 | coop-b -> cooperation |
| 105 | gpu001 | 10-31 23:30 -> 11-01 00:30 (crosses the month end) | 8 | 8 (4 + 4) | 2 | edu-c -> education |
| 106 | gpu002 | 10-25 02:10 (summer) -> 02:20 (winter), ElapsedRaw 4200 | 4 | 4 x 70/60 | 1 kW x 70 min = 7/6 | res-a -> methods_research |
| 107 | gpu002 | 11-01 10:00, RUNNING, ElapsedRaw 1800 -> ends 10:30 | 8 | 4 | 0.5 | coop-b -> cooperation |
| 108 | gpu001 | 10-28 09:00 -> 10:00 (after the amendment of 10-28) | 8 | 8 | 2 | coop-new -> cooperation at 1.50 EUR |
| 109 | gpu001 | 10-27 09:00 -> 10:00 (before the amendment) | 2 | 2 | 2 | coop-new -> unassigned |
| 110 | cpu01 | 10-29 12:00 -> 13:00, 64 CPUs | 0 | 0 (64 core-h) | 0.5 | lost -> unassigned |
| 111 | - | PENDING, never started | 2 | - | - | no usage |
"""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from kirz.cli import app

FIX = Path(__file__).parent / "fixtures" / "scenario"
UTC = timezone.utc
WINDOW = (datetime(2026, 10, 23, 22, tzinfo=UTC), datetime(2026, 11, 1, 23, tzinfo=UTC))  # local 10-24 .. 11-01
WATTS = {"gpu001": 2000.0, "gpu002": 1000.0, "cpu01": 500.0}
PUE = 1.25


def _write_power(path: Path) -> None:
    lines = ["timestamp,node,watts"]
    t = WINDOW[0]
    while t < WINDOW[1]:  # each sample holds for its minute: the last one ends the window
        stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        lines += [f"{stamp},{node},{w}" for node, w in WATTS.items()]
        t += timedelta(minutes=1)
    path.write_text("\n".join(lines) + "\n")


def _write_meters(path: Path) -> None:
    it_step = sum(WATTS.values()) / 1000 * 0.25  # kWh per 15 min
    lines = ["timestamp,meter_id,kwh"]
    t, k = WINDOW[0], 0
    while t <= WINDOW[1]:
        stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{stamp},M-IT,{1000 + k * it_step:.6f}")
        lines.append(f"{stamp},M-GRID,{5000 + k * it_step * PUE:.6f}")
        t += timedelta(minutes=15)
        k += 1
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenario")
    home = root / "home"
    (root / "power.csv").parent.mkdir(exist_ok=True)
    _write_power(root / "power.csv")
    _write_meters(root / "meters.csv")
    runner = CliRunner()
    env = {"KIRZ_PSEUDONYM_KEY": "scenario-key", "KIRZ_TIMEZONE": "Europe/Berlin"}
    steps = [
        ("ingest", "inventory", str(FIX / "inventory.yaml")),
        ("ingest", "contracts", str(FIX / "C-RES.yaml"), str(FIX / "C-COOP.yaml"), str(FIX / "C-EDU.yaml")),
        ("ingest", "sacct", str(FIX / "sacct.txt")),
        ("ingest", "power", str(root / "power.csv")),
        ("ingest", "meters", str(root / "meters.csv")),
        ("transform",),
    ]
    for args in steps:
        r = runner.invoke(app, [*args, "--home", str(home)], env=env)
        assert r.exit_code == 0, (args, r.output)
    con = duckdb.connect(str(home / "warehouse" / "kirz.duckdb"), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    yield con
    con.close()


def rows(con, sql, *params):
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


EXPECTED_JOBS = {
    # job: (gpu_hours, it_kwh, usage_area, contract_id, cost_eur)
    "101": (8.0, 4.0, "methods_research", "C-RES", 4.0),
    "102": (2.0, 0.25, "methods_research", "C-RES", 1.0),
    "103": (6.0, 0.75, "cooperation", "C-COOP", 7.2),
    "104": (32.0, 6.0, "cooperation", "C-COOP", 38.4),
    "105": (8.0, 2.0, "education", "C-EDU", 0.0),
    "106": (4 * 70 / 60, 7 / 6, "methods_research", "C-RES", 4 * 70 / 60 * 0.5),
    "107": (4.0, 0.5, "cooperation", "C-COOP", 6.0),
    "108": (8.0, 2.0, "cooperation", "C-COOP", 12.0),
    "109": (2.0, 2.0, "unassigned", None, 0.0),
    "110": (0.0, 0.5, "unassigned", None, 0.0),
}


def test_jobs_are_allocations_that_started(marts):
    jobs = {r["job_id"] for r in rows(marts, "select job_id from marts.fct_job_usage")}
    assert jobs == set(EXPECTED_JOBS)  # steps of 101 add nothing, pending 111 has no usage


@pytest.mark.parametrize("job", sorted(EXPECTED_JOBS))
def test_each_job_by_hand(marts, job):
    gpu_h, kwh, area, contract, cost = EXPECTED_JOBS[job]
    (r,) = rows(marts, "select * from marts.fct_job_usage where job_id = ?", job)
    assert r["gpu_hours"] == pytest.approx(gpu_h, abs=1e-9)
    assert r["it_energy_kwh"] == pytest.approx(kwh, abs=1e-6)
    assert r["facility_energy_kwh"] == pytest.approx(kwh * PUE, abs=1e-5)
    assert (r["usage_area"], r["contract_id"]) == (area, contract)
    assert (r["cost_eur"] or 0.0) == pytest.approx(cost, abs=1e-9)


def test_dst_job_lasts_seventy_minutes(marts):
    (r,) = rows(marts, "select start_at, end_at from marts.fct_job_usage where job_id = '106'")
    assert (r["start_at"], r["end_at"]) == (datetime(2026, 10, 25, 0, 10, tzinfo=UTC), datetime(2026, 10, 25, 1, 20, tzinfo=UTC))


def test_running_job_ends_at_start_plus_elapsed(marts):
    (r,) = rows(marts, "select end_at from marts.fct_job_usage where job_id = '107'")
    assert r["end_at"] == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def test_cpu_job_counts_core_hours(marts):
    (r,) = rows(marts, "select cpu_core_hours from marts.fct_job_usage where job_id = '110'")
    assert r["cpu_core_hours"] == pytest.approx(64.0)


def test_daily_split_at_midnight_and_month_end(marts):
    got = {
        (str(r["day"]), r["usage_area"]): r["gpu_hours"]
        for r in rows(marts, "select day, usage_area, sum(gpu_hours) as gpu_hours from marts.fct_usage_daily group by all")
    }
    assert got[("2026-10-26", "cooperation")] == pytest.approx(16.0)
    assert got[("2026-10-27", "cooperation")] == pytest.approx(16.0)
    assert got[("2026-10-31", "education")] == pytest.approx(4.0)
    assert got[("2026-11-01", "education")] == pytest.approx(4.0)
    assert got[("2026-10-25", "methods_research")] == pytest.approx(4 * 70 / 60)
    assert got[("2026-10-24", "methods_research")] == pytest.approx(10.0)
    assert got[("2026-10-27", "unassigned")] == pytest.approx(2.0)


def test_month_totals_per_usage_area(marts):
    got = {
        r["usage_area"]: r["value"]
        for r in rows(marts, "select usage_area, value from marts.fct_impact_kpis where period_type = 'month' and period = '2026-10' and kpi = 'gpu_hours'")
    }
    assert got["methods_research"] == pytest.approx(8 + 2 + 4 * 70 / 60)
    assert got["cooperation"] == pytest.approx(6 + 32 + 8)
    assert got["education"] == pytest.approx(4.0)
    assert got["unassigned"] == pytest.approx(2.0)
    cost = {
        r["usage_area"]: r["cost"]
        for r in rows(marts, "select usage_area, sum(cost_eur) as cost from marts.fct_usage_daily where day < date '2026-11-01' group by 1")
    }
    assert cost["cooperation"] == pytest.approx(7.2 + 38.4 + 12.0)
    assert cost["methods_research"] == pytest.approx(4.0 + 1.0 + 4 * 70 / 60 * 0.5)


def test_energy_days_pue_and_idle(marts):
    days = {str(r["day"]): r for r in rows(marts, "select * from marts.fct_energy_daily")}
    # the last sample (23:59 local on 11-01) is held up to 5 intervals: its own minute, then
    # 4 bridged minutes of 11-02 until the next delivery supersedes them
    tail = days.pop("2026-11-02")
    assert tail["node_kwh"] == pytest.approx(3.5 * 4 / 60, abs=1e-9)
    assert tail["it_kwh"] is None and tail["is_pue_estimated"]
    assert set(days) == {f"2026-10-{d}" for d in range(24, 32)} | {"2026-11-01"}
    for day, r in days.items():
        hours = 25 if day == "2026-10-25" else 24
        assert r["pue"] == pytest.approx(PUE, abs=1e-9), day
        assert r["it_kwh"] == pytest.approx(3.5 * hours, abs=1e-6), day
        assert r["node_kwh"] == pytest.approx(3.5 * hours, abs=1e-6), day
    job_kwh = {str(r["day"]): r["kwh"] for r in rows(
        marts, "select day, sum(it_energy_kwh) as kwh from marts.fct_usage_daily group by 1")}
    assert days["2026-10-24"]["idle_node_kwh"] == pytest.approx(3.5 * 24 - 5.0, abs=1e-6)
    for day, r in days.items():
        assert r["idle_node_kwh"] + job_kwh.get(day, 0.0) == pytest.approx(r["node_kwh"], abs=1e-6), day


def test_contract_utilisation_counts_the_amendment(marts):
    (r,) = rows(marts, "select gpu_hours_used from marts.fct_contract_utilization where contract_id = 'C-COOP' and month_label = '2026-10'")
    assert r["gpu_hours_used"] == pytest.approx(46.0)
