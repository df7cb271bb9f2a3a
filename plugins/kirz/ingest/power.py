"""Node power samples -> ``raw.node_power`` (sample_at, node, watts).

Two formats:

``power_csv``
    Header ``timestamp,node,watts`` (any column order). ``timestamp`` is UTC: ISO 8601 with
    ``Z`` or an offset, naive ISO 8601 (read as UTC) or epoch seconds (int or float).
    Files of millions of rows are read in bulk: the text is split into numbered lines by
    Arrow and every cast runs in DuckDB (``try_cast``), so the line number of each row is
    exact and no Python code loops over rows. Empty lines carry no row and are skipped
    (a line of blanks is a row with one field, quarantined).
    Fields may be wrapped in double quotes; a quoted field holding a comma is not supported
    (node names hold none) and ends in quarantine as a field-count error. The loader reads a
    plain file (no blanks or quotes, three fields a line) with one DuckDB statement straight
    into ``raw.node_power`` (:func:`load_csv`): the same rows, line numbers and quarantine.

``prometheus_json``
    A ``/api/v1/query_range`` response (resultType ``matrix``), with or without the
    ``status``/``data`` envelope, or just its ``result`` list, or a dict
    ``{metric_name: result_list}`` as Kepler's model server stores it. In that dict one
    metric is used: the ``metric`` argument of :func:`parse`, else the first name of
    :data:`PREFERRED_METRICS` present. The node of a series is its label ``node``, else
    ``hostname``, else ``instance`` without the port. Gauges are watts. Counters in joules
    (``__name__`` ending in ``_joules_total``, or ``counter=True``) become watts as the rate
    to the next sample, placed at the earlier sample's time; a drop is a counter reset and
    the rate uses the value after the reset, as Prometheus' ``rate()`` does. The last sample
    of a counter series has no next sample: it goes to quarantine with that reason (its
    joules are in the rate before it), so that every sample is accounted for. Series that
    map to the same node and time (packages, idle/dynamic parts) are summed into one node
    sample; ``rows_read`` then counts node samples, and a warning says how many series
    samples were summed. ``line_no`` is the 1-based index of a sample in series order (of a
    summed sample: its smallest index).
"""

from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from kirz.ingest.base import FormatError, Lineage, ParseContext, Parsed, Quarantined
from kirz.ingest.csv_readers import (
    EPOCH_MAX,
    finish_table,
    first_line,
    header_fields,
    load_measurement_csv,
    numpy_column,
    numpy_values,
    parse_measurement_csv,
    raw_schema,
    string_column,
    strip_bom,
)
from kirz.ingest.source import Format, RawTable, Source

TABLE = "node_power"
FORMATS = ("power_csv", "prometheus_json")
CSV_HEADER = ("timestamp", "node", "watts")

# Metrics taken, in this order, from a ``{metric_name: result_list}`` dict. Kepler's
# platform counter (ACPI, whole node, idle + dynamic) is the node's wall power; the IPMI
# exporter's DCMI reading is the same figure from the BMC as a gauge.
PREFERRED_METRICS = [
    "kepler_node_platform_joules_total",
    "ipmi_dcmi_power_consumption_watts",
]
COUNTER_SUFFIX = "_joules_total"

__all__ = ["PREFERRED_METRICS", "SOURCE", "detect", "node_of", "parse", "raw_schema"]


def is_power_csv(head: bytes) -> bool:
    """Line 1 is the header ``timestamp,node,watts`` (any order)."""
    try:
        text = first_line(head).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return sorted(header_fields(text, ",")) == sorted(CSV_HEADER)


def is_query_range_json(head: bytes) -> bool:
    """A JSON object or list that reads as a query_range answer (or its error envelope)."""
    start = strip_bom(head).lstrip()[:1]
    return start in (b"{", b"[") and (
        b'"resultType"' in head or b'"metric"' in head or (b'"status"' in head and b'"errorType"' in head)
    )


def is_prometheus_json(head: bytes) -> bool:
    """A query_range answer of node power: DCGM's per-GPU series (source ``gpu``) are not."""
    return is_query_range_json(head) and b'"DCGM_FI_' not in head


def raw_series_sample(labels, sample) -> str:
    """The raw text of a quarantined Prometheus sample: its series' labels and the sample."""
    return orjson.dumps({"metric": labels, "sample": sample}).decode()


def detect(head: bytes) -> str | None:
    """'power_csv' or 'prometheus_json' from the first bytes of a file, else None."""
    return SOURCE.detect(head)


