"""Pulling from the live systems a centre already runs: Slurm's ``sacct`` and Prometheus.

A pull writes what the system answers into a landing folder as an ordinary file (written
hidden, then renamed), so pulled and delivered data take one ingest path. Each pull keeps a
watermark in ``audit.pull_watermarks`` (source, key, watermark_at, updated_at, file), moved
only after the file it covers is in landing.

Slurm (``[pull.slurm]`` in kirz.toml): ``sacct`` for the window from the watermark minus
``overlap_days`` (default 2: slurmdbd may record a job late) to now. The arguments follow
Open XDMoD's ``xdmod-slurm-helper`` (``--allusers --parsable2 --duplicates``, explicit
``--starttime``/``--endtime``, ``--clusters``) with two differences: a header line (so the
file reads on its own) and no ``--allocations`` (kirz keeps steps). ``--duplicates`` returns
every record of a requeued job. Times are given and printed in the configured time zone
(``TZ`` and ``SLURM_TIME_FORMAT=standard`` are set for sacct), the zone the Slurm parser reads
them in. The overlap re-delivers jobs already pulled: the file differs, so its rows are
loaded again with a new ingest id, and ``int_jobs_resolved`` keeps one version per
(cluster, allocation): the latest, by ingest id and line.

Prometheus (``[pull.prometheus]``): ``/api/v1/query_range`` for each configured query, from
the query's watermark to now minus ``lag_s``, into the landing folder of the query's source
(``power`` unless the query names another: the DCGM series go to ``gpu``), in chunks of ``points_per_chunk`` steps (10,000;
Prometheus refuses more than 11,000 points per series). Chunks do not overlap: both ends of
a range are evaluated, so a chunk ends one step before the next begins. Server errors (5xx,
429) and connection errors are retried with exponential back-off; 401/403 is "authentication
failed", other 4xx carry Prometheus' own error. Credentials never appear in a message.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http.client import HTTPException
from pathlib import Path
from typing import Callable

from kirz.config import Settings
from kirz.warehouse import open_warehouse

UTC = timezone.utc

# the fields kirz's Slurm parser reads (DESIGN "Inputs"), plus Cluster for --clusters and
# TRESUsageInAve for the GPU utilisation Slurm gathers per step (gres/gpuutil), where it does
SACCT_FIELDS = (
    "JobID", "JobIDRaw", "Cluster", "JobName", "User", "Account", "Partition", "QOS", "State",
    "ExitCode", "Submit", "Start", "End", "Elapsed", "ElapsedRaw", "NNodes", "NCPUS",
    "AllocTRES", "NodeList", "ConsumedEnergyRaw", "TRESUsageInAve",
)
# Open XDMoD's helper: every user, every record of a requeued job, `|`-separated
SACCT_FLAGS = ("--allusers", "--duplicates", "--parsable2")

# Prometheus refuses a range with more than 11,000 points per series
PROMETHEUS_MAX_POINTS = 11_000
# name -> (PromQL, the source whose landing folder its answers go to)
DEFAULT_QUERIES = {
    "node_power": ("ipmi_dcmi_power_consumption_watts", "power"),
    "gpu_util": ("DCGM_FI_DEV_GPU_UTIL", "gpu"),
    "gpu_power": ("DCGM_FI_DEV_POWER_USAGE", "gpu"),
    "gpu_fb_used": ("DCGM_FI_DEV_FB_USED", "gpu"),
}
# the sources whose parsers read query_range answers
PROMETHEUS_SOURCES = ("power", "gpu")

WATERMARK_DDL = """
    create table if not exists audit.pull_watermarks (
        source        varchar not null,   -- slurm | prometheus
        key           varchar not null,   -- slurm: the cluster list; prometheus: the query name
        watermark_at  timestamptz not null,
        updated_at    timestamptz not null,
        file          varchar,            -- the landing file that moved it
        primary key (source, key)
    )
