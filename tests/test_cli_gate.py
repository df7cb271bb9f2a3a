"""`kirz publish` and `kirz report` stop at the data-quality gate (exit 3) and go on only when
forced with a reason and a name, recorded and printed in the provenance of every report.

The warehouse is the demo centre's (synthesised, ingested, built by dbt), with a negative power
sample delivered through `kirz ingest` and both layers validated through `kirz validate`.
"""

import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from kirz.cli import GATE_BLOCKED, app

ENV = {"KIRZ_PSEUDONYM_KEY": "demo-centre-key", "KIRZ_TIMEZONE": "Europe/Berlin"}
REASON = "gpu001 PDU reports a negative reading after its firmware update; ticket 4711"
BY = "Operations on call"
FAILURE = "raw.node_power / power_watts_nonnegative on 2026-10-20"
SPAN = "2026-10-19..2026-10-22"  # the marts hold these days (energy to the end of the 21st UTC)
FUNDER = ["--recipient", "bund-strukturwandel", "--period", "2026-Q4"]
runner = CliRunner()


def kirz(home: Path, *args: str):
    return runner.invoke(app, [*args, "--home", str(home)], env=ENV)


def query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def blocked_home(demo_centre, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("gate") / "home"
    (home / "warehouse").mkdir(parents=True)
    shutil.copy(demo_centre.settings.warehouse_path, home / "warehouse" / "kirz.duckdb")
    sample = home.parent / "power-negative.csv"
    sample.write_text("timestamp,node,watts\n2026-10-20T12:02:30Z,gpu001,-40.0\n")
    ingested = kirz(home, "ingest", "power", str(sample))
    assert ingested.exit_code == 0, ingested.output
    validated = kirz(home, "validate")
    assert validated.exit_code == 1 and "power_watts_nonnegative" in validated.output, validated.output
    return home


@pytest.fixture
def home(blocked_home, tmp_path) -> Path:
    """A private copy of the blocked home."""
    return Path(shutil.copytree(blocked_home, tmp_path / "home"))


def overrides(home: Path) -> list[tuple]:
    return query(home / "warehouse" / "kirz.duckdb",
                 "select command, period_start::varchar, period_end::varchar, blocking, reason, overridden_by, "
                 "override_id from audit.gate_overrides order by decided_at")


def provenance(html: Path) -> str:
    return html.read_text(encoding="utf-8").split('id="sec-provenance"', 1)[1]


def test_blocked_publish_exits_3_and_publishes_nothing(home):
    r = kirz(home, "publish")
    assert r.exit_code == GATE_BLOCKED == 3
    assert f"data-quality gate blocked: publishing {SPAN} is blocked by 1 critical" in r.output
    assert FAILURE in r.output
    assert "kirz dq accept SUITE EXPECTATION" in r.output
    assert "To publish anyway: kirz publish ... --force --reason TEXT --by NAME" in r.output
    assert not (home / "published").exists()
    assert overrides(home) == []


def test_blocked_report_exits_3_and_renders_nothing(home):
    r = kirz(home, "report", "--all", "--period", "2026-Q4")
    assert r.exit_code == 3
    assert f"reporting on {SPAN} is blocked by 1 critical" in r.output and FAILURE in r.output
    assert "To report anyway: kirz report ... --force --reason TEXT --by NAME" in r.output
    assert not (home / "reports").exists() and not (home / "outbox").exists()


@pytest.mark.parametrize("args", [
    ["publish", "--force"],
    ["publish", "--force", "--reason", REASON],
    ["report", *FUNDER, "--force", "--by", BY],
    ["report", *FUNDER, "--force", "--reason", " ", "--by", BY],
    ["publish", "--reason", REASON, "--by", BY],
])
def test_an_incomplete_override_is_a_usage_error(home, args):
    r = kirz(home, *args)
    assert r.exit_code == 2
    assert "--force needs --reason TEXT and --by NAME" in r.output or "--reason and --by belong to --force" in r.output
    assert overrides(home) == []
    assert not (home / "published").exists() and not (home / "reports").exists()


def test_a_forced_report_records_the_override_and_prints_it_in_the_provenance(home):
    r = kirz(home, "report", *FUNDER, "--lang", "de", "--lang", "en", "--force", "--reason", REASON, "--by", BY)
    assert r.exit_code == 0, r.output
    [(command, start, end, blocking, reason, by, override_id)] = overrides(home)
    assert (command, start, end, reason, by) == ("report", "2026-10-19", "2026-10-22", REASON, BY)
    assert blocking.startswith(FAILURE)
    assert f"rendered under data-quality gate override {override_id} by {BY}: {REASON}" in r.output
    folder = home / "reports" / "bund-strukturwandel" / "2026-Q4"
    for lang, labels in (("de", ("Begründung der Übersteuerung", "Übersteuert von", "übersteuert: trotz")),
                         ("en", ("Override reason", "Overridden by", "overridden: released despite"))):
        text = provenance(folder / f"funder_impact.{lang}.v1.html")
        assert REASON in text and BY in text and override_id in text
        assert all(label in text for label in labels), lang


def test_a_forced_publish_is_in_the_snapshot_and_its_reports_render_under_it(home):
    r = kirz(home, "publish", "--force", "--reason", REASON, "--by", BY)
    assert r.exit_code == 0, r.output
    assert "data-quality gate overridden" in r.output and REASON in r.output
    [(command, *_, override_id)] = overrides(home)
    assert command == "publish"
    snapshot = home / "published" / "latest.duckdb"
    assert query(snapshot, "select command, reason, overridden_by, override_id from audit.gate_overrides") == [
        ("publish", REASON, BY, override_id)]
    assert query(snapshot, "select gate_status, gate_override_id from meta.snapshot") == [("overridden", override_id)]

    # the reports read the snapshot: the same failures, already overridden, need no --force
    rendered = kirz(home, "report", *FUNDER, "--lang", "en")
    assert rendered.exit_code == 0, rendered.output
    text = provenance(home / "reports" / "bund-strukturwandel" / "2026-Q4" / "funder_impact.en.v1.html")
    assert REASON in text and BY in text and override_id in text
    assert len(overrides(home)) == 1
