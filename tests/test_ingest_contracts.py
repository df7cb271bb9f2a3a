import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from kirz.ingest.base import FormatError, ParseContext
from kirz.ingest.contracts import detect, find_account_overlaps, parse
from kirz.warehouse import RAW_COLUMNS, init_schema

FIXTURES = Path(__file__).parent / "fixtures" / "contracts"
DESIGN = FIXTURES / "C-2026-014.yaml"        # the example of DESIGN.md, verbatim
BLOCK = FIXTURES / "C-2025-007.yaml"         # block style, amendments out of date order
OPS = FIXTURES / "C-OPS-001.yaml"            # operations account, no commitments or amendments
CTX = ParseContext()


def rows(path):
    parsed = parse(path, CTX)
    return parsed, parsed.tables["contract_versions"].to_pylist()


def write(tmp_path, text, name="contract.yaml"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def variant(tmp_path, old, new, base=BLOCK):
    text = base.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    return write(tmp_path, text.replace(old, new))


# ---------------------------------------------------------------- accepted files


def test_design_example_gives_two_versions():
    parsed, (v0, v1) = rows(DESIGN)
    assert parsed.format == "contract_yaml"
    assert parsed.rows_read == 2 and parsed.rows_loaded == 2 and parsed.quarantine == []
    # version 0: the document starts on line 2 (line 1 is a comment)
    assert (v0["line_no"], v0["version_no"]) == (2, 0)
    assert (v0["effective_from"], v0["effective_to"]) == (date(2026, 1, 1), date(2026, 6, 30))
    assert v0["gpu_hours_allocated"] == 20000 and v0["accounts"] == ["mrob-ai"]
    # version 1: the amendment entry on line 17
    assert (v1["line_no"], v1["version_no"]) == (17, 1)
    assert (v1["effective_from"], v1["effective_to"]) == (date(2026, 7, 1), date(2026, 12, 31))
    assert v1["gpu_hours_allocated"] == 30000 and v1["accounts"] == ["mrob-ai", "mrob-edu"]
    for v in (v0, v1):
        assert v["contract_id"] == "C-2026-014"
        assert (v["valid_from"], v["valid_to"]) == (date(2026, 1, 1), date(2026, 12, 31))
        assert (v["partner_id"], v["partner_name"], v["partner_type"]) == ("P-0042", "Muster Robotik GmbH", "sme")
        assert (v["partner_postcode"], v["partner_nuts3"], v["partner_confidential"]) == ("04109", "DED51", False)
        assert v["usage_area"] == "cooperation" and v["funders"] == ["bund-strukturwandel"]
        assert v["price_eur_per_gpu_hour"] == 1.20
        assert (v["jobs_created"], v["trainees"]) == (3, 0)
        # the state-aid fields belong to the contract as a whole: the same on every version
        assert (v["activity"], v["signed_on"]) == ("economic", date(2025, 12, 10))
        assert (v["partner_group"], v["other_deminimis_eur"]) == ("G-MUSTER", 40000.0)


def test_state_aid_fields_default_to_non_economic_signed_at_start_partner_alone():
    _, versions = rows(BLOCK)
    assert {
        (v["activity"], v["signed_on"], v["partner_group"], v["other_deminimis_eur"]) for v in versions
    } == {("non_economic", date(2025, 10, 1), "P-0107", 0.0)}


def test_state_aid_fields_given_in_block_style(tmp_path):
    path = variant(
        tmp_path,
        "  confidential: true\n",
        "  confidential: true\n  group: G-BEISPIEL\nactivity: economic\nsigned_on: '2025-09-15'\n"
        "other_deminimis_eur: 12500.5\n",
    )
    _, versions = rows(path)
    assert len(versions) == 4
    assert {
        (v["activity"], v["signed_on"], v["partner_group"], v["other_deminimis_eur"]) for v in versions
    } == {("economic", date(2025, 9, 15), "G-BEISPIEL", 12500.5)}


def test_document_is_the_whole_yaml_as_json():
    con = duckdb.connect()
    versions_tbl = parse(DESIGN, CTX).tables["contract_versions"]
    doc = con.execute(
        "select document::json ->> '$.partner.postcode', document::json -> '$.amendments[0].accounts', "
        "document::json ->> '$.valid_to', (document::json ->> '$.price_eur_per_gpu_hour')::double "
        "from versions_tbl where version_no = 1"
    ).fetchone()
    assert doc == ("04109", '["mrob-ai","mrob-edu"]', "2026-12-31", 1.2)


def test_amendments_out_of_date_order_apply_in_date_order():
    parsed, versions = rows(BLOCK)
    assert parsed.rows_read == 4
    got = [
        (v["version_no"], v["line_no"], v["effective_from"], v["effective_to"], v["valid_to"],
         v["accounts"], v["gpu_hours_allocated"], v["price_eur_per_gpu_hour"], v["usage_area"],
         v["funders"], v["jobs_created"], v["trainees"])
        for v in versions
    ]
    both = ["bund-strukturwandel", "land-sachsen"]
    assert got == [
        # as signed (document on line 2), until the day before the first amendment by date
        (0, 2, date(2025, 10, 1), date(2026, 1, 14), date(2026, 9, 30), ["bks-train"], 5000, 0.80,
         "education", both, 1, 12),
        # the second entry (line 27) is the earliest: adds an account, changes trainees only
        (1, 27, date(2026, 1, 15), date(2026, 3, 31), date(2026, 9, 30), ["bks-train", "bks-course"],
         5000, 0.80, "education", both, 1, 20),
        # the third entry (line 30): price, usage area and funders; accounts stay from version 1
        (2, 30, date(2026, 4, 1), date(2026, 5, 31), date(2026, 9, 30), ["bks-train", "bks-course"],
         5000, 0.95, "cooperation", ["land-sachsen"], 1, 20),
        # the first entry (line 24) is the latest: extends validity, so the last version ends there
        (3, 24, date(2026, 6, 1), date(2027, 3, 31), date(2027, 3, 31), ["bks-train", "bks-course"],
         9000, 0.95, "cooperation", ["land-sachsen"], 1, 20),
    ]


def test_confidential_partner_flag_and_unquoted_octal_looking_postcode():
    _, versions = rows(BLOCK)
    # YAML 1.1 reads unquoted 04103 as octal 2115; the postcode is kept as written
    assert {(v["partner_confidential"], v["partner_postcode"]) for v in versions} == {(True, "04103")}
    assert '"postcode": "04103"' in versions[0]["document"]


@pytest.mark.parametrize(
    "written, kept",
    [("04109", "04109"), ('"01067"', "01067"), ("'06108'", "06108"), ("01067", "01067"), ("99998", "99998")],
)
def test_postcode_keeps_leading_zeros(tmp_path, written, kept):
    path = variant(tmp_path, "  postcode: 04103", f"  postcode: {written}")
    _, versions = rows(path)
    assert versions[0]["partner_postcode"] == kept


def test_single_version_defaults_and_quoted_dates():
    parsed, [v] = rows(OPS)
    assert parsed.rows_read == 1
    assert v["line_no"] == 2  # after the '---' marker
    assert (v["effective_from"], v["effective_to"]) == (date(2026, 1, 1), date(2030, 12, 31))
    assert v["usage_area"] == "operations" and v["funders"] == [] and v["accounts"] == ["kirz-ops", "kirz-test"]
    assert (v["gpu_hours_allocated"], v["price_eur_per_gpu_hour"], v["jobs_created"], v["trainees"]) == (0, 0, 0, 0)


def test_schema_matches_the_raw_table_and_loads_into_duckdb():
    versions_tbl = parse(BLOCK, CTX).tables["contract_versions"]
    assert versions_tbl.column_names == ["line_no"] + [name for name, _ in RAW_COLUMNS["contract_versions"]]
    assert versions_tbl.schema.field("line_no").type == pa.int64()
    assert versions_tbl.schema.field("version_no").type == pa.int32()
    assert versions_tbl.schema.field("accounts").type == pa.list_(pa.string())
    con = duckdb.connect()
    init_schema(con)
    cols = ", ".join(name for name, _ in RAW_COLUMNS["contract_versions"])
    con.execute(
        f"insert into raw.contract_versions select 1, 'C-2025-007.yaml', 'x', line_no, "
        f"timestamptz '2026-01-01 00:00:00+00', {cols} from versions_tbl"
    )
    got = con.execute(
        "select version_no, effective_to, accounts[2], document ->> '$.partner.postcode' "
        "from raw.contract_versions order by version_no desc limit 1"
    ).fetchone()
    assert got == (3, date(2027, 3, 31), "bks-course", "04103")


def test_bom_and_crlf_are_read(tmp_path):
    text = DESIGN.read_text(encoding="utf-8").replace("\n", "\r\n")
    path = write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    _, versions = rows(path)
    assert [(v["line_no"], v["effective_to"]) for v in versions] == [(2, date(2026, 6, 30)), (17, date(2026, 12, 31))]


# ---------------------------------------------------------------- rejected files

PARTNER_TYPES = "university, research_institute, sme, large_enterprise, startup, public_administration, education_provider"
CHANGEABLE = "gpu_hours_allocated, price_eur_per_gpu_hour, accounts, valid_to, usage_area, funders, commitments"

# (old text of C-2025-007.yaml, replacement, line of the offending key, start of the reason)
REJECTIONS = {
    "partner type": ("  type: startup", "  type: gmbh", 6, f"partner.type 'gmbh' is not one of {PARTNER_TYPES}"),
    "usage area": (
        "usage_area: education", "usage_area: research", 10,
        "usage_area 'research' is not one of methods_research, cooperation, education, operations",
    ),
    "missing top-level key": ("valid_to: 2026-09-30\n", "", 2, "required key valid_to is missing"),
    "missing partner key": ("  name: Beispiel KI Start-up GmbH\n", "", 3, "required key partner.name is missing"),
    "unknown key": ("amendments:", "ammendments:", 23, "unknown key ammendments (expected keys: contract_id, partner,"),
    "unknown partner key": (
        "  confidential: true", "  confidential: true\n  website: example.org", 10,
        "unknown key partner.website (expected keys: id, name, type, postcode, nuts3, confidential, group)",
    ),
    "nuts3 lower case": ("  nuts3: DED51", "  nuts3: ded51", 8, "partner.nuts3 'ded51' is not a German NUTS-3 code"),
    "nuts3 not German": ("  nuts3: DED51", "  nuts3: AT130", 8, "partner.nuts3 'AT130' is not a German NUTS-3 code"),
    "nuts3 too short": ("  nuts3: DED51", "  nuts3: DED5", 8, "partner.nuts3 'DED5' is not a German NUTS-3 code"),
    "postcode four digits": (
        "  postcode: 04103", "  postcode: 4103", 7, "partner.postcode '4103' is not a German postcode of 5 digits",
    ),
    "postcode with prefix": (
        "  postcode: 04103", "  postcode: D-04103", 7, "partner.postcode 'D-04103' is not a German postcode",
    ),
    "confidential not a flag": (
        "  confidential: true", "  confidential: maybe", 9, "partner.confidential must be true or false, got 'maybe'",
    ),
    "contract id a number": ("contract_id: C-2025-007", "contract_id: 2025007", 2, "contract_id must be text, got 2025007"),
    "valid_to before valid_from": (
        "valid_to: 2026-09-30", "valid_to: 2025-09-30", 17, "valid_to 2025-09-30 is before valid_from 2025-10-01",
    ),
    "impossible date": (
        "valid_from: 2025-10-01", "valid_from: 2025-13-01", 16,
        "YAML value error: value '2025-13-01' cannot be read: month must be in 1..12",
    ),
    "date with a time": (
        "valid_from: 2025-10-01", "valid_from: 2025-10-01 08:00:00", 16,
        "valid_from must be a day without a time (YYYY-MM-DD), got 2025-10-01 08:00:00",
    ),
    "negative hours": (
        "gpu_hours_allocated: 5000", "gpu_hours_allocated: -5000", 18,
        "gpu_hours_allocated must be a finite number not below zero, got -5000",
    ),
    "infinite price": (
        "price_eur_per_gpu_hour: 0.80", "price_eur_per_gpu_hour: .inf", 19,
        "price_eur_per_gpu_hour must be a finite number not below zero, got inf",
    ),
    "decimal comma": (
        "price_eur_per_gpu_hour: 0.80", "price_eur_per_gpu_hour: 0,80", 19,
        "price_eur_per_gpu_hour must be a number, got '0,80'",
    ),
    "negative trainees": ("  trainees: 12", "  trainees: -1", 22, "commitments.trainees must be a finite number not below zero"),
    "no account": ("accounts:\n  - bks-train\n", "accounts: []\n", 14, "accounts must name at least one entry"),
    "account with a space": ("  - bks-train\n", "  - bks train\n", 15, "accounts[0] 'bks train' is not a Slurm account name"),
    "funder not an id": ("  - land-sachsen", "  - Land Sachsen", 13, "funders[1] 'Land Sachsen' is not a funder id"),
    "funders not a list": (
        "funders:\n  - bund-strukturwandel\n  - land-sachsen\n", "funders: bund-strukturwandel\n", 11,
        "funders must be a list, got 'bund-strukturwandel'",
    ),
    "yaml syntax": (
        "  name: Beispiel KI Start-up GmbH", "  name: Beispiel: KI", 5,
        "YAML syntax error: mapping values are not allowed here",
    ),
    "duplicate key": (
        "usage_area: education", "usage_area: education\nusage_area: cooperation", 11,
        "duplicate key usage_area (first at line 10)",
    ),
    # amendments (entries: [0] line 24 from 2026-06-01, [1] line 27 from 2026-01-15, [2] line 30 from 2026-04-01)
    "amendment field not changeable": (
        "    usage_area: cooperation", "    partner: {id: P-9}", 32,
        f"amendments[2].partner cannot be changed by an amendment (changeable: {CHANGEABLE})",
    ),
    "amendment before validity": (
        "  - effective_from: 2026-01-15", "  - effective_from: 2025-09-01", 27,
        "amendments[1].effective_from 2025-09-01 is not after valid_from 2025-10-01",
    ),
    "amendment on the first day": (
        "  - effective_from: 2026-01-15", "  - effective_from: 2025-10-01", 27,
        "amendments[1].effective_from 2025-10-01 is not after valid_from 2025-10-01",
    ),
    "amendment after extended validity": (
        "  - effective_from: 2026-04-01", "  - effective_from: 2027-04-01", 30,
        "amendments[2].effective_from 2027-04-01 is after valid_to 2027-03-31",
    ),
    "amendment after shortened validity": (
        "    commitments: {trainees: 20}", "    commitments: {trainees: 20}\n    valid_to: 2026-03-31", 31,
        "amendments[2].effective_from 2026-04-01 is after valid_to 2026-03-31",
    ),
    "amendment ends before it starts": (
        "    valid_to: 2027-03-31", "    valid_to: 2026-05-31", 25,
        "amendments[0].valid_to 2026-05-31 is before its effective_from 2026-06-01",
    ),
    "two amendments on one day": (
        "  - effective_from: 2026-04-01", "  - effective_from: 2026-06-01", 30,
        "amendments[2] and amendments[0] both take effect on 2026-06-01",
    ),
    "amendment changes nothing": (
        "    price_eur_per_gpu_hour: 0.95\n    usage_area: cooperation\n    funders: [land-sachsen]\n", "", 30,
        "amendments[2] (effective 2026-04-01) changes nothing",
    ),
    "amendment without a date": (
        "  - effective_from: 2026-01-15\n    accounts:", "  - accounts:", 27,
        "required key amendments[1].effective_from is missing",
    ),
    "amendment negative hours": (
        "    gpu_hours_allocated: 9000", "    gpu_hours_allocated: -9000", 26,
        "amendments[0].gpu_hours_allocated must be a finite number not below zero, got -9000",
    ),
    "amendment removes all accounts": (
        "    accounts: [bks-train, bks-course]", "    accounts: []", 28,
        "amendments[1].accounts must name at least one entry",
    ),
    "amendment repeats an account": (
        "    accounts: [bks-train, bks-course]", "    accounts: [bks-train, bks-train]", 28,
        "amendments[1].accounts lists 'bks-train' twice",
    ),
    # state-aid fields (C-2025-007.yaml names none of them; each case adds one after line 9)
    "activity not a choice": (
        "  confidential: true\n", "  confidential: true\nactivity: commercial\n", 10,
        "activity 'commercial' is not one of economic, non_economic",
    ),
    "activity not text": (
        "  confidential: true\n", "  confidential: true\nactivity: true\n", 10,
        "activity true is not one of economic, non_economic",
    ),
    "signed_on not a day": (
        "  confidential: true\n", "  confidential: true\nsigned_on: Dezember 2025\n", 10,
        "signed_on must be a day (YYYY-MM-DD), got 'Dezember 2025'",
    ),
    "signed_on after the end": (
        "  confidential: true\n", "  confidential: true\nsigned_on: 2026-10-01\n", 10,
        "signed_on 2026-10-01 is after valid_to 2026-09-30 (a contract is signed before it ends)",
    ),
    "group not an id": (
        "  confidential: true\n", "  confidential: true\n  group: Beispiel Gruppe\n", 10,
        "partner.group 'Beispiel Gruppe' is not an id (it must be non-empty and without spaces)",
    ),
    "group empty": (
        "  confidential: true\n", "  confidential: true\n  group: null\n", 10,
        "partner.group must be text, got nothing (null)",
    ),
    "other de-minimis negative": (
        "  confidential: true\n", "  confidential: true\nother_deminimis_eur: -100\n", 10,
        "other_deminimis_eur must be a finite number not below zero, got -100",
    ),
    "other de-minimis as text": (
        "  confidential: true\n", "  confidential: true\nother_deminimis_eur: 40.000 EUR\n", 10,
        "other_deminimis_eur must be a number, got '40.000 EUR'",
    ),
    "amendment changes the activity": (
        "    usage_area: cooperation", "    activity: economic", 32,
        f"amendments[2].activity cannot be changed by an amendment (changeable: {CHANGEABLE})",
    ),
    "amendment changes the signature day": (
        "    usage_area: cooperation", "    signed_on: 2026-03-20", 32,
        f"amendments[2].signed_on cannot be changed by an amendment (changeable: {CHANGEABLE})",
    ),
    "amendment usage area": (
        "    usage_area: cooperation", "    usage_area: industry", 32,
        "amendments[2].usage_area 'industry' is not one of methods_research, cooperation, education, operations",
    ),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_invalid_file_is_rejected_whole_naming_line_and_reason(tmp_path, case):
    old, new, line, reason = REJECTIONS[case]
    path = variant(tmp_path, old, new)
    with pytest.raises(FormatError) as err:
        parse(path, CTX)
    assert (err.value.line_no, err.value.reason[: len(reason)]) == (line, reason)
    assert err.value.path == str(path)
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_several_problems_are_reported_first_line_first(tmp_path):
    text = BLOCK.read_text().replace("  nuts3: DED51", "  nuts3: DED5").replace("  type: startup", "  type: gmbh")
    with pytest.raises(FormatError) as err:
        parse(write(tmp_path, text), CTX)
    assert err.value.line_no == 6
    assert err.value.reason.startswith("partner.type 'gmbh' is not one of")
    assert "(and 1 more: line 8: partner.nuts3 'DED5' is not a German NUTS-3 code" in err.value.reason


def test_not_utf8_names_the_line(tmp_path):
    raw = BLOCK.read_bytes().replace(b"Start-up", "Gründer".encode("cp1252"))
    with pytest.raises(FormatError) as err:
        parse(write(tmp_path, raw), CTX)
    assert err.value.line_no == 5
    assert err.value.reason.startswith("not UTF-8 text: byte 0xfc cannot be read")


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("", None, "the file holds no YAML document"),
        ("# only a comment\n", None, "the file holds no YAML document"),
        ("\n- contract_id: C-1\n- contract_id: C-2\n", 2, "a contract must be a mapping of keys, found a list"),
        ("C-2026-014\n", 1, "a contract must be a mapping of keys, found the value 'C-2026-014'"),
        ("contract_id: C-1\nnote: \x07\n", 2, "character U+0007 is not allowed in YAML"),
        ("contract_id: C-1\n\tpartner: x\n", 2, "YAML syntax error"),
    ],
)
def test_files_that_are_no_contract_document(tmp_path, text, line, reason):
    with pytest.raises(FormatError) as err:
        parse(write(tmp_path, text), CTX)
    assert (err.value.line_no, err.value.reason[: len(reason)]) == (line, reason)


