import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from kirz.ingest.base import FormatError, ParseContext, pseudonymise
from kirz.ingest.slurm import detect, parse
from kirz.warehouse import RAW_COLUMNS

UTC = timezone.utc
KEY = b"test-key"
FIX = Path(__file__).parent / "fixtures" / "slurm"
REAL = (Path(__file__).parents[1] / ".." / "shared" / "realdata").resolve()
CTX = ParseContext(pseudonym_key=KEY)
# Open XDMoD's helper: `sacct --parsable2 --noheader --format ...` with these fields
XDMOD_26 = tuple(
    "jobid,jobidraw,cluster,partition,qos,account,group,gid,user,uid,submit,eligible,start,end,"
    "elapsed,exitcode,state,nnodes,ncpus,reqcpus,reqmem,reqtres,alloctres,timelimit,nodelist,jobname".split(",")
)
# the older layout of the GRES test file: reqgres, no qos and no alloctres
XDMOD_25 = tuple(
    "jobid,jobidraw,cluster,partition,account,group,gid,user,uid,submit,eligible,start,end,"
    "elapsed,exitcode,state,nnodes,ncpus,reqcpus,reqmem,reqgres,reqtres,timelimit,nodelist,jobname".split(",")
)
HEADER = (
    "JobID|JobIDRaw|JobName|User|Account|Partition|QOS|State|ExitCode|Submit|Start|End|"
    "Elapsed|ElapsedRaw|NNodes|NCPUS|AllocTRES|NodeList|ConsumedEnergyRaw"
)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def rows_of(parsed):
    return parsed.tables["slurm_jobs"].to_pylist()


def by_id(parsed):
    return {r["job_id"]: r for r in rows_of(parsed)}


def assert_counting(parsed):
    assert parsed.rows_read == parsed.tables["slurm_jobs"].num_rows + len(parsed.quarantine)


def write(tmp_path, text, name="sacct.txt"):
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return p


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    "path, expected",
    [
        (FIX / "quirks.txt", "sacct_parsable"),
        (FIX / "tdhock-slurm" / "sacct-oom.txt", "sacct_parsable"),
        (FIX / "slurm2sql" / "test-data1-semicolon-pipe-delim.txt", "sacct_parsable"),
        (FIX / "xdmod" / "accounting-logs.log", "sacct_parsable"),
        (FIX / "clockwork" / "sacct_1.json", "sacct_json"),
        (FIX / "sacct_v0040.json", "sacct_json"),
    ],
)
def test_detect_real_and_hand_written_files(path, expected):
    assert detect(path.read_bytes()[:65536]) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"timestamp,node,watts\n2026-01-01T00:00:00Z,gpu001,812.5\n",
        b"Zeitstempel;Z\xe4hler;Z\xe4hlerstand [kWh]\n25.10.2026 02:15:00;M-GRID;1234567,8\n",
        b'{"status": "success", "data": {"resultType": "matrix", "result": []}}',
        b"",
        b"\n\n",
        b"hello|world|again\n",
    ],
)
def test_detect_rejects_other_sources(head):
    assert detect(head) is None


# --------------------------------------------------------------------------- schema and counting


def test_table_has_line_no_then_exactly_the_raw_columns():
    parsed = parse(FIX / "quirks.txt", CTX)
    table = parsed.tables["slurm_jobs"]
    expected = ["line_no"] + [c for c, _ in RAW_COLUMNS["slurm_jobs"]]
    assert table.column_names == expected
    assert table.schema.field("line_no").type == pa.int64()
    for col in ("submit_at", "start_at", "end_at"):
        assert table.schema.field(col).type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("nodes").type == pa.list_(pa.string())
    assert table.schema.field("het_job_offset").type == pa.int32()
    assert table.schema.field("elapsed_s").type == pa.int64()
    assert table.schema.field("is_step").type == pa.bool_()
    assert table.schema.field("mem_mb").type == pa.float64()
    assert set(parsed.tables) == {"slurm_jobs"}
    assert parsed.format == "sacct_parsable"


def test_json_table_has_the_same_schema():
    text = parse(FIX / "quirks.txt", CTX).tables["slurm_jobs"].schema
    assert parse(FIX / "sacct_v0040.json", CTX).tables["slurm_jobs"].schema == text
    assert parse(FIX / "clockwork" / "sacct_1.json", CTX).tables["slurm_jobs"].schema == text


# --------------------------------------------------------------------------- hand-written quirks


@pytest.fixture(scope="module")
def quirks():
    return parse(FIX / "quirks.txt", CTX)


def test_quirks_counting_header_and_blank_line_are_not_rows(quirks):
    # 19 lines: header, 17 records and one blank line after 4004
    assert quirks.rows_read == 17
    assert quirks.tables["slurm_jobs"].num_rows == 17
    assert quirks.quarantine == []
    assert [r["line_no"] for r in rows_of(quirks)][:11] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]


def test_allocation_with_steps(quirks):
    j = by_id(quirks)
    job = j["1001"]
    assert (job["allocation_id"], job["step_id"], job["is_step"]) == ("1001", None, False)
    assert job["cluster"] == "kirz-leipzig"  # no Cluster column: ctx.cluster
    # Berlin is UTC+1 in March
    assert job["submit_at"] == utc(2026, 3, 2, 8, 0)
    assert job["start_at"] == utc(2026, 3, 2, 8, 5)
    assert job["end_at"] == utc(2026, 3, 2, 10, 5)
    assert job["elapsed_s"] == 7200
    assert (job["nnodes"], job["ncpus"]) == (4, 256)
    # gres/gpu=32 (untyped) wins over the typed gres/gpu:h100=32: 32, not 64
    assert job["gpus"] == 32
    assert job["mem_mb"] == 2000 * 1024
    assert job["nodes"] == ["gpu001", "gpu002", "gpu003", "gpu004"]
    assert job["node_list"] == "gpu[001-004]"
    assert job["consumed_energy_j"] == 1234567.0
    assert job["user_pseudonym"] == pseudonymise(KEY, "alice")
    for step_id, gpus in (("batch", 8), ("extern", 32), ("0", 32)):
        s = j[f"1001.{step_id}"]
        assert (s["allocation_id"], s["step_id"], s["is_step"], s["gpus"]) == ("1001", step_id, True, gpus)
        assert s["user_pseudonym"] is None
    assert j["1001.batch"]["mem_mb"] == 500 * 1024
    assert j["1001.0"]["end_at"] == utc(2026, 3, 2, 10, 4, 20)
    assert j["1001.0"]["elapsed_s"] == 7100


