"""The Airflow plugin: loaded from plugins/ alone, and its FastAPI app serving the operator console.

:func:`build_console_home` makes a home with report versions (written by kirz.reporting.versions,
deliveries recorded in their manifests and copied into the snapshot's audit.report_deliveries by
kirz.reporting.audit), recipient files with delivery rules, validation runs rendered by
kirz.dq_render and a published snapshot holding an older run; tests/test_console_browser.py uses it too.
"""

import hashlib
import json
import os
import re
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

# Airflow reads its configuration once, at import: a throwaway home, the repo's folders.
os.environ.setdefault("KIRZ_TEST_AIRFLOW_HOME", tempfile.mkdtemp(prefix="kirz-airflow-test-"))
os.environ["AIRFLOW_HOME"] = os.environ["KIRZ_TEST_AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins")

import pytest  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from airflow.plugins_manager import _load_plugins_from_plugin_directory  # noqa: E402

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


# ------------------------------------------------------------------ a home for the console

RECIPIENT_FILES = {
    "partner.yaml": """id: partner-p-0042
name: "Muster Robotik GmbH"
role: partner
language: [de, en]
scope: all
deliver: {settle_days: 5}
reports: [{kind: partner_statement, every: month}]
emails: [billing@muster-robotik.test]
""",
    "bund.yaml": """id: bund-strukturwandel
name: "Bund – Strukturwandel"
role: funder
language: de
scope: {funders: [bund-strukturwandel]}
reports:
  - {kind: funder_impact, every: quarter, deliver: {settle_days: 366}}
emails: [bund@funders.test]
""",
    "regulator.yaml": """id: energy-regulator
name: "Energieeffizienzregister für Rechenzentren"
role: regulator
language: de
scope: all
deliver: {by: "03-31"}
reports: [{kind: energy_register, every: year}]
""",
}

# the validation runs: id, layer, started (UTC), days, results as
# (suite, expectation, severity, [(day, success, unexpected, accepted)])
DQ_RUNS = [
    ("dq-20261030T011500Z-marts-aaaaaa", "marts", datetime(2026, 10, 30, 1, 15, tzinfo=timezone.utc), [
        ("marts.fct_usage_daily", "gpu_hours_non_negative", "critical",
         [(date(2026, 10, 26), False, 2, False), (date(2026, 10, 27), True, 0, False)]),
    ]),
    ("dq-20261101T011500Z-raw-bbbbbb", "raw", datetime(2026, 11, 1, 1, 15, tzinfo=timezone.utc), [
        ("raw.slurm_jobs", "jobs_account_covered", "warning",
         [(date(2026, 10, 26), False, 3, False), (date(2026, 10, 27), False, 2, False),
          (date(2026, 10, 28), False, 1, False)]),
        ("raw.power", "power_no_gap", "warning",
         [(date(2026, 10, 26), True, 0, False), (date(2026, 10, 27), False, 1, False),
          (date(2026, 10, 28), True, 0, False)]),
        ("raw.meters", "meter_no_reset", "critical",
         [(date(2026, 10, 26), True, 0, False), (date(2026, 10, 27), True, 0, False),
          (date(2026, 10, 28), False, 1, True)]),
        ("raw.slurm_jobs", "jobs_end_after_start", "critical",
         [(date(2026, 10, 26), True, 0, False), (date(2026, 10, 27), True, 0, False),
          (date(2026, 10, 28), True, 0, False)]),
    ]),
    ("dq-20261101T013000Z-marts-cccccc", "marts", datetime(2026, 11, 1, 1, 30, tzinfo=timezone.utc), [
        ("marts.fct_usage_daily", "gpu_hours_non_negative", "critical",
         [(date(2026, 10, d), True, 0, False) for d in (26, 27, 28)]),
        ("marts.fct_energy_daily", "pue_in_range", "warning",
         [(date(2026, 10, d), True, 0, False) for d in (26, 27, 28)]),
    ]),
    ("dq-20261102T011500Z-raw-dddddd", "raw", datetime(2026, 11, 2, 1, 15, tzinfo=timezone.utc), [
        ("raw.slurm_jobs", "jobs_account_covered", "warning", [(date(2026, 10, 28), True, 0, False)]),
        ("raw.power", "power_no_gap", "warning", [(date(2026, 10, 28), True, 0, False)]),
        ("raw.meters", "meter_no_reset", "critical", [(date(2026, 10, 28), True, 0, False)]),
        ("raw.slurm_jobs", "jobs_end_after_start", "critical", [(date(2026, 10, 28), True, 0, False)]),
    ]),
]
RUN_A, RUN_B, RUN_C, RUN_D = (r[0] for r in DQ_RUNS)
ACCEPTANCE = ("raw.meters", "meter_no_reset", date(2026, 10, 28), "meter exchanged on 28 Oct, reading checked by hand")
OVERRIDE = ("gate-20261102T090000Z-report-abc123", "the power meter was replaced; readings checked by hand")


