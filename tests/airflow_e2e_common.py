"""What the end-to-end tests under a real Airflow share (tests/test_airflow_e2e.py: standalone;
tests/test_airflow_prod.py: PostgreSQL, Celery on Redis, two workers).

Each starts Airflow the way its ``make`` target does, in a subprocess and a temporary home,
drops the same tiny synthetic centre into the landing folders, waits through the REST API and
the published files for the snapshot and every due report, checks them, and measures the same
latencies (``LATENCIES``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from kirz.config import SOURCES, Settings, load_settings
from recipients_subset import small_recipients

START_TIMEOUT_S = 420
DELIVERY_TIMEOUT_S = 480
# what both tests measure, in seconds: launch to login; drop to landing empty (every file
# ingested and moved out), to the first snapshot, to the snapshot and every due report; one
# more Slurm file into an idle pipeline until it left landing
LATENCIES = ("start_s", "landing_empty_s", "first_snapshot_s", "drop_to_reports_s", "single_file_ingest_s")


def query(path: Path, sql: str):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def api_get(url: str, token: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def api_post(url: str, token: str, body: dict, method: str = "POST") -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def token(port: int, password: str) -> str:
    req = urllib.request.Request(
        f"http://localhost:{port}/auth/token",
        data=json.dumps({"username": "admin", "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["access_token"]


def latest_run(port: int, tok: str, dag_id: str = "kirz_publish") -> dict | None:
    status, body = api_get(f"http://localhost:{port}/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after&limit=1", tok)
    runs = json.loads(body).get("dag_runs", []) if status == 200 else []
    return runs[0] if runs else None


def complete(settings: Settings, truth: dict, due: list, publish_run: dict | None) -> tuple[Path, list[dict]] | None:
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
        gpu = dict(query(snap, "select usage_area, sum(gpu_hours) from marts.fct_usage_daily group by 1"))
        days = query(snap, "select count(*) from marts.fct_energy_daily where pue is not null")[0][0]
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


@dataclass
class Centre:
    """The tiny synthetic centre both tests deliver: 8 nodes, the last two days of the previous
    month (so the month's partner statements are due), synthesized outside landing."""

    home: Path
    settings: Settings
    staging: Settings
    manifest: dict
    partners: list[str]
    today: date
    start: date


def clean_env(home: Path) -> dict[str, str]:
    """The caller's environment without any Airflow or kirz setting, for ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KIRZ_"))}
    env["KIRZ_HOME"] = str(home)
    return env


def stage_centre(tmp_path: Path, env: dict[str, str]) -> Centre:
    from kirz.airflow_local import drop_demo_data

    home = Path(env["KIRZ_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    settings = load_settings(env=env)
    today = datetime.now(settings.tz).date()
    start = today.replace(day=1) - timedelta(days=2)
    staging = load_settings(env={"KIRZ_HOME": str(tmp_path / "staging")})
    drop_demo_data(staging, nodes=8, days=2, interval_s=300, start=start)
    manifest = json.loads((staging.home / "synth-manifest.json").read_text())
    partners = small_recipients(home, staging.landing_for("contracts"))
    return Centre(home, load_settings(env=env), staging, manifest, partners, today, start)


def launch(code: str, env: dict[str, str], out_path: Path, cwd: Path) -> subprocess.Popen:
    """``code`` (a ``main`` of kirz.airflow_local or kirz.airflow_prod) in a Python of its own
    session, its output in ``out_path``."""
    out = open(out_path, "w")
    try:
        return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=cwd)
    finally:
        out.close()


def wait_for_login(proc: subprocess.Popen, out_path: Path, timeout: float = START_TIMEOUT_S) -> str:
    """The admin password from the printed banner, once Airflow is up."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and proc.poll() is None:
        for line in out_path.read_text().splitlines():
            if line.startswith("login:"):
                return line.split("/", 1)[1].strip()
        time.sleep(2)
    raise AssertionError(f"Airflow did not come up:\n{out_path.read_text()[-3000:]}")


def move_files(files: list[Path], src: Settings, dest: Settings, prefix: str = "") -> list[Path]:
    """Rename each file from ``src``'s landing into ``dest``'s, as a transfer tool would."""
    moved = []
    for f in files:
        source = next(s for s in SOURCES if f.is_relative_to(src.landing_for(s)))
        target = dest.landing_for(source) / f.relative_to(src.landing_for(source)).with_name(prefix + f.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, target)
        moved.append(target)
    return moved


def landed_files(settings: Settings, sources=SOURCES) -> list[Path]:
    return sorted(p for s in sources for p in settings.landing_for(s).rglob("*") if p.is_file())


def deliver_and_wait(centre: Centre, port: int, tok: str, timings: dict, log_path: Path) -> tuple[Path, list[dict], list]:
    """Drop the whole centre into landing and wait for the snapshot and every due report;
    records landing_empty_s, first_snapshot_s and drop_to_reports_s in ``timings``."""
    from kirz.reporting import due_reports

    settings = centre.settings
    t_drop = time.monotonic()
    dropped = move_files(landed_files(centre.staging), centre.staging, settings)
    assert len(dropped) == centre.manifest["totals"]["files"]
    done = due = None
    while time.monotonic() - t_drop < DELIVERY_TIMEOUT_S:
        elapsed = round(time.monotonic() - t_drop, 1)
        if "landing_empty_s" not in timings and not landed_files(settings):
            timings["landing_empty_s"] = elapsed  # every file ingested and moved out
        marker = settings.published_dir / "LATEST"
        if marker.exists():
            timings.setdefault("first_snapshot_s", elapsed)
            snap = settings.published_dir / "snapshots" / json.loads(marker.read_text())["snapshot"]
            try:
                due = due_reports(settings, centre.today, db=snap)
                done = complete(settings, centre.manifest["truth"], due, latest_run(port, tok))
            except (duckdb.Error, FileNotFoundError):
                done = None
            if done:
                break
        time.sleep(5)
    timings["drop_to_reports_s"] = round(time.monotonic() - t_drop, 1)
    assert done, (
        f"no complete snapshot with all due reports {DELIVERY_TIMEOUT_S} s after the drop; "
        f"landing still holds {[p.name for p in landed_files(settings)]}; "
        f"log tail:\n{log_path.read_text()[-4000:] if log_path.exists() else ''}"
    )
    return done[0], done[1], due


def check_published(centre: Centre, port: int, tok: str, docs: list[dict], due: list) -> None:
    """What was published is all of it, in the snapshot and in the reports, each report once,
    served by the plugin to logged-in users only."""
    settings, today, start, partners, home = centre.settings, centre.today, centre.start, centre.partners, centre.home
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
    assert not landed_files(settings)
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

    status, _ = api_get(f"http://localhost:{port}/kirz/api/reports")
    assert status == 401
    status, body = api_get(f"http://localhost:{port}/kirz/api/reports", tok)
    assert status == 200
    listed = {r["path"] for r in json.loads(body)["reports"]}
    pdf = f"{docs[0]['recipient']}/{docs[0]['period']}/" + next(n for n in docs[0]["files"] if n.endswith(".pdf"))
    assert pdf in listed
    status, body = api_get(f"http://localhost:{port}/kirz/reports/{pdf}", tok)
    assert status == 200 and body.startswith(b"%PDF")
    status, body = api_get(f"http://localhost:{port}/kirz/dq/", tok)
    assert status == 200 and b"<html" in body.lower()


def extra_day(tmp_path: Path, centre: Centre) -> Settings:
    """The day after the centre's, synthesized outside landing (the late deliveries)."""
    from kirz.airflow_local import drop_demo_data

    extra = load_settings(env={"KIRZ_HOME": str(tmp_path / "extra")})
    drop_demo_data(extra, nodes=8, days=1, interval_s=300, start=centre.start + timedelta(days=2))
    return extra


def single_file_ingest(centre: Centre, extra: Settings, timings: dict) -> Path:
    """One more Slurm file, alone, into an idle pipeline: ingested within a minute.
    Records single_file_ingest_s; returns where it was dropped."""
    (one,) = [p for p in extra.landing_for("slurm").iterdir() if p.is_file()]
    t_one = time.monotonic()
    (target,) = move_files([one], extra, centre.settings, prefix="late-")
    while target.exists() and time.monotonic() - t_one < 120:
        time.sleep(1)
    timings["single_file_ingest_s"] = round(time.monotonic() - t_one, 1)
    assert not target.exists(), "a single Slurm file was not ingested within 120 s"
    assert timings["single_file_ingest_s"] < 60
    return target


def stop_launcher(proc: subprocess.Popen, pgids: list[int], timeout: float = 150) -> None:
    """Ctrl-C to the launcher (it stops what it started); then kill what is left of ``pgids``."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    for pgid in [proc.pid, *pgids]:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait()


def record_latencies(tmp_path_factory, stack: str, timings: dict) -> str:
    """Keep ``timings`` for this pytest run (its base temporary folder) and return the table of
    every stack measured in the run so far, side by side: the standalone and the production
    test each print it, so the second one prints both."""
    shared = tmp_path_factory.getbasetemp() / "airflow-latencies"
    shared.mkdir(exist_ok=True)
    (shared / f"{stack}.json").write_text(json.dumps(timings))
    order = ["standalone", "production"]
    found = {p.stem: json.loads(p.read_text()) for p in shared.glob("*.json")}
    return latency_table({k: found[k] for k in sorted(found, key=lambda k: (order.index(k) if k in order else 9, k))})


def latency_table(columns: dict[str, dict]) -> str:
    """``{stack: timings}`` as a table, one latency a row, one stack a column."""
    names = list(columns)
    lines = [f"{'latency (s)':<22}" + "".join(f"{n:>14}" for n in names)]
    for key in LATENCIES:
        lines.append(f"{key:<22}" + "".join(f"{str(columns[n].get(key, '-')):>14}" for n in names))
    return "\n".join(lines)
