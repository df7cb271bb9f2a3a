"""End to end under a real Airflow: files dropped into landing become a published snapshot and reports.

Airflow is started the way ``make airflow`` starts it (``kirz.airflow_local.main`` in a
subprocess: ``airflow standalone`` with scheduler, DAG processor, triggerer and API server,
SQLite, LocalExecutor) in a temporary home. The test drops a tiny synthetic centre into the
landing folders and waits, bounded, for the snapshot and every due report to be built from all
of it; nothing else is triggered by hand. Every process it started is stopped at the end.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from kirz.config import SOURCES, load_settings
from recipients_subset import small_recipients

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 420
DELIVERY_TIMEOUT_S = 480
pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _query(path: Path, sql: str):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _complete(settings, truth: dict, due: list, publish_run: dict | None) -> tuple[Path, list[dict]] | None:
    """The latest snapshot and the latest version of every due report, once the snapshot holds
    all data and the publish run that wrote it has finished; None before that. Reads only
    published files, never the live warehouse (a reader would block the pipeline's writers)."""
    marker = settings.published_dir / "LATEST"
    if not marker.exists() or not publish_run or publish_run["state"] != "success":
        return None
    latest = json.loads(marker.read_text())
    run_after = datetime.fromisoformat(publish_run["run_after"].replace("Z", "+00:00"))
    if run_after.strftime("%Y%m%dT%H%M%SZ") != latest["run_id"]:
        return None
    snap = settings.published_dir / "snapshots" / latest["snapshot"]
    try:
        gpu = dict(_query(snap, "select usage_area, sum(gpu_hours) from marts.fct_usage_daily group by 1"))
        days = _query(snap, "select count(*) from marts.fct_energy_daily where pue is not null")[0][0]
    except (duckdb.Error, FileNotFoundError):
        return None
    if days < len(truth["energy_daily"]):
        return None
    for area, t in truth["by_usage_area"].items():
        if abs(gpu.get(area, 0.0) - t["gpu_hours"]) > 0.01:
            return None
    found = []
    for recipient, kind, period in due:
        folder = settings.reports_dir / recipient / period
        docs = sorted((json.loads(p.read_text()) for p in folder.glob(f"{kind}.*.json")), key=lambda d: d["version"])
        if not docs:
            return None
        found.append(docs[-1])
    return snap, found


def _latest_publish_run(port: int, token: str) -> dict | None:
    status, body = _get(f"http://localhost:{port}/api/v2/dags/kirz_publish/dagRuns?order_by=-run_after&limit=1", token)
    runs = json.loads(body).get("dag_runs", []) if status == 200 else []
    return runs[0] if runs else None


def _token(port: int, password: str) -> str:
    req = urllib.request.Request(
        f"http://localhost:{port}/auth/token",
        data=json.dumps({"username": "admin", "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["access_token"]


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_dropped_files_become_published_snapshot_and_reports(tmp_path):
    from kirz.airflow_local import drop_demo_data
    from kirz.reporting import due_reports

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KIRZ_"))}
    env["KIRZ_HOME"] = str(home)
    settings = load_settings(env=env)
    # the two days before this month began: their month is the one partner statements are due for
    today = datetime.now(settings.tz).date()
    start = today.replace(day=1) - timedelta(days=2)

    # synthesize outside landing first (the same files the drop below delivers)
    staging = load_settings(env={"KIRZ_HOME": str(tmp_path / "staging")})
    drop_demo_data(staging, nodes=8, days=2, interval_s=300, start=start)
    manifest = json.loads((staging.home / "synth-manifest.json").read_text())
    partners = small_recipients(home, staging.landing_for("contracts"))
    settings = load_settings(env=env)

    port, log1, log2 = _free_ports(3)
    code = (
        "import sys\n"
        "from kirz.config import load_settings\n"
        "from kirz.airflow_local import main\n"
        f"sys.exit(main(load_settings(), port={port}, log_ports=({log1}, {log2}), demo=False,"
        " out=lambda s: print(s, flush=True)))\n"
    )
    out_path = tmp_path / "airflow-local.out"
    out = open(out_path, "w")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=tmp_path)
    timings = {}
    try:
        t0 = time.monotonic()
        password = None
        while time.monotonic() - t0 < START_TIMEOUT_S and proc.poll() is None:
            for line in out_path.read_text().splitlines():
                if line.startswith("login:"):
                    password = line.split("/", 1)[1].strip()
            if password:
                break
            time.sleep(2)
        assert password, f"Airflow did not come up:\n{out_path.read_text()[-3000:]}"
        timings["start_s"] = round(time.monotonic() - t0, 1)

        # the delivery: every file renamed into its landing folder, as a transfer tool would
        t_drop = time.monotonic()
        dropped = 0
        for source in SOURCES:
            for f in sorted(p for p in staging.landing_for(source).rglob("*") if p.is_file()):
                dest = settings.landing_for(source) / f.relative_to(staging.landing_for(source))
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(f, dest)
                dropped += 1
        assert dropped == manifest["totals"]["files"]

        token = _token(port, password)
        done = due = None
        while time.monotonic() - t_drop < DELIVERY_TIMEOUT_S:
            elapsed = round(time.monotonic() - t_drop, 1)
            if "landing_empty_s" not in timings and not any(p.is_file() for p in settings.landing.rglob("*")):
                timings["landing_empty_s"] = elapsed  # every file ingested and moved out
            marker = settings.published_dir / "LATEST"
            if marker.exists():
                timings.setdefault("first_snapshot_s", elapsed)
                snap = settings.published_dir / "snapshots" / json.loads(marker.read_text())["snapshot"]
                try:
                    due = due_reports(settings, today, db=snap)
                    done = _complete(settings, manifest["truth"], due, _latest_publish_run(port, token))
                except (duckdb.Error, FileNotFoundError):
                    done = None
                if done:
                    break
            time.sleep(5)
        timings["drop_to_reports_s"] = round(time.monotonic() - t_drop, 1)
        log = (home / "airflow" / "standalone.log")
        assert done, (
            f"no complete snapshot with all due reports {DELIVERY_TIMEOUT_S} s after the drop; "
            f"landing still holds {[p.name for p in settings.landing.rglob('*') if p.is_file()]}; "
            f"log tail:\n{log.read_text()[-4000:] if log.exists() else ''}"
        )
        snap, docs = done

        # what was published: all of it, in the snapshot and in the reports
        # the data lie in the last two days of the previous month: of the latest complete month,
        # quarter and year, those holding these days are due (a period without data is not)
        q = (today.month - 1) // 3 + 1
        prev_quarter = f"{today.year - 1}-Q4" if q == 1 else f"{today.year}-Q{q - 1}"
        last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        expected = [(p, "partner_statement", last_month) for p in partners[:2]]
        if start.month in (12, 3, 6, 9) and prev_quarter.startswith(str(start.year)):
            expected.append(("bund-strukturwandel", "funder_impact", prev_quarter))
        if start.year == today.year - 1:
            expected += [("bund-strukturwandel", "funder_impact", str(start.year)),
                         ("energy-regulator", "energy_annual", str(start.year)),
                         ("energy-regulator", "energy_register", str(start.year))]
            expected += [(p, "partner_statement", str(start.year)) for p in partners[:2]]
        assert sorted(due) == sorted(expected)
        assert not [p for p in settings.landing.rglob("*") if p.is_file()]
        for doc in docs:
            # one delivery, one version: the scheduled and the file-arrival runs issue nothing twice
            assert doc["version"] == 1 and doc["figures"], (doc["recipient"], doc["version"])
            for name in doc["files"]:
                assert (settings.reports_dir / doc["recipient"] / doc["period"] / name).stat().st_size > 0
        # partners.yaml: a month's statements go out on the 3rd working day of the next month, a preview before
        from kirz.reporting.schedule import nth_working_day

        statements = [p for partner in partners[:2] for p in (home / "outbox" / partner).rglob("*.pdf")]
        if today >= nth_working_day(today.replace(day=1) - timedelta(days=1), 3):
            assert statements
        else:
            assert statements == []
        assert not [p.name for p in (home / "outbox").rglob("*") if ".v2." in p.name or ".v3." in p.name]
        assert not [p.name for p in settings.reports_dir.rglob("*.v2.json")]

        # the plugin serves them from the Airflow API server, to logged-in users only
        status, _ = _get(f"http://localhost:{port}/kirz/api/reports")
        assert status == 401
        status, body = _get(f"http://localhost:{port}/kirz/api/reports", token)
        assert status == 200
        listed = {r["path"] for r in json.loads(body)["reports"]}
        pdf = f"{docs[0]['recipient']}/{docs[0]['period']}/" + next(n for n in docs[0]["files"] if n.endswith(".pdf"))
        assert pdf in listed
        status, body = _get(f"http://localhost:{port}/kirz/reports/{pdf}", token)
        assert status == 200 and body.startswith(b"%PDF")
        status, body = _get(f"http://localhost:{port}/kirz/dq/", token)
        assert status == 200 and b"<html" in body.lower()
        # one more Slurm file, alone, into an idle pipeline: ingested within a minute
        extra = load_settings(env={"KIRZ_HOME": str(tmp_path / "extra")})
        drop_demo_data(extra, nodes=8, days=1, interval_s=300, start=start + timedelta(days=2))
        (one,) = [p for p in extra.landing_for("slurm").iterdir() if p.is_file()]
        target = settings.landing_for("slurm") / f"late-{one.name}"
        t_one = time.monotonic()
        os.replace(one, target)
        while target.exists() and time.monotonic() - t_one < 120:
            time.sleep(1)
        timings["single_file_ingest_s"] = round(time.monotonic() - t_one, 1)
        assert not target.exists(), "a single Slurm file was not ingested within 120 s"
        assert timings["single_file_ingest_s"] < 60
        print(f"\nairflow e2e timings: {timings}")
        (tmp_path / "timings.json").write_text(json.dumps(timings))
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=150)
            except subprocess.TimeoutExpired:
                pass
        pid_file = home / "airflow" / "standalone.pid"
        leftovers = [proc.pid] + ([int(pid_file.read_text())] if pid_file.exists() else [])
        for pgid in leftovers:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        proc.wait()
        out.close()