def _dq_run(run_id, layer, started, checks):
    from kirz.validation import DqRun

    rows = []
    for suite, eid, severity, days in checks:
        for day, success, unexpected, accepted in days:
            rows.append({
                "suite": suite, "table_name": suite, "expectation": eid, "expectation_type": "expect_custom",
                "severity": severity, "meaning": f"{eid.replace('_', ' ')} ({suite})", "success": success,
                "observed_value": None if success else f"{unexpected} unexpected", "unexpected_count": unexpected,
                "unexpected_examples": "[]", "batch": "test", "period_start": day, "period_end": day,
                "accepted": accepted, "acceptance_reason": ACCEPTANCE[3] if accepted else None,
            })
    failed = [r for r in rows if not r["success"]]
    critical = sum(1 for r in failed if r["severity"] == "critical" and not r["accepted"])
    days = sorted({r["period_start"] for r in rows})
    return DqRun(
        run_id=run_id, layer=layer, status="failed" if critical else ("warning" if failed else "passed"),
        passed=len(rows) - len(failed), warnings=len(failed) - critical, critical=critical, results=rows,
        html_path=None, batch="test", period_start=days[0], period_end=days[-1], started_at=started,
        finished_at=started + timedelta(seconds=40), suites=len(checks), expectations=len(rows),
        code_version="0.test",
    )


def _month_back(today: date, n: int) -> str:
    y, m = today.year, today.month - n
    while m < 1:
        y, m = y - 1, m + 12
    return f"{y:04d}-{m:02d}"


def console_periods(today: date) -> dict:
    """The periods of the console home, relative to ``today`` so that the states do not age."""
    q = (today.month - 1) // 3 + 1
    return {
        "old": _month_back(today, 3),  # a statement rendered, due long ago, never delivered
        "mid": _month_back(today, 2),  # v1 delivered, v2 a correction not yet sent
        "quarter": f"{today.year - 1}-Q4" if q == 1 else f"{today.year}-Q{q - 1}",  # due 366 days after
        "year": str(today.year - 2),  # the register export, delivered
    }


