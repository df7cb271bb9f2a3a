"""``kirz pull slurm`` against a real Slurm 22.05 (munged, MariaDB, slurmdbd, slurmctld, slurmd).

Real jobs: two GPU jobs (``--gres=gpu:2``), an array of three, a cancelled job, a job that
exits 3, a job with two ``srun`` steps (and a ``|`` in its name), a job requeued while it ran
and cancelled while pending again, and a long job that is still running at the first pull
and has completed by the second. What kirz pulls, ingests and resolves is compared with what
``sacct`` itself reports (asked separately, in UTC), and with Slurm's own ``sacct --json``
read by kirz's JSON parser.

Measured on Slurm 22.05: with ``--starttime``/``--endtime`` (and no ``--state``) sacct leaves
out a record that never became eligible, such as the pending second incarnation of the
requeued job, cancelled before its begin time (two minutes after a requeue): the answer keeps
the job's first run, state REQUEUED, with or without ``--duplicates``.
"""

from __future__ import annotations

import re
import stat
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

import testbed
from testbed_fixtures import airflow_db, run_dag, slurm_bed  # noqa: F401  (fixtures)

UTC = timezone.utc
KEY = "slurm-test-key"
TZ = "Europe/Berlin"
DBT_ARGS = ["build", "--select", "stg_slurm__jobs int_jobs_resolved", "--indirect-selection", "cautious",
            "--exclude-resource-type", "unit_test"]
RESOLVED = "select * from intermediate.int_jobs_resolved order by job_key"
# the Slurm ingest's own rule (int_jobs_resolved): the latest version per allocation
LATEST = """
    select * exclude (version_rank) from (
        select *, row_number() over (partition by cluster, allocation_id
                                     order by ingest_id desc, line_no desc) as version_rank
        from raw.slurm_jobs where not is_step
    ) where version_rank = 1 order by cluster, allocation_id
"""
VERSION_COLUMNS = ("cluster", "allocation_id", "state", "state_raw", "exit_code", "start_at", "end_at",
                   "elapsed_s", "gpus", "ncpus", "nodes", "account", "user_pseudonym", "job_name")


@dataclass
class Jobs:
    ids: dict[str, list[str]]   # what -> allocation ids as sacct prints them (array: 7_1, ...)
    raw: dict[str, str]         # what -> job id sbatch answered
    since: datetime             # a moment before the first submit, UTC
    t0: float                   # time.monotonic() at the first submit
    timings: dict[str, float] = field(default_factory=dict)


def _settings(home: Path, bed, **slurm):
    from kirz.config import load_settings

    home.mkdir(parents=True, exist_ok=True)
    table = {"clusters": [bed.cluster], "slurm_conf": bed.conf, **slurm}
    lines = ["[pull.slurm]"] + [f"{k} = {_toml(v)}" for k, v in table.items()]
    (home / "kirz.toml").write_text("\n".join(lines) + "\n")
    return load_settings(env={}, home=home, pseudonym_key=KEY, timezone=TZ)


def _toml(v) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(v)


def _rows(settings, sql: str, params=None) -> list[dict]:
    from kirz.warehouse import open_warehouse

    with open_warehouse(settings.warehouse_path) as con:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def _dbt(settings) -> None:
    from kirz.transform import run_dbt, summarise

    result = summarise(run_dbt(settings, DBT_ARGS))
    assert result.ok, result.message


def _sacct_truth(bed, since: datetime) -> dict[str, dict]:
    """Allocations as sacct itself reports them (-X, in UTC), by JobID."""
    env = {**bed.env, "TZ": "UTC"}
    out = testbed.run_command(
        ["sacct", "--allusers", "--duplicates", "--parsable2", "--noheader", "--allocations",
         f"--clusters={bed.cluster}", "--format=JobID,JobIDRaw,State,AllocTRES,Start,End,ElapsedRaw,Account,ExitCode",
         f"--starttime={since.astimezone(UTC):%Y-%m-%dT%H:%M:%S}", "--endtime=now"],
        env=env,
    ).stdout
    jobs: dict[str, dict] = {}
    for line in out.splitlines():
        job_id, raw, state, tres, start, end, elapsed, account, exit_code = line.split("|")
        gpus = re.search(r"(?:^|,)gres/gpu=(\d+)", tres)
        record = {
            "raw": raw,
            "state": state.split()[0],
            "gpus": int(gpus.group(1)) if gpus else 0,
            "start": datetime.fromisoformat(start).replace(tzinfo=UTC) if start not in ("Unknown", "None") else None,
            "end": datetime.fromisoformat(end).replace(tzinfo=UTC) if end not in ("Unknown", "None") else None,
            "elapsed": int(elapsed),
            "account": account,
            "exit_code": exit_code,
        }
        # a requeued job has several records (--duplicates): the last one is the job now
        record["records"] = jobs.get(job_id, {}).get("records", []) + [record["state"]]
        jobs[job_id] = record
    return jobs


