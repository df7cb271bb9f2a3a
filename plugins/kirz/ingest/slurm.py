"""Slurm accounting: ``sacct --parsable2`` text and ``sacct --json`` -> ``raw.slurm_jobs`` rows.

One row per sacct record, allocations and steps alike (steps are flagged with ``is_step``;
the accounting rules decide later what counts). The parser keeps what sacct delivered
(``job_id``, ``state_raw``, ``alloc_tres``, ``node_list``) beside the decoded values, so a
decoding rule can be revisited without the file.

Text files: the delimiter is ``|`` (``-P``), TAB or ``;|;``; a header names the columns
(matched case-insensitively, unknown ones ignored); a headerless file (Open XDMoD's helper)
is read with ``ParseContext.fields``. Local times without offset are converted to UTC in
``ParseContext.tz``; Start/End inside the repeated autumn hour are resolved by ElapsedRaw.
GPUs come from ``gres/gpu`` in AllocTRES (0 when absent); only files without an AllocTRES
column fall back to AllocGRES, then ReqGRES. Columns are decoded in bulk, each distinct value
once, because a month of sacct output runs to hundreds of thousands of lines.

JSON files: the old schema (``dbv0.0.37``: plain integers, ``state.current`` a string) and
the new one (Slurm >= 23.02: ``{set, infinite, number}`` objects, ``state.current`` a list).
Epoch times are UTC.

User names are replaced by their keyed pseudonym before anything is stored, including the
raw text of quarantined records: every user name seen in the file is scrubbed from it.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kirz.hostlist import HostListError, expand
from kirz.ingest.base import FormatError, ParseContext, Parsed, Quarantined, pseudonymise
from kirz.ingest.csv_readers import arrow_column, arrow_scalar, numpy_bools, numpy_column, numpy_values
from kirz.ingest.source import Format, RawTable, Source, arrow_type, detects_as
from kirz.localtime import pick_by_elapsed, to_utc, utc_candidates

TABLE = "slurm_jobs"
FORMATS = ("sacct_parsable", "sacct_json")
UTC = timezone.utc

SLURM_JOBS = RawTable(
    TABLE,
    (
        ("cluster", "varchar"),
        ("job_id", "varchar"),          # as sacct prints it: 123, 123_4, 123_[5-9], 123+0, 123.batch
        ("job_id_raw", "varchar"),
        ("allocation_id", "varchar"),   # job_id without the step suffix
        ("step_id", "varchar"),         # batch, extern, 0, ... ; null for the allocation itself
        ("is_step", "boolean"),
        ("array_job_id", "varchar"),
        ("array_task_id", "varchar"),   # 4, or [5-9] for a pending range
        ("het_job_id", "varchar"),
        ("het_job_offset", "integer"),
        ("job_name", "varchar"),
        ("user_pseudonym", "varchar"),  # keyed HMAC; the user name is never stored
        ("account", "varchar"),
        ("partition", "varchar"),
        ("qos", "varchar"),
        ("state", "varchar"),           # first word, upper case: COMPLETED, CANCELLED, ...
        ("state_raw", "varchar"),       # as delivered, e.g. 'CANCELLED by 1234'
        ("cancelled_by_uid", "integer"),
        ("exit_code", "varchar"),
        ("submit_at", "timestamptz"),
        ("start_at", "timestamptz"),
        ("end_at", "timestamptz"),
        ("elapsed_s", "bigint"),
        ("nnodes", "integer"),
        ("ncpus", "integer"),
        ("gpus", "integer"),            # gres/gpu of AllocTRES, 0 when absent
        ("mem_mb", "double"),
        ("alloc_tres", "varchar"),
        ("node_list", "varchar"),       # compressed, as delivered
        ("nodes", "varchar[]"),         # expanded
        ("consumed_energy_j", "double"),
        # gres/gpuutil of TRESUsageInAve (sacct --json: tres.requested.average): GPU utilisation
        # in percent as Slurm's GPU plugin measured it, averaged over the record's tasks; set on
        # steps where Slurm gathers it (AccountingStorageTRES with gres/gpuutil), null otherwise
        ("gpu_util_ave_pct", "double"),
    ),
    period_time="coalesce(start_at, submit_at, end_at, received_at)",
)
SCHEMA = SLURM_JOBS.arrow_schema
_COLS = [f.name for f in SCHEMA]

INT32_MAX = 2**31 - 1
# sacct's "no value" markers for 64-bit counters (NO_VAL64, INFINITE64) and anything above
_U64_MARKER = 2**63

# Header names sacct prints (lower case) -> the field this parser reads; first alias present wins.
_ALIASES = {
    "jobid": ("jobid",),
    "jobidraw": ("jobidraw",),
    "jobname": ("jobname",),
    "user": ("user",),
    "account": ("account",),
    "partition": ("partition",),
    "qos": ("qos",),
    "state": ("state",),
    "exitcode": ("exitcode",),
    "submit": ("submit",),
    "start": ("start",),
    "end": ("end",),
    "elapsed": ("elapsed",),
    "elapsedraw": ("elapsedraw",),
    "nnodes": ("nnodes", "allocnodes"),
    "ncpus": ("ncpus", "alloccpus"),
    "alloctres": ("alloctres",),
    "allocgres": ("allocgres",),
    "reqgres": ("reqgres",),
    "nodelist": ("nodelist",),
    "consumedenergyraw": ("consumedenergyraw",),
    "cluster": ("cluster",),
    "tresusageinave": ("tresusageinave",),
}

_JOBID = re.compile(r"^(\d+)(?:_(\d+|\[[^\]]+\]))?(?:\+(\d+))?$")
_ELAPSED = re.compile(r"^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)(?:\.\d+)?$")
_NAME_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MEM_UNITS = {"K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0**2, "P": 1024.0**3}
_NULL_TIMES = {"", "unknown", "none", "n/a"}


# the empty string as an Arrow scalar (a Python "" in a compute call would be converted by
# pyarrow, which imports pandas for that: see kirz.ingest.csv_readers.arrow_column)
_EMPTY = arrow_scalar("", pa.string())


class _Bad(ValueError):
    """A value of one record cannot be read: the record goes to quarantine with this reason."""


# --------------------------------------------------------------------------- detection


def _split_header_line(line: str) -> tuple[str, list[str]] | None:
    """(delimiter, names) when ``line`` is a sacct header line, else None."""
    if line.strip().lower() in ("jobid", "jobidraw"):
        return "|", [line.strip()]  # a one-column header has no delimiter to see
    for delim in (";|;", "|", "\t"):
        if delim in line:
            names = line.split(delim)
            if names and names[-1] == "":
                names = names[:-1]  # `sacct -p` ends every line with the delimiter
            if names and all(_NAME_FIELD.match(n.strip()) for n in names) and (
                {n.strip().lower() for n in names} & {"jobid", "jobidraw"}
            ):
                return delim, names
            return None
    return None


def _data_delimiter(line: str) -> str | None:
    """Delimiter of a headerless data line whose first field is a Slurm job id, else None."""
    for delim in (";|;", "|", "\t"):
        if delim in line:
            first = line.split(delim, 1)[0]
            if _parse_jobid(first) is not None:
                return delim
            return None
    return None


def _first_line(text: str) -> str | None:
    for line in text.split("\n"):
        if line.strip():
            return line.rstrip("\r")
    return None


def detect(head: bytes) -> str | None:
    """'sacct_parsable' (``-P`` text, with or without header), 'sacct_json', or None."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "sacct_json" if re.search(r'"jobs"\s*:\s*\[', text) else None
    line = _first_line(text)
    if line is None:
        return None
    if _split_header_line(line) is not None:
        return "sacct_parsable"
    delim = _data_delimiter(line)
    if delim is not None and len(line.split(delim)) >= 3:
        return "sacct_parsable"
    return None