def _write_report(settings, recipient, name, period, kind, lang, n, *, dq_run_ids, gate=None, base=None,
                  changes=(), created):
    from kirz.reporting.versions import period_dir, write_version

    gate = gate or {"status": "open", "override_id": None, "reason": None, "by": None, "when": None}
    html = (f"<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{kind} {period} v{n}</title>"
            f"</head><body><h1>{name}: {kind.replace('_', ' ')} {period}</h1><p>Version {n} ({lang})</p>"
            f"<table><tr><th>GPU hours</th><td>{1200 + 10 * n}</td></tr></table></body></html>")
    files = {"html": html.encode(), "pdf": b"%PDF-1.7 console test\n", "csv": f"key,value\ngpu_hours,{1200 + 10 * n}\n".encode(),
             "xlsx": b"PK\x03\x04 console test"}
    if n > 1:  # a later version also carries its data-quality findings as CSV
        files["dq.csv"] = b"suite,expectation,outcome\nraw.power,power_no_gap,failed\n"
    manifest = {
        "recipient": recipient, "recipient_name": name, "kind": kind, "lang": lang, "period": period, "version": n,
        "data_hash": f"hash-{kind}-{lang}-{n}", "created_at": created.isoformat(timespec="seconds"),
        "run_id": f"rep-{created:%Y%m%dT%H%M%SZ}-{n:06d}", "code_version": "0.test",
        "warehouse": str(settings.published_dir / "latest.duckdb"), "scope": {"everything": True},
        "base_version": base, "changes": list(changes), "dq_run_ids": list(dq_run_ids), "gate": gate,
        "inputs": [], "figures": {},
    }
    return write_version(period_dir(settings.reports_dir, recipient, period), kind, lang, n, files, manifest)


def build_console_home(home: Path, today: date):
    """A KIRZ_HOME as the console sees it after some nights; returns its settings."""
    import duckdb

    from kirz.config import load_settings
    from kirz.dq_render import render_run
    from kirz.reporting.audit import record_deliveries
    from kirz.reporting.versions import record_delivery, sha256_bytes
    from kirz.validation import DQ_DDL
    from kirz.warehouse import DDL

    rdir = home / "recipients"
    rdir.mkdir(parents=True)
    for name, text in RECIPIENT_FILES.items():
        (rdir / name).write_text(text, encoding="utf-8")
    (home / "kirz.toml").write_text(f'recipients_dir = "{rdir}"\n', encoding="utf-8")
    settings = load_settings(env={}, home=home)
    assert settings.recipients_path == rdir
    per = console_periods(today)
    t0 = datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc)
    partner, pname = "partner-p-0042", "Muster Robotik GmbH"
    outbox = str(home / "outbox" / partner)
    # the old month: rendered, never delivered
    _write_report(settings, partner, pname, per["old"], "partner_statement", "de", 1, dq_run_ids=[RUN_B], created=t0)
    # the month before last: v1 (de, en) delivered; de v2 is a correction not yet sent
    de1 = _write_report(settings, partner, pname, per["mid"], "partner_statement", "de", 1,
                        dq_run_ids=[RUN_A, RUN_B], created=t0)
    en1 = _write_report(settings, partner, pname, per["mid"], "partner_statement", "en", 1,
                        dq_run_ids=[RUN_B, RUN_C], created=t0)
    at = t0 + timedelta(hours=2)
    for paths, lang in ((de1, "de"), (en1, "en")):
        files = [(f"{per['mid']}.{paths[e].name}", paths[e]) for e in ("html", "pdf", "csv", "xlsx")]
        record_delivery(paths["manifest"], "outbox", outbox, at, files=files, lang=lang)
    record_delivery(de1["manifest"], "smtp", ["billing@muster-robotik.test"], at + timedelta(minutes=1),
                    files=[(f"{per['mid']}.{de1[e].name}", de1[e]) for e in ("pdf", "html")], lang="de")
    _write_report(settings, partner, pname, per["mid"], "partner_statement", "de", 2, dq_run_ids=[RUN_C, RUN_D],
                  base=1, changes=["gpu_hours"], created=t0 + timedelta(days=1))
    # the funder's quarter: rendered under a gate override, due 366 days after the quarter
    _write_report(settings, "bund-strukturwandel", "Bund – Strukturwandel", per["quarter"], "funder_impact", "de", 1,
                  dq_run_ids=[RUN_C, RUN_D], created=t0,
                  gate={"status": "overridden", "override_id": OVERRIDE[0], "reason": OVERRIDE[1], "by": "ops",
                        "when": "2026-11-02T09:00:00+00:00"})
    # the register export of a year, delivered to the outbox
    folder = settings.reports_dir / "energy-regulator" / per["year"]
    folder.mkdir(parents=True)
    data = {"energy_register.v1.json": b'{"format": "kirz-energy-register"}\n',
            "energy_register.v1.csv": b"id,value\nE_DC,1234\n"}
    for n_, b in data.items():
        (folder / n_).write_bytes(b)
    reg_manifest = folder / "energy_register.v1.manifest.json"
    reg_manifest.write_text(json.dumps({
        "recipient": "energy-regulator", "recipient_name": "Energieeffizienzregister für Rechenzentren",
        "kind": "energy_register", "period": per["year"], "version": 1, "data_hash": "hash-register-1",
        "created_at": t0.isoformat(), "code_version": "0.test", "warehouse": "latest.duckdb",
        "gate": {"status": "open", "override_id": None, "reason": None, "by": None, "when": None},
        "files": {n_: sha256_bytes(b) for n_, b in data.items()}, "deliveries": [],
    }))
    record_delivery(reg_manifest, "outbox", str(home / "outbox" / "energy-regulator"), at,
                    files=[(f"{per['year']}.{n_}", folder / n_) for n_ in data])

    # validation runs: A is in the snapshot only (validated before pages had a summary file)
    runs = [_dq_run(*r) for r in DQ_RUNS]
    for run in runs[1:]:
        render_run(settings, run)
    # the snapshot: audit tables as published, with the deliveries made so far
    snap_dir = settings.published_dir / "snapshots"
    snap_dir.mkdir(parents=True)
    snap = snap_dir / "kirz-20261102T040000Z.duckdb"
    con = duckdb.connect(str(snap))
    try:
        for stmt in DQ_DDL + [s for s in DDL if "report_deliver" in s or "schema" in s]:
            con.execute(stmt)
        from kirz.validation import _store_run

        for run in runs:
            _store_run(con, run)
        con.execute("insert into audit.dq_acceptances values (?, ?, ?, ?, ?, ?, ?)",
                    [t0, ACCEPTANCE[0], ACCEPTANCE[1], ACCEPTANCE[2], ACCEPTANCE[2], ACCEPTANCE[3], "ops"])
        record_deliveries(con, settings.reports_dir)
    finally:
        con.close()
    os.link(snap, settings.published_dir / "latest.duckdb")
    (settings.published_dir / "LATEST").write_text(json.dumps({"run_id": "20261102T040000Z", "snapshot": snap.name}))
    # a delivery made after the snapshot was published: in the manifest only
    record_delivery(en1["manifest"], "smtp", ["billing@muster-robotik.test"], at + timedelta(hours=30),
                    files=[(f"{per['mid']}.{en1[e].name}", en1[e]) for e in ("pdf", "html")], lang="en")
    return settings