def test_array_task_and_pending_range(quirks):
    j = by_id(quirks)
    task = j["2002_4"]
    assert (task["array_job_id"], task["array_task_id"], task["allocation_id"]) == ("2002", "4", "2002_4")
    assert task["job_id_raw"] == "2006"
    # only typed GPU entries: a100=1 + h100=2
    assert task["gpus"] == 3
    assert task["mem_mb"] == 64 * 1024
    pending = j["2002_[5-9]"]
    assert (pending["array_job_id"], pending["array_task_id"]) == ("2002", "[5-9]")
    assert pending["allocation_id"] == "2002_[5-9]"
    assert (pending["start_at"], pending["end_at"]) == (None, None)  # Unknown
    assert pending["gpus"] == 0  # empty AllocTRES
    assert pending["mem_mb"] is None
    assert (pending["node_list"], pending["nodes"]) == ("None assigned", [])
    assert pending["alloc_tres"] is None


def test_het_job_and_cancelled_by(quirks):
    j = by_id(quirks)
    for offset, gpus in ((0, 0), (1, 2)):
        c = j[f"3003+{offset}"]
        assert (c["het_job_id"], c["het_job_offset"], c["allocation_id"]) == ("3003", offset, f"3003+{offset}")
        assert (c["state"], c["state_raw"], c["cancelled_by_uid"]) == ("CANCELLED", "CANCELLED by 1234", 1234)
        assert c["gpus"] == gpus
    assert j["3003+1"]["nodes"] == ["gpu001", "gpu002", "gpu003", "gpu004", "gpu010", "cpu07"]
    assert j["3003+1"]["mem_mb"] == 128 * 1024
    step = j["3003+0.batch"]
    assert (step["allocation_id"], step["step_id"], step["het_job_id"], step["het_job_offset"]) == (
        "3003+0", "batch", "3003", 0,
    )
    assert (step["state"], step["cancelled_by_uid"], step["exit_code"]) == ("CANCELLED", None, "0:15")


def test_pipe_inside_job_name_is_rejoined(quirks):
    job = by_id(quirks)["4004"]
    assert job["job_name"] == "a|b"
    assert job["account"] == "uni-ml"
    assert job["user_pseudonym"] == pseudonymise(KEY, "dave")
    assert job["end_at"] is None  # TIMEOUT record with End=Unknown
    assert job["elapsed_s"] == 3600


def test_repeated_dst_hour_resolved_by_elapsed(quirks):
    j = by_id(quirks)
    # 02:10 (summer, +2) to 02:20 (winter, +1) is 70 minutes = ElapsedRaw 4200
    assert (j["5005"]["start_at"], j["5005"]["end_at"]) == (utc(2026, 10, 25, 0, 10), utc(2026, 10, 25, 1, 20))
    # the same readings with ElapsedRaw 600: both in summer time
    assert (j["5006"]["start_at"], j["5006"]["end_at"]) == (utc(2026, 10, 25, 0, 10), utc(2026, 10, 25, 0, 20))
    # 02:50 (first, summer) to 03:10 (winter) = 80 minutes = 4800 s
    assert (j["5007"]["start_at"], j["5007"]["end_at"]) == (utc(2026, 10, 25, 0, 50), utc(2026, 10, 25, 2, 10))
    # Submit in the repeated hour takes the earliest reading
    assert j["5005"]["submit_at"] == utc(2026, 10, 25, 0, 5)
    # 01:00 local on that day is still summer time
    assert j["5007"]["submit_at"] == utc(2026, 10, 24, 23, 0)


def test_explicit_offsets_are_respected(quirks):
    job = by_id(quirks)["6006"]
    assert job["submit_at"] == utc(2026, 7, 1, 8, 0)  # 10:00+02:00
    assert job["start_at"] == utc(2026, 7, 1, 8, 0)  # Z
    assert job["end_at"] == utc(2026, 7, 1, 8, 30)


def test_multibyte_and_invalid_utf8_job_names(quirks):
    j = by_id(quirks)
    assert j["7007"]["job_name"] == "Grüße-日本-aàb"
    assert j["7007"]["state"] == "RUNNING"
    assert j["7007"]["end_at"] is None
    # the byte 0xE9 (Latin-1 é) is not UTF-8: replaced, the line still parses
    assert j["7008"]["job_name"] == "caf\ufffd-run"
    assert j["7008"]["end_at"] == utc(2026, 7, 1, 8, 1)
    assert j["7008"]["consumed_energy_j"] == 0.0
    assert quirks.warnings == ["invalid UTF-8 bytes replaced by U+FFFD"]


def test_unknown_state_none_times_and_no_value_energy(quirks):
    job = by_id(quirks)["9009"]
    assert (job["state"], job["state_raw"]) == ("FOO", "FOO")  # kept; validation flags it later
    assert (job["submit_at"], job["start_at"], job["end_at"]) == (None, None, None)
    assert job["nodes"] == []
    assert job["consumed_energy_j"] is None  # 18446744073709551614 = NO_VAL64


# --------------------------------------------------------------------------- bad rows


def test_bad_rows_go_to_quarantine_with_line_and_reason():
    parsed = parse(FIX / "bad_rows.txt", CTX)
    assert_counting(parsed)
    assert parsed.rows_read == 11  # the blank line is not a row
    assert [r["job_id"] for r in rows_of(parsed)] == ["1101"]
    reasons = {q.line_no: q.reason for q in parsed.quarantine}
    assert reasons == {
        3: "18 fields, header has 19",
        4: "NodeList: unbalanced '[' in host list 'gpu[001-'",
        5: "NCPUS: not an integer: 'x12'",
        7: "Start: cannot parse time '2026-13-45T99:00:00'",
        8: "JobID: not a Slurm job id: 'abc'",
        9: "ElapsedRaw: not an integer: '12s'",
        10: "AllocTRES: bad gres/gpu count 'eight'",
        11: "State uid: not an integer: 'root'",
        12: "ConsumedEnergyRaw: not a number: '12kJ'",
        13: "AllocTRES: bad mem value 'lots'",
    }