def parse(
    path: Path,
    ctx: ParseContext,
    *,
    metric: str | None = None,
    counter: bool | None = None,
) -> Parsed:
    """Read one power file.

    ``metric`` picks the series of a ``{metric_name: result_list}`` dict (default: first of
    :data:`PREFERRED_METRICS` present). ``counter`` forces reading Prometheus values as
    joule counters (True) or watt gauges (False); None decides by the metric name.
    """
    path = Path(path)
    data = path.read_bytes()
    fmt = ctx.fmt or detect(data[:65536])
    if fmt is None:
        raise FormatError(path, "not a power file: expected a 'timestamp,node,watts' CSV or Prometheus query_range JSON")
    if fmt == "power_csv":
        return _parse_csv(path, data)
    if fmt == "prometheus_json":
        return _parse_prometheus(path, data, metric, counter)
    raise FormatError(path, f"format {fmt!r} is not a power format ({', '.join(FORMATS)})")


_CSV = dict(fmt="power_csv", table=TABLE, header=CSV_HEADER, columns=("sample_at", "node", "watts"), epoch=True,
            what="a measurement")


def _parse_csv(path: Path, data: bytes) -> Parsed:
    return parse_measurement_csv(path, data, **_CSV)


def load_csv(con, path: Path, ctx: ParseContext, lineage: Lineage) -> Parsed | None:
    """A plain power CSV straight into ``raw.node_power`` (the rows and quarantine of
    :func:`parse`, see :func:`kirz.ingest.csv_readers.load_measurement_csv`); None otherwise."""
    return load_measurement_csv(con, path, lineage, **_CSV)


# ---------------------------------------------------------------------------------------
# Prometheus


_PORT = re.compile(r"^(?P<host>[^:]+):\d+$")
_V6_PORT = re.compile(r"^\[(?P<host>[^\]]+)\](:\d+)?$")


def node_of(labels: dict) -> str | None:
    """Node name of a series: label ``node``, else ``hostname``, else ``instance`` minus port."""
    for key in ("node", "hostname"):
        val = labels.get(key)
        if isinstance(val, str) and val.strip():
            return val.strip()
    inst = labels.get("instance")
    if not isinstance(inst, str) or not inst.strip():
        return None
    inst = inst.strip()
    m = _V6_PORT.match(inst) or _PORT.match(inst)
    return m.group("host") if m else inst


def result_list(path: Path, doc, metric: str | None) -> tuple[list, str | None]:
    """The matrix ``result`` list of any accepted shape, and the metric chosen from a dict."""
    if isinstance(doc, list):
        return doc, None
    if not isinstance(doc, dict):
        raise FormatError(path, "prometheus_json: top level is neither an object nor a list")
    data = doc
    if "status" in doc:
        if doc.get("status") != "success":
            raise FormatError(
                path,
                f"prometheus_json: status {doc.get('status')!r}: {doc.get('errorType', '')} {doc.get('error', '')}".rstrip(),
            )
        data = doc.get("data")
        if not isinstance(data, dict):
            raise FormatError(path, "prometheus_json: 'data' is not an object")
    if "result" in data or "resultType" in data:
        kind = data.get("resultType", "matrix")
        if kind != "matrix":
            raise FormatError(path, f"prometheus_json: resultType {kind!r}, expected 'matrix' (a query_range response)")
        result = data.get("result")
        if not isinstance(result, list):
            raise FormatError(path, "prometheus_json: 'result' is not a list")
        return result, None
    if data is doc and doc and all(isinstance(v, list) for v in doc.values()):
        if metric is not None:
            if metric not in doc:
                raise FormatError(path, f"prometheus_json: metric {metric!r} not in file (has {', '.join(sorted(doc)[:20])})")
            return doc[metric], metric
        for name in PREFERRED_METRICS:
            if name in doc:
                return doc[name], name
        raise FormatError(
            path,
            f"prometheus_json: none of {', '.join(PREFERRED_METRICS)} in file "
            f"(has {', '.join(sorted(doc)[:20])}); name one with metric=",
        )
    raise FormatError(path, "prometheus_json: no 'result' list, 'data' object or metric dict found")