# --------------------------------------------------------------------------- value readers


def _parse_jobid(text: str) -> tuple[str, str | None, str | None, str | None, str | None, int | None] | None:
    """(allocation_id, step_id, array_job_id, array_task_id, het_job_id, het_offset) or None."""
    alloc, dot, step = text.partition(".")
    m = _JOBID.match(alloc)
    if not m or (dot and not step):
        return None
    base, task, het = m.group(1), m.group(2), m.group(3)
    return (
        alloc,
        step if dot else None,
        base if task is not None else None,
        task,
        base if het is not None else None,
        int(het) if het is not None else None,
    )


def _int(value: str | None, field: str, hi: int | None = None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    if value == "":
        return None
    try:
        n = int(value)
    except ValueError:
        raise _Bad(f"{field}: not an integer: {value!r}") from None
    if n < 0 or (hi is not None and n > hi):
        raise _Bad(f"{field}: out of range: {value!r}")
    return n


def _elapsed(value: str | None) -> int | None:
    """Seconds from sacct's ``[D-][HH:]MM:SS`` display."""
    if value is None:
        return None
    value = value.strip()
    if value == "":
        return None
    m = _ELAPSED.match(value)
    if not m:
        raise _Bad(f"Elapsed: cannot parse {value!r}")
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def _time(value: str, field: str) -> datetime | None:
    """A sacct time: None, a naive local datetime, or an aware UTC one (offset or epoch given)."""
    v = value.strip()
    if v.lower() in _NULL_TIMES:
        out = None
    elif v.isdigit() and len(v) >= 9:
        try:
            out = datetime.fromtimestamp(int(v), UTC)  # SLURM_TIME_FORMAT=%s
        except (OverflowError, OSError, ValueError):
            raise _Bad(f"{field}: time out of range {value!r}") from None
    else:
        try:
            out = datetime.fromisoformat(v)
            if out.tzinfo is not None:
                out = out.astimezone(UTC)
        except ValueError:
            raise _Bad(f"{field}: cannot parse time {value!r}") from None
        except OverflowError:
            raise _Bad(f"{field}: time out of range {value!r}") from None
    return out


def _mem_mb(value: str) -> float:
    v = value.strip()
    unit = v[-1:].upper()
    if unit in _MEM_UNITS:
        num, factor = v[:-1], _MEM_UNITS[unit]
    else:
        num, factor = v, 1.0  # TRES memory without unit is in MB
    try:
        return float(num) * factor
    except ValueError:
        raise _Bad(f"AllocTRES: bad mem value {value!r}") from None


def _tres(value: str) -> tuple[int | None, float | None]:
    """(gpus, mem_mb) of a TRES string; gpus None when it names no GPU at all.

    The untyped ``gres/gpu`` is the total; only when it is missing are typed entries
    (``gres/gpu:h100``) summed. ``gres/gpumem`` and ``gres/gpuutil`` are not GPUs.
    """
    untyped = None
    typed = None
    mem = None
    for item in value.split(","):
        name, eq, count = item.strip().partition("=")
        if not eq:
            continue
        key = name.strip().lower()
        if key == "gres/gpu" or key.startswith("gres/gpu:"):
            try:
                n = int(count.strip())
            except ValueError:
                raise _Bad(f"AllocTRES: bad {name.strip()} count {count!r}") from None
            if key == "gres/gpu":
                untyped = n
            else:
                typed = (typed or 0) + n
        elif key == "mem":
            mem = _mem_mb(count)
    return (untyped if untyped is not None else typed), mem


def _gpu_util(value: str) -> float | None:
    """gres/gpuutil of a TRESUsageInAve string (``cpu=00:56:24,...,gres/gpuutil=87,...``), in
    percent; None when it names none or holds Slurm's "no value" marker."""
    for item in value.split(","):
        name, eq, number = item.strip().partition("=")
        if eq and name.strip().lower() == "gres/gpuutil":
            try:
                pct = float(number.strip())
            except ValueError:
                raise _Bad(f"TRESUsageInAve: bad gres/gpuutil value {number!r}") from None
            if not math.isfinite(pct) or pct < 0:
                raise _Bad(f"TRESUsageInAve: bad gres/gpuutil value {number!r}")
            return None if pct >= _U64_MARKER else pct
    return None


def _split_outside_parens(text: str) -> list[str]:
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _gres(value: str, field: str) -> int | None:
    """GPUs in an old GRES string (``gpu:2``, ``gpu:V100:32``, ``gpu:P100:2(IDX:1,3)``)."""
    untyped = None
    typed = None
    for item in _split_outside_parens(value):
        item = item.strip()
        if item.lower().startswith("gres/"):
            item = item[5:]
        item = item.split("(", 1)[0]
        parts = item.split(":")
        if parts[0].lower() != "gpu":
            continue
        if len(parts) == 1:
            untyped = (untyped or 0) + 1  # `--gres=gpu` means one
            continue
        try:
            n = int(parts[-1])
        except ValueError:
            if len(parts) == 2:  # `gpu:V100` without a count: one typed GPU
                typed = (typed or 0) + 1
                continue
            raise _Bad(f"{field}: bad gpu count in {value!r}") from None
        if len(parts) == 2:
            untyped = (untyped or 0) + n
        else:
            typed = (typed or 0) + n
    return untyped if untyped is not None else typed


def _energy(value: str | None) -> float | None:
    if value is None:
        return None
    v = value.strip()
    if v == "":
        return None
    try:
        e = float(v)
    except ValueError:
        raise _Bad(f"ConsumedEnergyRaw: not a number: {value!r}") from None
    if e < 0 or not math.isfinite(e):
        raise _Bad(f"ConsumedEnergyRaw: not a finite non-negative number: {value!r}")
    return None if e >= _U64_MARKER else e


def _state(raw: str | None) -> tuple[str | None, int | None]:
    if raw is None:
        return None, None
    words = raw.split()
    if not words:
        return None, None
    uid = None
    if len(words) >= 2 and words[1].lower() == "by":
        if len(words) < 3:
            raise _Bad(f"State: no uid after 'by' in {raw!r}")
        uid = _int(words[2], "State uid", INT32_MAX)
    return words[0].upper(), uid


# --------------------------------------------------------------------------- scrubbing


class _Scrubber:
    """Replaces every user name seen in the file by its pseudonym in quarantined raw text."""

    def __init__(self, key: bytes):
        self.key = key
        self.users: set[str] = set()
        self._rx = None

    def add(self, user: str | None) -> None:
        if user and user not in self.users:
            self.users.add(user)
            self._rx = None

    def _regex(self):
        if self._rx is None and self.users:
            alts = "|".join(re.escape(u) for u in sorted(self.users, key=len, reverse=True))
            self._rx = re.compile(rf"(?<![\w.\-])(?:{alts})(?![\w.\-])")
        return self._rx

    def text(self, s: str) -> str:
        rx = self._regex()
        if rx is None or not s:
            return s
        return rx.sub(lambda m: pseudonymise(self.key, m.group(0)), s)

    def fields(self, fields: list[str], delim: str) -> str:
        return delim.join(self.text(f) for f in fields)

    def obj(self, o):
        if isinstance(o, str):
            return self.text(o)
        if isinstance(o, list):
            return [self.obj(x) for x in o]
        if isinstance(o, dict):
            return {k: self.obj(v) for k, v in o.items()}
        return o


# --------------------------------------------------------------------------- table building


def _table(rows: list[tuple]) -> pa.Table:
    return _table_from_columns(list(zip(*rows)) if rows else [()] * len(_COLS))


def _table_from_columns(columns: list) -> pa.Table:
    """Columns in ``SCHEMA`` order, each a Python sequence or an Arrow array."""
    return pa.table(
        [
            col.cast(f.type) if isinstance(col, pa.Array) else arrow_column(col, f.type)
            for col, f in zip(columns, SCHEMA)
        ],
        schema=SCHEMA,
    )


def _check_key(ctx: ParseContext) -> None:
    if not ctx.pseudonym_key:
        raise ValueError("Slurm parsing needs ParseContext.pseudonym_key: user names are pseudonymised before storage")


def parse(path: Path, ctx: ParseContext) -> Parsed:
    """Parse one sacct file (text or JSON) into ``{'slurm_jobs': table}`` plus quarantine."""
    path = Path(path)
    _check_key(ctx)
    data = path.read_bytes()
    if not data.strip():
        raise FormatError(path, "empty file: no header and no records")
    fmt = ctx.fmt or detect(data[: 64 * 1024])
    if fmt == "sacct_json":
        return _parse_json(path, data, ctx)
    if fmt == "sacct_parsable":
        return _parse_text(path, data, ctx)
    if fmt is None:
        raise FormatError(path, "neither sacct --parsable2 text nor sacct --json output")
    raise FormatError(path, f"unknown Slurm format {fmt!r}; expected one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------------- text


def _parse_text(path: Path, data: bytes, ctx: ParseContext) -> Parsed:
    text = data.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    # split on \n only (job names may hold \x1c, \x85, \u2028 that splitlines() would cut)
    lines = text.replace("\r\n", "\n").split("\n")
    warnings: list[str] = []
    if data.count(b"\xef\xbf\xbd") != text.count("\ufffd"):
        warnings.append("invalid UTF-8 bytes replaced by U+FFFD")

    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise FormatError(path, "empty file: no header and no records")
    first_line = lines[first]
    head = _split_header_line(first_line)
    if head is not None:
        delim, names = head
        trailing = first_line.endswith(delim)
        body_start = first + 1
    else:
        if not ctx.fields:
            raise FormatError(
                path,
                "sacct text without a header line: give the field list (ParseContext.fields, "
                "e.g. --fields jobid,jobidraw,cluster,...) in the order of sacct --format",
                line_no=first + 1,
            )
        delim = _data_delimiter(first_line) or "|"
        names = list(ctx.fields)
        trailing = first_line.endswith(delim) and len(first_line.split(delim)) == len(names) + 1
        body_start = first
    ix = _column_index(names, path, first + 1)
    nh = len(names)
    i_name = ix.get("jobname", -1)
    i_user = ix.get("user", -1)

    scrub = _Scrubber(ctx.pseudonym_key)
    line_nos: list[int] = []
    records: list[list[str]] = []
    bad: list[tuple[int, str]] = []  # (line number, reason)
    rows_read = 0
    body = lines[body_start:]
    while body and (not body[-1] or body[-1].isspace()):
        body.pop()
    # the common case, split by Arrow: every line has the header's shape
    columns = _bulk_columns(body, delim, nh, trailing)
    parts = [] if columns is not None else [ln.split(delim) for ln in body]
    if trailing:
        for fields in parts:
            if len(fields) > 1 and fields[-1] == "":
                fields.pop()
    if columns is not None:
        rows_read = len(body)
        line_nos = list(range(body_start + 1, body_start + 1 + rows_read))
    elif nh > 1 and all(len(fields) == nh for fields in parts):
        # every line has the header's shape (blank lines would have one field)
        rows_read = len(parts)
        line_nos = list(range(body_start + 1, body_start + 1 + rows_read))
        records = parts
    else:
        for n, fields in enumerate(parts, start=body_start + 1):
            if len(fields) == 1 and (not fields[0] or fields[0].isspace()):
                continue
            rows_read += 1
            nf = len(fields)
            if nf != nh:
                if nf < nh:
                    if 0 <= i_user < nf:
                        scrub.add(fields[i_user].strip())
                    bad.append((n, f"{nf} fields, header has {nh}"))
                    continue
                if i_name < 0:
                    if i_user >= 0:
                        scrub.add(fields[i_user].strip())
                    bad.append((n, f"{nf} fields, header has {nh} and no JobName to absorb a delimiter"))
                    continue
                extra = nf - nh
                fields = fields[:i_name] + [delim.join(fields[i_name : i_name + extra + 1])] + fields[i_name + extra + 1 :]
            line_nos.append(n)
            records.append(fields)

    if columns is None:
        columns = [tuple(c) for c in zip(*records)] if records else []
    table, row_errors = _text_columns(line_nos, columns, ix, ctx)
    for i, reason in sorted(row_errors.items()):
        bad.append((line_nos[i], reason))
    if bad and i_user >= 0 and line_nos:
        for user in _pylist(columns[i_user]):
            scrub.add(user.strip())
    bad.sort(key=lambda b: b[0])
    # raw text is the line as delivered (not the re-split fields), scrubbed field by field
    quarantine = [Quarantined(n, scrub.fields(lines[n - 1].split(delim), delim), reason) for n, reason in bad]
    return Parsed(
        format="sacct_parsable",
        tables={TABLE: table},
        quarantine=quarantine,
        rows_read=rows_read,
        warnings=warnings,
    )


def _bulk_columns(body: list[str], delim: str, nh: int, trailing: bool) -> list[pa.Array] | None:
    """The fields of every line as one Arrow string column per header field, split by Arrow's
    CSV reader (no quoting: sacct prints none), or None when any line has another number of
    fields (a ``|`` in a JobName, a short or blank line: the line-by-line path decides) or
    the delimiter is not a single character."""
    if nh < 2 or len(delim) != 1 or not body:
        return None
    import pyarrow.csv as pacsv

    width = nh + 1 if trailing else nh
    names = [f"f{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer("\n".join(body).encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 26),
            parse_options=pacsv.ParseOptions(delimiter=delim, quote_char=False, double_quote=False,
                                             escape_char=False, newlines_in_values=False,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 null_values=[], strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, UnicodeEncodeError):
        return None
    if table.num_rows != len(body):
        return None
    if trailing:
        if table.column(nh).null_count or pc.any(pc.not_equal(table.column(nh), _EMPTY)).as_py():
            return None
        table = table.select(names[:nh])
    return [table.column(i).combine_chunks() for i in range(nh)]


# _JOBID and the step suffix in RE2 (ASCII digits): a job id it does not match is read by
# _parse_jobid, which also takes what only Python's Unicode-aware \d accepts
_JOBID_BULK = (r"^(?P<alloc>(?P<base>[0-9]+)(?:_(?P<task>[0-9]+|\[[^\]]+\]))?(?:\+(?P<het>[0-9]+))?)"
               r"(?:\.(?P<step>.+))?$")


def _job_id_columns(job_id: list[str]) -> list[pa.Array] | None:
    """(allocation_id, step_id, array_job_id, array_task_id, het_job_id, het_offset) of every
    job id by one regular expression over the column, or None when any id needs
    :func:`_parse_jobid` (or is not a job id at all: quarantined there)."""
    if not job_id:
        return None
    m = pc.extract_regex(arrow_column(job_id, pa.string()), pattern=_JOBID_BULK)
    if m.null_count:
        return None
    null = arrow_scalar(None, pa.string())

    def part(name: str) -> pa.Array:
        return m.field(name)

    def present(name: str) -> pa.Array:
        return pc.not_equal(part(name), _EMPTY)

    het = pc.if_else(present("het"), part("het"), null)
    return [
        part("alloc"),
        pc.if_else(present("step"), part("step"), null),
        pc.if_else(present("task"), part("base"), null),
        pc.if_else(present("task"), part("task"), null),
        pc.if_else(present("het"), part("base"), null),
        het.cast(pa.int64()),
    ]


def _pylist(col) -> list:
    """A raw column (Arrow strings or a tuple of str) as a Python list."""
    return col.to_pylist() if isinstance(col, pa.Array) else list(col)


def _column_index(names: list[str], path: Path, header_line: int) -> dict[str, int]:
    lower = [n.strip().lower() for n in names]
    ix: dict[str, int] = {}
    for field, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in lower:
                ix[field] = lower.index(alias)
                break
    if "jobid" not in ix:
        raise FormatError(path, f"no JobID column among {', '.join(names)}", line_no=header_line)
    return ix


_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_HOUR_END = timedelta(minutes=59, seconds=59, microseconds=999999)


def _us(dt: datetime | None) -> int | None:
    """Epoch microseconds of an aware datetime (what the Arrow timestamp column holds)."""
    if dt is None:
        return None
    return (dt - _EPOCH_UTC) // _US


class _Local:
    """A naive local time inside an hour that touches a DST transition: resolved per row."""

    __slots__ = ("naive",)

    def __init__(self, naive: datetime):
        self.naive = naive


class _Clock:
    """Naive local times of one zone -> UTC epoch microseconds.

    Most hours have one fixed offset: those are cached per hour and applied directly, which
    gives the same instant as :mod:`kirz.localtime`. A time in an hour that touches a
    transition (repeated or skipped) comes back as :class:`_Local`, to be resolved with
    ``pick_by_elapsed`` (Start/End) or ``to_utc`` (Submit).
    """

    def __init__(self, tz):
        self.tz = tz
        self._hours: dict[tuple[int, int, int, int], timedelta | None] = {}

    def offset(self, naive: datetime) -> timedelta | None:
        """The hour's fixed offset, or None in a transition hour; OverflowError near year 1 or 9999."""
        key = (naive.year, naive.month, naive.day, naive.hour)
        try:
            return self._hours[key]
        except KeyError:
            pass
        top = naive.replace(minute=0, second=0, microsecond=0)
        a, b = utc_candidates(top, self.tz), utc_candidates(top + _HOUR_END, self.tz)
        off = None
        if len(a) == 1 and len(b) == 1:
            oa = top - a[0].replace(tzinfo=None)
            if oa == top + _HOUR_END - b[0].replace(tzinfo=None):
                off = oa
        self._hours[key] = off
        return off

    def reader(self, field: str):
        """Function: one sacct time string -> None, epoch microseconds, or :class:`_Local`."""

        def read(value: str):
            t = _time(value, field)
            if t is None:
                return None
            if t.tzinfo is not None:
                return _us(t)
            try:
                off = self.offset(t)
            except OverflowError:
                raise _Bad(f"{field}: time out of range {value!r}") from None
            if off is None:
                return _Local(t)
            return (t - off - _EPOCH) // _US

        return read


def _decode(col, fn, errors: dict[int, str]) -> list:
    """``fn`` applied to each distinct value of a column; rows whose value fails get its reason."""
    results = {}
    failed = {}
    for v in set(col):
        try:
            results[v] = fn(v)
        except _Bad as exc:
            results[v] = None
            failed[v] = str(exc)
    out = list(map(results.__getitem__, col))
    if failed:
        for i, v in enumerate(col):
            if v in failed and i not in errors:
                errors[i] = failed[v]
    return out


def _strings(values, strip: bool = False) -> pa.Array:
    """A string column with empty values as null."""
    arr = values if isinstance(values, pa.Array) else arrow_column(values, pa.string())
    if strip:
        arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, _EMPTY), arrow_scalar(None, pa.string()), arr)


def _int_column(values, label: str, hi: int | None, errors: dict[int, str]) -> pa.Array:
    """Integers, cast in one go; any odd value sends the column through the per-value path."""
    try:
        ints = _strings(values).cast(pa.int64())
        lo_hi = pc.min_max(ints)
        lo, top = lo_hi["min"].as_py(), lo_hi["max"].as_py()
        if lo is None or (lo >= 0 and (hi is None or top <= hi)):
            return ints
    except pa.ArrowInvalid:
        pass
    return arrow_column(_decode(_pylist(values), lambda v: _int(v, label, hi), errors), pa.int64())


def _energy_column(values, errors: dict[int, str]) -> pa.Array:
    try:
        nums = _strings(values).cast(pa.float64())
        finite = pc.is_finite(nums)
        if pc.all(pc.or_kleene(finite, pc.is_null(nums))).as_py() and (pc.min(nums).as_py() or 0) >= 0:
            return pc.if_else(pc.greater_equal(nums, arrow_scalar(float(_U64_MARKER), pa.float64())),
                              arrow_scalar(None, pa.float64()), nums)
    except pa.ArrowInvalid:
        pass
    return arrow_column(_decode(_pylist(values), _energy, errors), pa.float64())


class _Times:
    """One time column: epoch microseconds, validity, and the naive readings still to resolve."""

    def __init__(self, n: int):
        self.us = np.zeros(n, dtype=np.int64)
        self.valid = np.zeros(n, dtype=bool)
        self.local: dict[int, datetime] = {}  # rows in a DST transition hour

    def get(self, i: int):
        if i in self.local:
            return _Local(self.local[i])
        return int(self.us[i]) if self.valid[i] else None

    def set(self, i: int, us: int | None) -> None:
        self.local.pop(i, None)
        self.valid[i] = us is not None
        self.us[i] = us or 0

    def array(self) -> pa.Array:
        return numpy_column(self.us, pa.int64(), valid=self.valid).cast(arrow_type("timestamptz"))


def _time_column(values, field: str, clock: _Clock, errors: dict[int, str]) -> _Times:
    """Local ``YYYY-MM-DDTHH:MM:SS`` strings parsed in bulk, then shifted by their hour's offset.

    Whatever the bulk parser does not take (empty, ``Unknown``, explicit offsets, epoch, junk)
    goes through :func:`_time` one distinct value at a time.
    """
    n = len(values)
    out = _Times(n)
    arr = values if isinstance(values, pa.Array) else arrow_column(values, pa.string())
    naive = pc.strptime(arr, format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
    ok = numpy_bools(naive.is_valid())
    secs = numpy_values(pc.fill_null(naive.cast(pa.int64()), arrow_scalar(0, pa.int64())))
    idx = np.nonzero(ok)[0]
    if len(idx):
        hours, inverse = np.unique(secs[idx] // 3600, return_inverse=True)
        offsets = np.zeros(len(hours), dtype=np.int64)
        transition = np.zeros(len(hours), dtype=bool)
        out_of_range = np.zeros(len(hours), dtype=bool)
        for k, h in enumerate(hours.tolist()):
            try:
                off = clock.offset(_EPOCH + timedelta(hours=h))
            except OverflowError:
                out_of_range[k] = True
                continue
            if off is None:
                transition[k] = True
            else:
                offsets[k] = off // timedelta(seconds=1)
        out.us[idx] = (secs[idx] - offsets[inverse]) * 1_000_000
        out.valid[idx] = True
        for i in idx[transition[inverse]].tolist():
            out.local[i] = _EPOCH + timedelta(seconds=int(secs[i]))
        for i in idx[out_of_range[inverse]].tolist():
            out.valid[i] = False
            errors.setdefault(i, f"{field}: time out of range {_pylist(values)[i]!r}")
    read = clock.reader(field)
    cache: dict[str, object] = {}
    if isinstance(values, pa.Array) and not ok.all():
        values = values.to_pylist()
    for i in np.nonzero(~ok)[0].tolist():
        v = values[i]
        try:
            r = cache[v]
        except KeyError:
            try:
                r = read(v)
            except _Bad as exc:
                r = exc
            cache[v] = r
        if r is None:
            continue
        if isinstance(r, _Bad):
            errors.setdefault(i, str(r))
        elif r.__class__ is _Local:
            out.local[i] = r.naive
            out.valid[i] = True
        else:
            out.us[i] = r
            out.valid[i] = True
    return out


def _text_columns(line_nos: list[int], raw_cols: list, ix: dict[str, int], ctx: ParseContext):
    """Decode the fields of all well-shaped lines column by column (distinct values once).

    ``raw_cols``: one column per header field, Arrow strings or tuples of str."""
    n = len(line_nos)
    errors: dict[int, str] = {}
    blank = ("",) * n
    as_list: dict[str, list] = {}

    def col(name: str):
        i = ix.get(name)
        return raw_cols[i] if i is not None and n else blank

    def values(name: str) -> list:
        if name not in as_list:
            as_list[name] = _pylist(col(name))
        return as_list[name]

    job_id = [v.strip() for v in values("jobid")]

    def read_id(v: str):
        if v.isdigit():
            return (v, None, None, None, None, None)
        ids = _parse_jobid(v)
        if ids is None:
            raise _Bad(f"JobID: not a Slurm job id: {v!r}")
        return ids

    bulk_ids = _job_id_columns(job_id)
    if bulk_ids is not None:
        alloc, step, arr_job, arr_task, het_job, het_off = bulk_ids
    else:
        ids = _decode(job_id, read_id, errors)
        ids = [t if t is not None else (None,) * 6 for t in ids]
        alloc, step, arr_job, arr_task, het_job, het_off = (list(c) for c in zip(*ids)) if n else ([],) * 6

    state_raw = col("state")
    states = _decode(values("state"), lambda v: _state(v) if v else (None, None), errors)
    states = [t if t is not None else (None, None) for t in states]
    state, cancelled_by = (list(c) for c in zip(*states)) if n else ([], [])

    elapsed = _int_column(col("elapsedraw"), "ElapsedRaw", None, errors).to_pylist()
    missing = [i for i, e in enumerate(elapsed) if e is None]
    if "elapsed" in ix and missing:
        # the displayed Elapsed only where ElapsedRaw is absent or empty
        shown_col = values("elapsed")
        shown_errors: dict[int, str] = {}
        shown = _decode([shown_col[i] for i in missing], _elapsed, shown_errors)
        for k, i in enumerate(missing):
            elapsed[i] = shown[k]
        for k, reason in shown_errors.items():
            errors.setdefault(missing[k], reason)

    clock = _Clock(ctx.tz)
    submit = _time_column(col("submit"), "Submit", clock, errors)
    start = _time_column(col("start"), "Start", clock, errors)
    end = _time_column(col("end"), "End", clock, errors)
    for i, naive in list(submit.local.items()):
        submit.set(i, _us(to_utc(naive, ctx.tz)))
    for i in sorted(set(start.local) | set(end.local)):
        s, e = _resolve_pair(start.get(i), end.get(i), elapsed[i], ctx.tz)
        start.set(i, s)
        end.set(i, e)

    tres = col("alloctres")
    tres_vals = _decode(values("alloctres"), lambda v: _tres(v) if v else None, errors)
    # per distinct AllocTRES: GPUs (0 when it names none), memory; None when AllocTRES is empty
    gpu_of = {t: ((t[0] or 0) if t is not None else None) for t in set(tres_vals)}
    gpus = list(map(gpu_of.__getitem__, tres_vals))
    mem = [t[1] if t is not None else None for t in tres_vals]
    # old layouts without AllocTRES: AllocGRES, else ReqGRES (a file with AllocTRES keeps 0)
    for name, label in (("allocgres", "AllocGRES"), ("reqgres", "ReqGRES")):
        if "alloctres" not in ix and name in ix and None in gpus:
            fallback = _decode(values(name), lambda v, label=label: _gres(v, label) if v else None, errors)
            gpus = [g if g is not None else f for g, f in zip(gpus, fallback)]
    gpus = [g if g is not None else 0 for g in gpus]

    node_list = col("nodelist")
    if "nodelist" in ix:

        def read_nodes(v):
            try:
                return expand(v) if v else []
            except HostListError as exc:
                raise _Bad(f"NodeList: {exc}") from None

        nodes = _decode(values("nodelist"), read_nodes, errors)
    else:
        nodes = [None] * n

    key = ctx.pseudonym_key
    users = [v.strip() for v in values("user")]
    pseudonyms = _decode(users, lambda u: pseudonymise(key, u) if u else None, errors)

    cluster = _strings(col("cluster"), strip=True).fill_null(arrow_scalar(ctx.cluster, pa.string()))
    gpu_util = _decode(values("tresusageinave"), lambda v: _gpu_util(v) if v.strip() else None, errors)

    columns = [
        arrow_column(line_nos, pa.int64()),
        cluster,
        job_id,
        _strings(col("jobidraw"), strip=True),
        alloc,
        step,
        (step if isinstance(step, pa.Array) else arrow_column(step, pa.string())).is_valid(),
        arr_job,
        arr_task,
        het_job,
        het_off,
        _strings(col("jobname")),
        pseudonyms,
        _strings(col("account")),
        _strings(col("partition")),
        _strings(col("qos")),
        state,
        _strings(state_raw),
        cancelled_by,
        _strings(col("exitcode")),
        submit.array(),
        start.array(),
        end.array(),
        elapsed,
        _int_column(col("nnodes"), "NNodes", INT32_MAX, errors),
        _int_column(col("ncpus"), "NCPUS", INT32_MAX, errors),
        gpus,
        mem,
        _strings(tres),
        _strings(node_list),
        nodes,
        _energy_column(col("consumedenergyraw"), errors),
        arrow_column(gpu_util, pa.float64()),
    ]
    table = _table_from_columns(columns)
    if errors:
        table = table.filter(arrow_column([i not in errors for i in range(n)], pa.bool_()))
    return table, errors


def _resolve_pair(s, e, elapsed: int | None, tz) -> tuple[int | None, int | None]:
    """Start/End where at least one is a :class:`_Local` in a transition hour.

    Both local (or one missing): ``pick_by_elapsed``. One side already an instant: the local
    side takes the reading that makes End - Start closest to elapsed (earliest on a tie).
    """
    if s is None or e is None or (s.__class__ is _Local and e.__class__ is _Local):
        a, b = pick_by_elapsed(
            s.naive if s is not None else None, e.naive if e is not None else None, elapsed, tz
        )
        return _us(a), _us(b)
    local = s if s.__class__ is _Local else e
    cands = [_us(c) for c in utc_candidates(local.naive, tz)] or [_us(to_utc(local.naive, tz))]
    if elapsed is None:
        pick = cands[0]
    elif local is s:
        pick = min(cands, key=lambda c: abs(e - c - elapsed * 1_000_000))
    else:
        pick = min(cands, key=lambda c: abs(c - s - elapsed * 1_000_000))
    return (pick, e) if local is s else (s, pick)


# --------------------------------------------------------------------------- JSON


def _num(v, field: str) -> int | float | None:
    """A number as sacct --json writes it: plain, or ``{set, infinite, number}`` (unset/infinite -> None)."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise _Bad(f"{field}: not a number: {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _Bad(f"{field}: not a finite number: {v!r}")
        return v
    if isinstance(v, dict) and "number" in v:
        if v.get("set") is False or v.get("infinite") is True:
            return None
        return _num(v["number"], field)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v)
    raise _Bad(f"{field}: not a number: {v!r}")


def _jint(v, field: str, hi: int | None = None) -> int | None:
    n = _num(v, field)
    if n is None:
        return None
    if n != int(n) or n < 0 or (hi is not None and n > hi):
        raise _Bad(f"{field}: out of range: {v!r}")
    return int(n)


def _epoch(v, field: str) -> int | None:
    n = _num(v, field)
    if not n:
        return None  # 0 = not set (a job that has not started or ended)
    if n < 0:
        raise _Bad(f"{field}: negative epoch {v!r}")
    if n >= 253402300800:  # year 10000
        raise _Bad(f"{field}: epoch out of range {v!r}")
    return int(n * 1_000_000)


def _dict(v, field: str) -> dict:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _Bad(f"{field}: expected an object, got {type(v).__name__}")
    return v


def _jstate(v, field: str) -> tuple[str | None, str | None]:
    if isinstance(v, dict):
        v = v.get("current")
    if v is None:
        return None, None
    if isinstance(v, list):
        words = [str(x) for x in v if x is not None]
        raw = " ".join(words)
    elif isinstance(v, str):
        raw = v
    else:
        raise _Bad(f"{field}: unexpected value {v!r}")
    first = raw.split()
    return (first[0].upper() if first else None), (raw or None)


def _jexit(v, field: str) -> str | None:
    if v is None:
        return None
    if isinstance(v, (int, str)):
        return str(v)
    ec = _dict(v, field)
    rc = _jint(ec.get("return_code"), f"{field}.return_code")
    sig = ec.get("signal")
    sig_n = None
    if isinstance(sig, dict):
        sig_n = _jint(sig.get("id", sig.get("signal_id")), f"{field}.signal")
    if rc is None and sig_n is None:
        return None
    return f"{rc or 0}:{sig_n or 0}"


def _jtres(alloc, field: str) -> tuple[int, float | None, int | None, float | None, str | None]:
    """(gpus, mem_mb, cpus, energy_j, sacct-style string) of a ``tres.allocated`` list."""
    if alloc is None:
        return 0, None, None, None, None
    if not isinstance(alloc, list):
        raise _Bad(f"{field}: expected a list, got {type(alloc).__name__}")
    untyped = typed = None
    mem = cpus = energy = None
    parts = []
    for item in alloc:
        if not isinstance(item, dict):
            raise _Bad(f"{field}: entry is not an object: {item!r}")
        typ = str(item.get("type") or "").lower()
        name = item.get("name") or ""
        count = _num(item.get("count"), f"{field} {typ}")
        if count is None:
            continue
        label = f"{typ}/{name}" if name else typ
        if typ == "gres" and name == "gpu":
            untyped = int(count)
        elif typ == "gres" and str(name).startswith("gpu:"):
            typed = (typed or 0) + int(count)
        elif typ == "mem":
            mem = float(count)
        elif typ == "cpu":
            cpus = int(count)
        elif typ == "energy":
            energy = None if count >= _U64_MARKER else float(count)
        parts.append(f"{label}={int(count)}{'M' if typ == 'mem' else ''}")
    gpus = untyped if untyped is not None else (typed or 0)
    return gpus, mem, cpus, energy, (",".join(parts) or None)


def _job_display_id(job: dict) -> tuple[str, str, str | None, str | None, str | None, int | None]:
    """(job_id as sacct prints it, raw id, array_job_id, array_task_id, het_job_id, het_offset)."""
    if "job_id" not in job:
        raise _Bad("job_id: missing")
    raw = _jint(job["job_id"], "job_id")
    if raw is None:
        raise _Bad(f"job_id: not set: {job['job_id']!r}")
    array = _dict(job.get("array"), "array")
    a_job = _jint(array.get("job_id"), "array.job_id")
    a_task = _jint(array.get("task_id"), "array.task_id")
    a_range = array.get("task")
    het = _dict(job.get("het"), "het")
    h_job = _jint(het.get("job_id"), "het.job_id")
    h_off = _jint(het.get("job_offset"), "het.job_offset", INT32_MAX)
    if a_job:
        if a_task is not None:
            return f"{a_job}_{a_task}", str(raw), str(a_job), str(a_task), None, None
        if isinstance(a_range, str) and a_range:
            task = a_range if a_range.startswith("[") else f"[{a_range}]"
            return f"{a_job}_{task}", str(raw), str(a_job), task, None, None
    if h_job and h_off is not None:
        return f"{h_job}+{h_off}", str(raw), None, None, str(h_job), h_off
    return str(raw), str(raw), None, None, None, None


def _jstr(v) -> str | None:
    if v is None or v == "":
        return None
    return str(v)


def _pseudonym(user: str | None, ctx: ParseContext, cache: dict) -> str | None:
    if not user:
        return None
    hit = cache.get(user)
    if hit is None:
        hit = cache[user] = pseudonymise(ctx.pseudonym_key, user)
    return hit


def _json_job_row(rec: int, job: dict, ctx: ParseContext, ids, users: dict) -> tuple:
    job_id, raw, a_job, a_task, h_job, h_off = ids
    t = _dict(job.get("time"), "time")
    gpus, mem, cpus, energy, tres_s = _jtres(_dict(job.get("tres"), "tres").get("allocated"), "tres.allocated")
    state, state_raw = _jstate(job.get("state"), "state")
    user = _jstr(job.get("user")) or _jstr(_dict(job.get("association"), "association").get("user"))
    node_list = _jstr(job.get("nodes"))
    try:
        nodes = expand(node_list)
    except HostListError as exc:
        raise _Bad(f"nodes: {exc}") from None
    return (
        rec,
        _jstr(job.get("cluster")) or ctx.cluster,
        job_id,
        raw,
        job_id,
        None,
        False,
        a_job,
        a_task,
        h_job,
        h_off,
        _jstr(job.get("name")),
        _pseudonym(user, ctx, users),
        _jstr(job.get("account")),
        _jstr(job.get("partition")),
        _jstr(job.get("qos")),
        state,
        state_raw,
        None,  # sacct --json names who cancelled (a user name), not a uid
        _jexit(job.get("exit_code"), "exit_code"),
        _epoch(t.get("submission"), "time.submission"),
        _epoch(t.get("start"), "time.start"),
        _epoch(t.get("end"), "time.end"),
        _jint(t.get("elapsed"), "time.elapsed"),
        _jint(job.get("allocation_nodes"), "allocation_nodes", INT32_MAX),
        cpus,
        gpus,
        mem,
        tres_s,
        node_list,
        nodes,
        energy,
        None,  # TRES usage is gathered per step
    )


def _json_step_row(rec: int, step: dict, job: dict, ids, ctx: ParseContext) -> tuple:
    job_id, raw, a_job, a_task, h_job, h_off = ids
    s = _dict(step.get("step"), "step.step")
    sid = s.get("id")
    if isinstance(sid, dict):
        sid = sid.get("step_id")
    elif isinstance(sid, str) and "." in sid:
        sid = sid.split(".", 1)[1]
    if sid is None or sid == "":
        raise _Bad("step.id: missing")
    sid = str(sid)
    t = _dict(step.get("time"), "step.time")
    tres = _dict(step.get("tres"), "step.tres")
    gpus, mem, cpus, energy, tres_s = _jtres(tres.get("allocated"), "step.tres.allocated")
    if energy is None:
        consumed = _dict(tres.get("consumed"), "step.tres.consumed")
        total = consumed.get("total")
        if isinstance(total, list):
            energy = _jtres(total, "step.tres.consumed.total")[3]
    nodes_obj = step.get("nodes")
    if isinstance(nodes_obj, dict):
        node_list = _jstr(nodes_obj.get("range"))
        nnodes = _jint(nodes_obj.get("count"), "step.nodes.count", INT32_MAX)
    else:
        node_list, nnodes = _jstr(nodes_obj), None
    try:
        nodes = expand(node_list)
    except HostListError as exc:
        raise _Bad(f"step.nodes: {exc}") from None
    state, state_raw = _jstate(step.get("state"), "step.state")
    gpu_util = _jgpu_util(_dict(tres.get("requested"), "step.tres.requested").get("average"))
    return (
        rec,
        _jstr(job.get("cluster")) or ctx.cluster,
        f"{job_id}.{sid}",
        f"{raw}.{sid}",
        job_id,
        sid,
        True,
        a_job,
        a_task,
        h_job,
        h_off,
        _jstr(s.get("name") or step.get("name")),
        None,  # sacct prints steps without a user
        _jstr(job.get("account")),
        None,
        None,
        state,
        state_raw,
        None,
        _jexit(step.get("exit_code"), "step.exit_code"),
        None,
        _epoch(t.get("start"), "step.time.start"),
        _epoch(t.get("end"), "step.time.end"),
        _jint(t.get("elapsed"), "step.time.elapsed"),
        nnodes,
        cpus,
        gpus,
        mem,
        tres_s,
        node_list,
        nodes,
        energy,
        gpu_util,
    )


def _jgpu_util(average) -> float | None:
    """gres/gpuutil of a step's ``tres.requested.average`` list (TRESUsageInAve), in percent."""
    if average is None:
        return None
    if not isinstance(average, list):
        raise _Bad(f"step.tres.requested.average: expected a list, got {type(average).__name__}")
    for item in average:
        if isinstance(item, dict) and str(item.get("type") or "").lower() == "gres" and item.get("name") == "gpuutil":
            pct = _num(item.get("count"), "step.tres.requested.average gres/gpuutil")
            if pct is None:
                return None
            if pct < 0:
                raise _Bad(f"step.tres.requested.average: bad gres/gpuutil value {item.get('count')!r}")
            return None if pct >= _U64_MARKER else float(pct)
    return None


def _json_users(jobs: list) -> set[str]:
    out = set()
    for job in jobs:
        if not isinstance(job, dict):
            continue
        for v in (job.get("user"), job.get("kill_request_user"), job.get("user_name")):
            if isinstance(v, str) and v:
                out.add(v)
        assoc = job.get("association")
        if isinstance(assoc, dict) and isinstance(assoc.get("user"), str) and assoc["user"]:
            out.add(assoc["user"])
    return out


def _parse_json(path: Path, data: bytes, ctx: ParseContext) -> Parsed:
    try:
        doc = json.loads(data.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        raise FormatError(path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list):
        raise FormatError(path, "JSON is not a sacct --json document: no top-level 'jobs' list")
    jobs = doc["jobs"]
    scrub = _Scrubber(ctx.pseudonym_key)
    for u in _json_users(jobs):
        scrub.add(u)
    users: dict[str, str] = {}
    rows: list[tuple] = []
    quarantine: list[Quarantined] = []
    rec = 0

    def put_bad(record, reason: str) -> None:
        raw = json.dumps(scrub.obj(record), separators=(",", ":"), ensure_ascii=False)
        quarantine.append(Quarantined(rec, raw, reason))

    for job in jobs:
        rec += 1
        if not isinstance(job, dict):
            put_bad(job, f"job record is not an object but {type(job).__name__}")
            continue
        try:
            ids = _job_display_id(job)
            steps = job.get("steps")
            if steps is None:
                steps = []
            if not isinstance(steps, list):
                raise _Bad("steps: expected a list")
        except _Bad as exc:
            put_bad(job, str(exc))
            continue
        try:
            rows.append(_json_job_row(rec, job, ctx, ids, users))
        except _Bad as exc:
            put_bad({k: v for k, v in job.items() if k != "steps"}, str(exc))
        for step in steps:
            rec += 1
            if not isinstance(step, dict):
                put_bad(step, f"step record is not an object but {type(step).__name__}")
                continue
            try:
                rows.append(_json_step_row(rec, step, job, ids, ctx))
            except _Bad as exc:
                put_bad(step, str(exc))
    return Parsed(format="sacct_json", tables={TABLE: _table(rows)}, quarantine=quarantine, rows_read=rec)


SOURCE = Source(
    name="slurm",
    title="Slurm accounting (sacct --parsable2 with or without header, sacct --json)",
    tables=(SLURM_JOBS,),
    formats=(
        Format("sacct_parsable", detects_as(detect, "sacct_parsable"), parse),
        Format("sacct_json", detects_as(detect, "sacct_json"), parse),
    ),
    order=30,
    aliases=("sacct",),
    # a rejected sacct file may hold user names that were never pseudonymised: its head is not kept
    keeps_rejected_head=False,
)
