"""``make airflow``: the whole pipeline under a local Airflow (``airflow standalone``).

Airflow lives in ``<home>/airflow`` (SQLite metadata, LocalExecutor, simple auth manager);
it reads the repository's ``dags/`` and ``plugins/`` folders, so what runs is the code in the
working tree. The demo centre is synthesized beside the landing folders and then moved in
file by file (a rename, so the landing trigger never sees a half-written file); from there
the file-arrival events drive ingest -> transform -> publish without a manual step.

The functions other than :func:`main` are separate so that the end-to-end test starts
Airflow exactly the way ``make airflow`` does, and so that :mod:`kirz.airflow_prod`
(``make airflow-prod``: PostgreSQL, Celery, each component a process) shares the environment,
the preparation, the demo drop and the login.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

from kirz.config import SOURCES, Settings

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
PLUGINS_FOLDER = REPO / "plugins"
# every task that opens the DuckDB warehouse runs in this one-slot pool (DuckDB allows one writing
# process per file, and a reader blocks a writer) and in this Celery queue, which only the worker
# on the host holding KIRZ_HOME serves (`kirz airflow --production`); tasks that read only the
# published snapshot keep the default queue and may run on any worker. Executors without queues
# (LocalExecutor) ignore it. The DAG files take both from kirz.airflow_assets.
WAREHOUSE_POOL = "kirz_warehouse"
WAREHOUSE_QUEUE = "kirz_warehouse"


def airflow_home(settings: Settings) -> Path:
    return settings.home.resolve() / "airflow"


def airflow_env(
    settings: Settings,
    port: int = 8080,
    log_ports: tuple[int, int] = (8793, 8794),
    base: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment every Airflow process of this installation runs with.

    ``log_ports``: the scheduler's and the triggerer's log servers (Airflow's defaults); a
    second Airflow on the same machine needs other ones.
    """
    env = dict(os.environ if base is None else base)
    home = settings.home.resolve()
    bindir = str(Path(sys.executable).parent)
    env.update(
        {
            "KIRZ_HOME": str(home),
            "AIRFLOW_HOME": str(airflow_home(settings)),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_ports[1]),
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            # standalone starts its components as `airflow ...`: the venv's bin must be on PATH
            "PATH": bindir + os.pathsep + env.get("PATH", ""),
        }
    )
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)  # SQLite in AIRFLOW_HOME
    return env


