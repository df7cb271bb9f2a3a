"""``make airflow-prod``: the pipeline under Airflow as a centre runs it in production.

PostgreSQL (a private data directory, a port on 127.0.0.1) holds Airflow's metadata, Redis
(127.0.0.1) is the Celery broker, and every Airflow component is a process of its own:
``api-server``, ``scheduler``, ``dag-processor``, ``triggerer`` and two Celery workers.

- ``worker-warehouse`` serves the queues ``kirz_warehouse`` and ``default``: it stands for the
  host that holds ``KIRZ_HOME`` and the DuckDB warehouse. Every task that opens the live
  warehouse is in that queue (and in the one-slot pool of the same name), so on any number of
  hosts the warehouse is written from one host, one task at a time.
- ``worker-default`` serves ``default`` only: report rendering, which reads the published
  snapshot, may run there.

This module supervises them like a service manager: a component that exits is started again
(a worker killed mid-task comes back, and the scheduler's task-instance heartbeat timeout
hands the orphaned task to its retry); PostgreSQL or Redis exiting stops everything.
Ctrl-C stops every process it started, Airflow's first, then Redis and PostgreSQL.

The metadata database, the migration, the warehouse pool, the dags and plugins folders and
the login are those of :mod:`kirz.airflow_local` (``make airflow``); only the executor, the
database and the process layout differ.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kirz.airflow_local import (
    DAGS_FOLDER,
    PLUGINS_FOLDER,
    WAREHOUSE_POOL,
    WAREHOUSE_QUEUE,
    admin_password,
    airflow_env,
    airflow_home,
    announce_demo_drop,
    banner,
    free_ports,
    ports_in_use,
    prepare,
    spawn_group,
    stop_group,
    wait_until_up,
    whole_lines,
)
from kirz.config import Settings

DEFAULT_QUEUE = "default"  # Airflow's [operators] default_queue
# the Airflow components, each a process of its own, in start order
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
# name -> (queues served, Celery hostname); the first one holds KIRZ_HOME and the warehouse
WORKERS = {
    "worker-warehouse": (f"{WAREHOUSE_QUEUE},{DEFAULT_QUEUE}", "kirz-warehouse@%h"),
    "worker-default": (DEFAULT_QUEUE, "kirz-default@%h"),
}
WORKER_CONCURRENCY = 2
POSTGRES_DB = "airflow"
POSTGRES_ROLE = "airflow"
# a component that exits this many times within CRASH_WINDOW_S of its start is given up on
MAX_QUICK_EXITS = 3
CRASH_WINDOW_S = 30


class MissingDependency(RuntimeError):
    """PostgreSQL, Redis or the Airflow providers are not installed."""


# --- where things are --------------------------------------------------------------------

def postgres_bindir() -> Path:
    """The directory of PostgreSQL's programs (initdb, postgres, pg_isready, psql, createdb):
    Debian's ``/usr/lib/postgresql/<version>/bin`` (the newest), else the one on PATH."""
    found = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    on_path = shutil.which("initdb")
    if on_path and all((Path(on_path).parent / tool).is_file() for tool in _PG_TOOLS):
        return Path(on_path).parent
    raise MissingDependency("PostgreSQL's server programs are not installed (Debian: apt-get install postgresql)")


_PG_TOOLS = ("initdb", "postgres", "pg_isready", "psql", "createdb")


def redis_server() -> str:
    path = shutil.which("redis-server")
    if not path:
        raise MissingDependency("redis-server is not installed (Debian: apt-get install redis-server)")
    return path