@pytest.fixture(scope="module")
def jobs(slurm_bed):  # noqa: F811
    bed = slurm_bed
    t0 = time.monotonic()
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    raw = {
        "long": bed.sbatch("--job-name=long", script="#!/bin/sh\nsleep 15\n"),
        "gpu_a": bed.sbatch("--gres=gpu:2", "--job-name=train-a", script="#!/bin/sh\nsleep 3\n"),
        "gpu_b": bed.sbatch("--gres=gpu:2", "--account=proj-b", "--job-name=train-b", script="#!/bin/sh\nsleep 3\n"),
        "array": bed.sbatch("--array=1-3", "--account=proj-b", "--job-name=sweep", script="#!/bin/sh\nsleep 1\n"),
        "cancelled": bed.sbatch("--job-name=cancel-me", script="#!/bin/sh\nsleep 300\n"),
        "failing": bed.sbatch("--job-name=fails", script="#!/bin/sh\nsleep 1\nexit 3\n"),
        "steps": bed.sbatch("--job-name=multi|step", script="#!/bin/sh\nsrun sleep 1\nsrun sleep 1\n"),
        "requeued": bed.sbatch("--requeue", "--job-name=requeued", script="#!/bin/sh\nsleep 300\n"),
    }

    def state(job: str) -> str:
        return bed.run("squeue", "-h", "-j", job, "-o", "%T").stdout.strip()

    testbed.wait_for(lambda: state(raw["cancelled"]) == state(raw["requeued"]) == "RUNNING",
                     "the jobs to cancel and requeue to run", None, timeout=30)
    bed.run("scancel", raw["cancelled"])
    bed.run("scontrol", "requeue", raw["requeued"])  # back to pending, eligible again in 2 minutes
    testbed.wait_for(lambda: state(raw["requeued"]) == "PENDING", "the requeued job to pend", None, timeout=30)
    bed.run("scancel", raw["requeued"])  # cancelled before it was eligible again
    short = [v for k, v in raw.items() if k != "long"]
    testbed.wait_for_jobs(bed, short, timeout=60)
    ids = {k: [v] for k, v in raw.items()}
    ids["array"] = [f"{raw['array']}_{i}" for i in (1, 2, 3)]
    return Jobs(ids=ids, raw=raw, since=since, t0=t0, timings={"jobs_s": time.monotonic() - t0})


@dataclass
class Pulls:
    settings: object
    first: object
    second: object
    resolved_first: list[dict]
    latest_first: list[dict]
    resolved_second: list[dict]
    latest_second: list[dict]
    ingests: list
    truth: dict[str, dict]
    timings: dict[str, float]


@pytest.fixture(scope="module")
def pulls(slurm_bed, jobs, tmp_path_factory):  # noqa: F811
    """First pull while the long job runs, ingest, resolve; then an overlapping pull after it ended."""
    from kirz.pipeline import ingest_landing
    from kirz.pull import pull_slurm

    bed = slurm_bed
    settings = _settings(tmp_path_factory.mktemp("pull-slurm") / "home", bed)
    timings = {}
    t = time.monotonic()
    first = pull_slurm(settings, since=jobs.since.isoformat())
    timings["first_pull_s"] = time.monotonic() - t
    run1 = ingest_landing(settings, sources=("slurm",))
    t = time.monotonic()
    _dbt(settings)
    timings["dbt_first_s"] = time.monotonic() - t
    resolved_first = _rows(settings, RESOLVED)
    latest_first = _rows(settings, LATEST)

    testbed.wait_for_jobs(bed, [jobs.raw["long"]], timeout=60)
    t = time.monotonic()
    second = pull_slurm(settings)  # from the watermark minus the two days' overlap
    timings["second_pull_s"] = time.monotonic() - t
    run2 = ingest_landing(settings, sources=("slurm",))
    t = time.monotonic()
    _dbt(settings)
    timings["dbt_second_s"] = time.monotonic() - t
    return Pulls(
        settings=settings, first=first, second=second,
        resolved_first=resolved_first, latest_first=latest_first,
        resolved_second=_rows(settings, RESOLVED), latest_second=_rows(settings, LATEST),
        ingests=run1.results + run2.results, truth=_sacct_truth(bed, jobs.since), timings=timings,
    )


