"""The certificate ledger: rows per item, quarantine per bad item, whole-file rejection."""

from datetime import date
from pathlib import Path

import pytest

from kirz.ingest.base import FormatError, ParseContext
from kirz.ingest.certificates import detect, parse
from kirz.ingest.power import raw_schema

FIX = Path(__file__).parent / "fixtures" / "certificates"
CTX = ParseContext()


def test_detect():
    assert detect((FIX / "2026.yaml").read_bytes()) == "certificates_yaml"
    assert detect(b"cluster: x\nnodes: []\nmeters: []\n") is None
    assert detect(b"year: 2026\n") is None


def test_items_loaded_as_rows_with_their_lines():
    parsed = parse(FIX / "2026.yaml", CTX)
    table = parsed.tables["certificates"]
    assert table.schema == raw_schema("certificates")
    rows = table.to_pylist()
    assert [(r["line_no"], r["item_no"], r["kind"], r["kwh"], r["certificate_id"], r["meter_id"]) for r in rows] == [
        (4, 1, "goo", 12_000_000.0, "HKN-2026-000123", None),
        (5, 2, "ppa", 4_000_000.0, "PPA-2025-07", None),
        (6, 3, "goo", 2_500_000.5, "HKN-2026-000200", None),
        (11, 4, "onsite", None, None, "M-PV"),
    ]
    assert {r["year"] for r in rows} == {2026}
    first = rows[0]
    assert (first["issuer"], first["technology"], first["cancelled_on"], first["is_unsubsidised"]) == (
        "UBA-HKNR", "wind", date(2027, 2, 15), True)
    assert rows[1]["counterparty"] == "Windpark Muster GmbH"
    assert rows[2]["cancelled_on"] is None  # not cancelled: loaded, and not counted by dbt


def test_bad_items_quarantined_one_reason_each():
    parsed = parse(FIX / "2026.yaml", CTX)
    got = {q.line_no: q.reason for q in parsed.quarantine}
    assert got == {
        12: "item 5: kwh: Input should be greater than 0, got -5",
        13: "item 6: an onsite item has no kwh: its energy is counted from its meter",
        14: "item 7: id 'PPA-2025-07' already given on line 5",
        15: "item 8: colour: unknown key",
        16: "item 9: kind: Input should be 'goo', 'ppa' or 'onsite', got 'heat'",
        17: "item 10: a goo item needs `id`: the number of the guarantees of origin",
    }
    block = parse(FIX / "2026.yaml", CTX).quarantine[0]
    assert block.raw_text == "  - {kind: goo, kwh: -5, id: HKN-2026-000300}"
    assert parsed.rows_read == parsed.rows_loaded + len(parsed.quarantine) == 10


@pytest.mark.parametrize("name, reason", [
    ("2025.yaml", "the file is named 2025.yaml but its year is 2026"),
    ("no_items.yaml", "items (line 2) must be a non-empty list"),
])
def test_file_that_is_no_ledger_is_rejected(name, reason):
    with pytest.raises(FormatError) as exc:
        parse(FIX / name, CTX)
    assert exc.value.reason == f"certificates_yaml: {reason}"


def test_unknown_top_level_key_and_bad_year_rejected(tmp_path):
    bad = tmp_path / "ledger.yaml"
    bad.write_text("year: 2026\nitems: [{kind: ppa, kwh: 1}]\nowner: x\n")
    with pytest.raises(FormatError, match="unknown top-level key 'owner'"):
        parse(bad, CTX)
    bad.write_text("year: '2026'\nitems: [{kind: ppa, kwh: 1}]\n")
    with pytest.raises(FormatError, match="must be a year such as 2026"):
        parse(bad, CTX)


def test_ledger_through_the_loader_and_landing(tmp_path):
    """The landing source `certificates`: loaded, archived, quarantined rows kept, a re-delivery adds nothing."""
    import shutil

    from kirz.config import load_settings
    from kirz.pipeline import ingest_landing
    from kirz.warehouse import open_warehouse

    settings = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    landing = settings.landing_for("certificates")
    landing.mkdir(parents=True)
    shutil.copy(FIX / "2026.yaml", landing / "2026.yaml")
    shutil.copy(FIX / "2025.yaml", landing / "2025.yaml")
    run = ingest_landing(settings)
    by_name = {Path(r.path).name: r for r in run.results}
    assert (by_name["2026.yaml"].status, by_name["2026.yaml"].rows_loaded, by_name["2026.yaml"].rows_quarantined) == (
        "loaded", 4, 6)
    assert by_name["2025.yaml"].status == "rejected"
    assert not any(landing.iterdir())
    assert [p.name for p in (settings.home / "rejected" / "certificates").rglob("*.yaml")] == ["2025.yaml"]
    shutil.copy(FIX / "2026.yaml", landing / "2026.yaml")
    assert [r.status for r in ingest_landing(settings).results] == ["duplicate"]
    with open_warehouse(settings.warehouse_path) as con:
        assert con.execute("select count(*), sum(kwh) from raw.certificates").fetchall() == [(4, 18_500_000.5)]
        assert con.execute(
            "select count(*) from raw.quarantine where source = 'certificates'").fetchall() == [(7,)]


def test_raw_suite_flags_uncancelled_goo_early_cancellation_and_unknown_onsite_meter(tmp_path):
    """The ledger of 2026.yaml against an inventory whose M-PV is an onsite_generation meter: only the
    block-style goo without cancelled_on fails; then a later delivery of 2026 replaces it with a goo
    cancelled in 2025 and an onsite item naming the IT meter, each failing its expectation."""
    from kirz.config import load_settings
    from kirz.ingest.loader import ingest_paths
    from kirz.validation import FrameScope, run_suite, suite_module
    from kirz.warehouse import open_warehouse

    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "cluster: kirz-leipzig\nfacility: {floor_area_m2: 1000, design_it_power_kw: 3000}\n"
        "nodes: []\nmeters:\n  - {id: M-GRID, kind: grid_intake}\n  - {id: M-IT, kind: it}\n"
        "  - {id: M-PV, kind: onsite_generation}\n")
    settings = load_settings(env={}, home=tmp_path / "home", pseudonym_key="k")
    ingest_paths(settings, "inventory", [inventory])
    ingest_paths(settings, "certificates", [FIX / "2026.yaml"])
    mod = suite_module("raw.certificates")
    scope = FrameScope(tz="Europe/Berlin")

    def failures():
        with open_warehouse(settings.warehouse_path) as con:
            rows = run_suite(con, mod, scope)
        return {r["expectation"]: r for r in rows if not r["success"]}

    bad = failures()
    assert set(bad) == {"certificates_goo_cancelled"}
    assert bad["certificates_goo_cancelled"]["severity"] == "warning"
    corrected = tmp_path / "2026.yaml"
    corrected.write_text(
        "year: 2026\nitems:\n  - {kind: goo, kwh: 10, id: G-1, cancelled_on: 2025-12-31}\n"
        "  - {kind: onsite, meter: M-IT}\n")
    ingest_paths(settings, "certificates", [corrected])
    bad = failures()
    assert set(bad) == {"certificates_cancelled_for_year", "certificates_onsite_meter_known"}
    assert bad["certificates_onsite_meter_known"]["severity"] == "critical"