def check_providers() -> None:
    import importlib.util

    missing = [m for m in ("airflow.providers.celery", "airflow.providers.postgres", "psycopg2")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependency(f"missing {', '.join(missing)}: install the project with its production extra, "
                                "pip install -e '.[production]'")


def server_user() -> pwd.struct_passwd | None:
    """Whom PostgreSQL runs as: itself when not root; as root (PostgreSQL refuses root) the
    ``postgres`` user Debian's package creates, else ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise MissingDependency("running as root, and there is neither a postgres nor a nobody user to run PostgreSQL as")


def _as_user(user: pwd.struct_passwd | None) -> dict:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _reachable(path: Path, user: pwd.struct_passwd | None) -> bool:
    if user is None:
        return True
    probe = subprocess.run(["test", "-w", str(path), "-a", "-x", str(path)], **_as_user(user))
    return probe.returncode == 0


def postgres_dir(settings: Settings, user: pwd.struct_passwd | None, wanted: Path | None = None) -> Path:
    """The private data directory of the metadata database: ``<airflow home>/postgres`` (or
    ``wanted``), owned by the server's user; when that user cannot reach it (a home under
    root's 0700 folders), ``/var/tmp/kirz-postgres-<hash of the home>``."""
    path = Path(wanted or airflow_home(settings) / "postgres").resolve()
    for candidate in (path, Path("/var/tmp") / f"kirz-postgres-{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"):
        candidate.mkdir(parents=True, exist_ok=True, mode=0o700)
        if user is not None:
            os.chown(candidate, user.pw_uid, user.pw_gid)
        candidate.chmod(0o700)
        if _reachable(candidate, user):
            return candidate
    raise RuntimeError(f"user {user.pw_name} can reach neither {path} nor {candidate}")


def stack_secrets(settings: Settings) -> dict[str, str]:
    """The database password and the JWT secret every component shares, made once per home
    (``<airflow home>/production-secrets.json``, mode 0600)."""
    path = airflow_home(settings) / "production-secrets.json"
    if path.is_file():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {"postgres_password": secrets.token_urlsafe(24), "jwt_secret": secrets.token_urlsafe(32)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(values, f)
    return values


# --- PostgreSQL and Redis ------------------------------------------------------------------

def init_postgres(datadir: Path, password: str, user: pwd.struct_passwd | None, bindir: Path) -> None:
    """``initdb`` once: a superuser ``airflow`` with a password, passwords required over TCP."""
    if (datadir / "PG_VERSION").is_file():
        return
    pwfile = datadir.parent / f".{datadir.name}.pw"
    pwfile.write_text(password + "\n")
    try:
        os.chmod(pwfile, 0o600)
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        proc = subprocess.run(
            [str(bindir / "initdb"), "-D", str(datadir), "-U", POSTGRES_ROLE, f"--pwfile={pwfile}",
             "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
            capture_output=True, text=True, cwd="/", **_as_user(user),
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"initdb failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")


def start_postgres(datadir: Path, port: int, log_path: Path, user: pwd.struct_passwd | None,
                   bindir: Path) -> subprocess.Popen:
    """The server in the foreground of its own process group: TCP on 127.0.0.1 only, its Unix
    socket in the data directory."""
    return spawn_group(
        [str(bindir / "postgres"), "-D", str(datadir), "-p", str(port), "-k", str(datadir),
         "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
        log_path, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}, cwd="/", **_as_user(user),
    )


def wait_for_postgres(port: int, password: str, proc: subprocess.Popen, bindir: Path, timeout: float = 60) -> None:
    """Wait until the server accepts logins, then create the ``airflow`` database if missing."""
    env = {**os.environ, "PGPASSWORD": password}
    base = ["-h", "127.0.0.1", "-p", str(port), "-U", POSTGRES_ROLE]
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited with code {proc.returncode}")
        ready = subprocess.run([str(bindir / "pg_isready"), *base, "-d", "postgres"], capture_output=True, env=env)
        if ready.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"PostgreSQL did not accept connections on 127.0.0.1:{port} within {timeout:.0f} s")
        time.sleep(0.5)
    listed = subprocess.run(
        [str(bindir / "psql"), *base, "-d", "postgres", "-tAc", f"select 1 from pg_database where datname = '{POSTGRES_DB}'"],
        capture_output=True, text=True, env=env,
    )
    if listed.returncode != 0:
        raise RuntimeError(f"psql failed: {listed.stderr.strip()}")
    if listed.stdout.strip() != "1":
        made = subprocess.run([str(bindir / "createdb"), *base, POSTGRES_DB], capture_output=True, text=True, env=env)
        if made.returncode != 0:
            raise RuntimeError(f"createdb failed: {made.stderr.strip()}")


def start_redis(port: int, workdir: Path, log_path: Path) -> subprocess.Popen:
    """The broker: 127.0.0.1 only, nothing written to disk (Airflow re-queues from its database)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return spawn_group(
        [redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--daemonize", "no"],
        log_path, env=dict(os.environ),
    )


def wait_for_redis(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"Redis did not answer on 127.0.0.1:{port} within {timeout:.0f} s")


# --- Airflow -------------------------------------------------------------------------------

@dataclass
class Ports:
    api: int = 8080
    triggerer_log: int = 8794
    worker_logs: tuple[int, ...] = (8793, 8795)
    postgres: int = 0  # 0: a free port, chosen at start
    redis: int = 0

    def resolved(self) -> "Ports":
        pg, redis = free_ports(2)
        return Ports(self.api, self.triggerer_log, self.worker_logs, self.postgres or pg, self.redis or redis)

    def airflow(self) -> list[int]:
        return [self.api, self.triggerer_log, *self.worker_logs]


def production_env(settings: Settings, ports: Ports, secrets_: dict[str, str],
                   base: dict[str, str] | None = None) -> dict[str, str]:
    """``make airflow``'s environment (:func:`kirz.airflow_local.airflow_env`) with PostgreSQL,
    the CeleryExecutor on Redis and the secret every component shares. ``[scheduler]`` and
    ``[celery]`` settings already in ``base`` are kept (the tests shorten timeouts that way)."""
    env = airflow_env(settings, port=ports.api, log_ports=(ports.worker_logs[0], ports.triggerer_log), base=base)
    conn = f"postgresql+psycopg2://{POSTGRES_ROLE}:{secrets_['postgres_password']}@127.0.0.1:{ports.postgres}/{POSTGRES_DB}"
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": conn,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{ports.redis}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{conn}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": DEFAULT_QUEUE,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets_["jwt_secret"],
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        }
    )
    # a task is acknowledged to the broker only when it finished (Airflow's default), so a
    # worker killed mid-task loses no message; the broker hands an unacknowledged task to
    # another worker only after the visibility timeout, long after the scheduler's
    # task-instance heartbeat timeout has failed the try and queued its retry
    env.setdefault("AIRFLOW__CELERY__TASK_ACKS_LATE", "True")
    env.setdefault("AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT", "21600")
    return env


def worker_env(env: dict[str, str], log_port: int) -> dict[str, str]:
    """Each worker serves its task logs on a port of its own."""
    return {**env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port)}


def component_command(name: str) -> list[str]:
    airflow = str(Path(sys.executable).parent / "airflow")
    if name in WORKERS:
        queues, hostname = WORKERS[name]
        return [airflow, "celery", "worker", "--queues", queues, "--celery-hostname", hostname,
                "--concurrency", str(WORKER_CONCURRENCY)]
    if name in SERVICES:
        return [airflow, name]
    raise ValueError(f"unknown component {name!r}")


@dataclass
class Component:
    name: str
    cmd: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    started: float = 0.0
    quick_exits: int = 0
    restarts: int = 0

    def start(self) -> None:
        self.proc = spawn_group(self.cmd, self.log_path, self.env)
        self.started = time.monotonic()


@dataclass
class ProductionStack:
    """PostgreSQL, Redis and the Airflow components of one home, started and supervised."""

    settings: Settings
    ports: Ports = field(default_factory=Ports)
    pg_dir: Path | None = None
    base_env: dict[str, str] | None = None
    out: object = print

    def __post_init__(self):
        self.home = airflow_home(self.settings)
        self.log_dir = self.home / "production"
        self.pid_dir = self.log_dir / "pids"
        self.backing: dict[str, subprocess.Popen] = {}
        self.components: dict[str, Component] = {}
        self.stopping = False

    # start ---------------------------------------------------------------------------------
    def start(self) -> None:
        check_providers()
        bindir, _ = postgres_bindir(), redis_server()
        self.ports = self.ports.resolved()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        secrets_ = stack_secrets(self.settings)
        user = server_user()
        datadir = postgres_dir(self.settings, user, self.pg_dir)
        self.datadir = datadir
        init_postgres(datadir, secrets_["postgres_password"], user, bindir)
        self._backing("postgres", start_postgres(datadir, self.ports.postgres, self.log_dir / "postgres.log", user, bindir))
        wait_for_postgres(self.ports.postgres, secrets_["postgres_password"], self.backing["postgres"], bindir)
        self._backing("redis", start_redis(self.ports.redis, self.log_dir / "redis", self.log_dir / "redis.log"))
        wait_for_redis(self.ports.redis, self.backing["redis"])
        self.env = production_env(self.settings, self.ports, secrets_, base=self.base_env)
        prepare(self.settings, self.env)  # airflow db migrate, the warehouse pool
        for name in SERVICES:
            self._component(name, self.env)
        for name, log_port in zip(WORKERS, self.ports.worker_logs):
            self._component(name, worker_env(self.env, log_port))

    def _backing(self, name: str, proc: subprocess.Popen) -> None:
        self.backing[name] = proc
        (self.pid_dir / f"{name}.pid").write_text(f"{proc.pid}\n")

    def _component(self, name: str, env: dict[str, str]) -> None:
        comp = Component(name, component_command(name), env, self.log_dir / f"{name}.log")
        comp.start()
        self.components[name] = comp
        (self.pid_dir / f"{name}.pid").write_text(f"{comp.proc.pid}\n")

    def pids(self) -> dict[str, int]:
        procs = {**self.backing, **{n: c.proc for n, c in self.components.items()}}
        return {name: p.pid for name, p in procs.items() if p is not None}

    # supervise -----------------------------------------------------------------------------
    def supervise_once(self) -> None:
        """Start again every component that exited; fail when PostgreSQL or Redis did, or a
        component keeps exiting right after its start."""
        for name, proc in self.backing.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see {self.log_dir / name}.log")
        for comp in self.components.values():
            if self.stopping or comp.proc.poll() is None:
                continue
            code = comp.proc.returncode
            try:
                os.killpg(comp.proc.pid, signal.SIGKILL)  # what it forked and left behind
            except (ProcessLookupError, PermissionError):
                pass
            comp.quick_exits = comp.quick_exits + 1 if time.monotonic() - comp.started < CRASH_WINDOW_S else 0
            if comp.quick_exits >= MAX_QUICK_EXITS:
                raise RuntimeError(f"{comp.name} exited {comp.quick_exits} times right after starting; see {comp.log_path}")
            comp.start()
            comp.restarts += 1
            (self.pid_dir / f"{comp.name}.pid").write_text(f"{comp.proc.pid}\n")
            self.out(f"{comp.name} exited with code {code}; started again (pid {comp.proc.pid})")

    # stop ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Every process this stack started: the Airflow components, all at once (SIGTERM: a
        worker finishes its running task first, for up to a minute), then Redis, then
        PostgreSQL (SIGINT: a fast shutdown)."""
        self.stopping = True
        threads = [threading.Thread(target=stop_group, args=(c.proc, signal.SIGTERM, 60))
                   for c in self.components.values() if c.proc is not None]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if "redis" in self.backing:
            stop_group(self.backing["redis"], signal.SIGTERM, 15)
        if "postgres" in self.backing:
            stop_group(self.backing["postgres"], signal.SIGINT, 30)
        for pid_file in self.pid_dir.glob("*.pid"):
            pid_file.unlink(missing_ok=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def banner_lines(stack: ProductionStack, password: str) -> list[str]:
    lines = banner(stack.ports.api, password)
    workers = ", ".join(f"{name} (queues {WORKERS[name][0]})" for name in WORKERS)
    return lines[:-1] + [
        f"metadata:         PostgreSQL 127.0.0.1:{stack.ports.postgres}/{POSTGRES_DB} (data {stack.datadir})",
        f"broker:           Redis 127.0.0.1:{stack.ports.redis}",
        f"celery workers:   {workers}",
        f"logs and pids:    {stack.log_dir}",
        "",
    ]


def main(
    settings: Settings,
    *,
    ports: Ports | None = None,
    pg_dir: Path | None = None,
    demo: bool = True,
    nodes: int = 56,
    days: int = 14,
    interval_s: int = 30,
    out=print,
) -> int:
    """Start the production stack for this home, drop the demo data, supervise until Ctrl-C."""
    out = whole_lines(out)
    ports = ports or Ports()
    if ports_in_use(ports.airflow() + [ports.postgres, ports.redis], out):
        return 2
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop: the same as Ctrl-C
    stack = ProductionStack(settings, ports=ports, pg_dir=pg_dir, out=out)
    out(f"Airflow home: {stack.home}")
    out(f"dags: {DAGS_FOLDER}   plugins: {PLUGINS_FOLDER}   KIRZ_HOME: {settings.home.resolve()}")
    out(f"starting PostgreSQL and Redis, migrating the metadata database, creating the pool {WAREHOUSE_POOL} ...")
    try:
        try:
            stack.start()
        except MissingDependency as exc:
            out(f"error: {exc}")
            return 3
        out(f"started {', '.join(f'{n} (pid {p})' for n, p in stack.pids().items())}; logs: {stack.log_dir}")
        wait_until_up(stack.ports.api, stack.components["api-server"].proc)
        password = admin_password(settings)
        for line in banner_lines(stack, password):
            out(line)
        if demo:
            announce_demo_drop(settings, out, nodes=nodes, days=days, interval_s=interval_s)
        out("Ctrl-C stops every process.")
        while True:
            stack.supervise_once()
            time.sleep(1)
    except KeyboardInterrupt:
        out("stopping Airflow (a running task gets up to a minute to finish), Redis and PostgreSQL ...")
        stack.stop()
        out("stopped.")
        return 0
    except BaseException:
        stack.stop()
        raise