def test_quarantined_raw_text_is_the_line_with_the_user_pseudonymised():
    parsed = parse(FIX / "bad_rows.txt", CTX)
    lines = (FIX / "bad_rows.txt").read_text().split("\n")
    for q in parsed.quarantine:
        original = lines[q.line_no - 1]
        user = original.split("|")[3]
        assert q.raw_text == original.replace(f"|{user}|", f"|{pseudonymise(KEY, user)}|")
        assert user not in q.raw_text.split("|")
    text = " ".join(q.raw_text for q in parsed.quarantine)
    for name in ("alice", "bob", "carol", "dave"):
        assert name not in text


def test_short_line_is_scrubbed_of_known_users_and_of_the_value_in_the_user_position(tmp_path):
    ok = "1|1|ok|zoe|acc|gpu|normal|COMPLETED|0:0|||||0|1|1|||"
    # a field is missing before User: 'zoe' moved into JobName's place, 'acc' into User's.
    # 'zoe' is known from the line above; whatever sits in the User position is treated as a
    # user name too, because a line cut short at its end keeps its user there.
    short = "2|2|zoe|acc"
    parsed = parse(write(tmp_path, f"{HEADER}\n{ok}\n{short}\n"), CTX)
    assert [q.reason for q in parsed.quarantine] == ["4 fields, header has 19"]
    assert parsed.quarantine[0].raw_text == f"2|2|{pseudonymise(KEY, 'zoe')}|{pseudonymise(KEY, 'acc')}"


def test_surplus_fields_without_job_name_column_are_quarantined(tmp_path):
    text = "JobID|User|State\n1|ann|COMPLETED\n2|ann|COMPLETED|extra\n"
    parsed = parse(write(tmp_path, text), CTX)
    assert_counting(parsed)
    assert [(q.line_no, q.reason) for q in parsed.quarantine] == [
        (3, "4 fields, header has 3 and no JobName to absorb a delimiter")
    ]
    assert parsed.quarantine[0].raw_text == f"2|{pseudonymise(KEY, 'ann')}|COMPLETED|extra"


# --------------------------------------------------------------------------- header variants


def test_tab_lowercase_header_unknown_columns_elapsed_and_gres_fallback():
    parsed = parse(FIX / "elapsed_gres.tsv", CTX)
    assert_counting(parsed)
    j = by_id(parsed)
    # 2-02:30:45 = 2*86400 + 2*3600 + 30*60 + 45
    assert j["8001"]["elapsed_s"] == 181845
    assert j["8001"]["start_at"] == utc(2026, 1, 10, 9, 0)
    assert j["8001"]["end_at"] == utc(2026, 1, 12, 11, 30, 45)
    assert j["8001"]["gpus"] == 4  # AllocGRES gpu:4 wins over ReqGRES gpu:8
    assert j["8001"]["cluster"] == "kirz-test"
    assert j["8002"]["elapsed_s"] == 3723  # 01:02:03
    assert j["8002"]["gpus"] == 2  # ReqGRES gpu:V100:2
    assert j["8003"]["elapsed_s"] == 307  # 05:07 = MM:SS
    assert j["8003"]["gpus"] == 2  # gpu:P100:2(IDX:1,3),hbm:0
    pending = j["8004"]
    assert (pending["elapsed_s"], pending["gpus"], pending["nodes"], pending["cluster"]) == (None, 0, [], "kirz-leipzig")
    # absent optional columns are null
    assert (pending["account"], pending["nnodes"], pending["ncpus"], pending["mem_mb"], pending["job_id_raw"]) == (
        None, None, None, None, None,
    )
    assert [(q.line_no, q.reason) for q in parsed.quarantine] == [(6, "Elapsed: cannot parse 'ab:cd'")]
    assert "henry" not in parsed.quarantine[0].raw_text


def test_parsable_with_trailing_delimiter(tmp_path):
    text = "JobID|State|Elapsed|\n11|COMPLETED|00:01:00|\n12|FAILED|00:00:05|\n"
    parsed = parse(write(tmp_path, text), CTX)
    assert [(r["job_id"], r["state"], r["elapsed_s"]) for r in rows_of(parsed)] == [
        ("11", "COMPLETED", 60), ("12", "FAILED", 5),
    ]


def test_start_fixed_end_in_repeated_hour(tmp_path):
    rows = [
        # 01:50 is summer time (23:50Z); 02:20 read so that End - Start = elapsed
        "21|COMPLETED|2026-10-25T01:50:00|2026-10-25T02:20:00|5400",
        "22|COMPLETED|2026-10-25T01:50:00|2026-10-25T02:20:00|1800",
        # Start with an explicit offset (winter) keeps it; End is the second 02:20
        "23|COMPLETED|2026-10-25T02:10:00+01:00|2026-10-25T02:20:00|600",
    ]
    parsed = parse(write(tmp_path, "JobID|State|Start|End|ElapsedRaw\n" + "\n".join(rows) + "\n"), CTX)
    j = by_id(parsed)
    assert (j["21"]["start_at"], j["21"]["end_at"]) == (utc(2026, 10, 24, 23, 50), utc(2026, 10, 25, 1, 20))
    assert (j["22"]["start_at"], j["22"]["end_at"]) == (utc(2026, 10, 24, 23, 50), utc(2026, 10, 25, 0, 20))
    assert (j["23"]["start_at"], j["23"]["end_at"]) == (utc(2026, 10, 25, 1, 10), utc(2026, 10, 25, 1, 20))


def test_the_configured_zone_is_used(tmp_path):
    path = write(tmp_path, "JobID|Start|End|ElapsedRaw\n31|2026-07-01T12:00:00|2026-07-01T13:00:00|3600\n")
    ny = parse(path, ParseContext(pseudonym_key=KEY, tz=ZoneInfo("America/New_York")))
    assert rows_of(ny)[0]["start_at"] == utc(2026, 7, 1, 16, 0)  # EDT = UTC-4


def test_headerless_without_fields_is_a_format_error():
    with pytest.raises(FormatError) as err:
        parse(FIX / "xdmod" / "accounting-logs.log", CTX)
    assert "without a header line" in err.value.reason
    assert "field list" in err.value.reason
    assert err.value.line_no == 1


