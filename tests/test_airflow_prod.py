"""End to end on the production stack: PostgreSQL metadata, CeleryExecutor on Redis, two workers.

Airflow is started the way ``make airflow-prod`` starts it (``kirz.airflow_prod.main`` in a
subprocess: PostgreSQL and Redis on 127.0.0.1, api-server, scheduler, dag-processor, triggerer
and two Celery workers as separate processes, supervised) in a temporary home. Then:

1. the tiny synthetic centre of the standalone test is dropped into landing, and the test
   waits for the snapshot and every due report through the REST API and the published files,
   with the standalone test's checks and latencies (tests/airflow_e2e_common.py);
   every warehouse task ran in the ``kirz_warehouse`` queue, on the warehouse worker only;
2. a worker is killed in the middle of a transform: the warehouse worker's whole process group
   gets SIGKILL while ``dbt_build`` runs; the supervisor starts the worker again, the
   scheduler's task-instance heartbeat timeout fails the orphaned try, the retry succeeds, and
   the published marts are the same as before;
3. one Slurm file into the idle pipeline (the standalone test's single-file latency);
4. the scheduler is restarted during an ingest run (SIGTERM while an ingest task runs; the
   supervisor starts a new one): every file delivered over the whole test is in
   ``audit.ingests`` exactly once, loaded, and each raw table holds exactly the rows delivered
   (the transform DAG is paused for steps 3 and 4, so that this is read as soon as the
   ingests are done).

Nothing needs a server installed beforehand besides the Debian packages ``postgresql`` and
``redis-server``; without them the test fails (CI installs them in ``.ci/run``). Every process
started is stopped at the end, and the test checks by pid that none is left.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from airflow_e2e_common import (
    LATENCIES,
    api_get,
    api_post,
    check_published,
    clean_env,
    complete,
    deliver_and_wait,
    extra_day,
    landed_files,
    record_latencies,
    latest_run,
    launch,
    move_files,
    query,
    single_file_ingest,
    stage_centre,
    stop_launcher,
    token,
    wait_for_login,
)
from kirz.airflow_local import free_ports
from kirz.config import load_settings


# the scheduler fails a try whose worker stopped heartbeating after this long (default 300 s)
HEARTBEAT_TIMEOUT_S = 25
FAULT_TIMEOUT_S = 300
# tasks that open the live warehouse, by DAG prefix and task id; the rest read files or the snapshot
WAREHOUSE_TASKS = {"ingest", "validate_raw", "dbt_build", "validate_marts", "gated_snapshot",
                   "record_deliveries", "pull"}
WORKLOAD = re.compile(r"Executing workload in Celery: .*?log_path='dag_id=([^/]+)/run_id=[^/]+/task_id=([^/']+)")


def _marts_fingerprint(snapshot: Path) -> dict[str, str]:
    """One digest per mart table over all its rows (doubles rounded to 1e-6)."""
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        out = {}
        for table in tables:
            cols = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'marts' and table_name = ? order by ordinal_position", [table]).fetchall()
            exprs = [f'round("{c}", 6)::varchar' if t in ("DOUBLE", "FLOAT") else f'"{c}"::varchar' for c, t in cols]
            row = "concat_ws('|', " + ", ".join(f"coalesce({e}, 'NULL')" for e in exprs) + ")"
            n, digest = con.execute(f"select count(*), md5(string_agg({row}, chr(10) order by {row})) "
                                    f"from marts.{table}").fetchone()
            out[table] = f"{n}:{digest}"
        return out
    finally:
        con.close()


def _pids(pid_dir: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in pid_dir.glob("*.pid") if p.read_text().strip()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for every purpose here
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _ti(port: int, tok: str, dag_id: str, run_id: str, task_id: str) -> dict:
    status, body = api_get(f"http://localhost:{port}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}", tok)
    return json.loads(body) if status == 200 else {}


def _run(port: int, tok: str, dag_id: str, run_id: str) -> dict:
    status, body = api_get(f"http://localhost:{port}/api/v2/dags/{dag_id}/dagRuns/{run_id}", tok)
    return json.loads(body) if status == 200 else {}


def _all_tis(port: int, tok: str) -> list[dict]:
    status, body = api_get(f"http://localhost:{port}/api/v2/dags/~/dagRuns/~/taskInstances?limit=1000", tok)
    assert status == 200, body[:500]
    return json.loads(body)["task_instances"]


def _active_runs(port: int, tok: str) -> int:
    total = 0
    for state in ("queued", "running"):
        status, body = api_get(f"http://localhost:{port}/api/v2/dags/~/dagRuns?state={state}&limit=1", tok)
        total += json.loads(body)["total_entries"] if status == 200 else 1
    return total


def _idle(port: int, tok: str, polls: int = 3, every: float = 5) -> bool:
    """No DAG run queued or running over ``polls`` looks (an asset-triggered run is created a
    few seconds after the run that announced the asset ended)."""
    for i in range(polls):
        if _active_runs(port, tok):
            return False
        if i < polls - 1:
            time.sleep(every)
    return True


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _wait(what: str, check, timeout: float = FAULT_TIMEOUT_S, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _workloads(log: Path) -> list[tuple[str, str]]:
    """(dag_id, task_id) of every task a Celery worker was handed, from its log."""
    return WORKLOAD.findall(log.read_text(errors="replace")) if log.exists() else []


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_environment_is_make_airflows_with_postgres_celery_and_a_shared_secret(tmp_path):
    from kirz.airflow_prod import Ports, production_env, stack_secrets, worker_env

    settings = load_settings(env={}, home=tmp_path / "home")
    secrets_ = stack_secrets(settings)
    assert stack_secrets(settings) == secrets_  # made once per home
    path = settings.home / "airflow" / "production-secrets.json"
    assert path.stat().st_mode & 0o777 == 0o600
    ports = Ports(api=8123, triggerer_log=8124, worker_logs=(8125, 8126), postgres=5500, redis=6500)
    env = production_env(settings, ports, secrets_, base={
        "PATH": "/usr/bin", "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "25"})
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        f"postgresql+psycopg2://airflow:{secrets_['postgres_password']}@127.0.0.1:5500/airflow")
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6500/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets_["jwt_secret"]
    assert env["AIRFLOW__CELERY__TASK_ACKS_LATE"] == "True"
    assert env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] == "25"  # the caller's, kept
    # the rest is make airflow's: the repository's dags and plugins, the home, the API port
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("dags") and env["KIRZ_HOME"] == str(settings.home.resolve())
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://localhost:8123/execution/"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "8124"
    assert worker_env(env, 8126)["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "8126"


def test_each_component_is_a_process_and_only_one_worker_serves_the_warehouse_queue():
    from kirz.airflow_prod import SERVICES, WORKERS, component_command

    assert SERVICES == ("api-server", "scheduler", "dag-processor", "triggerer")
    assert [component_command(s)[1:] for s in SERVICES] == [[s] for s in SERVICES]
    warehouse, default = (component_command(w) for w in WORKERS)
    assert warehouse[1:3] == ["celery", "worker"] and default[1:3] == ["celery", "worker"]
    queues = {name: cmd[cmd.index("--queues") + 1] for name, cmd in zip(WORKERS, (warehouse, default))}
    assert queues == {"worker-warehouse": "kirz_warehouse,default", "worker-default": "default"}
    hosts = {cmd[cmd.index("--celery-hostname") + 1] for cmd in (warehouse, default)}
    assert len(hosts) == 2


def test_cli_offers_the_production_stack():
    from typer.testing import CliRunner

    from kirz.cli import app

    result = CliRunner().invoke(app, ["airflow", "--help"])
    assert result.exit_code == 0 and "--production" in result.output


@pytest.mark.airflow
@pytest.mark.slow
def test_production_stack_runs_the_pipeline_and_survives_a_killed_worker_and_a_restarted_scheduler(
        tmp_path, tmp_path_factory):
    from kirz.airflow_prod import postgres_bindir, redis_server

    postgres_bindir(), redis_server()  # fail here, saying which, when the packages are missing
    env = clean_env(tmp_path / "home")
    env.update({
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    })
    centre = stage_centre(tmp_path, env)
    home, settings = centre.home, centre.settings
    delivered = {_sha256(p): p.name for p in landed_files(centre.staging)}
    # PostgreSQL's data directory: where its unprivileged user can reach it (tmp_path cannot be)
    pg_dir = Path(tempfile.mkdtemp(prefix="kirz-test-pg-", dir="/tmp"))
    prod = home / "airflow" / "production"
    pid_dir = prod / "pids"

    port, trig_log, w1_log, w2_log = free_ports(4)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from kirz.config import load_settings\n"
        "from kirz.airflow_prod import Ports, main\n"
        f"sys.exit(main(load_settings(), ports=Ports(api={port}, triggerer_log={trig_log}, worker_logs=({w1_log}, {w2_log})),"
        f" pg_dir=Path({str(pg_dir)!r}), demo=False, out=lambda s: print(s, flush=True)))\n"
    )
    out_path = tmp_path / "airflow-prod.out"
    t_test = time.monotonic()
    proc = launch(code, env, out_path, tmp_path)
    seen: dict[int, str] = {}  # every pid the stack ever had
    timings, faults = {}, {}
    try:
        t0 = time.monotonic()
        password = wait_for_login(proc, out_path)
        timings["start_s"] = round(time.monotonic() - t0, 1)
        seen.update({pid: name for name, pid in _pids(pid_dir).items()})
        assert set(seen.values()) == {"postgres", "redis", "api-server", "scheduler", "dag-processor", "triggerer",
                                      "worker-warehouse", "worker-default"}
        banner = out_path.read_text()
        assert f"http://localhost:{port}/" in banner and "PostgreSQL 127.0.0.1:" in banner and "Redis 127.0.0.1:" in banner
        tok = token(port, password)

        # 1. the whole centre, as in the standalone test
        snap1, docs, due = deliver_and_wait(centre, port, tok, timings, prod / "scheduler.log")
        check_published(centre, port, tok, docs, due)
        marts_before = _marts_fingerprint(snap1)

        # 2. a worker killed in the middle of a transform
        status, body = api_post(f"http://localhost:{port}/api/v2/dags/kirz_transform/dagRuns", tok, {"logical_date": None})
        assert status == 200, body[:500]
        run_id = json.loads(body)["dag_run_id"]
        _wait("dbt_build to run", lambda: _ti(port, tok, "kirz_transform", run_id, "dbt_build").get("state") == "running",
              every=0.5)
        time.sleep(3)  # dbt is building (its fixed cost alone is over 10 s)
        assert _ti(port, tok, "kirz_transform", run_id, "dbt_build")["state"] == "running"
        victim = _pids(pid_dir)["worker-warehouse"]
        os.killpg(victim, signal.SIGKILL)  # the worker, its pool processes and the task's
        t_kill, killed_at = time.monotonic(), datetime.now(timezone.utc)
        restarted = _wait("the supervisor to start the worker again",
                          lambda: (p := _pids(pid_dir).get("worker-warehouse")) != victim and p, every=0.5)
        seen[restarted] = "worker-warehouse"
        run = _wait("the transform run to finish",
                    lambda: (r := _run(port, tok, "kirz_transform", run_id)).get("state") in ("success", "failed") and r)
        status, body = api_get(
            f"http://localhost:{port}/api/v2/dags/kirz_transform/dagRuns/{run_id}/taskInstances/dbt_build/tries", tok)
        tries = [(t["try_number"], t["state"]) for t in json.loads(body)["task_instances"]]
        faults["killed_worker"] = {
            "transform_run": run["state"], "dbt_build_tries": tries,
            "kill_to_run_success_s": round(time.monotonic() - t_kill, 1),
        }
        assert run["state"] == "success", faults
        # the orphaned first try failed (heartbeat timeout), the second one, started by the retry, succeeded
        assert tries[0][0] == 1 and tries[0][1] in ("failed", "up_for_retry") and tries[-1] == (2, "success"), faults
        # its rebuild announced the marts: wait for the publish run that follows (the only one
        # since the kill), then compare
        snap2, _docs = _wait("the publish after the retried transform", lambda: (
            (lr := latest_run(port, tok)) and _ts(lr["run_after"]) > killed_at and
            complete(settings, centre.manifest["truth"], due, lr)))
        assert snap2 != snap1
        marts_after = _marts_fingerprint(snap2)
        assert marts_after == marts_before
        faults["killed_worker"]["marts_identical"] = True
        faults["killed_worker"]["kill_to_published_s"] = round(time.monotonic() - t_kill, 1)

        # 3. one Slurm file into the idle pipeline; from here on the transform is paused, so that
        # the last check reads the warehouse right after the ingests (no rebuild to wait for)
        status, body = api_post(f"http://localhost:{port}/api/v2/dags/kirz_transform", tok, {"is_paused": True},
                                method="PATCH")
        assert status == 200, body[:500]
        extra = extra_day(tmp_path, centre)
        extra_manifest = json.loads((extra.home / "synth-manifest.json").read_text())
        (late_slurm,) = landed_files(extra, ["slurm"])
        delivered[_sha256(late_slurm)] = late_slurm.name
        _wait("an idle pipeline", lambda: _idle(port, tok))
        single_file_ingest(centre, extra, timings)

        # 4. the scheduler restarted while an ingest task runs
        late = landed_files(extra, ["power", "gpu"])
        delivered.update({_sha256(p): p.name for p in late})
        move_files(late, extra, settings, prefix="late-")
        ingest = _wait("an ingest task to run", lambda: next(
            (t for t in json.loads(api_get(f"http://localhost:{port}/api/v2/dags/~/dagRuns/~/taskInstances"
                                           "?task_id=ingest&state=running&limit=10", tok)[1])["task_instances"]), None),
            timeout=120, every=0.3)
        old_scheduler = _pids(pid_dir)["scheduler"]
        os.kill(old_scheduler, signal.SIGTERM)
        t_term = time.monotonic()
        new_scheduler = _wait("the supervisor to start the scheduler again",
                              lambda: (p := _pids(pid_dir).get("scheduler")) != old_scheduler and p, every=0.5)
        seen[new_scheduler] = "scheduler"
        after = _wait("the interrupted ingest to finish", lambda: (
            t := _ti(port, tok, ingest["dag_id"], ingest["dag_run_id"], "ingest")).get("state") in ("success", "failed", "skipped") and t)
        _wait("landing to empty", lambda: not landed_files(settings), timeout=180)
        _wait("an idle pipeline", lambda: _idle(port, tok))
        faults["restarted_scheduler"] = {
            "ingest": f"{ingest['dag_id']} ({ingest['dag_run_id']})", "state_at_sigterm": ingest["state"],
            "final_state": after["state"], "try_number": after["try_number"],
            "sigterm_to_idle_s": round(time.monotonic() - t_term, 1),
        }
        assert after["state"] == "success", faults

        # queues: every warehouse task in kirz_warehouse (and its pool), the rest in default;
        # the default-only worker never ran a warehouse task
        tis = _all_tis(port, tok)
        assert tis
        for ti in tis:
            if ti["task_id"] in WAREHOUSE_TASKS:
                assert (ti["queue"], ti["pool"]) == ("kirz_warehouse", "kirz_warehouse"), ti
            else:
                assert ti["queue"] == "default" and ti["pool"] == "default_pool", ti
        on_default = _workloads(prod / "worker-default.log")
        on_warehouse = _workloads(prod / "worker-warehouse.log")
        assert on_warehouse and not [w for w in on_default if w[1] in WAREHOUSE_TASKS], on_default
        faults["workers"] = {"worker-warehouse": len(on_warehouse), "worker-default": len(on_default),
                             "on_default": sorted({t for _, t in on_default})}
    finally:
        seen.update({pid: name for name, pid in _pids(pid_dir).items()})
        stop_launcher(proc, list(seen))
        left = {pid: name for pid, name in seen.items() if _alive(pid)}
        shutil.rmtree(pg_dir, ignore_errors=True)
    assert not left, f"still running after Ctrl-C: {left}"

    # nothing ingested twice or lost, read from the live warehouse now that nothing writes it
    warehouse = settings.warehouse_path
    ingests = query(warehouse, "select file_sha256, status, count(*) from audit.ingests group by 1, 2")
    assert {sha: (status, n) for sha, status, n in ingests} == {sha: ("loaded", 1) for sha in delivered}
    expected = dict(centre.manifest["raw_rows"])
    for table in ("slurm_jobs", "node_power", "gpu_samples"):
        expected[table] += extra_manifest["raw_rows"][table]
    counts = {t: query(warehouse, f"select count(*) from raw.{t}")[0][0] for t in expected}
    assert counts == expected
    assert query(warehouse, "select count(*) from raw.quarantine")[0][0] == 0
    faults["ingested"] = {"files": len(delivered), "raw_rows": counts}

    timings["wall_s"] = round(time.monotonic() - t_test, 1)
    (tmp_path / "timings-production.json").write_text(json.dumps({"timings": timings, "faults": faults}, indent=2))
    print(f"\nairflow production e2e timings: {timings}\nfaults: {json.dumps(faults)}\n"
          + record_latencies(tmp_path_factory, "production", timings))
    assert set(LATENCIES) <= set(timings)