def test_second_document_in_one_file_is_rejected(tmp_path):
    text = DESIGN.read_text() + "---\ncontract_id: C-2026-015\n"
    with pytest.raises(FormatError) as err:
        parse(write(tmp_path, text), CTX)
    assert err.value.line_no == 18
    assert err.value.reason == (
        "YAML syntax error: expected a single document in the stream (line 2), but found another document"
    )


def test_alias_bomb_is_rejected_not_expanded(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = write(tmp_path, "contract_id: C-1\n" + "\n".join(lines) + "\n")
    with pytest.raises(FormatError) as err:
        parse(path, CTX)
    assert "document too large or nested too deeply" in err.value.reason


# ---------------------------------------------------------------- detect


def test_detect():
    assert detect(DESIGN.read_bytes()) == "contract_yaml"
    assert detect(DESIGN.read_bytes()[:40]) == "contract_yaml"        # a head cut mid-document
    assert detect(b"\xef\xbb\xbf" + OPS.read_bytes()) == "contract_yaml"
    assert detect(b'{"contract_id": "C-1", "accounts": ["a"]}') == "contract_yaml"
    assert detect(b"cluster: kirz-leipzig\nnodes:\n  - {name: gpu001}\n") is None   # inventory
    assert detect(b"partner:\n  contract_id: C-1\n") is None                       # not top-level
    assert detect(b"# contract_id: C-1\ncluster: x\n") is None
    assert detect(b"JobID|JobIDRaw|Account|State\n123|123|contract_id: x|COMPLETED\n") is None
    assert detect(b"contract_id: C-1\x00\x00") is None


# ---------------------------------------------------------------- account overlaps


def versions_of(path):
    return parse(path, CTX).tables["contract_versions"].to_pylist()


def contract(cid, accounts, start, end, version_no=0):
    return {"contract_id": cid, "version_no": version_no, "accounts": accounts,
            "effective_from": start, "effective_to": end}


def test_versions_of_one_contract_never_conflict():
    assert find_account_overlaps(versions_of(DESIGN)) == []
    # the same contract delivered twice (e.g. before and after an amendment) is no conflict either
    assert find_account_overlaps(versions_of(DESIGN) * 2) == []


def test_amendment_adding_an_account_held_later_by_another_contract_overlaps():
    other = contract("C-2026-020", ["mrob-edu"], date(2026, 9, 1), date(2027, 8, 31))
    assert find_account_overlaps(versions_of(DESIGN) + [other]) == [
        "account 'mrob-edu' is in contract C-2026-014 (version 1, 2026-07-01..2026-12-31) and in contract "
        "C-2026-020 (version 0, 2026-09-01..2027-08-31) on overlapping days, first on 2026-09-01"
    ]


def test_adjacent_validity_is_no_overlap():
    after = contract("C-2027-001", ["mrob-ai"], date(2027, 1, 1), date(2027, 12, 31))
    # mrob-edu joins C-2026-014 only from 2026-07-01, the day after this contract ends
    before = contract("C-2025-099", ["mrob-edu"], date(2026, 1, 1), date(2026, 6, 30))
    assert find_account_overlaps(versions_of(DESIGN) + [after, before]) == []


def test_overlap_with_several_versions_is_one_message_with_the_first_day():
    other = contract("C-2026-003", ["mrob-ai"], date(2026, 3, 1), date(2026, 9, 30))
    assert find_account_overlaps([other] + versions_of(DESIGN)) == [
        "account 'mrob-ai' is in contract C-2026-003 (version 0, 2026-03-01..2026-09-30) and in contract "
        "C-2026-014 (version 0, 2026-01-01..2026-06-30) on overlapping days, first on 2026-03-01"
    ]


def test_overlaps_from_warehouse_rows_with_text_dates_and_open_end():
    rows_ = [
        {"contract_id": "X", "accounts": ["a", "b"], "effective_from": "2026-01-01", "effective_to": None},
        {"contract_id": "Y", "accounts": ["b"], "effective_from": "2030-05-01", "effective_to": "2030-05-01"},
        {"contract_id": "Z", "accounts": ["a", "b"], "effective_from": "2025-01-01", "effective_to": "2025-12-31"},
        {"contract_id": "W", "accounts": ["a"], "effective_from": "2025-12-31", "effective_to": "2026-01-01"},
    ]
    assert find_account_overlaps(rows_) == [
        "account 'a' is in contract W (2025-12-31..2026-01-01) and in contract X (2026-01-01..open) "
        "on overlapping days, first on 2026-01-01",
        "account 'a' is in contract W (2025-12-31..2026-01-01) and in contract Z (2025-01-01..2025-12-31) "
        "on overlapping days, first on 2025-12-31",
        "account 'b' is in contract X (2026-01-01..open) and in contract Y (2030-05-01..2030-05-01) "
        "on overlapping days, first on 2030-05-01",
    ]


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=1, max_value=364), min_size=1, max_size=6, unique=True),
    order=st.randoms(use_true_random=False),
)
def test_versions_tile_the_validity_in_date_order(offsets, order):
    """Any set of amendments, listed in any order, gives gap-free versions in date order."""
    start = date(2026, 1, 1)
    entries = [(start + timedelta(days=d), 1000 * (i + 1)) for i, d in enumerate(offsets)]
    order.shuffle(entries)
    text = DESIGN.read_text().split("amendments:")[0] + "amendments:\n" + "".join(
        f"  - {{effective_from: {day}, gpu_hours_allocated: {hours}}}\n" for day, hours in entries
    )
    with tempfile.TemporaryDirectory() as tmp:
        versions = versions_of(write(Path(tmp), text))
    by_date = sorted(entries)
    assert [v["effective_from"] for v in versions] == [start] + [day for day, _ in by_date]
    assert [v["gpu_hours_allocated"] for v in versions] == [20000] + [hours for _, hours in by_date]
    for a, b in zip(versions, versions[1:]):
        assert b["effective_from"] - a["effective_to"] == timedelta(days=1)
    assert versions[-1]["effective_to"] == date(2026, 12, 31)
    assert [v["version_no"] for v in versions] == list(range(len(entries) + 1))