def test_field_list_without_jobid_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="no JobID column"):
        parse(FIX / "xdmod" / "accounting-logs.log", ParseContext(pseudonym_key=KEY, fields=("user", "state")))


def test_a_header_is_used_even_when_fields_are_given():
    ctx = ParseContext(pseudonym_key=KEY, fields=XDMOD_26)
    assert by_id(parse(FIX / "quirks.txt", ctx)) == by_id(parse(FIX / "quirks.txt", CTX))


def test_empty_file_is_rejected_whole(tmp_path):
    for fmt in (None, "sacct_parsable"):
        with pytest.raises(FormatError, match="empty file"):
            parse(write(tmp_path, " \n\n"), ParseContext(pseudonym_key=KEY, fmt=fmt))


def test_header_only_file_has_no_rows(tmp_path):
    parsed = parse(write(tmp_path, HEADER + "\n"), CTX)
    assert (parsed.rows_read, parsed.tables["slurm_jobs"].num_rows, parsed.quarantine) == (0, 0, [])


def test_forced_and_unknown_formats(tmp_path):
    with pytest.raises(FormatError, match="not valid JSON"):
        parse(FIX / "quirks.txt", ParseContext(pseudonym_key=KEY, fmt="sacct_json"))
    with pytest.raises(FormatError, match="unknown Slurm format 'squeue'"):
        parse(FIX / "quirks.txt", ParseContext(pseudonym_key=KEY, fmt="squeue"))
    with pytest.raises(FormatError, match="neither sacct"):
        parse(write(tmp_path, "timestamp,node,watts\n"), CTX)


def test_a_pseudonym_key_is_required():
    with pytest.raises(ValueError, match="pseudonym_key"):
        parse(FIX / "quirks.txt", ParseContext())


@settings(max_examples=60, deadline=None)
@given(name=st.text(st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)), min_size=1, max_size=30))
def test_any_job_name_survives_the_round_trip(tmp_path_factory, name):
    path = tmp_path_factory.mktemp("names") / "n.txt"
    path.write_bytes(f"JobID|JobName|User|State\n41|{name}|ann|COMPLETED\n".encode())
    parsed = parse(path, CTX)
    assert rows_of(parsed)[0]["job_name"] == name
    assert rows_of(parsed)[0]["state"] == "COMPLETED"


# --------------------------------------------------------------------------- real files: xdmod


def xdmod(name, fields=XDMOD_26):
    return parse(FIX / "xdmod" / name, ParseContext(pseudonym_key=KEY, fields=fields))


def test_xdmod_accounting_logs():
    parsed = xdmod("accounting-logs.log")
    assert_counting(parsed)
    j = by_id(parsed)
    assert list(j) == ["4103947", "4107166", "4107219", "5692623"]
    first = j["4103947"]
    assert (first["state"], first["elapsed_s"], first["nnodes"], first["ncpus"]) == ("TIMEOUT", 259200, 32, 256)
    assert first["cluster"] == "ub-hpc"
    assert first["start_at"] == utc(2015, 6, 28, 0, 55, 50)  # 02:55:50 CEST
    assert len(first["nodes"]) == 32  # NNodes, from a 25-part compressed list
    assert first["nodes"][-5:] == ["d13n03", "d13n05", "d13n07", "d13n08", "d13n16"]
    assert (j["4107166"]["state"], j["4107166"]["cancelled_by_uid"]) == ("CANCELLED", 102216)
    assert j["4107166"]["elapsed_s"] == 2 * 86400 + 22 * 3600 + 3 * 60 + 4
    alloc = j["5692623"]
    assert (alloc["gpus"], alloc["ncpus"], alloc["partition"]) == (2, 0, None)
    assert alloc["nodes"] == ["cpn-k16-35-01", "cpn-k16-37-01"]


def test_xdmod_job_arrays():
    j = by_id(xdmod("accounting-logs-with-job-arrays.log"))
    assert [(r["array_job_id"], r["array_task_id"]) for r in j.values()] == [
        ("4103947", "100"), ("4103947", "[1-3]"), ("4103947", "[1,5]"), ("4103947", "[9-11,20]"),
        ("4103947", "[91,100-102]"), ("4103947", "[9-11,13,16-20]"),
    ]
    assert all(r["job_id_raw"] == "4103947" for r in j.values())
    assert all(r["gpus"] == 0 and r["alloc_tres"] is None for r in j.values())


def test_xdmod_non_ended_and_unknown_states():
    non_ended = rows_of(xdmod("non-ended-job-state.log"))
    assert [r["state"] for r in non_ended] == ["RUNNING", "PENDING"]
    assert non_ended[1]["start_at"] is None  # Start=Unknown
    assert non_ended[1]["end_at"] == utc(2020, 7, 1, 13, 28, 17)
    unknown = rows_of(xdmod("unknown-job-state.log"))
    assert [r["state"] for r in unknown] == ["FOO", "BAR"]


def test_xdmod_utf8_job_name():
    assert rows_of(xdmod("utf8-multibyte-chars.log"))[0]["job_name"] == "aàb"


def test_xdmod_old_layout_gres_fallback():
    parsed = xdmod("accounting-logs-with-gpu-gres.log", XDMOD_25)
    assert_counting(parsed)
    gpus = [r["gpus"] for r in rows_of(parsed)]
    assert gpus == [0, 1, 2, 16, 20, 128, 0, 1, 2, 32, 4, 4, 4, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2]


def test_xdmod_phillips_log():
    parsed = parse(REAL / "xdmod" / "phillips.log", ParseContext(pseudonym_key=KEY, fields=XDMOD_26))
    assert_counting(parsed)
    assert (parsed.rows_read, len(parsed.quarantine)) == (4285, 0)
    rows = rows_of(parsed)
    assert Counter(r["state"] for r in rows) == {"COMPLETED": 2324, "FAILED": 1717, "CANCELLED": 243, "TIMEOUT": 1}
    assert sum(r["cancelled_by_uid"] is not None for r in rows) == 243
    assert sorted(r["job_id"] for r in rows if r["gpus"] > 0) == ["163485", "196835"]
    assert {r["gpus"] for r in rows if r["gpus"] > 0} == {2}
    # expanded host lists hold exactly NNodes hosts; 239 records have 'None assigned'
    assigned = [r for r in rows if r["node_list"] != "None assigned"]
    assert len(rows) - len(assigned) == 239
    assert all(len(r["nodes"]) == r["nnodes"] for r in assigned)
    assert sum(r["nnodes"] for r in rows) == 4373
    assert sum(r["ncpus"] for r in rows) == 34933