@pytest.fixture(scope="module")
def plugin_module():
    plugins, errors = _load_plugins_from_plugin_directory(plugins_folder=str(PLUGINS))
    assert errors == {}
    assert [p.name for p in plugins] == ["kirz"]
    import sys

    return sys.modules["kirz_airflow_plugin"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KIRZ_HOME", str(tmp_path))
    monkeypatch.delenv("KIRZ_CONFIG", raising=False)
    reports = tmp_path / "reports"
    (reports / "partner-p-0042" / "2026-10").mkdir(parents=True)
    (reports / "bund" / "2026-Q4").mkdir(parents=True)
    older = reports / "bund" / "2026-Q4" / "funder_impact.de.html"
    older.write_text("<h1>Wirkungsbericht</h1>")
    newer = reports / "partner-p-0042" / "2026-10" / "statement.en.pdf"
    newer.write_bytes(b"%PDF-1.7 fake")
    os.utime(older, (1_790_000_000, 1_790_000_000))
    os.utime(newer, (1_790_000_600, 1_790_000_600))
    (reports / ".statement.tmp").write_text("half written")
    (tmp_path / "pseudonym.key").write_text("secret\n")
    return tmp_path


@pytest.fixture(scope="module", autouse=True)
def auth_manager():
    """Airflow's configured auth manager (the simple one), as the API server creates it."""
    from airflow.api_fastapi.app import create_auth_manager

    return create_auth_manager()


def _client(plugin_module, logged_in=True, role="admin") -> TestClient:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    root = FastAPI()
    app = plugin_module.create_app()
    if logged_in:
        app.dependency_overrides[plugin_module.current_user] = lambda: SimpleAuthManagerUser(username="u", role=role)
    root.mount(plugin_module.URL_PREFIX, app)
    return TestClient(root, follow_redirects=False)


def test_plugin_folder_loads_only_the_plugin_file(plugin_module):
    """.airflowignore keeps plugins/kirz/ (the library) out of Airflow's plugin scan."""
    import sys

    assert Path(sys.modules["kirz_airflow_plugin"].__file__).name == "kirz_airflow_plugin.py"
    for stem in ("config", "warehouse", "pipeline", "cli"):
        mod = sys.modules.get(stem)
        assert mod is None or "plugins/kirz/" not in str(getattr(mod, "__file__", ""))


def test_plugin_declares_the_app_and_two_menu_links(plugin_module):
    plugin = plugin_module.KirzPlugin
    assert [(a["url_prefix"], a["name"]) for a in plugin.fastapi_apps] == [("/kirz", "kirz reports")]
    views = {v["name"]: v for v in plugin.external_views}
    assert views["Reports"]["href"] == "/kirz/"
    assert views["Data quality"]["href"] == "/kirz/dq/"
    assert {v["destination"] for v in views.values()} == {"nav"}
    assert {v["url_route"] for v in views.values()} == {"kirz-reports", "kirz-data-quality"}


PAGES = ("/kirz/", "/kirz/api/reports", "/kirz/api/dq", "/kirz/reports/bund/2026-Q4/funder_impact.de.html", "/kirz/dq/")


def test_every_route_needs_an_airflow_login(plugin_module, home):
    client = _client(plugin_module, logged_in=False)
    for url in PAGES:
        resp = client.get(url)
        assert resp.status_code == 401, url


def test_a_browser_without_a_session_is_sent_to_the_login_and_back(plugin_module, home):
    client = _client(plugin_module, logged_in=False)
    for url in ("/kirz/", "/kirz/dq/", "/kirz/dq/latest.html", "/kirz/reports/bund/2026-Q4/funder_impact.de.html"):
        resp = client.get(url, headers={"accept": "text/html,application/xhtml+xml"})
        assert resp.status_code == 303, url
        assert resp.headers["location"] == "/auth/login?next=" + quote("http://testserver" + url, safe=""), url
    # the JSON answers 401 even to a browser
    for url in ("/kirz/api/reports", "/kirz/api/dq"):
        assert client.get(url, headers={"accept": "text/html"}).status_code == 401, url


@pytest.mark.parametrize("role, status", [("viewer", 403), ("user", 403), ("op", 200), ("admin", 200)])
def test_only_the_operator_roles_see_the_pages(plugin_module, home, role, status):
    client = _client(plugin_module, role=role)
    for url in PAGES:
        assert client.get(url).status_code == status, (role, url)


def test_no_openapi_or_docs_routes(plugin_module, home):
    client = _client(plugin_module)
    for url in ("/kirz/docs", "/kirz/redoc", "/kirz/openapi.json"):
        assert client.get(url).status_code == 404, url


def test_an_empty_home_has_an_empty_register(plugin_module, home):
    client = _client(plugin_module)
    text = client.get("/kirz/").text
    assert "No reports published yet." in text  # files without a manifest are no report version
    assert "No snapshot published yet." in text
    assert "No validation run yet." in text
    assert 'href="dq/"' in text
    data = client.get("/kirz/api/reports").json()
    assert data["register"] == [] and data["dq_latest"] == [] and data["snapshot"] is None
    assert data["counts"] == {"groups": 0, "reports": 0, "versions": 0,
                              "states": {"preview": 0, "due": 0, "delivered": 0, "correction pending": 0}}
    history = client.get("/kirz/dq/")
    assert history.status_code == 200 and "No validation run yet" in history.text


def test_api_lists_the_same_files_with_sizes(plugin_module, home):
    data = _client(plugin_module).get("/kirz/api/reports").json()
    assert data["snapshot"] is None
    assert data["reports"] == [
        {"path": "partner-p-0042/2026-10/statement.en.pdf", "bytes": 13, "modified": "2026-09-21T14:23:20+00:00"},
        {"path": "bund/2026-Q4/funder_impact.de.html", "bytes": 24, "modified": "2026-09-21T14:13:20+00:00"},
    ]


def test_files_outside_the_reports_folder_are_not_served(plugin_module, home):
    client = _client(plugin_module)
    for rel in ("../pseudonym.key", "..%2Fpseudonym.key", "bund/../../pseudonym.key", "missing.html", "bund"):
        resp = client.get(f"/kirz/reports/{rel}")
        assert resp.status_code == 404, rel
        assert "secret" not in resp.text
    for rel in ("../pseudonym.key", "..%2Fpseudonym.key", "x/../../pseudonym.key"):
        assert client.get(f"/kirz/dq/{rel}").status_code == 404, rel


def test_dq_files_are_served_below_the_history(plugin_module, home):
    client = _client(plugin_module)
    (home / "dq" / "runs").mkdir(parents=True)
    (home / "dq" / "latest.html").write_text("<p>3 critical</p>")
    (home / "dq" / "runs" / "dq-1.html").write_text("<p>run 1</p>")
    assert client.get("/kirz/dq/latest.html").text == "<p>3 critical</p>"
    assert client.get("/kirz/dq/runs/dq-1.html").text == "<p>run 1</p>"
    redirect = client.get("/kirz/dq", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "dq/"


# ------------------------------------------------------------------ the register and the history

TODAY = date.today()


@pytest.fixture
def console(tmp_path, monkeypatch):
    home = tmp_path / "console"
    monkeypatch.setenv("KIRZ_HOME", str(home))
    for var in ("KIRZ_CONFIG", "KIRZ_RECIPIENTS_DIR", "KIRZ_REPORT_DB"):
        monkeypatch.delenv(var, raising=False)
    return build_console_home(home, TODAY)


def _reports(data: dict) -> dict:
    return {(g["recipient"], g["period"], r["kind"], r["lang"]): r for g in data["register"] for r in g["reports"]}


def test_register_json_groups_versions_states_and_deliveries(plugin_module, console):
    per = console_periods(TODAY)
    data = _client(plugin_module).get("/kirz/api/reports").json()
    assert data["counts"] == {"groups": 4, "reports": 5, "versions": 6,
                              "states": {"preview": 1, "due": 1, "delivered": 2, "correction pending": 1}}
    assert data["snapshot"] == {"run_id": "20261102T040000Z", "snapshot": "kirz-20261102T040000Z.duckdb"}
    # grouped by recipient, the newest period first
    assert [(g["recipient"], g["period"]) for g in data["register"]] == [
        ("bund-strukturwandel", per["quarter"]), ("energy-regulator", per["year"]),
        ("partner-p-0042", per["mid"]), ("partner-p-0042", per["old"])]
    reports = _reports(data)

    corr = reports[("partner-p-0042", per["mid"], "partner_statement", "de")]
    assert corr["state"] == "correction pending" and corr["versions"] == 2
    assert corr["title"] == f"Usage statement {per['mid']}"
    assert corr["latest"]["version"] == 2 and corr["latest"]["base_version"] == 1 and corr["latest"]["changes"] == 1
    assert corr["latest"]["deliveries"] == []
    assert [(f["label"], f["format"]) for f in corr["latest"]["files"]] == [
        ("html", "html"), ("pdf", "pdf"), ("csv", "csv"), ("dq.csv", "csv"), ("xlsx", "xlsx")]
    assert corr["latest"]["files"][0]["href"] == f"reports/partner-p-0042/{per['mid']}/partner_statement.de.v2.html"
    (v1,) = corr["older"]
    assert v1["version"] == 1
    # v1 went to the outbox (4 files) and by e-mail (PDF and HTML), both copied into the snapshot's table
    assert [(d["channel"], len(d["files"]), d["in_audit"]) for d in v1["deliveries"]] == [
        ("outbox", 4, True), ("smtp", 2, True)]
    smtp = v1["deliveries"][1]
    assert smtp["address"] == "billing@muster-robotik.test"
    assert smtp["delivered_at"] == "2026-11-02T05:01:00+00:00"
    pdf = console.reports_dir / "partner-p-0042" / per["mid"] / "partner_statement.de.v1.pdf"
    assert {"name": f"{per['mid']}.partner_statement.de.v1.pdf",
            "sha256": hashlib.sha256(pdf.read_bytes()).hexdigest()} in smtp["files"]

    en = reports[("partner-p-0042", per["mid"], "partner_statement", "en")]
    assert en["state"] == "delivered" and en["versions"] == 1 and en["older"] == []
    # the e-mail sent after the snapshot was published is known from the manifest alone
    assert [(d["channel"], d["in_audit"]) for d in en["latest"]["deliveries"]] == [("outbox", True), ("smtp", False)]

    due = reports[("partner-p-0042", per["old"], "partner_statement", "de")]
    assert due["state"] == "due" and due["latest"]["deliveries"] == []
    y, m = map(int, per["old"].split("-"))
    month_end = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1))
    assert due["due"] == (month_end + timedelta(days=5)).isoformat()  # deliver: {settle_days: 5}

    preview = reports[("bund-strukturwandel", per["quarter"], "funder_impact", "de")]
    assert preview["state"] == "preview" and preview["title"] == f"Impact report {per['quarter']}"
    assert date.fromisoformat(preview["due"]) > TODAY

    export = reports[("energy-regulator", per["year"], "energy_register", None)]
    assert export["state"] == "delivered"
    assert export["due"] == f"{int(per['year']) + 1}-03-31"  # deliver: {by: "03-31"}
    assert [f["name"] for f in export["latest"]["files"]] == ["energy_register.v1.csv", "energy_register.v1.json"]


