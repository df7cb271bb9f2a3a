"""The report scenario built through the real pipeline, shared by the report tests.

``tests/fixtures/reports/scenario/`` holds the centre's input files in the layout of the
landing folders (``inventory/``, ``contracts/``, ``slurm/``, ``power/``, ``meters/``) and, in
``late/``, two Slurm files delivered after the first reports. :func:`build` copies them into a
new ``KIRZ_HOME``, ingests them (:func:`kirz.pipeline.ingest_landing`), builds the dbt project,
validates both layers, records one acceptance and publishes the snapshot the reports read;
:func:`deliver_late` delivers one late file the same way (incremental build, validation,
a new snapshot). The files are described in ``tests/fixtures/reports/scenario/README.md``;
the figures the tests assert are worked out by hand in the docstring of
``tests/test_report_data.py``.

The build runs once per test session: :func:`shared` keeps it per pytest base folder, so the
three report test modules share one warehouse and its snapshots; the snapshots are read-only,
and every test renders into its own home.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "reports"
SCENARIO = FIXTURES / "scenario"
RECIPIENTS = FIXTURES / "recipients"
PSEUDONYM_KEY = "report-scenario-key"
SOURCES = ("inventory", "contracts", "slurm", "power", "meters")

# the known warning of the scenario (job 1020 on an account no contract covers), accepted
# with a reason that names a confidential partner: reports must scrub it
ACCEPTED = ("raw.slurm_jobs", "jobs_account_covered")
ACCEPTANCE_REASON = "zz-legacy is the test account of Geheimwerk KI GmbH's pilot; its contract is being signed"
ACCEPTED_BY = "ops"
FIRST_DAY, LAST_DAY = date(2026, 10, 26), date(2026, 11, 6)


@dataclass
class Scenario:
    settings: object
    snapshot: Path  # published after the first delivery (all files but late/)
    late: dict = field(default_factory=dict)  # late file name -> the snapshot published after it
    seconds: dict = field(default_factory=dict)  # snapshot run id -> seconds per pipeline step


def settings_for(home: Path, recipients: Path = RECIPIENTS, **tables):
    """Settings of a KIRZ_HOME with the scenario's recipients and pseudonym key; ``tables`` are
    the kirz.toml tables (``smtp={...}``)."""
    from kirz.config import load_settings

    return load_settings(env={}, home=home, pseudonym_key=PSEUDONYM_KEY, recipients_dir=recipients,
                         extra=tables or None)


def _run_pipeline(sc: Scenario, run_id: str, accept_known: bool = False) -> Path:
    """Ingest what waits in landing, build, validate, publish; the new snapshot's path."""
    from kirz.pipeline import ingest_landing
    from kirz.publish import gated_publish
    from kirz.transform import transform
    from kirz.validation import accept, validate

    steps = {}
    t0 = time.perf_counter()
    run = ingest_landing(sc.settings)
    assert not run.rejected, [r.message for r in run.rejected]
    steps["ingest"], t0 = time.perf_counter() - t0, time.perf_counter()
    result = transform(sc.settings)
    assert result.ok, result.message
    steps["transform"], t0 = time.perf_counter() - t0, time.perf_counter()
    validate(sc.settings)
    if accept_known:
        accept(sc.settings, *ACCEPTED, FIRST_DAY, LAST_DAY, ACCEPTANCE_REASON, ACCEPTED_BY)
    steps["validate"], t0 = time.perf_counter() - t0, time.perf_counter()
    _, pub = gated_publish(sc.settings, run_id=run_id)
    steps["publish"] = time.perf_counter() - t0
    sc.seconds[run_id] = steps
    return pub.snapshot


def build(root: Path) -> Scenario:
    """Ingest, transform, validate and publish the scenario under ``root/home``."""
    settings = settings_for(root / "home")
    for source in SOURCES:
        shutil.copytree(SCENARIO / source, settings.landing_for(source))
    sc = Scenario(settings=settings, snapshot=Path())
    sc.snapshot = _run_pipeline(sc, "base", accept_known=True)
    return sc


def deliver_late(sc: Scenario, name: str) -> Path:
    """Deliver ``late/<name>`` into the Slurm landing folder and rebuild (an incremental dbt
    build); the snapshot published after it. Each file is delivered once per scenario."""
    if name not in sc.late:
        folder = sc.settings.landing_for("slurm")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(SCENARIO / "late" / name, folder / name)
        sc.late[name] = _run_pipeline(sc, Path(name).stem)
    return sc.late[name]


def edited_copy(snapshot: Path, dest: Path, sql: str) -> Path:
    """A writable copy of a (read-only) snapshot at ``dest`` with ``sql`` run on it."""
    import duckdb

    shutil.copy(snapshot, dest)
    dest.chmod(0o644)
    con = duckdb.connect(str(dest))
    try:
        con.execute(sql)
    finally:
        con.close()
    return dest


_BUILT: dict[str, Scenario] = {}


def shared(tmp_path_factory) -> Scenario:
    """The scenario of this test session (built on first use)."""
    key = str(tmp_path_factory.getbasetemp())
    if key not in _BUILT:
        _BUILT[key] = build(tmp_path_factory.mktemp("report-scenario"))
    return _BUILT[key]