# --------------------------------------------------------------------------- real files: tdhock, slurm2sql


def test_tdhock_manyfields():
    parsed = parse(FIX / "tdhock-slurm" / "sacct-manyfields.txt", CTX)
    j = by_id(parsed)
    job = j["32641375"]
    assert (job["state"], job["elapsed_s"], job["ncpus"], job["mem_mb"], job["gpus"]) == ("TIMEOUT", 3629, 1, 7996.0, 0)
    assert job["start_at"] == utc(2019, 12, 11, 17, 39, 2)
    assert job["user_pseudonym"] == pseudonymise(KEY, "icecube10")
    batch = j["32641375.batch"]
    assert (batch["state"], batch["exit_code"], batch["step_id"], batch["elapsed_s"]) == ("CANCELLED", "0:15", "batch", 3632)
    assert j["32641375.extern"]["nodes"] == ["cdr560"]


def test_tdhock_multistep():
    parsed = parse(FIX / "tdhock-slurm" / "sacct-multistep.txt", CTX)
    rows = rows_of(parsed)
    assert (parsed.rows_read, len(rows)) == (226, 226)
    assert Counter(r["is_step"] for r in rows) == {True: 150, False: 76}
    assert Counter(r["state"] for r in rows) == {"RUNNING": 225, "PENDING": 1}
    assert rows[0]["job_id"] == "26735347_1"
    assert (rows[1]["allocation_id"], rows[1]["array_task_id"], rows[1]["step_id"]) == ("26735347_1", "1", "batch")
    assert rows[0]["elapsed_s"] == 405  # 00:06:45


def test_tdhock_pending_range_and_missing_columns():
    row = rows_of(parse(FIX / "tdhock-slurm" / "sacct-PENDING.txt", CTX))[0]
    assert (row["job_id"], row["array_job_id"], row["array_task_id"], row["state"]) == (
        "18246458_[1-2]", "18246458", "[1-2]", "PENDING",
    )
    assert (row["user_pseudonym"], row["account"], row["nodes"], row["start_at"], row["gpus"]) == (
        None, None, None, None, 0,
    )


def test_tdhock_oom_tab_delimited():
    rows = rows_of(parse(FIX / "tdhock-slurm" / "sacct-oom.txt", CTX))
    assert [(r["job_id"], r["step_id"], r["state"], r["exit_code"]) for r in rows] == [
        ("7585175", None, "FAILED", "1:0"),
        ("7585175.batch", "batch", "FAILED", "1:0"),
        ("7585175.extern", "extern", "COMPLETED", "0:0"),
        ("7585175.0", "0", "OUT_OF_MEMORY", "0:125"),
    ]
    assert {r["elapsed_s"] for r in rows} == {38}


def test_tdhock_dcast_agg():
    parsed = parse(REAL / "tdhock-slurm" / "slurm-dcast-agg.txt", CTX)
    assert_counting(parsed)
    rows = rows_of(parsed)
    assert (parsed.rows_read, len(rows), len(parsed.quarantine)) == (20830, 20830, 0)
    assert Counter(r["state"] for r in rows) == {
        "FAILED": 5962, "OUT_OF_MEMORY": 3765, "COMPLETED": 4863, "RUNNING": 6239, "PENDING": 1,
    }
    assert Counter(r["step_id"] for r in rows) == {None: 6944, "batch": 6943, "extern": 6943}
    allocs = Counter(r["state"] for r in rows if not r["is_step"])
    assert allocs == {"FAILED": 2981, "OUT_OF_MEMORY": 1882, "RUNNING": 2080, "PENDING": 1}
    assert [r["job_id"] for r in rows if r["array_task_id"] and r["array_task_id"].startswith("[")] == [
        "7870209_[4427-7213]"
    ]


def test_slurm2sql_pipe_file():
    parsed = parse(FIX / "slurm2sql" / "test-data1.csv", CTX)
    j = by_id(parsed)
    job = j["43974388"]
    assert (job["state"], job["state_raw"], job["cancelled_by_uid"]) == ("CANCELLED", "CANCELLED by 1300204", 1300204)
    assert job["start_at"] == utc(2019, 7, 31, 20, 29, 14)
    assert job["end_at"] == utc(2019, 8, 1, 0, 2, 39)
    assert job["elapsed_s"] == 12805  # 03:33:25
    assert job["consumed_energy_j"] == 54156.0
    assert (job["ncpus"], job["nnodes"], job["nodes"]) == (2, 1, ["pe2"])
    assert j["43974388.0"]["job_name"] == "env"
    assert j["43977780"]["end_at"] is None  # End=Unknown
    assert (j["43977780.batch"]["start_at"], j["43977780.batch"]["end_at"]) == (None, None)
    assert j["43977780"]["consumed_energy_j"] == 999.0


def test_slurm2sql_semicolon_pipe_variant_gives_the_same_rows():
    pipe = parse(FIX / "slurm2sql" / "test-data1.csv", CTX).tables["slurm_jobs"]
    semi = parse(FIX / "slurm2sql" / "test-data1-semicolon-pipe-delim.txt", CTX).tables["slurm_jobs"]
    assert semi.num_rows == 5
    assert semi.equals(pipe)


# --------------------------------------------------------------------------- JSON