def _all_ids(jobs: Jobs) -> set[str]:
    return {i for ids in jobs.ids.values() for i in ids}


def test_first_pull_lands_one_sacct_file_and_moves_the_watermark(pulls, jobs, slurm_bed):  # noqa: F811
    first = pulls.first
    (path,) = first.files
    assert re.fullmatch(r"sacct-\d{8}T\d{6}Z-\d{8}T\d{6}Z\.txt", path.name)
    assert first.window_start == jobs.since
    assert first.watermark_at == first.window_end
    # the file went through ingest into the archive, under the same name
    archived = list((pulls.settings.home / "archive" / "slurm").rglob(path.name))
    assert len(archived) == 1
    assert stat.S_IMODE(archived[0].stat().st_mode) == 0o600  # user names until pseudonymised
    header = archived[0].read_text().splitlines()[0]
    assert header == "JobID|JobIDRaw|Cluster|JobName|User|Account|Partition|QOS|State|ExitCode|Submit|Start|End|" \
                     "Elapsed|ElapsedRaw|NNodes|NCPUS|AllocTRES|NodeList|ConsumedEnergyRaw|TRESUsageInAve"
    # 10 allocations, 10 batch steps (one of the requeued job's first run), 2 srun steps
    assert first.records == 22
    marks = _rows(pulls.settings, "select * from audit.pull_watermarks")
    assert [(m["source"], m["key"]) for m in marks] == [("slurm", slurm_bed.cluster)]
    assert marks[0]["watermark_at"] == pulls.second.window_end
    assert Path(marks[0]["file"]).name == pulls.second.files[0].name
    assert not [p for p in pulls.settings.landing_for("slurm").iterdir()]  # all ingested, no hidden leftovers


def test_pulled_jobs_match_what_sacct_reports(pulls, jobs):
    truth = pulls.truth
    assert set(truth) == _all_ids(jobs)
    resolved = {r["job_id"]: r for r in pulls.resolved_second}
    assert set(resolved) == set(truth)
    for job_id, want in truth.items():
        got = resolved[job_id]
        assert got["state"] == want["state"], job_id
        assert got["gpus"] == want["gpus"], job_id
        assert got["start_at"] == want["start"], job_id
        assert got["end_at"] == want["end"], job_id
        assert got["account"] == want["account"], job_id
        assert got["elapsed_s"] == want["elapsed"], job_id
    states = {k: {truth[i]["state"] for i in ids} for k, ids in jobs.ids.items()}
    assert states == {"long": {"COMPLETED"}, "gpu_a": {"COMPLETED"}, "gpu_b": {"COMPLETED"}, "array": {"COMPLETED"},
                      "cancelled": {"CANCELLED"}, "failing": {"FAILED"}, "steps": {"COMPLETED"},
                      "requeued": {"REQUEUED"}}
    requeued = jobs.ids["requeued"][0]
    assert truth[requeued]["records"] == ["REQUEUED"] and truth[requeued]["start"] is not None
    assert truth[jobs.ids["failing"][0]]["exit_code"] == "3:0"
    assert {truth[i]["gpus"] for i in jobs.ids["gpu_a"] + jobs.ids["gpu_b"]} == {2}
    gpu_s_sacct = sum(j["gpus"] * j["elapsed"] for j in truth.values())
    gpu_s_kirz = sum(r["gpus"] * (r["end_at"] - r["start_at"]).total_seconds() for r in resolved.values())
    assert gpu_s_kirz == gpu_s_sacct >= 2 * 2 * 3
    print(f"\njobs: sacct {len(truth)}, kirz {len(resolved)}; GPU-seconds: sacct {gpu_s_sacct}, kirz {gpu_s_kirz:.0f} "
          f"({gpu_s_kirz / 3600:.4f} GPU-hours)")


def test_raw_rows_keep_steps_names_and_pseudonyms(pulls, jobs):
    from kirz.ingest.base import pseudonymise

    steps_job = jobs.ids["steps"][0]
    rows = _rows(pulls.settings, "select job_id, step_id, job_name, user_pseudonym, state_raw from raw.slurm_jobs "
                 "where allocation_id = ? and ingest_id = (select min(ingest_id) from raw.slurm_jobs)", [steps_job])
    assert sorted((r["step_id"] or "") for r in rows) == ["", "0", "1", "batch"]
    alloc = next(r for r in rows if r["step_id"] is None)
    assert alloc["job_name"] == "multi|step"
    assert alloc["user_pseudonym"] == pseudonymise(KEY.encode(), "root")
    users = _rows(pulls.settings, "select distinct user_pseudonym from raw.slurm_jobs where not is_step")
    assert [u["user_pseudonym"] for u in users] == [pseudonymise(KEY.encode(), "root")]
    cancelled = _rows(pulls.settings, "select state_raw, cancelled_by_uid from raw.slurm_jobs where job_id = ?",
                      [jobs.ids["cancelled"][0]])
    assert {(r["state_raw"], r["cancelled_by_uid"]) for r in cancelled} == {("CANCELLED by 0", 0)}


