"""End to end under a real Airflow: files dropped into landing become a published snapshot and reports.

Airflow is started the way ``make airflow`` starts it (``kirz.airflow_local.main`` in a
subprocess: ``airflow standalone`` with scheduler, DAG processor, triggerer and API server,
SQLite, LocalExecutor) in a temporary home. The test drops a tiny synthetic centre into the
landing folders and waits, bounded, for the snapshot and every due report to be built from all
of it; nothing else is triggered by hand. Every process it started is stopped at the end.
The steps and checks are shared with the production stack's test (tests/airflow_e2e_common.py).
"""

import json
import time

import pytest

from airflow_e2e_common import (
    check_published,
    clean_env,
    deliver_and_wait,
    extra_day,
    launch,
    record_latencies,
    single_file_ingest,
    stage_centre,
    stop_launcher,
    token,
    wait_for_login,
)
from kirz.airflow_local import free_ports

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def test_dropped_files_become_published_snapshot_and_reports(tmp_path, tmp_path_factory):
    env = clean_env(tmp_path / "home")
    centre = stage_centre(tmp_path, env)

    port, log1, log2 = free_ports(3)
    code = (
        "import sys\n"
        "from kirz.config import load_settings\n"
        "from kirz.airflow_local import main\n"
        f"sys.exit(main(load_settings(), port={port}, log_ports=({log1}, {log2}), demo=False,"
        " out=lambda s: print(s, flush=True)))\n"
    )
    proc = launch(code, env, tmp_path / "airflow-local.out", tmp_path)
    pid_file = centre.home / "airflow" / "standalone.pid"
    standalone_pgids = []
    timings = {}
    try:
        t0 = time.monotonic()
        password = wait_for_login(proc, tmp_path / "airflow-local.out")
        timings["start_s"] = round(time.monotonic() - t0, 1)
        if pid_file.exists():
            standalone_pgids.append(int(pid_file.read_text()))
        tok = token(port, password)

        _snap, docs, due = deliver_and_wait(centre, port, tok, timings, centre.home / "airflow" / "standalone.log")
        check_published(centre, port, tok, docs, due)
        single_file_ingest(centre, extra_day(tmp_path, centre), timings)
        (tmp_path / "timings.json").write_text(json.dumps(timings))
        print(f"\nairflow e2e timings: {timings}\n" + record_latencies(tmp_path_factory, "standalone", timings))
    finally:
        if pid_file.exists():
            standalone_pgids.append(int(pid_file.read_text()))
        stop_launcher(proc, standalone_pgids)