def test_clockwork_old_schema_json():
    parsed = parse(FIX / "clockwork" / "sacct_1.json", CTX)
    assert parsed.format == "sacct_json"
    assert_counting(parsed)
    first, second = rows_of(parsed)
    assert (first["job_id"], first["job_id_raw"], first["array_job_id"], first["array_task_id"]) == ("1_7", "10", "1", "7")
    assert (second["job_id"], second["job_id_raw"]) == ("2_0", "20")
    assert (first["state"], second["state"]) == ("NODE_FAIL", "REQUEUED")
    assert first["cluster"] == "cedar"
    # epoch seconds are UTC: 1680193504 = 2023-03-30 16:25:04Z; end 0 = not set
    assert (first["start_at"], first["end_at"], first["elapsed_s"]) == (utc(2023, 3, 30, 16, 25, 4), None, 20615)
    assert first["submit_at"] == utc(2023, 3, 30, 16, 24, 39)
    assert second["end_at"] == utc(2023, 3, 30, 22, 39, 41)
    assert (first["gpus"], first["ncpus"], first["mem_mb"], first["nnodes"]) == (1, 4, 40960.0, 1)
    assert first["user_pseudonym"] == pseudonymise(KEY, "nobody")
    assert second["user_pseudonym"] == pseudonymise(KEY, "nobody2")
    assert first["nodes"] == ["cdr1"]
    assert first["exit_code"] == "0:0"
    assert [r["line_no"] for r in rows_of(parsed)] == [1, 2]


@pytest.fixture(scope="module")
def v0040():
    return parse(FIX / "sacct_v0040.json", CTX)


def test_new_schema_job_and_steps(v0040):
    assert_counting(v0040)
    assert v0040.rows_read == 8  # 6 jobs + 2 steps
    j = by_id(v0040)
    job = j["9001"]
    assert job["line_no"] == 1
    assert (job["submit_at"], job["start_at"], job["end_at"]) == (
        utc(2026, 3, 2, 7, 55), utc(2026, 3, 2, 8, 0), utc(2026, 3, 2, 9, 0),
    )
    assert (job["elapsed_s"], job["nnodes"], job["ncpus"], job["gpus"], job["mem_mb"]) == (3600, 2, 128, 16, 1024000.0)
    assert job["nodes"] == ["gpu011", "gpu012"]
    assert job["state"] == "COMPLETED" and job["exit_code"] == "0:0"
    batch = j["9001.batch"]  # step.id '9001.batch'
    assert (batch["line_no"], batch["allocation_id"], batch["step_id"], batch["is_step"]) == (2, "9001", "batch", True)
    assert (batch["start_at"], batch["end_at"], batch["elapsed_s"]) == (
        utc(2026, 3, 2, 8, 0, 5), utc(2026, 3, 2, 8, 59, 55), 3590,
    )
    assert (batch["gpus"], batch["ncpus"], batch["nnodes"], batch["nodes"]) == (8, 64, 1, ["gpu011"])
    assert batch["consumed_energy_j"] == 1800000.0
    assert batch["user_pseudonym"] is None
    step0 = j["9001.0"]  # step.id {job_id, step_id}
    assert (step0["line_no"], step0["step_id"], step0["job_name"]) == (3, "0", "torchrun")
    assert (step0["start_at"], step0["end_at"]) == (utc(2026, 3, 2, 8, 10), utc(2026, 3, 2, 8, 40))


def test_new_schema_array_pending_and_het(v0040):
    j = by_id(v0040)
    task = j["9010_3"]
    assert (task["job_id_raw"], task["array_job_id"], task["array_task_id"]) == ("9011", "9010", "3")
    assert (task["state"], task["exit_code"], task["cancelled_by_uid"]) == ("CANCELLED", "0:9", None)
    assert task["gpus"] == 3  # typed only: a100=1 + h100=2
    pending = j["9010_[5-9]"]
    assert (pending["array_task_id"], pending["start_at"], pending["end_at"], pending["nodes"]) == ("[5-9]", None, None, [])
    het = j["9020+1"]
    assert (het["job_id_raw"], het["het_job_id"], het["het_job_offset"], het["allocation_id"]) == ("9021", "9020", 1, "9020+1")
    assert het["user_pseudonym"] == pseudonymise(KEY, "judy")


def test_new_schema_malformed_jobs_are_quarantined_without_user_names(v0040):
    q = {x.line_no: x for x in v0040.quarantine}
    assert {n: x.reason for n, x in q.items()} == {
        7: "job_id: missing",
        8: "time.start: not a number: 'yesterday'",
    }
    record = json.loads(q[7].raw_text)
    assert record["name"] == "no-id"
    assert record["user"] == pseudonymise(KEY, "mallory")
    assert record["association"]["user"] == pseudonymise(KEY, "mallory")
    assert record["working_directory"] == f"/home/{pseudonymise(KEY, 'mallory')}"
    assert "mallory" not in q[7].raw_text and "judy" not in q[8].raw_text
    assert "," in q[7].raw_text and ", " not in q[7].raw_text  # compact JSON


def test_json_records_that_are_not_objects_and_steps_without_id(tmp_path):
    doc = {
        "jobs": [
            "not a job",
            {"job_id": 5, "user": "olga", "time": {"start": 1772438400, "end": 1772442000, "elapsed": 3600},
             "state": {"current": "COMPLETED"},
             "steps": [{"step": {"name": "batch"}, "state": "COMPLETED"}, 7]},
        ]
    }
    parsed = parse(write(tmp_path, json.dumps(doc), "s.json"), CTX)
    assert_counting(parsed)
    assert parsed.rows_read == 4
    assert [(r["line_no"], r["job_id"], r["state"]) for r in rows_of(parsed)] == [(2, "5", "COMPLETED")]
    assert [(q.line_no, q.reason) for q in parsed.quarantine] == [
        (1, "job record is not an object but str"),
        (3, "step.id: missing"),
        (4, "step record is not an object but int"),
    ]


def test_json_that_is_not_sacct_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="no top-level 'jobs' list"):
        parse(write(tmp_path, '{"status": "success", "data": {}}', "p.json"), ParseContext(pseudonym_key=KEY, fmt="sacct_json"))
    with pytest.raises(FormatError, match="not valid JSON"):
        parse(write(tmp_path, '{"jobs": [', "broken.json"), CTX)


# --------------------------------------------------------------------------- privacy and speed