"""


class PullError(RuntimeError):
    """A pull failed; nothing was written to landing for the failing part, its watermark stays."""


@dataclass
class PullResult:
    source: str
    key: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    watermark_at: datetime | None = None
    files: list[Path] = field(default_factory=list)
    chunks: int = 0           # ranges asked for (Prometheus)
    requests: int = 0         # HTTP requests made, retries included (Prometheus)
    records: int = 0          # sacct lines (without header) or Prometheus points
    series: int = 0           # Prometheus series seen (summed over chunks)
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- watermarks


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def get_watermark(settings: Settings, source: str, key: str) -> datetime | None:
    with open_warehouse(settings.warehouse_path) as con:
        con.execute(WATERMARK_DDL)
        row = con.execute(
            "select watermark_at from audit.pull_watermarks where source = ? and key = ?", [source, key]
        ).fetchall()
    return _utc(row[0][0]) if row else None


def set_watermark(settings: Settings, source: str, key: str, at: datetime, file: Path | str | None) -> datetime:
    """Move the watermark forward to ``at`` (never back); returns the stored value."""
    now = datetime.now(UTC)
    with open_warehouse(settings.warehouse_path) as con:
        con.execute(WATERMARK_DDL)
        con.execute(
            """
            insert into audit.pull_watermarks values (?, ?, ?, ?, ?)
            on conflict (source, key) do update set
                watermark_at = greatest(pull_watermarks.watermark_at, excluded.watermark_at),
                updated_at = excluded.updated_at,
                file = case when excluded.watermark_at >= pull_watermarks.watermark_at
                            then excluded.file else pull_watermarks.file end
            """,
            [source, key, at, now, str(file) if file is not None else None],
        )
        row = con.execute(
            "select watermark_at from audit.pull_watermarks where source = ? and key = ?", [source, key]
        ).fetchall()
    return _utc(row[0][0])


# --------------------------------------------------------------------------- helpers


def parse_instant(value: str | datetime | date | None, tz) -> datetime | None:
    """An ISO date or date-time; without an offset it is local time in ``tz``. Returns UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise PullError(f"not an ISO 8601 date or time: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return _utc(dt)


def _stamp(dt: datetime) -> str:
    return _utc(dt).strftime("%Y%m%dT%H%M%SZ")


def _land(folder: Path, name: str, write: Callable[[object], None], mode: int = 0o640) -> Path:
    """Write a landing file hidden (``.<name>.tmp``), then give it its name; when a file of that
    name still waits in landing, the next free ``<stem>.<n>.<ext>`` (n = 2, 3, ...).

    ``write`` gets the hidden file open for reading and writing; when it raises, the hidden
    file is removed and nothing appears in landing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w+b") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        stem, _, ext = name.rpartition(".")
        dest, n = folder / name, 1
        while True:
            try:
                os.link(tmp, dest)  # appears whole, and never replaces a file not yet ingested
                break
            except FileExistsError:
                n += 1
                dest = folder / f"{stem}.{n}.{ext}"
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _section(settings: Settings, name: str) -> dict:
    pull = settings.extra.get("pull", {})
    if not isinstance(pull, dict):
        raise PullError("kirz.toml: [pull] must be a table")
    section = pull.get(name, {})
    if not isinstance(section, dict):
        raise PullError(f"kirz.toml: [pull.{name}] must be a table")
    return section


def is_configured(settings: Settings, source: str) -> bool:
    """Whether kirz.toml has a ``[pull.<source>]`` table (Prometheus: with a ``url``)."""
    section = settings.extra.get("pull", {}).get(source)
    if not isinstance(section, dict):
        return False
    return bool(section.get("url")) if source == "prometheus" else True


# --------------------------------------------------------------------------- Slurm


@dataclass(frozen=True)
class SlurmPullConfig:
    sacct: str = "sacct"
    args: tuple[str, ...] = ()
    overlap_days: float = 2.0
    clusters: tuple[str, ...] = ()
    start: str | None = None       # where the first pull starts when --since is not given
    timeout_s: float = 900.0
    slurm_conf: str | None = None  # SLURM_CONF for sacct, when not the system's slurm.conf


def slurm_config(settings: Settings) -> SlurmPullConfig:
    s = _section(settings, "slurm")
    args = s.get("args", [])
    if isinstance(args, str):
        args = shlex.split(args)
    clusters = s.get("clusters", [])
    if isinstance(clusters, str):
        clusters = [c for c in clusters.split(",") if c.strip()]
    start = s.get("start")
    return SlurmPullConfig(
        sacct=str(s.get("sacct", "sacct")),
        args=tuple(str(a) for a in args),
        overlap_days=float(s.get("overlap_days", 2)),
        clusters=tuple(c.strip() for c in clusters),
        start=start.isoformat() if isinstance(start, (date, datetime)) else start,
        timeout_s=float(s.get("timeout_s", 900)),
        slurm_conf=str(s["slurm_conf"]) if s.get("slurm_conf") else None,
    )


def sacct_command(cfg: SlurmPullConfig, start: datetime, end: datetime, tz, clusters: tuple[str, ...] = ()) -> list[str]:
    """The sacct call for [start, end] (given in local time of ``tz``, as sacct reads them)."""
    fmt = "%Y-%m-%dT%H:%M:%S"
    cmd = [cfg.sacct, *cfg.args, *SACCT_FLAGS, f"--format={','.join(SACCT_FIELDS)}",
           f"--starttime={start.astimezone(tz).strftime(fmt)}", f"--endtime={end.astimezone(tz).strftime(fmt)}"]
    if clusters:
        cmd.append(f"--clusters={','.join(clusters)}")
    return cmd


def pull_slurm(
    settings: Settings,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    clusters: list[str] | tuple[str, ...] | str | None = None,
    *,
    now: datetime | None = None,
) -> PullResult:
    """Run sacct for the window since the watermark (minus the overlap) and land its output.

    ``since`` overrides the window start (first pull: required unless ``start`` is
    configured); ``until`` defaults to ``now``. The watermark (per cluster list) moves to the
    window end once ``landing/slurm/sacct-<start>-<end>.txt`` is in place.
    """
    cfg = slurm_config(settings)
    tz = settings.tz
    if isinstance(clusters, str):
        clusters = [c for c in clusters.split(",") if c.strip()]
    chosen = tuple(c.strip() for c in clusters) if clusters else cfg.clusters
    key = ",".join(chosen) if chosen else settings.cluster
    end = parse_instant(until, tz) or _utc(now or datetime.now(UTC)).replace(microsecond=0)
    start = parse_instant(since, tz)
    if start is None:
        mark = get_watermark(settings, "slurm", key)
        if mark is not None:
            start = mark - timedelta(days=cfg.overlap_days)
        elif cfg.start:
            start = parse_instant(cfg.start, tz)
        else:
            raise PullError(
                f"first Slurm pull for {key}: give --since, or set start in [pull.slurm] of kirz.toml"
            )
    if end <= start:
        raise PullError(f"empty window: --until {end.isoformat()} is not after the start {start.isoformat()}")

    cmd = sacct_command(cfg, start, end, tz, chosen)
    env = {**os.environ, "TZ": settings.timezone, "SLURM_TIME_FORMAT": "standard"}
    env.pop("SACCT_FORMAT", None)
    if cfg.slurm_conf:
        env["SLURM_CONF"] = cfg.slurm_conf
    result = PullResult(source="slurm", key=key, window_start=start, window_end=end)
    stderr: list[bytes] = []

    def run_sacct(fh) -> None:
        try:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.PIPE, env=env, timeout=cfg.timeout_s)
        except FileNotFoundError:
            raise PullError(f"sacct not found: {cfg.sacct!r} (set sacct in [pull.slurm])") from None
        except subprocess.TimeoutExpired:
            raise PullError(f"sacct did not finish within {cfg.timeout_s:.0f} s: {shlex.join(cmd)}") from None
        stderr.append(proc.stderr)
        if proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", errors="replace").strip() or "(no message on stderr)"
            raise PullError(f"sacct failed (exit {proc.returncode}): {msg}\ncommand: {shlex.join(cmd)}")
        fh.flush()
        fh.seek(0)
        header = fh.readline().decode("utf-8", errors="replace").strip()
        if header.lower().split("|") != [f.lower() for f in SACCT_FIELDS]:
            raise PullError(
                f"sacct printed no header line of the requested fields (got {header[:200]!r}); "
                f"remove --noheader or --format from args in [pull.slurm]\ncommand: {shlex.join(cmd)}"
            )
        result.records = sum(1 for line in fh if line.strip())

    folder = settings.landing_for("slurm")
    name = f"sacct-{_stamp(start)}-{_stamp(end)}.txt"
    # sacct output holds user names: readable by the owner only until the ingest pseudonymises them
    path = _land(folder, name, run_sacct, mode=0o600)
    warn = b"".join(stderr).decode("utf-8", errors="replace").strip()
    if warn:
        result.warnings.append(f"sacct wrote to stderr: {warn}")
    result.files.append(path)
    result.watermark_at = set_watermark(settings, "slurm", key, end, path)
    return result


# --------------------------------------------------------------------------- Prometheus


@dataclass(frozen=True)
class PrometheusPullConfig:
    url: str
    queries: dict[str, str]
    # query name -> the source whose landing folder gets its answers (default power)
    targets: dict[str, str] = field(default_factory=dict)
    step_s: int = 10
    timeout_s: float = 60.0
    retries: int = 3
    backoff_s: float = 1.0
    lag_s: int = 120
    points_per_chunk: int = 10_000
    start: str | None = None
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)

    @property
    def authorization(self) -> str | None:
        if self.bearer_token:
            return f"Bearer {self.bearer_token}"
        if self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        return None


def _split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """(url without user:password@, user, password)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url.rstrip("/"), None, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return (clean.rstrip("/"), urllib.parse.unquote(parts.username or ""),
            urllib.parse.unquote(parts.password) if parts.password is not None else None)


def prometheus_config(settings: Settings) -> PrometheusPullConfig:
    s = _section(settings, "prometheus")
    if not s.get("url"):
        raise PullError("Prometheus is not configured: set url in [pull.prometheus] of kirz.toml")
    url, user, password = _split_userinfo(str(s["url"]))
    queries, targets = _queries(s.get("queries") or DEFAULT_QUERIES)
    step = int(s.get("step_s", 10))
    per_chunk = int(s.get("points_per_chunk", 10_000))
    if step <= 0:
        raise PullError("[pull.prometheus] step_s must be a positive number of seconds")
    if not 1 <= per_chunk <= PROMETHEUS_MAX_POINTS:
        raise PullError(f"[pull.prometheus] points_per_chunk must be between 1 and {PROMETHEUS_MAX_POINTS:,}")
    start = s.get("start")
    return PrometheusPullConfig(
        url=url,
        queries=queries,
        targets=targets,
        step_s=step,
        timeout_s=float(s.get("timeout_s", 60)),
        retries=int(s.get("retries", 3)),
        backoff_s=float(s.get("backoff_s", 1.0)),
        lag_s=int(s.get("lag_s", 120)),
        points_per_chunk=per_chunk,
        start=start.isoformat() if isinstance(start, (date, datetime)) else start,
        username=s.get("username", user),
        password=s.get("password", password),
        bearer_token=s.get("bearer_token"),
    )


def _queries(table) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> PromQL, name -> source) of the queries table: ``name = "PromQL"`` lands in
    power; ``name = {query = "PromQL", source = "gpu"}`` names the source."""
    usage = ("[pull.prometheus] queries must be a table of name = \"PromQL\" or "
             "name = {query = \"PromQL\", source = \"power|gpu\"}")
    if not isinstance(table, dict):
        raise PullError(usage)
    queries, targets = {}, {}
    for name, spec in table.items():
        if isinstance(spec, str):
            query, source = spec, "power"
        elif isinstance(spec, tuple):
            query, source = spec
        elif isinstance(spec, dict) and set(spec) <= {"query", "source"}:
            query, source = spec.get("query"), spec.get("source", "power")
        else:
            raise PullError(usage)
        if not isinstance(query, str) or not query.strip():
            raise PullError(usage)
        if source not in PROMETHEUS_SOURCES:
            raise PullError(f"[pull.prometheus] query {name!r}: source {source!r} reads no Prometheus answers "
                            f"(one of {', '.join(PROMETHEUS_SOURCES)})")
        queries[str(name)] = query
        targets[str(name)] = source
    return queries, targets


def _prometheus_error(body: bytes) -> str:
    try:
        doc = json.loads(body)
        return f"{doc.get('errorType', '')}: {doc.get('error', '')}".strip(": ")
    except (ValueError, AttributeError):
        return body.decode("utf-8", errors="replace").strip()[:300]


def query_range(cfg: PrometheusPullConfig, query: str, start: int, end: int, result: PullResult,
                sleep: Callable[[float], None] = time.sleep) -> bytes:
    """One ``/api/v1/query_range`` call (epoch seconds), retried on 5xx and connection errors."""
    params = urllib.parse.urlencode(
        {"query": query, "start": str(start), "end": str(end), "step": f"{cfg.step_s}s"}
    )
    endpoint = f"{cfg.url}/api/v1/query_range"
    auth = cfg.authorization
    last = ""
    attempts = cfg.retries + 1
    for attempt in range(attempts):
        if attempt:
            sleep(cfg.backoff_s * 2 ** (attempt - 1))
        req = urllib.request.Request(f"{endpoint}?{params}", headers={"Accept": "application/json",
                                                                      "User-Agent": "kirz-pull"})
        if auth:
            req.add_unredirected_header("Authorization", auth)
        result.requests += 1
        try:
            with urllib.request.urlopen(req, timeout=cfg.timeout_s) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            body = exc.read() if exc.fp else b""
            if exc.code in (401, 403):
                raise PullError(f"authentication failed for {cfg.url} (HTTP {exc.code})") from None
            if exc.code >= 500 or exc.code == 429:
                last = f"HTTP {exc.code}: {_prometheus_error(body)}"
                continue
            raise PullError(
                f"Prometheus at {cfg.url} refused the query {query!r} (HTTP {exc.code}): {_prometheus_error(body)}"
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError, HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last = f"{type(reason).__name__}: {reason}"
            continue
    raise PullError(f"Prometheus at {cfg.url} did not answer after {attempts} attempts; last: {last}")


def _check_matrix(body: bytes, cfg: PrometheusPullConfig, name: str) -> tuple[int, int]:
    """(series, points) of a query_range answer; PullError unless it is a successful matrix."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise PullError(f"Prometheus at {cfg.url} answered {name!r} with something that is not JSON") from None
    if doc.get("status") != "success":
        raise PullError(f"Prometheus at {cfg.url}: query {name!r} failed: {_prometheus_error(body)}")
    data = doc.get("data") or {}
    if data.get("resultType") != "matrix":
        raise PullError(f"Prometheus at {cfg.url}: query {name!r} gave {data.get('resultType')!r}, not a range (matrix)")
    series = data.get("result") or []
    return len(series), sum(len(s.get("values") or []) for s in series)