def series_arrays(vals: list) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Timestamps and values of one series as float arrays; malformed samples -> reasons by position."""
    n = len(vals)
    try:
        # fast path: every sample a pair of (number, string or number); bool is its own type
        if set(map(len, vals)) <= {2}:
            flat = list(chain.from_iterable(vals))
            col0, col1 = flat[0::2], flat[1::2]
            if set(map(type, col0)) <= {int, float} and set(map(type, col1)) <= {str, int, float}:
                return np.array(col0, dtype=np.float64), np.array(col1, dtype=np.float64), {}
    except (TypeError, ValueError):
        pass
    t = np.full(n, np.nan)
    v = np.full(n, np.nan)
    bad: dict[int, str] = {}
    for k, item in enumerate(vals):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            bad[k] = "sample: not a [timestamp, \"value\"] pair"
            continue
        ts, val = item
        if isinstance(ts, bool) or not isinstance(ts, (int, float, str)):
            bad[k] = f"timestamp: {ts!r} is not epoch seconds"
            continue
        try:
            t[k] = float(ts)
        except ValueError:
            bad[k] = f"timestamp: {ts!r} is not epoch seconds"
            continue
        if isinstance(val, bool) or not isinstance(val, (int, float, str)):
            bad[k] = f"value: {val!r} is not a number"
            continue
        try:
            v[k] = float(val)
        except ValueError:
            bad[k] = f"value: {val!r} is not a number"
    return t, v, bad


@contextmanager
def no_gc():
    """Pause Python's cyclic garbage collector: building millions of small lists (the JSON
    samples) otherwise triggers it again and again and triples the parse time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_prometheus(path: Path, data: bytes, metric: str | None, counter: bool | None) -> Parsed:
    fast = _plain_prometheus(data, counter)
    if fast is not None:
        return fast
    with no_gc():
        return _parse_prometheus_doc(path, data, metric, counter)


_VALUES_KEY = re.compile(rb'"values":\[')


def cut_series(data: bytes) -> tuple[list[dict], list[bytes]] | None:
    """The series of a compact query_range answer with their ``values`` arrays cut out of the
    text, or None.

    The answer must start with the status envelope as Prometheus writes it. Each ``values``
    array is cut out (its text between the outer brackets, ``b""`` when empty); what remains
    -- envelope and labels -- is parsed as JSON and must show every series as an object with
    a ``metric`` object and its values cut out, one body per series. Anything else is None."""
    if not data.startswith(b'{"status":"success","data":{"resultType":"matrix","result":['):
        return None
    skeleton, bodies = [], []
    pos = 0
    for m in _VALUES_KEY.finditer(data):
        end = data.find(b"]]", m.end())
        if data[m.end():m.end() + 1] == b"]":
            end = m.end() - 1  # an empty values list
        elif end < 0:
            return None
        skeleton += [data[pos:m.end()], b"]"]
        bodies.append(data[m.end():end + 1] if end >= m.end() else b"")
        pos = end + 2
    skeleton.append(data[pos:])
    try:
        doc = orjson.loads(b"".join(skeleton))
    except orjson.JSONDecodeError:
        return None
    data_obj = doc.get("data") if isinstance(doc, dict) else None
    result = data_obj.get("result") if isinstance(data_obj, dict) else None
    if doc.get("status") != "success" or not isinstance(result, list) or len(result) != len(bodies):
        return None
    for series in result:
        if not isinstance(series, dict) or series.get("values") != [] or not isinstance(series.get("metric"), dict):
            return None
    return result, bodies