def test_register_names_the_data_quality_verdict_of_each_version(plugin_module, console):
    per = console_periods(TODAY)
    reports = _reports(_client(plugin_module).get("/kirz/api/reports").json())
    corr = reports[("partner-p-0042", per["mid"], "partner_statement", "de")]
    # v2 was rendered from data whose runs (marts C, raw D) both passed
    assert corr["latest"]["dq"]["verdict"] == "passed"
    assert [(r["run_id"], r["status"], r["page"]) for r in corr["latest"]["dq"]["runs"]] == [
        (RUN_C, "passed", f"dq/{RUN_C}.html"), (RUN_D, "passed", f"dq/{RUN_D}.html")]
    # v1: run A (in the snapshot only, no page) had a critical failure, B 5 findings, nothing blocked
    v1 = corr["older"][0]["dq"]
    assert v1["verdict"] == "warning" and v1["gate"] == "open"
    assert [(r["run_id"], r["status"], r["critical"], r["warnings"], r["accepted"], r["page"]) for r in v1["runs"]] == [
        (RUN_A, "failed", 1, 0, 0, None), (RUN_B, "warning", 0, 5, 1, f"dq/{RUN_B}.html")]
    preview = reports[("bund-strukturwandel", per["quarter"], "funder_impact", "de")]["latest"]["dq"]
    assert (preview["verdict"], preview["override_id"], preview["override_reason"]) == ("overridden", *OVERRIDE)
    export = reports[("energy-regulator", per["year"], "energy_register", None)]["latest"]["dq"]
    assert export["verdict"] == "gate open" and export["runs"] == []