def test_no_raw_user_name_anywhere_in_tables_or_quarantine(tmp_path):
    bad_line = "77|77|x|icecube10|acc|gpu|normal|COMPLETED|0:0|bad-time|||||1|1|||"
    extra = write(tmp_path, f"{HEADER}\n{bad_line}\n")
    cases = [
        (FIX / "tdhock-slurm" / "sacct-manyfields.txt", CTX, {"icecube10"}),
        (FIX / "slurm2sql" / "test-data1.csv", CTX, {"user1"}),
        (FIX / "clockwork" / "sacct_1.json", CTX, {"nobody", "nobody2"}),
        (FIX / "sacct_v0040.json", CTX, {"ivan", "judy", "mallory"}),
        (FIX / "bad_rows.txt", CTX, {"alice", "bob", "carol", "dave"}),
        (FIX / "xdmod" / "accounting-logs.log", ParseContext(pseudonym_key=KEY, fields=XDMOD_26), {"hanx", "anonuser", "xms"}),
        (extra, CTX, {"icecube10"}),
    ]
    quarantined = 0
    for path, ctx, names in cases:
        parsed = parse(path, ctx)
        quarantined += len(parsed.quarantine)
        values = []
        for row in rows_of(parsed):
            for v in row.values():
                values.extend(v if isinstance(v, list) else [v])
        texts = [v for v in values if isinstance(v, str)] + [q.raw_text for q in parsed.quarantine]
        for name in names:
            token = re.compile(rf"(?<![\w.\-]){re.escape(name)}(?![\w.\-])")
            assert not [t for t in texts if token.search(t)], (path, name)
            assert any(pseudonymise(KEY, name) in t for t in texts), (path, name)
    assert quarantined == 10 + 2 + 1


def _big_file(path: Path, n: int) -> None:
    base = datetime(2026, 3, 20)  # crosses the spring gap on 2026-03-29
    lines = [HEADER]
    for i in range(n):
        s = base + timedelta(seconds=37 * i)
        e = s + timedelta(seconds=600 + i % 3600)
        el = int((e - s).total_seconds())
        lines.append(
            f"{100000 + i}|{100000 + i}|job-{i % 97}|user{i % 50}|acct{i % 7}|gpu|normal|COMPLETED|0:0|"
            f"{s:%Y-%m-%dT%H:%M:%S}|{s:%Y-%m-%dT%H:%M:%S}|{e:%Y-%m-%dT%H:%M:%S}|{el // 3600:02d}:{el % 3600 // 60:02d}:{el % 60:02d}|"
            f"{el}|2|{8 * (1 + i % 4)}|billing=8,cpu=8,gres/gpu={i % 9},mem={1 + i % 500}G,node=2|"
            f"gpu[{i % 40 + 1:03d}-{i % 40 + 2:03d}]|{i * 11}"
        )
    path.write_text("\n".join(lines) + "\n")


def test_sixty_thousand_lines_through_the_bulk_path(tmp_path):
    """Correctness of the vectorised path at volume (its speed is measured by `make bench`)."""
    path = tmp_path / "big.txt"
    _big_file(path, 60_000)
    parsed = parse(path, CTX)
    assert_counting(parsed)
    assert (parsed.rows_read, len(parsed.quarantine)) == (60_000, 0)
    rows = parsed.tables["slurm_jobs"]
    assert rows.column("gpus").to_pylist()[:10] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 0]
    assert rows.column("nodes").to_pylist()[41] == ["gpu002", "gpu003"]


# --------------------------------------------------------------------------- every quarantine path

ROW_HEADER = "JobID|User|State|Submit|Start|End|ElapsedRaw|NNodes|NCPUS|AllocGRES|ConsumedEnergyRaw"
GOOD_ROW = dict(
    JobID="51", User="olga", State="COMPLETED", Submit="2026-03-02T09:00:00", Start="2026-03-02T09:00:00",
    End="2026-03-02T09:10:00", ElapsedRaw="600", NNodes="1", NCPUS="4", AllocGRES="gpu:1", ConsumedEnergyRaw="",
)


def one_row(tmp_path, **fields):
    row = dict(GOOD_ROW, **fields)
    line = "|".join(row[k] for k in ROW_HEADER.split("|"))
    return parse(write(tmp_path, f"{ROW_HEADER}\n{line}\n"), CTX)


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"State": "CANCELLED by"}, "State: no uid after 'by' in 'CANCELLED by'"),
        ({"State": "CANCELLED by 3000000000"}, "State uid: out of range: '3000000000'"),
        ({"NNodes": "-1"}, "NNodes: out of range: '-1'"),
        ({"NCPUS": "3000000000"}, "NCPUS: out of range: '3000000000'"),
        ({"ElapsedRaw": "ten"}, "ElapsedRaw: not an integer: 'ten'"),
        ({"ConsumedEnergyRaw": "nan"}, "ConsumedEnergyRaw: not a finite non-negative number: 'nan'"),
        ({"ConsumedEnergyRaw": "-5"}, "ConsumedEnergyRaw: not a finite non-negative number: '-5'"),
        ({"Start": "0001-01-01T00:00:00"}, "Start: time out of range '0001-01-01T00:00:00'"),
        ({"End": "9999-12-31T23:59:59-05:00"}, "End: time out of range '9999-12-31T23:59:59-05:00'"),
        ({"Submit": "99999999999999999"}, "Submit: time out of range '99999999999999999'"),
        ({"Submit": "yesterday"}, "Submit: cannot parse time 'yesterday'"),
        ({"AllocGRES": "gpu:V100:x"}, "AllocGRES: bad gpu count in 'gpu:V100:x'"),
        ({"JobID": "51."}, "JobID: not a Slurm job id: '51.'"),
        ({"JobID": "51_[3"}, "JobID: not a Slurm job id: '51_[3'"),
    ],
)
def test_each_bad_value_is_quarantined_with_field_and_value(tmp_path, fields, reason):
    parsed = one_row(tmp_path, **fields)
    assert_counting(parsed)
    assert parsed.tables["slurm_jobs"].num_rows == 0
    assert [(q.line_no, q.reason) for q in parsed.quarantine] == [(2, reason)]
    assert "olga" not in parsed.quarantine[0].raw_text
    assert pseudonymise(KEY, "olga") in parsed.quarantine[0].raw_text


@pytest.mark.parametrize(
    "gres, gpus",
    [("gpu", 1), ("gpu:V100", 1), ("gres/gpu:2", 2), ("gpu:2,gpu:a100:2", 2), ("hbm:0,mps:100", 0), ("", 0)],
)
def test_gres_spellings(tmp_path, gres, gpus):
    assert rows_of(one_row(tmp_path, AllocGRES=gres))[0]["gpus"] == gpus


