"""GPU metrics: NVIDIA DCGM exporter series from Prometheus -> ``raw.gpu_samples``.

One row per GPU, job label and instant: sample_at, node, gpu_index, uuid, model, util_pct,
power_w, fb_used_mib, hpc_job. Format ``dcgm_prometheus_json``: a ``/api/v1/query_range``
answer (resultType ``matrix``), with or without the ``status``/``data`` envelope, or just its
``result`` list, or a dict ``{metric_name: result_list}``: the envelope of node power
(:mod:`kirz.ingest.power`). A file holds one DCGM metric (one pulled query) or several:

========================== ============== ===============================================
series                     column         unit
========================== ============== ===============================================
``DCGM_FI_DEV_GPU_UTIL``   util_pct       % of the sample period the GPU was busy
``DCGM_FI_DEV_POWER_USAGE`` power_w       W
``DCGM_FI_DEV_FB_USED``    fb_used_mib    MiB of frame buffer in use
========================== ============== ===============================================

The metric of a series is its ``__name__`` label (or its key in a metric dict): a query must
keep it (a plain selector does; an aggregation drops it, see docs/live-systems.md). Labels as
the DCGM exporter writes them: ``Hostname`` (the node; else ``node``, ``hostname`` or
``instance`` without its port, as for node power), ``gpu`` (the GPU's index on the node),
``UUID``, ``modelName`` and, where the exporter maps GPUs to Slurm jobs
(``--hpc-job-mapping-dir``), ``hpc_job``: the id of the job holding the GPU (absent or empty on
a GPU no job holds).

The metrics of one GPU, job label and instant are merged into one row; a metric the file does
not hold is null there (staging combines the files of several queries). ``line_no`` is the
1-based index of a sample in series order across the file (of a merged row: its smallest).
Quarantined, each with its index and reason:

- a whole series, as one record at its first sample (the raw text gives its labels and how
  many samples it had): a metric kirz does not read, no ``__name__``, no node label, a ``gpu``
  label that is no index; a series without a ``values`` list has no index;
- a sample: not a ``[timestamp, "value"]`` pair, a timestamp outside 1970..9999, a value that
  is no number, NaN, infinite or one of DCGM's blank markers (no reading), or a second value of
  the same metric for the same GPU, job label and instant.

Prometheus' compact answer is read without a Python object per sample (the ``values`` arrays
cut out of the text and parsed by Arrow, see :func:`_read_series`); any other file is parsed as
JSON whole. The rows and quarantine are the same either way.

Ranges (utilisation 0..100 %, power, memory) and coverage are the raw suite's business
(``expectations/raw/gpu_samples.py``), as for node power.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from kirz.ingest.base import FormatError, ParseContext, Parsed, Quarantined
from kirz.ingest.csv_readers import EPOCH_MAX, finish_table, numpy_column, string_column, strip_bom
from kirz.ingest.power import (
    cut_series,
    is_query_range_json,
    no_gc,
    node_of,
    raw_series_sample,
    result_list,
    sample_values,
    series_arrays,
)
from kirz.ingest.source import Format, RawTable, Source

TABLE = "gpu_samples"
FORMAT = "dcgm_prometheus_json"
FORMATS = (FORMAT,)
# the DCGM fields kirz reads and the raw column each fills
METRICS = {
    "DCGM_FI_DEV_GPU_UTIL": "util_pct",
    "DCGM_FI_DEV_POWER_USAGE": "power_w",
    "DCGM_FI_DEV_FB_USED": "fb_used_mib",
}
# DCGM writes "blank" values where a field has no reading: DCGM_INT32_BLANK (0x7ffffff0) and
# above, and the larger int64 and fp64 blanks
DCGM_BLANK = float(0x7FFFFFF0)


def detect(head: bytes) -> str | None:
    """'dcgm_prometheus_json' for a Prometheus query_range answer, else None."""
    return FORMAT if is_query_range_json(head) else None


def parse(path: Path, ctx: ParseContext) -> Parsed:
    """Read one file of DCGM series into ``{'gpu_samples': table}`` plus quarantine."""
    path = Path(path)
    if ctx.fmt not in (None, FORMAT):
        raise FormatError(path, f"format {ctx.fmt!r} is not a gpu format ({', '.join(FORMATS)})")
    data = path.read_bytes()
    if ctx.fmt is None and detect(data[:65536]) is None:
        raise FormatError(path, "not a GPU metrics file: expected Prometheus query_range JSON of DCGM series")
    with no_gc():
        return _parse(path, data)


def _series_of(path: Path, doc) -> list[tuple[str | None, object]]:
    """(metric name from a metric dict, or None: from the labels; series) in file order."""
    if (isinstance(doc, dict) and doc and not {"status", "data", "result", "resultType"} & set(doc)
            and all(isinstance(v, list) for v in doc.values())):
        return [(name, series) for name, result in doc.items() for series in result]
    result, _ = result_list(path, doc, None)
    return [(None, series) for series in result]


def _series_problem(metric, labels: dict, node: str | None) -> str | None:
    if metric is None:
        return "series: no __name__ label (a query must keep the metric name: see docs/live-systems.md)"
    if metric not in METRICS:
        return f"series: metric {metric!r} is not one kirz reads ({', '.join(METRICS)})"
    if node is None:
        return "series: no Hostname, node, hostname or instance label"
    gpu = labels.get("gpu")
    if not isinstance(gpu, str) or not gpu.strip().isdigit():
        return f"series: gpu label {gpu!r} is not a GPU index"
    return None


def _label(labels: dict, key: str) -> str | None:
    value = labels.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


class _Bodies:
    """The samples of the series read on the bulk path, parsed as JSON only where a sample's
    raw text is needed (a quarantined sample): what the general path holds as ``values``."""

    def __init__(self, bodies: list[bytes]):
        self.bodies = bodies
        self.parsed: dict[int, list] = {}

    def __getitem__(self, k: int) -> list:
        if k not in self.parsed:
            self.parsed[k] = orjson.loads(b"[" + self.bodies[k] + b"]")
        return self.parsed[k]


def _read_series(path: Path, data: bytes, bulk: bool = True):
    """The series of a file in order, their samples numbered 1.. across all series:
    (quarantine of whole series, labels, samples (indexable per series read), first index,
    metric number, key (node, gpu_index, hpc_job), sample count, t, v, malformed samples).

    The common file -- Prometheus' compact answer with the status envelope, every sample a
    pair of numbers -- is read in bulk: the ``values`` arrays are cut out of the text and
    their samples parsed by Arrow's CSV reader (:func:`kirz.ingest.power.cut_series`,
    :func:`~kirz.ingest.power.sample_values`), no Python object per sample. Any other file
    is parsed as JSON whole, each series' samples read by
    :func:`~kirz.ingest.power.series_arrays`, which names each malformed sample. Both give
    the same series, numbers and samples (``bulk=False``: the general path only)."""
    cut = cut_series(data) if bulk else None
    samples = sample_values(cut[1]) if cut is not None else None
    if samples is not None:
        entries = [(None, series) for series in cut[0]]
        counts = samples[2].tolist()
    else:
        try:
            doc = orjson.loads(strip_bom(data))
        except orjson.JSONDecodeError as exc:
            raise FormatError(path, f"{FORMAT}: not valid JSON ({exc})") from None
        entries = _series_of(path, doc)
        counts = None
    quarantine: list[Quarantined] = []
    labels_of: list[dict] = []
    first_of: list[int] = []
    metric_of: list[int] = []
    key_of: list[tuple] = []  # (node, gpu_index, hpc_job)
    length_of: list[int] = []
    kept: list[int] = []  # position of each series read among the entries
    n = 0
    metric_names = list(METRICS)
    for e, (name, series) in enumerate(entries):
        if counts is None and (not isinstance(series, dict) or not isinstance(series.get("values"), list)):
            raw = orjson.dumps(series).decode()[:2000]
            quarantine.append(Quarantined(None, raw, "series: no 'values' list (not a matrix series)"))
            continue
        labels = series.get("metric") if isinstance(series.get("metric"), dict) else {}
        count = counts[e] if counts is not None else len(series["values"])
        if not count:
            continue
        first = n + 1
        n += count
        metric = name if name is not None else labels.get("__name__")
        node = _label(labels, "Hostname") or node_of(labels)
        problem = _series_problem(metric, labels, node)
        if problem is not None:
            raw = orjson.dumps({"metric": labels, "samples": count}).decode()[:2000]
            quarantine.append(Quarantined(first, raw, f"{problem}; its {count} samples are not loaded"))
            continue
        labels_of.append(labels)
        first_of.append(first)
        metric_of.append(metric_names.index(metric))
        key_of.append((node, int(labels["gpu"].strip()), _label(labels, "hpc_job")))
        length_of.append(count)
        kept.append(e)
    malformed: dict[int, str] = {}  # position among the samples read -> reason
    if counts is not None:
        # the samples of the series read, in order
        take = np.repeat(np.isin(np.arange(len(entries)), kept), samples[2])
        t, v = samples[0][take], samples[1][take]
        values_of = _Bodies([cut[1][e] for e in kept])
    else:
        values_of = [entries[e][1]["values"] for e in kept]
        t_parts, v_parts = [], []
        read = 0
        for vals in values_of:
            tk, vk, bad = series_arrays(vals)
            malformed.update({read + k: why for k, why in bad.items()})
            t_parts.append(tk)
            v_parts.append(vk)
            read += len(vals)
        t = np.concatenate(t_parts) if t_parts else np.zeros(0)
        v = np.concatenate(v_parts) if v_parts else np.zeros(0)
    return quarantine, labels_of, values_of, first_of, metric_of, key_of, length_of, t, v, malformed


def _ordered(positions: np.ndarray, idx: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """``positions`` ordered by ``keys`` (most significant first), ties by ``idx``: one stable
    sort of the keys packed into one integer where they fit in 62 bits (``positions`` are in
    ``idx`` order), else ``np.lexsort``."""
    if len(positions) == 0:
        return positions
    packed = np.zeros(len(positions), dtype=np.int64)
    bits = 0
    in_order = bool((np.diff(idx[positions]) > 0).all())
    for key in reversed(keys):
        k = key[positions]
        lo = int(k.min())
        width = (int(k.max()) - lo).bit_length()
        if bits + width > 62 or not in_order:
            return positions[np.lexsort((idx[positions],) + tuple(key[positions] for key in reversed(keys)))]
        packed |= (k - lo) << bits
        bits += width
    return positions[np.argsort(packed, kind="stable")]


def _parse(path: Path, data: bytes) -> Parsed:
    (quarantine, labels_of, values_of, first_of, metric_of, key_of, length_of, t, v,
     malformed) = _read_series(path, data)
    metric_names = list(METRICS)
    read = int(sum(length_of))
    lengths = np.array(length_of, dtype=np.int64)
    starts_of = np.array(first_of, dtype=np.int64)
    sid = np.repeat(np.arange(len(length_of), dtype=np.int64), lengths)
    # the index of each sample read: its series' first index + its position in the series
    idx = (starts_of[sid] + np.arange(read, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
           if read else np.zeros(0, dtype=np.int64))
    reason = np.full(read, None, dtype=object)
    bad = np.zeros(read, dtype=bool)

    def flag(mask: np.ndarray, why) -> None:
        mask = mask & ~bad
        reason[mask] = why
        bad[mask] = True

    for pos, why in malformed.items():
        reason[pos] = why
        bad[pos] = True
    flag(~(np.isfinite(t) & (t >= 0) & (t < EPOCH_MAX)), "timestamp: not epoch seconds between 1970 and 9999")
    flag(np.isnan(v), "value: NaN is not a reading")
    flag(np.isinf(v), "value: infinite is not a reading")
    flag(v >= DCGM_BLANK, "value: a DCGM blank marker (no reading)")

    # one value per metric, GPU, job label and instant: later ones in file order are duplicates
    keys = {k: code for code, k in enumerate(dict.fromkeys(key_of))}
    group_of = np.array([keys[k] for k in key_of], dtype=np.int64)
    ok = np.flatnonzero(~bad)
    ts_us = np.zeros(read, dtype=np.int64)
    ts_us[ok] = np.rint(t[ok] * 1e6).astype(np.int64)
    code = np.array(metric_of, dtype=np.int64)[sid] if read else np.zeros(0, dtype=np.int64)
    group = group_of[sid] if read else np.zeros(0, dtype=np.int64)
    order = _ordered(ok, idx, group, code, ts_us)
    same = np.r_[False, (group[order][1:] == group[order][:-1]) & (code[order][1:] == code[order][:-1])
                 & (ts_us[order][1:] == ts_us[order][:-1])] if len(order) else np.zeros(0, dtype=bool)
    run_start = np.maximum.accumulate(np.where(same, 0, np.arange(len(order)))) if len(order) else order
    for k in np.flatnonzero(same):
        pos = order[k]
        node, gpu, _ = key_of[sid[pos]]
        reason[pos] = (f"duplicate sample: {metric_names[code[pos]]} of GPU {gpu} on {node} at this instant "
                       f"already given (line {idx[order[run_start[k]]]})")
        bad[pos] = True
    for pos in np.flatnonzero(bad):
        k = int(sid[pos])
        raw = raw_series_sample(labels_of[k], values_of[k][int(idx[pos]) - first_of[k]])
        quarantine.append(Quarantined(int(idx[pos]), raw, str(reason[pos])))

    # merge the metrics of a GPU, job label and instant into one row, at its first line
    kept = np.zeros(read, dtype=bool)
    kept[order[~same]] = True
    keep = np.flatnonzero(kept)  # in line order
    by = _ordered(keep, idx, group, ts_us)
    is_start = np.r_[True, (group[by][1:] != group[by][:-1]) | (ts_us[by][1:] != ts_us[by][:-1])] \
        if len(by) else np.zeros(0, dtype=bool)
    starts = np.flatnonzero(is_start)
    row_of = np.cumsum(is_start) - 1
    n_rows = len(starts)
    columns = {}
    for m, name in enumerate(metric_names):
        values = np.full(n_rows, np.nan)
        has = code[by] == m
        values[row_of[has]] = v[by][has]
        columns[METRICS[name]] = numpy_column(values, pa.float64(), valid=~np.isnan(values))
    first_sample = by[starts]
    # rows in line order; the labels of a row are those of its first sample's series
    first_sample = first_sample[np.argsort(idx[first_sample], kind="stable")]
    row_series = numpy_column(sid[first_sample].astype(np.int64), pa.int64())
    gpus = np.array([key[1] for key in key_of], dtype=np.int32)

    def per_series(values: list) -> pa.Array:
        return string_column(values).take(row_series)

    table = pa.Table.from_arrays(
        [
            numpy_column(idx[first_sample].astype(np.int64), pa.int64()),
            numpy_column(ts_us[first_sample].astype(np.int64), pa.timestamp("us", tz="UTC")),
            per_series([key[0] for key in key_of]),
            numpy_column(gpus[sid[first_sample]], pa.int32()),
            per_series([_label(labels, "UUID") for labels in labels_of]),
            per_series([_label(labels, "modelName") for labels in labels_of]),
            *columns.values(),
            per_series([key[2] for key in key_of]),
        ],
        names=["line_no", "sample_at", "node", "gpu_index", "uuid", "model", *columns, "hpc_job"],
    )
    quarantine.sort(key=lambda q: (q.line_no is None, q.line_no or 0))
    return Parsed(
        format=FORMAT,
        tables={TABLE: finish_table(TABLE, table)},
        quarantine=quarantine,
        rows_read=table.num_rows + len(quarantine),
    )


GPU_SAMPLES = RawTable(
    TABLE,
    (
        ("sample_at", "timestamptz"),
        ("node", "varchar"),
        ("gpu_index", "integer"),        # label gpu: the GPU's index on its node
        ("uuid", "varchar"),             # label UUID
        ("model", "varchar"),            # label modelName, e.g. 'NVIDIA H100 80GB HBM3'
        ("util_pct", "double"),          # DCGM_FI_DEV_GPU_UTIL, %
        ("power_w", "double"),           # DCGM_FI_DEV_POWER_USAGE, W
        ("fb_used_mib", "double"),       # DCGM_FI_DEV_FB_USED, MiB
        ("hpc_job", "varchar"),          # label hpc_job: the Slurm job holding the GPU (null: none or no mapping)
    ),
    period_time="sample_at",
)

SOURCE = Source(
    name="gpu",
    title="GPU metrics (NVIDIA DCGM exporter series from Prometheus query_range JSON)",
    tables=(GPU_SAMPLES,),
    formats=(Format(FORMAT, lambda head: detect(head) is not None, parse),),
    order=45,
)