def test_register_page_groups_folds_older_versions_and_links_the_files(plugin_module, console):
    per = console_periods(TODAY)
    client = _client(plugin_module)
    text = client.get("/kirz/").text
    assert text.count('<section class="group"') == 4
    assert text.count('<details class="older">') == 1  # the one report with an older version
    folded = text[text.index('<details class="older">'):]
    folded = folded[:folded.index("</table>")]
    assert "1 older version(s) of Usage statement" in folded
    assert f'href="reports/partner-p-0042/{per["mid"]}/partner_statement.de.v1.pdf"' in folded
    latest_row = text[text.index(f'id="partner-p-0042--{per["mid"]}"'):text.index('<details class="older">')]
    assert f'href="reports/partner-p-0042/{per["mid"]}/partner_statement.de.v2.html"' in latest_row
    assert "partner_statement.de.v1" not in latest_row
    for state in ("preview", "due", "delivered", "correction pending"):
        assert f'data-state="{state}"' in text, state
    assert text.count('data-state="delivered"') == 2
    assert "5 reports (6 versions) for 4 recipient periods" in text
    assert "kirz-20261102T040000Z.duckdb" in text
    # the latest run of each layer, and the way to the history
    assert f'href="dq/{RUN_D}.html"' in text and f'href="dq/{RUN_C}.html"' in text
    assert "open findings: 0 critical, 3 warnings" in text
    # every link resolves below the mount point
    for href in sorted(set(re.findall(r'href="((?:reports|dq)/[^"]+)"', text))):
        assert client.get(f"/kirz/{href}").status_code == 200, href