def test_epoch_times_and_the_good_row(tmp_path):
    row = rows_of(one_row(tmp_path, Submit="1772438400"))[0]
    assert row["submit_at"] == utc(2026, 3, 2, 8, 0)  # SLURM_TIME_FORMAT=%s is UTC
    assert (row["start_at"], row["end_at"], row["elapsed_s"], row["gpus"]) == (
        utc(2026, 3, 2, 8, 0), utc(2026, 3, 2, 8, 10), 600, 1,
    )


@pytest.mark.parametrize(
    "job, reason",
    [
        ({"job_id": True}, "job_id: not a number: True"),
        ({"job_id": -3}, "job_id: out of range: -3"),
        ({"job_id": {"set": False, "infinite": False, "number": 0}}, "job_id: not set: {'set': False, 'infinite': False, 'number': 0}"),
        ({"job_id": 5, "time": []}, "time: expected an object, got list"),
        ({"job_id": 5, "time": {"start": -1}}, "time.start: negative epoch -1"),
        ({"job_id": 5, "time": {"end": 1e20}}, "time.end: epoch out of range 1e+20"),
        ({"job_id": 5, "time": {"elapsed": float("nan")}}, "time.elapsed: not a finite number: nan"),
        ({"job_id": 5, "state": {"current": 7}}, "state: unexpected value 7"),
        ({"job_id": 5, "tres": {"allocated": {}}}, "tres.allocated: expected a list, got dict"),
        ({"job_id": 5, "tres": {"allocated": [3]}}, "tres.allocated: entry is not an object: 3"),
        ({"job_id": 5, "nodes": "gpu[1-"}, "nodes: unbalanced '[' in host list 'gpu[1-'"),
        ({"job_id": 5, "steps": {}}, "steps: expected a list"),
        ({"job_id": 5, "array": {"job_id": 4, "task_id": 1.5}}, "array.task_id: out of range: 1.5"),
        ({"job_id": 5, "exit_code": [1]}, "exit_code: expected an object, got list"),
    ],
)
def test_each_malformed_json_job_is_quarantined(tmp_path, job, reason):
    doc = {"jobs": [dict(job, user="olga", name="olga-run")]}
    parsed = parse(write(tmp_path, json.dumps(doc), "j.json"), CTX)
    assert_counting(parsed)
    assert [(q.line_no, q.reason) for q in parsed.quarantine] == [(1, reason)]
    raw = json.loads(parsed.quarantine[0].raw_text)
    assert raw["user"] == pseudonymise(KEY, "olga")
    assert raw["name"] == "olga-run"  # a name that merely contains the user is kept


def test_malformed_json_step_is_quarantined_and_the_job_kept(tmp_path):
    step = {"step": {"id": "5.0", "name": "x"}, "nodes": {"count": 1, "range": "x[1-"}, "state": ["FAILED"]}
    doc = {"jobs": [{"job_id": 5, "user": "olga", "steps": [step]}]}
    parsed = parse(write(tmp_path, json.dumps(doc), "j.json"), CTX)
    assert [r["job_id"] for r in rows_of(parsed)] == ["5"]
    assert [(q.line_no, q.reason) for q in parsed.quarantine] == [(2, "step.nodes: unbalanced '[' in host list 'x[1-'")]


def test_displayed_elapsed_is_read_only_where_elapsed_raw_is_missing(tmp_path):
    text = "JobID|Elapsed|ElapsedRaw\n61|INVALID|120\n62|00:03:00|\n63|junk|\n"
    parsed = parse(write(tmp_path, text), CTX)
    assert [(r["job_id"], r["elapsed_s"]) for r in rows_of(parsed)] == [("61", 120), ("62", 180)]
    assert [(q.line_no, q.reason) for q in parsed.quarantine] == [(4, "Elapsed: cannot parse 'junk'")]


def test_quarantined_raw_text_keeps_the_trailing_delimiter_of_sacct_p(tmp_path):
    text = "JobID|User|NCPUS|\n71|ann|4|\n72|ann|x|\n"
    parsed = parse(write(tmp_path, text), CTX)
    assert [r["ncpus"] for r in rows_of(parsed)] == [4]
    assert parsed.quarantine[0].raw_text == f"72|{pseudonymise(KEY, 'ann')}|x|"


def test_gres_is_no_fallback_when_the_file_has_alloc_tres(tmp_path):
    text = "JobID|State|AllocTRES|ReqGRES\n81|PENDING||gpu:2\n82|COMPLETED|cpu=4,node=1|gpu:2\n"
    parsed = parse(write(tmp_path, text), CTX)
    assert [(r["job_id"], r["gpus"]) for r in rows_of(parsed)] == [("81", 0), ("82", 0)]


def test_bulk_columns_and_job_ids_equal_the_line_by_line_reader(tmp_path, monkeypatch):
    """The Arrow split and the one-regex job ids of well-shaped files give what the line-by-line
    path gives; a JobName holding the delimiter sends the file through the line-by-line path."""
    from datetime import date

    from kirz.ingest import slurm as reader
    from kirz.synth import synthesize

    synthesize(tmp_path / "synth", nodes=12, days=3, start=date(2026, 10, 24), interval_s=60, seed=5)
    ctx = ParseContext(pseudonym_key=b"k")
    files = sorted((tmp_path / "synth" / "slurm").glob("*.txt"))
    assert files
    bulk = {f: reader.parse(f, ctx) for f in files}
    monkeypatch.setattr(reader, "_bulk_columns", lambda *a: None)
    monkeypatch.setattr(reader, "_job_id_columns", lambda *a: None)
    for f in files:
        line_by_line = reader.parse(f, ctx)
        assert bulk[f].tables["slurm_jobs"].equals(line_by_line.tables["slurm_jobs"]), f
        assert bulk[f].quarantine == line_by_line.quarantine
        assert bulk[f].rows_read == line_by_line.rows_read
    body = ["JobID|JobName|User|State|Start|End|ElapsedRaw", "101|a|b|alice|COMPLETED|2026-10-25T02:10:00|"
            "2026-10-25T02:20:00|600", "102_[3-5]|x|bob|PENDING|Unknown|Unknown|0"]
    monkeypatch.undo()
    assert reader._bulk_columns(body[1:], "|", 7, False) is None  # 8 fields on the first line
    assert reader._bulk_columns(body[2:], "|", 7, False) is not None