def _chunks(start: int, end: int, step: int, per_chunk: int) -> list[tuple[int, int]]:
    """[start, end] cut into ranges of at most ``per_chunk`` evaluation steps, none shared."""
    out = []
    t = start
    while t <= end:
        last = min(t + (per_chunk - 1) * step, end)
        out.append((t, last))
        t = last + step
    return out


def pull_prometheus(
    settings: Settings,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    *,
    queries: list[str] | None = None,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[PullResult]:
    """Ask Prometheus for each configured query over the window since its watermark.

    The window runs from the watermark plus one step (first pull: ``since`` or ``start``)
    to ``until`` or now minus ``lag_s``, both on the step grid. Each chunk with data becomes
    ``landing/<source>/prometheus-<name>-<start>-<end>.json`` (the answer as Prometheus sent
    it; the source is the query's: power, or gpu for the DCGM series); the query's watermark
    moves to the chunk's last step after its file is in place.
    """
    cfg = prometheus_config(settings)
    tz = settings.tz
    names = list(queries) if queries else list(cfg.queries)
    unknown = [n for n in names if n not in cfg.queries]
    if unknown:
        raise PullError(f"unknown Prometheus queries {', '.join(unknown)}; configured: {', '.join(cfg.queries)}")
    step = cfg.step_s
    explicit_end = parse_instant(until, tz)
    end_dt = explicit_end or (_utc(now or datetime.now(UTC)) - timedelta(seconds=cfg.lag_s))
    end = int(end_dt.timestamp()) // step * step
    results = []
    for name in names:
        folder = settings.landing_for(cfg.targets.get(name, "power"))
        result = PullResult(source="prometheus", key=name)
        first = parse_instant(since, tz)
        if first is not None:
            start = -(-int(first.timestamp()) // step) * step
        else:
            mark = get_watermark(settings, "prometheus", name)
            if mark is not None:
                start = int(mark.timestamp()) // step * step + step
            elif cfg.start:
                start = -(-int(parse_instant(cfg.start, tz).timestamp()) // step) * step
            else:
                raise PullError(
                    f"first Prometheus pull of {name!r}: give --since, or set start in [pull.prometheus]"
                )
        result.window_start = datetime.fromtimestamp(start, UTC)
        result.window_end = datetime.fromtimestamp(end, UTC)
        if end < start:
            if first is not None and explicit_end is not None:
                raise PullError(f"empty window: --until {explicit_end.isoformat()} is before --since {first.isoformat()}")
            results.append(result)  # nothing new yet (pulled again within one lag)
            continue
        for c_start, c_end in _chunks(start, end, step, cfg.points_per_chunk):
            body = query_range(cfg, cfg.queries[name], c_start, c_end, result, sleep=sleep)
            n_series, n_points = _check_matrix(body, cfg, name)
            result.chunks += 1
            result.series += n_series
            result.records += n_points
            path = None
            if n_points:
                fname = (f"prometheus-{name}-{_stamp(datetime.fromtimestamp(c_start, UTC))}-"
                         f"{_stamp(datetime.fromtimestamp(c_end, UTC))}.json")
                path = _land(folder, fname, lambda fh, body=body: fh.write(body))
                result.files.append(path)
            result.watermark_at = set_watermark(
                settings, "prometheus", name, datetime.fromtimestamp(c_end, UTC), path
            )
        results.append(result)
    return results


# --------------------------------------------------------------------------- scheduler


def run_pull(settings: Settings, source: str, now: datetime | None = None) -> dict:
    """One scheduled pull of ``source`` (slurm | prometheus) up to ``now`` (the run's scheduled
    time; default the clock); a summary of plain values for the task's return value."""
    if source == "slurm":
        results = [pull_slurm(settings, now=now)]
    elif source == "prometheus":
        results = pull_prometheus(settings, now=now)
    else:
        raise ValueError(f"unknown pull source {source!r}; expected slurm or prometheus")
    return {
        "source": source,
        "files": [str(f) for r in results for f in r.files],
        "records": sum(r.records for r in results),
        "requests": sum(r.requests for r in results),
        "watermarks": {r.key: r.watermark_at.isoformat() if r.watermark_at else None for r in results},
        "warnings": [w for r in results for w in r.warnings],
    }