def _airflow(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    cmd = [str(Path(sys.executable).parent / "airflow"), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"`airflow {' '.join(args)}` failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def prepare(settings: Settings, env: dict[str, str]) -> None:
    """Migrate the metadata database and create the one-slot warehouse pool (idempotent)."""
    airflow_home(settings).mkdir(parents=True, exist_ok=True)
    settings.pseudonym_key_bytes(create=True)
    for source in SOURCES:
        settings.landing_for(source).mkdir(parents=True, exist_ok=True)
    _airflow(env, "db", "migrate")
    _airflow(
        env, "pools", "set", WAREHOUSE_POOL, "1",
        "kirz: DuckDB allows one writing process per warehouse file",
    )


def drop_demo_data(
    settings: Settings, *, nodes: int = 56, days: int = 14, interval_s: int = 30, start: date | None = None
) -> list[Path]:
    """Synthesize the demo centre next to landing and move its files into the landing folders.

    Each file is renamed into place (same file system), so a watcher sees whole files only.
    Returns the landed paths.
    """
    from kirz.synth import synthesize

    staging = settings.home / ".synth-staging"
    shutil.rmtree(staging, ignore_errors=True)
    kwargs = {"nodes": nodes, "days": days, "interval_s": interval_s, "tz": settings.timezone}
    if start is not None:
        kwargs["start"] = start
    synthesize(staging, **kwargs)
    manifest = staging / "manifest.json"
    if manifest.exists():
        manifest.replace(settings.home / "synth-manifest.json")
    landed = []
    for source in SOURCES:
        src_dir = staging / source
        if not src_dir.is_dir():
            continue
        for path in sorted(p for p in src_dir.rglob("*") if p.is_file()):
            dest = settings.landing_for(source) / path.relative_to(src_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
            landed.append(dest)
    shutil.rmtree(staging, ignore_errors=True)
    return landed


def admin_password(settings: Settings, timeout: float = 120) -> str:
    """The generated password of ``admin`` (simple auth manager), waiting for the file to appear."""
    path = airflow_home(settings) / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file():
            try:
                return json.loads(path.read_text())["admin"]
            except (ValueError, KeyError):
                time.sleep(0.5)  # the file is still being written: read it again
                continue
        time.sleep(0.5)
    raise TimeoutError(f"Airflow wrote no password file at {path} within {timeout:.0f} s")


def wait_until_up(port: int, proc: subprocess.Popen | None = None, timeout: float = 300) -> None:
    """Wait for the API server's health endpoint; fail early when ``proc`` (standalone, or the
    API server) exited."""
    url = f"http://localhost:{port}/api/v2/monitor/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            name = " ".join([Path(proc.args[0]).name, *map(str, proc.args[1:])])
            raise RuntimeError(f"`{name}` exited with code {proc.returncode} before it was up")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise TimeoutError(f"the Airflow API server did not answer at {url} within {timeout:.0f} s")


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports nobody listens on now (each bound once on 127.0.0.1, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _default_sigint() -> None:
    # a process started in the background inherits an ignored SIGINT; Airflow stops on it
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn_group(cmd: list[str], log_path: Path, env: dict[str, str], **kwargs) -> subprocess.Popen:
    """``cmd`` in a process group of its own (so it and every process it forks can be stopped
    together), its output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_default_sigint, **kwargs)
    finally:
        log.close()


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    """``sig`` to the process alone (its own way to stop); once it has exited, or after
    ``timeout``, whatever is left of its process group is killed."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return proc.wait()


def start_standalone(settings: Settings, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """``airflow standalone`` in its own process group, its output going to ``log_path``."""
    return spawn_group([str(Path(sys.executable).parent / "airflow"), "standalone"], log_path, env)


def stop_standalone(proc: subprocess.Popen, timeout: float = 90) -> int:
    """Stop standalone the way it expects: SIGINT to it alone (it ignores SIGTERM for its
    children, and a SIGINT to the whole group can leave the scheduler waiting for its
    workers); whatever is left of its process group after ``timeout`` is killed."""
    return stop_group(proc, signal.SIGINT, timeout)


def banner(port: int, password: str) -> list[str]:
    """What ``make airflow`` prints once Airflow is up: one address per line."""
    base = f"http://localhost:{port}"
    return [
        "",
        f"Airflow UI:       {base}/",
        f"login:            admin / {password}",
        f"report register:  {base}/kirz/",
        f"data quality:     {base}/kirz/dq/",
        "",
    ]


def ports_in_use(ports, out) -> bool:
    """Say which of ``ports`` (None: not used) another process holds; True if any."""
    busy = [p for p in ports if p and not port_free(p)]
    if busy:
        out(f"error: port(s) {', '.join(map(str, busy))} in use (another Airflow?); stop it or choose other ports")
    return bool(busy)


def announce_demo_drop(settings: Settings, out, *, nodes: int, days: int, interval_s: int) -> None:
    out(f"synthesizing the demo centre ({nodes} nodes x {days} days) into {settings.landing} ...")
    landed = drop_demo_data(settings, nodes=nodes, days=days, interval_s=interval_s)
    out(f"dropped {len(landed)} files into the landing folders: ingestion starts by itself")


def whole_lines(out):
    """``out`` printing each line whole: rich's ``Console.print`` wraps at the console's width
    (80 columns when the output is a file or a pipe), which would break the addresses."""
    console = getattr(out, "__self__", None)
    if getattr(out, "__name__", "") == "print" and hasattr(console, "is_terminal"):
        return lambda line: console.print(line, soft_wrap=True, markup=False, highlight=False)
    return out


def main(
    settings: Settings,
    *,
    port: int = 8080,
    log_ports: tuple[int, int] = (8793, 8794),
    demo: bool = True,
    nodes: int = 56,
    days: int = 14,
    interval_s: int = 30,
    out=print,
) -> int:
    """Start Airflow for this home, drop the demo data into landing, run until Ctrl-C (or SIGINT)."""
    out = whole_lines(out)
    if ports_in_use((port, *log_ports), out):
        return 2
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    env = airflow_env(settings, port=port, log_ports=log_ports)
    home = airflow_home(settings)
    out(f"Airflow home: {home}")
    out(f"dags: {DAGS_FOLDER}   plugins: {PLUGINS_FOLDER}   KIRZ_HOME: {settings.home.resolve()}")
    out("preparing the metadata database (SQLite) and the warehouse pool ...")
    prepare(settings, env)
    log_path = home / "standalone.log"
    proc = start_standalone(settings, env, log_path)
    pid_file = home / "standalone.pid"
    pid_file.write_text(f"{proc.pid}\n")  # its process group id too: for a supervisor's last resort
    out(f"starting airflow standalone (scheduler, dag-processor, triggerer, api-server); log: {log_path}")
    try:
        wait_until_up(port, proc)
        password = admin_password(settings)
        for line in banner(port, password):
            out(line)
        if demo:
            announce_demo_drop(settings, out, nodes=nodes, days=days, interval_s=interval_s)
        out("Ctrl-C stops Airflow.")
        while proc.poll() is None:
            time.sleep(1)
        out(f"airflow standalone exited with code {proc.returncode}; see {log_path}")
        return proc.returncode or 1
    except KeyboardInterrupt:
        out("stopping Airflow ...")
        stop_standalone(proc)
        out("Airflow stopped.")
        return 0
    except BaseException:
        stop_standalone(proc)
        raise
    finally:
        pid_file.unlink(missing_ok=True)
