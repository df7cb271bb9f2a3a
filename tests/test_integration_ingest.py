"""Synthetic centre -> landing -> raw: every generated row arrives, nothing twice, nothing lost."""

import re
import shutil

import pytest

from kirz.config import load_settings
from kirz.pipeline import ingest_landing, raw_counts
from kirz.synth import synthesize
from kirz.warehouse import open_warehouse


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    root = tmp_path_factory.mktemp("centre")
    src = root / "synth"
    manifest = synthesize(src, nodes=8, days=3, interval_s=300, seed=3)
    settings = load_settings(env={}, home=root / "home", pseudonym_key="integration-key")
    shutil.copytree(src, settings.landing)
    run = ingest_landing(settings)
    return settings, manifest, run, src


def test_counts_match_the_generators_manifest(centre):
    settings, manifest, run, _ = centre
    totals = manifest["totals"]
    assert not run.rejected
    with open_warehouse(settings.warehouse_path) as con:
        counts = raw_counts(con)
        allocations = con.execute("select count(*) from raw.slurm_jobs where not is_step").fetchall()[0][0]
        quarantined = con.execute("select count(*) from raw.quarantine").fetchall()[0][0]
    assert counts["slurm_jobs"] == totals["slurm_records"]
    assert allocations == totals["allocations"]
    assert counts["node_power"] == totals["node_power_samples"]
    assert counts["meter_readings"] == totals["meter_readings"]
    assert counts["contract_versions"] == totals["contract_versions"]
    assert counts["inventory_nodes"] == totals["inventory_nodes"]
    assert counts["inventory_meters"] == totals["inventory_meters"]
    assert quarantined == 0


def test_audit_accounts_for_every_file(centre):
    settings, manifest, run, _ = centre
    with open_warehouse(settings.warehouse_path) as con:
        rows = con.execute(
            "select count(*), sum(rows_read), sum(rows_loaded + rows_quarantined) from audit.ingests where status = 'loaded'"
        ).fetchall()[0]
    assert rows[0] == manifest["totals"]["files"] == len(run.results)
    assert rows[1] == rows[2]


def test_landing_is_emptied_into_the_archive(centre):
    settings, manifest, _, _ = centre
    left = [p for p in settings.landing.rglob("*") if p.is_file() and p.name != "manifest.json"]
    assert left == []
    archived = [p for p in (settings.home / "archive").rglob("*") if p.is_file()]
    assert len(archived) == manifest["totals"]["files"]


def test_delivering_everything_again_adds_nothing(centre):
    settings, manifest, _, src = centre
    with open_warehouse(settings.warehouse_path) as con:
        before = raw_counts(con)
    shutil.copytree(src, settings.landing, dirs_exist_ok=True)
    again = ingest_landing(settings)
    assert {r.status for r in again.results} == {"duplicate"}
    with open_warehouse(settings.warehouse_path) as con:
        assert raw_counts(con) == before


def test_no_user_name_is_stored(centre):
    settings, _, _, src = centre
    users = set()
    for f in (src / "slurm").glob("*.txt"):
        users |= set(re.findall(r"\|(user\d+)\|", f.read_text()))
    assert len(users) > 5
    with open_warehouse(settings.warehouse_path) as con:
        stored = {r[0] for r in con.execute("select distinct user_pseudonym from raw.slurm_jobs").fetchall()}
        dump = " ".join(str(r) for r in con.execute("select * from raw.slurm_jobs").fetchall())
    assert not (users & stored)
    assert not any(f" {u}" in dump or f"'{u}'" in dump for u in users)