def test_overlapping_pull_adds_no_duplicates_and_a_changed_state_is_a_new_version(pulls, jobs):
    loaded = [r for r in pulls.ingests if r.status == "loaded"]
    assert len(loaded) == 2 and loaded[0].sha256 != loaded[1].sha256  # the overlap re-delivered the jobs
    second = pulls.second
    assert second.window_start == pulls.first.window_end - timedelta(days=2)
    long_id = jobs.ids["long"][0]

    first = {r["job_id"]: r for r in pulls.resolved_first}
    assert first[long_id]["state"] == "RUNNING" and first[long_id]["is_running"]
    assert set(first) == _all_ids(jobs)

    versions = {v["allocation_id"]: v["states"] for v in _rows(
        pulls.settings, "select allocation_id, list(state order by ingest_id, line_no) as states "
        "from raw.slurm_jobs where not is_step group by 1")}
    assert {k: len(v) for k, v in versions.items()} == {i: 2 for i in _all_ids(jobs)}
    assert versions[long_id] == ["RUNNING", "COMPLETED"]
    assert versions[jobs.ids["requeued"][0]] == ["REQUEUED", "REQUEUED"]

    second_rows = {r["job_id"]: r for r in pulls.resolved_second}
    assert len(pulls.resolved_second) == len(second_rows) == len(_all_ids(jobs))  # one row per job
    assert second_rows[long_id]["state"] == "COMPLETED" and not second_rows[long_id]["is_running"]
    same = ("state", "start_at", "end_at", "gpus", "ncpus", "account", "elapsed_s", "nodes", "user_pseudonym")
    for job_id, before in first.items():
        if job_id != long_id:
            assert {k: second_rows[job_id][k] for k in same} == {k: before[k] for k in same}, job_id
    # dbt's incremental resolution equals the ingest's dedupe rule applied to all raw rows
    rule = {r["allocation_id"]: r for r in pulls.latest_second}
    for job_id, row in second_rows.items():
        assert (row["ingest_id"], row["line_no"], row["state"]) == (
            rule[job_id]["ingest_id"], rule[job_id]["line_no"], rule[job_id]["state"])
    unchanged = [tuple(r[c] for c in VERSION_COLUMNS) for r in pulls.latest_first if r["allocation_id"] != long_id]
    again = [tuple(r[c] for c in VERSION_COLUMNS) for r in pulls.latest_second if r["allocation_id"] != long_id]
    assert unchanged == again


def test_the_same_window_twice_is_one_file_delivered_twice(pulls, slurm_bed, tmp_path):  # noqa: F811
    from kirz.pipeline import ingest_landing
    from kirz.pull import pull_slurm

    settings = pulls.settings
    mark = pulls.second.watermark_at
    window = dict(since=pulls.first.window_start.isoformat(), until=pulls.second.window_end.isoformat())
    a = pull_slurm(settings, **window)
    b = pull_slurm(settings, **window)
    assert a.files[0].name != b.files[0].name  # the second landed beside the first, not over it
    assert a.files[0].read_bytes() == b.files[0].read_bytes()
    results = ingest_landing(settings, sources=("slurm",)).results
    assert sorted(r.status for r in results) == ["duplicate", "duplicate"]  # same content as the second pull
    assert sum(r.rows_loaded for r in results) == 0
    assert _rows(settings, "select watermark_at from audit.pull_watermarks")[0]["watermark_at"] == mark