def test_data_quality_history_lists_runs_and_open_findings_worst_first(plugin_module, console):
    client = _client(plugin_module)
    data = client.get("/kirz/api/dq").json()
    assert [(r["run_id"], r["layer"], r["status"]) for r in data["runs"]] == [
        (RUN_D, "raw", "passed"), (RUN_C, "marts", "passed"), (RUN_B, "raw", "warning"), (RUN_A, "marts", "failed")]
    b = data["runs"][2]
    assert (b["window"], b["checks"], b["passed"], b["failures"], b["critical"], b["warnings"], b["accepted"], b["open"]) == (
        "2026-10-26 .. 2026-10-28", 12, 7, 5, 0, 5, 1, 3)
    assert b["worst_open"]["expectation"] == "jobs_account_covered" and b["worst_open"]["periods_failed"] == 2
    # A's critical failure on 26 Oct was checked again by C and passed: not open
    a = data["runs"][3]
    assert (a["critical"], a["open"], a["worst_open"], a["page"]) == (1, 0, None, None)
    assert [(f["expectation"], f["severity"], f["periods"], f["unexpected"]) for f in data["open_findings"]] == [
        ("jobs_account_covered", "warning", ["2026-10-26", "2026-10-27"], 5),
        ("power_no_gap", "warning", ["2026-10-27"], 1)]
    assert data["counts"] == {"runs": 4, "open_critical": 0, "open_warnings": 3}
    assert [r["run_id"] for r in data["latest_by_layer"]] == [RUN_D, RUN_C]

    page = client.get("/kirz/dq/").text
    assert page.count('<tr class="run"') == 4
    findings = page[page.index('id="open-findings"'):page.index('id="runs"')]
    assert findings.index("jobs_account_covered") < findings.index("power_no_gap")
    assert "meter_no_reset" not in findings  # accepted
    for run_id in (RUN_B, RUN_C, RUN_D):
        assert f'href="{run_id}.html"' in page
        assert client.get(f"/kirz/dq/{run_id}.html").status_code == 200
    assert 'href="../"' in page  # back to the register


def test_served_pages_load_nothing_from_another_host(plugin_module, console):
    client = _client(plugin_module)
    for url in ("/kirz/", "/kirz/dq/", f"/kirz/dq/{RUN_B}.html"):
        text = client.get(url).text
        assert not re.search(r'(?:src|href)\s*=\s*"(?:https?:)?//', text), url
        assert "@import" not in text and "url(http" not in text, url