def sample_values(bodies: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Timestamps and values (float64) of every sample of the cut-out ``values`` bodies in
    order, and the number of samples per body; None unless every sample is a pair of numbers
    (the value as a string or a number), as Prometheus writes them. ``[t,"v"],[t,"v"]``
    becomes ``t,v`` lines parsed by Arrow's CSV reader: a sample of any other shape fails the
    read or the count."""
    import pyarrow.csv as pacsv

    counts = np.array([b.count(b"],[") + 1 if b else 0 for b in bodies], dtype=np.int64)
    n = int(counts.sum())
    text = b",".join(b for b in bodies if b)
    if n == 0:
        return np.zeros(0), np.zeros(0), counts
    if b"\n" in text:
        return None
    text = text[1:-1].replace(b"],[", b"\n").translate(None, b'"')
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text),
            read_options=pacsv.ReadOptions(column_names=["t", "v"]),
            parse_options=pacsv.ParseOptions(quote_char=False),
            convert_options=pacsv.ConvertOptions(column_types={"t": pa.float64(), "v": pa.float64()},
                                                 null_values=[], strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # a sample of another shape: the full reader parses the file and names its line
    if table.num_rows != n:
        return None
    return numpy_values(table.column("t")), numpy_values(table.column("v")), counts


def _plain_prometheus(data: bytes, counter: bool | None) -> Parsed | None:
    """The common case of a Prometheus file in bulk, or None.

    Prometheus answers a query_range in compact JSON, and with gauges the common file is
    plain: the status envelope, series whose node labels are all different, every sample a
    ``[number, "number"]`` pair, each series strictly in time order, no NaN, infinity or
    timestamp out of range. Such a file is read without building a Python object per sample:
    the ``values`` arrays are cut out of the text (what remains -- envelope and labels -- is
    parsed as JSON and must show every series with its values cut out), their samples become
    ``timestamp,value`` lines parsed by Arrow's CSV reader, and numpy checks the conditions.
    A file that does not qualify in any way (a counter, a malformed or bad sample, a
    duplicate, shared nodes, another shape) returns None and goes through the general reader,
    which quarantines each sample that needs it; the rows are the same either way.
    """
    if counter:
        return None
    cut = cut_series(data)
    if cut is None:
        return None
    result, bodies = cut
    names = []
    for series in result:
        labels = series["metric"]
        if str(labels.get("__name__", "")).endswith(COUNTER_SUFFIX) and counter is None:
            return None
        names.append(node_of(labels))
    if None in names or len(set(names)) != len(names):
        return None
    samples = sample_values(bodies)
    if samples is None:
        return None
    t, v, counts = samples
    n = len(t)
    if n == 0:
        return _plain_table(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), names)
    if not (np.isfinite(t).all() and np.isfinite(v).all() and (t >= 0).all() and (t < EPOCH_MAX).all()):
        return None
    sid = np.repeat(np.arange(len(names), dtype=np.int64), counts)
    ts_us = np.rint(t * 1e6).astype(np.int64)
    if n > 1 and not ((np.diff(ts_us) > 0) | (sid[1:] != sid[:-1])).all():
        return None  # out of order or repeated within a series
    return _plain_table(ts_us, v, sid, names)


def _plain_table(ts_us: np.ndarray, watts: np.ndarray, sid: np.ndarray, names: list[str]) -> Parsed:
    table = pa.Table.from_arrays(
        [
            numpy_column(np.arange(1, len(ts_us) + 1, dtype=np.int64), pa.int64()),
            numpy_column(ts_us.astype(np.int64), pa.timestamp("us", tz="UTC")),
            string_column(names).take(numpy_column(sid.astype(np.int64), pa.int64())),
            numpy_column(watts.astype(np.float64), pa.float64()),
        ],
        names=["line_no", "sample_at", "node", "watts"],
    )
    return Parsed(format="prometheus_json", tables={TABLE: finish_table(TABLE, table)}, quarantine=[],
                  rows_read=table.num_rows, warnings=[])


def _parse_prometheus_doc(path: Path, data: bytes, metric: str | None, counter: bool | None) -> Parsed:
    try:
        doc = orjson.loads(strip_bom(data))
    except orjson.JSONDecodeError as exc:
        raise FormatError(path, f"prometheus_json: not valid JSON ({exc})") from None
    result, chosen = result_list(path, doc, metric)

    quarantine: list[Quarantined] = []
    warnings: list[str] = []
    if chosen:
        warnings.append(f"metric {chosen} taken from a dict of {len(doc)} metrics")

    # one entry per series; samples numbered 1.. across series in file order
    labels_of: list[dict] = []
    values_of: list[list] = []
    first_idx: list[int] = []
    node_names: list[str | None] = []
    is_counter: list[bool] = []
    t_parts, v_parts = [], []
    malformed: dict[int, str] = {}  # position -> reason
    n = 0
    for series in result:
        if not isinstance(series, dict) or not isinstance(series.get("values"), list):
            raw = orjson.dumps(series).decode()[:2000]
            quarantine.append(Quarantined(None, raw, "series: no 'values' list (not a matrix series)"))
            continue
        labels = series.get("metric") if isinstance(series.get("metric"), dict) else {}
        vals = series["values"]
        labels_of.append(labels)
        values_of.append(vals)
        first_idx.append(n + 1)
        node_names.append(node_of(labels))
        name = str(labels.get("__name__", chosen or ""))
        is_counter.append(counter if counter is not None else name.endswith(COUNTER_SUFFIX))
        t, v, bad = series_arrays(vals)
        malformed.update({n + k: why for k, why in bad.items()})
        t_parts.append(t)
        v_parts.append(v)
        n += len(vals)

    t = np.concatenate(t_parts) if t_parts else np.zeros(0)
    v = np.concatenate(v_parts) if v_parts else np.zeros(0)
    idx = np.arange(1, n + 1, dtype=np.int64)
    sid = np.repeat(np.arange(len(values_of), dtype=np.int64), [len(x) for x in values_of])
    nodeless = np.array([name is None for name in node_names], dtype=bool)

    # per-sample checks; the first failing one gives the reason
    reason = np.full(n, None, dtype=object)
    bad = np.zeros(n, dtype=bool)

    def flag(mask: np.ndarray, why: str) -> None:
        mask = mask & ~bad
        reason[mask] = why
        bad[mask] = True

    for pos, why in malformed.items():
        reason[pos] = why
        bad[pos] = True
    flag(~(np.isfinite(t) & (t >= 0) & (t < EPOCH_MAX)), "timestamp: not epoch seconds between 1970 and 9999")
    flag(nodeless[sid], "node: series has no node, hostname or instance label")
    flag(np.isnan(v), "value: NaN is not a measurement")
    flag(np.isinf(v), "value: infinite is not a measurement")

    # each series in time order (ties in file order); a repeated timestamp is a duplicate
    ok = np.flatnonzero(~bad)
    order = ok[np.lexsort((idx[ok], t[ok], sid[ok]))]
    ts_us = np.rint(t[order] * 1e6).astype(np.int64)
    same_series = sid[order][1:] == sid[order][:-1]
    dup = np.r_[False, same_series & (ts_us[1:] == ts_us[:-1])] if len(order) else np.zeros(0, dtype=bool)
    flag(np.isin(np.arange(n), order[dup]), "duplicate sample: timestamp repeated in its series")
    order, ts_us = order[~dup], ts_us[~dup]

    # counters: rate to the next sample of the same series, at the earlier sample's time
    watts = v[order].copy()
    counter_of = np.array(is_counter, dtype=bool)
    if counter_of.any() and len(order):
        s_sid, s_t, s_v = sid[order], t[order], v[order]
        has_next = np.r_[s_sid[1:] == s_sid[:-1], False]
        cnt = counter_of[s_sid]
        k = np.flatnonzero(cnt & has_next)
        dv = s_v[k + 1] - s_v[k]
        increase = np.where(dv < 0, s_v[k + 1], dv)  # a drop is a reset: count from zero
        watts[k] = increase / (s_t[k + 1] - s_t[k])
        last = cnt & ~has_next
        flag(
            np.isin(np.arange(n), order[last]),
            "counter end: last sample of a joule counter series, no later sample to take a rate "
            "against (its joules are in the rate of the sample before)",
        )
        order, ts_us, watts = order[~last], ts_us[~last], watts[~last]

    for pos in np.flatnonzero(bad):
        k = int(sid[pos])
        raw = raw_series_sample(labels_of[k], values_of[k][int(idx[pos]) - first_idx[k]])
        quarantine.append(Quarantined(int(idx[pos]), raw, str(reason[pos])))

    s_sid = sid[order]
    line_no = idx[order]
    n_samples = len(order)
    if n_samples and len(set(node_names)) < len(node_names):
        # series sharing a node: one sample per node and time, the sum, at its first line_no
        code = np.unique(np.array([x or "" for x in node_names], dtype=object), return_inverse=True)[1][s_sid]
        by = np.lexsort((line_no, ts_us, code))
        code, ts_us, watts, line_no, s_sid = code[by], ts_us[by], watts[by], line_no[by], s_sid[by]
        starts = np.flatnonzero(np.r_[True, (code[1:] != code[:-1]) | (ts_us[1:] != ts_us[:-1])])
        watts = np.add.reduceat(watts, starts)
        ts_us, line_no, s_sid = ts_us[starts], line_no[starts], s_sid[starts]
    back = np.argsort(line_no, kind="stable")  # rows in file order
    ts_us, watts, line_no, s_sid = ts_us[back], watts[back], line_no[back], s_sid[back]
    table = pa.table(
        {
            "line_no": pa.array(line_no, pa.int64()),
            "sample_at": pa.array(ts_us, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "node": pa.array(node_names, pa.string()).take(pa.array(s_sid, pa.int64())),
            "watts": pa.array(watts, pa.float64()),
        }
    )
    if n_samples > table.num_rows:
        warnings.append(
            f"{n_samples} series samples summed into {table.num_rows} node samples "
            "(several series per node and time)"
        )
    quarantine.sort(key=lambda q: (q.line_no is None, q.line_no or 0))
    return Parsed(
        format="prometheus_json",
        tables={TABLE: finish_table(TABLE, table)},
        quarantine=quarantine,
        rows_read=table.num_rows + len(quarantine),
        warnings=warnings,
    )


NODE_POWER = RawTable(
    "node_power",
    (
        ("sample_at", "timestamptz"),
        ("node", "varchar"),
        ("watts", "double"),
    ),
    period_time="sample_at",
)

SOURCE = Source(
    name="power",
    title="node power samples (Prometheus query_range JSON and CSV)",
    tables=(NODE_POWER,),
    formats=(
        Format("power_csv", is_power_csv, parse, load=load_csv),
        Format("prometheus_json", is_prometheus_json, parse),
    ),
    order=40,
)