def test_slurm_json_output_reads_to_the_same_jobs(pulls, jobs, slurm_bed, tmp_path):  # noqa: F811
    from kirz.ingest.base import ParseContext
    from kirz.ingest.slurm import parse
    from zoneinfo import ZoneInfo

    out = testbed.run_command(["sacct", "--json", "--allusers", "--duplicates", f"--clusters={slurm_bed.cluster}",
                        f"--starttime={jobs.since:%Y-%m-%dT%H:%M:%S}", "--endtime=now"],
                       env={**slurm_bed.env, "TZ": "UTC"}).stdout
    path = tmp_path / "sacct.json"
    path.write_text(out)
    parsed = parse(path, ParseContext(tz=ZoneInfo("UTC"), pseudonym_key=KEY.encode(), cluster="unused"))
    assert parsed.format == "sacct_json" and parsed.quarantine == []
    rows = parsed.tables["slurm_jobs"].to_pylist()
    allocations = {r["allocation_id"]: r for r in rows if not r["is_step"]}
    truth = pulls.truth
    assert set(allocations) == set(truth)
    assert {k: r["state"] for k, r in allocations.items()} == {k: t["state"] for k, t in truth.items()}
    assert {k: r["gpus"] for k, r in allocations.items()} == {k: t["gpus"] for k, t in truth.items()}
    assert {k: r["cluster"] for k, r in allocations.items()} == {k: slurm_bed.cluster for k in truth}
    for k, r in allocations.items():
        assert r["start_at"] == truth[k]["start"] and r["end_at"] == truth[k]["end"], k
    steps = sorted(r["step_id"] for r in rows if r["is_step"] and r["allocation_id"] == jobs.ids["steps"][0])
    assert steps == ["0", "1", "batch"]


def test_a_failing_sacct_is_a_clear_error_and_keeps_the_watermark(pulls, slurm_bed, tmp_path):  # noqa: F811
    """slurmdbd unreachable (the bed's slurm.conf with a closed accounting port): sacct exits 1."""
    from kirz.pull import PullError, get_watermark, pull_slurm

    conf = Path(slurm_bed.conf).read_text()
    closed = testbed.free_port()
    broken = tmp_path / "slurm.conf"
    broken.write_text(re.sub(r"(?m)^AccountingStoragePort=\d+$", f"AccountingStoragePort={closed}", conf))
    settings = _settings(tmp_path / "home", slurm_bed, slurm_conf=str(broken))
    with pytest.raises(PullError, match="first Slurm pull for kirztest: give --since"):
        pull_slurm(settings)
    with pytest.raises(PullError) as err:
        pull_slurm(settings, since="2026-01-01")
    msg = str(err.value)
    assert msg.startswith("sacct failed (exit 1): sacct: error: ")
    assert "Problem talking to the database: Connection refused" in msg
    assert "\ncommand: sacct --allusers --duplicates --parsable2 --format=JobID,JobIDRaw," in msg
    assert get_watermark(settings, "slurm", slurm_bed.cluster) is None
    assert list(settings.landing_for("slurm").iterdir()) == []  # no file, no hidden leftover

    with pytest.raises(PullError, match="sacct not found"):
        pull_slurm(_settings(tmp_path / "h2", slurm_bed, sacct=str(tmp_path / "no-sacct")), since="2026-01-01")


def test_cli_pull_slurm(pulls, slurm_bed, tmp_path):  # noqa: F811
    from kirz.cli_pull import pull_app

    home = tmp_path / "home"
    _settings(home, slurm_bed)
    since = pulls.first.window_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ok = CliRunner().invoke(pull_app, ["slurm", "--home", str(home), "--since", since])
    assert ok.exit_code == 0, ok.output
    assert "records from" in ok.output and "sacct-" in ok.output
    (landed,) = list((home / "landing" / "slurm").iterdir())
    assert landed.read_text().count("\n") == 23  # header + 22 records
    bad = CliRunner().invoke(pull_app, ["slurm", "--home", str(home), "--since", "last tuesday"])
    assert bad.exit_code == 1
    assert "error: not an ISO 8601 date or time: 'last tuesday'" in bad.output


def test_dag_pulls_when_configured_and_skips_otherwise(pulls, jobs, slurm_bed, airflow_db, tmp_path):  # noqa: F811
    home = tmp_path / "home"
    settings = _settings(home, slurm_bed, start=jobs.since.isoformat())
    run, states = run_dag("kirz_pull_slurm", home)
    assert str(run.state) == "success" and states == {"pull": "success"}
    (landed,) = list(settings.landing_for("slurm").iterdir())
    assert landed.read_text().count("\n") == 23  # header + 22 records
    bare = tmp_path / "bare"
    bare.mkdir()
    run, states = run_dag("kirz_pull_slurm", bare)
    assert states == {"pull": "skipped"} and not (bare / "landing").exists()


def test_time_budget(pulls, jobs, slurm_bed):  # noqa: F811
    """Starting Slurm, running the jobs and both pulls with their ingest and dbt runs: well within 90 s."""
    elapsed = slurm_bed.started_s + time.monotonic() - jobs.t0
    print(f"\nslurm: started in {slurm_bed.started_s:.1f} s, {elapsed:.1f} s up to here; {jobs.timings} {pulls.timings}")
    assert elapsed < 75
