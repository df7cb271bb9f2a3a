"""``kirz pull prometheus`` against a real Prometheus 2.42 (backfilled TSDB, basic auth).

The bed holds 4 nodes x 30 h of 10 s power samples (``testbed_fixtures.power_series``).
Pulled in chunks of at most 10,000 steps and ingested, the samples equal what was loaded,
node by node (count and sum of watts). A small HTTP proxy on 127.0.0.1 in front of the real
server answers 503 or drops the connection on cue, and stands in for a read-only gateway
that asks for a bearer token.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from base64 import b64encode
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from testbed_fixtures import DAGS, POWER_STEP_S, PROM_USER, power_series, prometheus_bed  # noqa: F401

UTC = timezone.utc
KEY = "prometheus-test-key"
QUERY = "ipmi_dcmi_power_consumption_watts"


@pytest.fixture(scope="module")
def clock() -> float:
    return time.monotonic()


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _settings(home: Path, url: str, query: str = QUERY, **extra):
    from kirz.config import load_settings

    home.mkdir(parents=True, exist_ok=True)
    table = {"url": url, "step_s": POWER_STEP_S, "backoff_s": 0.01, "lag_s": 60, **extra}
    lines = ["[pull.prometheus]"] + [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    lines += ["[pull.prometheus.queries]", f"node_power = {json.dumps(query)}"]
    (home / "kirz.toml").write_text("\n".join(lines) + "\n")
    return load_settings(env={}, home=home, pseudonym_key=KEY)


def _rows(settings, sql: str) -> list[tuple]:
    from kirz.warehouse import open_warehouse

    with open_warehouse(settings.warehouse_path) as con:
        return con.execute(sql).fetchall()


class Proxy:
    """An HTTP proxy to Prometheus on 127.0.0.1 that follows a script, one entry per request:
    ``503`` (answer 503), ``drop`` (close the connection unanswered), ``forward``. Past the
    script it forwards. With ``bearer`` it refuses (401) requests without that token and
    forwards the rest with the upstream's basic-auth credentials."""

    def __init__(self, upstream: str, upstream_auth: str, script=(), bearer: str | None = None):
        self.upstream, self.upstream_auth, self.bearer = upstream, upstream_auth, bearer
        self.script = list(script)
        self.seen: list[tuple[str, str | None]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                auth = self.headers.get("Authorization")
                proxy.seen.append((self.path, auth))
                action = proxy.script.pop(0) if proxy.script else "forward"
                if action == "drop":
                    self.close_connection = True
                    return
                if action == "503":
                    self._answer(503, b"upstream busy", "text/plain")
                    return
                if proxy.bearer is not None:
                    if auth != f"Bearer {proxy.bearer}":
                        self._answer(401, b"Unauthorized\n", "text/plain")
                        return
                    auth = proxy.upstream_auth
                req = urllib.request.Request(proxy.upstream + self.path, headers={"Authorization": auth or ""})
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        self._answer(resp.status, resp.read(), resp.headers.get("Content-Type"))
                except urllib.error.HTTPError as exc:
                    self._answer(exc.code, exc.read(), exc.headers.get("Content-Type"))

            def _answer(self, status: int, body: bytes, ctype: str | None):
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _basic(bed) -> str:
    return "Basic " + b64encode(f"{bed.username}:{bed.password}".encode()).decode()


def _span(series) -> tuple[int, int]:
    first = min(s[0][0] for s in series.values())
    last = max(s[-1][0] for s in series.values())
    return first, last


def test_pull_in_chunks_then_from_the_watermark_equals_what_was_loaded(prometheus_bed, power_series, clock, tmp_path):  # noqa: F811
    from kirz.pipeline import ingest_landing
    from kirz.pull import get_watermark, pull_prometheus

    bed = prometheus_bed
    settings = _settings(tmp_path / "home", bed.url, username=PROM_USER, password=bed.password)
    first, last = _span(power_series)
    steps = (last - first) // POWER_STEP_S + 1
    assert steps == 10_800
    split = first + (10_500 - 1) * POWER_STEP_S  # the first pull: 10,500 steps, two chunks

    t = time.monotonic()
    (a,) = pull_prometheus(settings, since=_iso(first), until=_iso(split))
    (b,) = pull_prometheus(settings, until=_iso(last))  # resumes one step after the watermark
    pull_s = time.monotonic() - t
    assert (a.chunks, len(a.files), a.requests) == (2, 2, 2)
    assert (b.chunks, len(b.files), b.requests) == (1, 1, 1)
    assert b.window_start.timestamp() == split + POWER_STEP_S
    assert get_watermark(settings, "prometheus", "node_power").timestamp() == last
    for path in a.files + b.files:
        assert path.parent == settings.landing_for("power") and path.name.startswith("prometheus-node_power-")
        doc = json.loads(path.read_bytes())
        assert doc["status"] == "success" and doc["data"]["resultType"] == "matrix"
        assert max(len(s["values"]) for s in doc["data"]["result"]) <= 10_000
    assert [len(json.loads(p.read_bytes())["data"]["result"][0]["values"]) for p in a.files + b.files] == [10_000, 500, 300]
    assert a.records + b.records == 4 * steps

    t = time.monotonic()
    run = ingest_landing(settings, sources=("power",))
    ingest_s = time.monotonic() - t
    assert [r.status for r in run.results] == ["loaded"] * 3
    assert sum(r.rows_quarantined for r in run.results) == 0
    got = {n: (c, s) for n, c, s in _rows(settings, "select node, count(*), sum(watts) from raw.node_power group by 1")}
    want = {n: (len(v), sum(w for _, w in v)) for n, v in power_series.items()}
    assert got == want
    dupes = _rows(settings, "select count(*) from (select node, sample_at from raw.node_power group by all having count(*) > 1)")
    assert dupes == [(0,)]
    span = _rows(settings, "select min(epoch(sample_at)), max(epoch(sample_at)) from raw.node_power")
    assert span == [(first, last)]
    print(f"\nsamples loaded {sum(c for c, _ in want.values()):,}, pulled {a.records + b.records:,}, "
          f"ingested {sum(c for c, _ in got.values()):,}; watts loaded {sum(s for _, s in want.values()):,.2f}, "
          f"ingested {sum(s for _, s in got.values()):,.2f}; pull {pull_s:.2f} s, ingest {ingest_s:.2f} s, "
          f"Prometheus up in {bed.started_s:.2f} s")


def test_nothing_new_within_the_lag_is_no_request(prometheus_bed, power_series, tmp_path):  # noqa: F811
    from kirz.pull import pull_prometheus

    bed = prometheus_bed
    settings = _settings(tmp_path / "home", bed.url, username=PROM_USER, password=bed.password)
    first, last = _span(power_series)
    pull_prometheus(settings, since=_iso(last - 60), until=_iso(last))
    (again,) = pull_prometheus(settings, until=_iso(last))
    assert (again.chunks, again.requests, again.files) == (0, 0, [])


def test_a_503_and_a_dropped_connection_are_retried_with_back_off(prometheus_bed, power_series, tmp_path):  # noqa: F811
    from kirz.pull import pull_prometheus

    bed = prometheus_bed
    first, _ = _span(power_series)
    until = first + 99 * POWER_STEP_S
    with Proxy(bed.url, _basic(bed), script=["503"]) as proxy:
        settings = _settings(tmp_path / "a", proxy.url, username=PROM_USER, password=bed.password)
        (r,) = pull_prometheus(settings, since=_iso(first), until=_iso(until))
    assert r.requests == 2 and len(proxy.seen) == 2
    assert [auth for _, auth in proxy.seen] == [_basic(bed)] * 2
    assert r.records == 4 * 100 and len(r.files) == 1

    waits: list[float] = []
    with Proxy(bed.url, _basic(bed), script=["503", "drop"]) as proxy:
        settings = _settings(tmp_path / "b", proxy.url, username=PROM_USER, password=bed.password, backoff_s=0.05)
        (r,) = pull_prometheus(settings, since=_iso(first), until=_iso(until), sleep=waits.append)
    assert (r.requests, len(proxy.seen), r.records) == (3, 3, 400)
    assert waits == [0.05, 0.1]


def test_a_server_that_keeps_failing_is_a_clear_error_and_keeps_the_watermark(prometheus_bed, power_series, tmp_path):  # noqa: F811
    from kirz.pull import PullError, get_watermark, pull_prometheus

    bed = prometheus_bed
    first, _ = _span(power_series)
    with Proxy(bed.url, _basic(bed), script=["503"] * 10) as proxy:
        settings = _settings(tmp_path / "home", proxy.url, username=PROM_USER, password=bed.password, retries=2)
        with pytest.raises(PullError) as err:
            pull_prometheus(settings, since=_iso(first), until=_iso(first + 990))
    assert str(err.value) == f"Prometheus at {proxy.url} did not answer after 3 attempts; last: HTTP 503: upstream busy"
    assert len(proxy.seen) == 3
    assert get_watermark(settings, "prometheus", "node_power") is None
    assert not settings.landing_for("power").exists() or list(settings.landing_for("power").iterdir()) == []


def test_wrong_credentials_fail_clearly_without_the_secret(prometheus_bed, power_series, tmp_path):  # noqa: F811
    from kirz.cli_pull import pull_app
    from kirz.pull import PullError, pull_prometheus

    bed = prometheus_bed
    first, _ = _span(power_series)
    window = dict(since=_iso(first), until=_iso(first + 990))
    secret = "not-the-password-7f3a"
    settings = _settings(tmp_path / "a", bed.url, username=PROM_USER, password=secret)
    with pytest.raises(PullError) as err:
        pull_prometheus(settings, **window)
    assert str(err.value) == f"authentication failed for {bed.url} (HTTP 401)"

    # credentials in the URL: taken out of it, never printed
    host = bed.url.removeprefix("http://")
    settings = _settings(tmp_path / "b", f"http://{PROM_USER}:{secret}@{host}")
    with pytest.raises(PullError) as err:
        pull_prometheus(settings, **window)
    assert str(err.value) == f"authentication failed for {bed.url} (HTTP 401)"
    settings = _settings(tmp_path / "c", f"http://{PROM_USER}:{bed.password}@{host}")
    (ok,) = pull_prometheus(settings, **window)
    assert ok.records == 4 * 100

    # no credentials at all
    with pytest.raises(PullError, match="^authentication failed for"):
        pull_prometheus(_settings(tmp_path / "d", bed.url), **window)

    out = CliRunner().invoke(pull_app, ["prometheus", "--home", str(tmp_path / "a"), "--since", window["since"],
                                        "--until", window["until"]])
    assert out.exit_code == 1
    assert "authentication failed for" in out.output and secret not in out.output


def test_a_bearer_token_is_sent_and_a_wrong_one_refused_without_echo(prometheus_bed, power_series, tmp_path):  # noqa: F811
    from kirz.pull import PullError, pull_prometheus

    bed = prometheus_bed
    first, _ = _span(power_series)
    window = dict(since=_iso(first), until=_iso(first + 990))
    token = "tok-" + "5" * 24
    with Proxy(bed.url, _basic(bed), bearer=token) as gateway:
        (r,) = pull_prometheus(_settings(tmp_path / "a", gateway.url, bearer_token=token), **window)
        assert r.records == 400 and gateway.seen[-1][1] == f"Bearer {token}"
        with pytest.raises(PullError) as err:
            pull_prometheus(_settings(tmp_path / "b", gateway.url, bearer_token="tok-wrong-secret"), **window)
    assert str(err.value) == f"authentication failed for {gateway.url} (HTTP 401)"


def test_a_bad_query_carries_prometheus_own_error(prometheus_bed, power_series, tmp_path):  # noqa: F811
    from kirz.pull import PullError, pull_prometheus

    bed = prometheus_bed
    first, _ = _span(power_series)
    settings = _settings(tmp_path / "home", bed.url, query="rate(node_power[5m]", username=PROM_USER,
                         password=bed.password)
    with pytest.raises(PullError) as err:
        pull_prometheus(settings, since=_iso(first), until=_iso(first + 990))
    msg = str(err.value)
    assert msg.startswith(f"Prometheus at {bed.url} refused the query 'rate(node_power[5m]' (HTTP 400): bad_data: ")
    assert bed.password not in msg


def test_configuration_errors(prometheus_bed, tmp_path):  # noqa: F811
    from kirz.config import load_settings
    from kirz.pull import PullError, is_configured, pull_prometheus

    bare = load_settings(env={}, home=tmp_path / "bare", pseudonym_key=KEY)
    assert not is_configured(bare, "prometheus") and not is_configured(bare, "slurm")
    with pytest.raises(PullError, match=r"set url in \[pull.prometheus\]"):
        pull_prometheus(bare)
    settings = _settings(tmp_path / "home", prometheus_bed.url)
    assert is_configured(settings, "prometheus")
    with pytest.raises(PullError, match="first Prometheus pull of 'node_power': give --since"):
        pull_prometheus(settings)
    with pytest.raises(PullError, match="points_per_chunk must be between 1 and 11,000"):
        pull_prometheus(_settings(tmp_path / "big", prometheus_bed.url, points_per_chunk=12_000))


def test_cli_pull_prometheus(prometheus_bed, power_series, tmp_path):  # noqa: F811
    from kirz.cli_pull import pull_app

    bed = prometheus_bed
    first, _ = _span(power_series)
    home = tmp_path / "home"
    _settings(home, bed.url, username=PROM_USER, password=bed.password)
    out = CliRunner().invoke(pull_app, ["prometheus", "--home", str(home), "--since", _iso(first),
                                        "--until", _iso(first + 990)])
    assert out.exit_code == 0, out.output
    assert "node_power: 400 points in 4 series, 1 chunk(s), 1 file(s), 1 request(s)" in out.output
    assert bed.password not in out.output


def test_dag_task_pulls_when_configured_and_skips_otherwise(prometheus_bed, power_series, tmp_path, monkeypatch):  # noqa: F811
    """The task of kirz_pull_prometheus, called as Airflow calls it (kirz_pull_slurm runs under
    ``dag.test()`` in test_pull_slurm.py; here the task body is enough)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import AirflowSkipException

    bed = prometheus_bed
    bag = DagBag(dag_folder=str(DAGS / "kirz_pull_prometheus.py"))
    assert bag.import_errors == {}
    dag = bag.dags["kirz_pull_prometheus"]
    assert [a.uri for a in dag.get_task("pull").outlets] == ["kirz://landing/power", "kirz://landing/gpu"]
    pull = dag.get_task("pull").python_callable
    first, last = _span(power_series)
    home = tmp_path / "home"
    settings = _settings(home, bed.url, username=PROM_USER, password=bed.password, start=_iso(first))
    monkeypatch.setenv("KIRZ_HOME", str(home))
    monkeypatch.delenv("KIRZ_CONFIG", raising=False)
    scheduled = datetime.fromtimestamp(last, UTC) + timedelta(hours=1)
    summary = pull(data_interval_end=scheduled)
    assert len(summary["files"]) == 2  # 30 h of 10 s steps from the configured start: two chunks
    # what was loaded, and for each series its last sample repeated for the 5 minute look-back
    assert summary["records"] == 4 * (10_800 + 300 // POWER_STEP_S)
    assert summary["watermarks"] == {"node_power": (scheduled - timedelta(seconds=60)).isoformat()}
    with pytest.raises(AirflowSkipException, match="nothing new in Prometheus"):
        pull(data_interval_end=scheduled)  # a re-run of the same scheduled time
    assert len(list(settings.landing_for("power").iterdir())) == 2

    bare = tmp_path / "bare"
    bare.mkdir()
    monkeypatch.setenv("KIRZ_HOME", str(bare))
    with pytest.raises(AirflowSkipException, match=r"no url in \[pull.prometheus\]"):
        pull(data_interval_end=scheduled)
    assert not (bare / "landing").exists()


def test_time_budget(prometheus_bed, clock):  # noqa: F811
    """Backfilling and starting Prometheus and every test above: within 30 s."""
    elapsed = prometheus_bed.started_s + time.monotonic() - clock
    print(f"\nprometheus: up in {prometheus_bed.started_s:.2f} s, {elapsed:.1f} s in all")
    assert elapsed < 30
