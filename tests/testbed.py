"""A real Slurm and a real Prometheus on this machine, every file under one folder.

The live-system tests start them once per test session (``tests/testbed_fixtures.py``); a
person starts them by hand::

    python tests/testbed.py up DIR     # start both, print the environment to use
    python tests/testbed.py down DIR   # stop every daemon ``up`` started, by its pid

Needs root and Debian 12's ``slurm-wlm slurmdbd munge mariadb-server prometheus`` (and
``apache2-utils`` for ``htpasswd`` when Prometheus should ask for a password).

Slurm (22.05): munged on a private socket, MariaDB with a private datadir on 127.0.0.1,
slurmdbd, slurmctld and slurmd, one node named after this host (``hostname -s``) with 16 CPUs
and 8 GPUs on dummy device files (``gres.conf`` ``File=``; without device files slurmd drops
the GPUs and the node drains). Every daemon runs in the foreground of its own session, so its
pid is known from the start; :func:`stop` sends SIGTERM to exactly those pids and waits.
Prometheus (2.42): a TSDB backfilled from OpenMetrics text with ``promtool``, listening on a
free port of 127.0.0.1, without scrape jobs, optionally behind basic auth
(``--web.config.file``).
"""

from __future__ import annotations

import json
import math
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from base64 import b64encode
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE = "testbed.json"
CLUSTER = "kirztest"
ACCOUNTS = ("proj-a", "proj-b")
GPUS = 8
CPUS = 16
POWER_METRIC = "ipmi_dcmi_power_consumption_watts"
DEBIAN_PACKAGES = "slurm-wlm slurmdbd munge mariadb-server prometheus apache2-utils"

# the Popen objects of daemons this process started, so that stopping one also reaps it
_CHILDREN: dict[int, subprocess.Popen] = {}


class TestbedError(RuntimeError):
    """A daemon did not come up (the message carries the end of its log)."""


# --------------------------------------------------------------------------- processes


@dataclass
class Daemon:
    name: str
    pid: int
    exe: str  # the executable's base name, checked in /proc before a signal is sent
    log: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: str | Path, n: int = 3000) -> str:
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _spawn(name: str, argv: list[str], log: Path, *, user: str | None = None, env: dict | None = None) -> Daemon:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives `testbed.py up`; no terminal signals
            user=user,
            group=user,
            env=env,
        )
    _CHILDREN[proc.pid] = proc
    return Daemon(name=name, pid=proc.pid, exe=Path(argv[0]).name, log=str(log))


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    proc = _CHILDREN.get(pid)
    if proc is not None:
        return proc.poll() is None
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _is_ours(d: Daemon) -> bool:
    """The pid still runs the executable it was started with (not a reused pid)."""
    if d.pid in _CHILDREN:
        return _alive(d.pid)
    try:
        argv0 = Path(f"/proc/{d.pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return False
    return Path(argv0).name == d.exe and _alive(d.pid)


def stop_daemon(d: Daemon, timeout: float = 20.0) -> float:
    """SIGTERM to the daemon's pid, wait for it to exit (SIGKILL after ``timeout``); seconds taken."""
    t0 = time.monotonic()
    if not _is_ours(d):
        _CHILDREN.pop(d.pid, None)
        return 0.0
    os.kill(d.pid, signal.SIGTERM)
    deadline = t0 + timeout
    while _alive(d.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(d.pid):
        os.kill(d.pid, signal.SIGKILL)
        while _alive(d.pid):
            time.sleep(0.05)
    proc = _CHILDREN.pop(d.pid, None)
    if proc is not None:
        proc.wait()
    return time.monotonic() - t0


def wait_for(check, what: str, daemon: Daemon | None, timeout: float = 30.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = exc
        if daemon is not None and not _alive(daemon.pid):
            raise TestbedError(f"{daemon.name} exited while waiting for {what}:\n{_tail(daemon.log)}")
        time.sleep(every)
    log = _tail(daemon.log) if daemon else ""
    raise TestbedError(f"timed out after {timeout:.0f} s waiting for {what} ({last!r}):\n{log}")


def run_command(argv: list[str], env: dict | None = None, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if check and out.returncode != 0:
        raise TestbedError(f"{' '.join(argv)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def require(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        raise TestbedError(
            f"not installed: {', '.join(missing)} (Debian: apt-get install -y {DEBIAN_PACKAGES})"
        )


def make_base(prefix: str = "kirz-testbed-") -> Path:
    """A new folder that the munge user can traverse (pytest's temporary folders are 0700)."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    return base


# --------------------------------------------------------------------------- Slurm


@dataclass
class SlurmBed:
    root: str
    conf: str
    cluster: str
    node: str
    gpus: int
    cpus: int
    daemons: list[Daemon] = field(default_factory=list)
    started_s: float = 0.0

    @property
    def env(self) -> dict[str, str]:
        """The environment for Slurm's client commands (sacct, sbatch, ...)."""
        return {**os.environ, "SLURM_CONF": self.conf, "SLURM_TIME_FORMAT": "standard"}

    def run(self, *argv: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess:
        return run_command(list(argv), env=self.env, timeout=timeout, check=check)

    def sbatch(self, *args: str, script: str) -> str:
        """Submit a batch script; returns the job id (``123``)."""
        out = subprocess.run(
            ["sbatch", "--parsable", f"--output={self.root}/jobs/%j.out", *args],
            input=script, capture_output=True, text=True, env=self.env, timeout=60,
        )
        if out.returncode != 0:
            raise TestbedError(f"sbatch {' '.join(args)} failed: {out.stderr}")
        return out.stdout.strip().split(";")[0]


def _slurm_conf(root: Path, node: str, ports: dict[str, int], munge_socket: Path) -> str:
    return f"""\
ClusterName={CLUSTER}
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ports['ctld']}
SlurmdPort={ports['slurmd']}
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
InactiveLimit=0
KillWait=2
MinJobAge=300
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports['dbd']}
AccountingStoragePass={munge_socket}
AccountingStorageTRES=gres/gpu
GresTypes=gpu
NodeName={node} NodeAddr=127.0.0.1 CPUs={CPUS} RealMemory=8000 Gres=gpu:{GPUS} State=UNKNOWN
PartitionName=gpu Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def _slurmdbd_conf(root: Path, ports: dict[str, int], munge_socket: Path, db_password: str) -> str:
    return f"""\
AuthType=auth/munge
AuthInfo=socket={munge_socket}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={ports['dbd']}
SlurmUser=root
PidFile={root}/run/slurmdbd.pid
LogFile={root}/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports['mysql']}
StorageUser=slurm
StoragePass={db_password}
StorageLoc=slurm_acct_db
"""


def _start_munged(root: Path) -> tuple[Daemon, Path]:
    munge = pwd.getpwnam("munge")
    mdir = root / "munge"
    mdir.mkdir(mode=0o755)
    key = mdir / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    for p in (mdir, key):
        os.chown(p, munge.pw_uid, munge.pw_gid)
    sock = mdir / "munge.socket"
    d = _spawn(
        "munged",
        [shutil.which("munged"), "--foreground", f"--socket={sock}", f"--key-file={key}",
         f"--pid-file={mdir}/munged.pid", f"--log-file={mdir}/munged.log", f"--seed-file={mdir}/munged.seed"],
        root / "log" / "munged.out",
        user="munge",
    )
    wait_for(sock.exists, "the munge socket", d, timeout=15)
    return d, sock


def _start_mariadb(root: Path, port: int, password: str) -> Daemon:
    data = root / "mysql"
    sock = root / "run" / "mysqld.sock"
    run_command(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
          "--skip-test-db", "--skip-name-resolve", "--auth-root-authentication-method=socket"], timeout=120)
    d = _spawn(
        "mariadbd",
        [shutil.which("mariadbd"), "--no-defaults", f"--datadir={data}", f"--socket={sock}",
         f"--port={port}", "--bind-address=127.0.0.1", "--user=root", "--skip-name-resolve",
         f"--pid-file={root}/run/mariadbd.pid", f"--log-error={root}/log/mariadbd.log",
         "--innodb-buffer-pool-size=64M", "--innodb-lock-wait-timeout=900"],
        root / "log" / "mariadbd.out",
    )
    client = [shutil.which("mariadb"), "--no-defaults", f"--socket={sock}", "-u", "root"]
    wait_for(lambda: run_command(client + ["-e", "select 1"], check=False).returncode == 0,
              "MariaDB to accept connections", d, timeout=60)
    run_command(client + ["-e",
                   f"create database slurm_acct_db; "
                   f"create user 'slurm'@'127.0.0.1' identified by '{password}'; "
                   f"grant all on slurm_acct_db.* to 'slurm'@'127.0.0.1';"])
    return d


def start_slurm(base: Path) -> SlurmBed:
    """munged, MariaDB, slurmdbd, slurmctld, slurmd under ``base/slurm``; waits until the node is idle."""
    require("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sacct", "sacctmgr")
    t0 = time.monotonic()
    root = Path(base) / "slurm"
    for sub in ("etc", "state", "spool", "log", "run", "jobs", "dev"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    node = socket.gethostname().split(".")[0]
    ports = {"ctld": free_port(), "slurmd": free_port(), "dbd": free_port(), "mysql": free_port()}
    bed = SlurmBed(root=str(root), conf=str(root / "etc" / "slurm.conf"), cluster=CLUSTER, node=node,
                   gpus=GPUS, cpus=CPUS)
    try:
        munged, munge_socket = _start_munged(root)
        bed.daemons.append(munged)
        password = secrets.token_hex(12)
        bed.daemons.append(_start_mariadb(root, ports["mysql"], password))

        for i in range(GPUS):  # dummy GPU device files: character devices like /dev/null
            dev = root / "dev" / f"nvidia{i}"
            if not dev.exists():
                os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))
        etc = root / "etc"
        (etc / "slurm.conf").write_text(_slurm_conf(root, node, ports, munge_socket))
        (etc / "gres.conf").write_text(f"NodeName={node} Name=gpu File={root}/dev/nvidia[0-{GPUS - 1}]\n")
        dbd_conf = etc / "slurmdbd.conf"
        dbd_conf.write_text(_slurmdbd_conf(root, ports, munge_socket, password))
        dbd_conf.chmod(0o600)
        env = bed.env

        dbd = _spawn("slurmdbd", [shutil.which("slurmdbd"), "-D"], root / "log" / "slurmdbd.out", env=env)
        bed.daemons.append(dbd)
        wait_for(lambda: _port_open(ports["dbd"]), "slurmdbd to listen", dbd, timeout=60)
        bed.run("sacctmgr", "-i", "add", "cluster", CLUSTER)
        bed.run("sacctmgr", "-i", "add", "account", *ACCOUNTS, "description=kirz test", "organization=kirz")
        bed.run("sacctmgr", "-i", "add", "user", "root", f"account={','.join(ACCOUNTS)}",
                f"defaultaccount={ACCOUNTS[0]}")

        ctld = _spawn("slurmctld", [shutil.which("slurmctld"), "-D", "-i"], root / "log" / "slurmctld.out", env=env)
        bed.daemons.append(ctld)
        wait_for(lambda: "UP" in bed.run("scontrol", "ping", check=False).stdout, "slurmctld (scontrol ping)", ctld)
        slurmd = _spawn("slurmd", [shutil.which("slurmd"), "-D"], root / "log" / "slurmd.out", env=env)
        bed.daemons.append(slurmd)
        wait_for(lambda: bed.run("sinfo", "-h", "-o", "%T", check=False).stdout.strip() == "idle",
                  "the node to be idle (sinfo)", slurmd)
    except BaseException:
        stop_slurm(bed)
        raise
    bed.started_s = time.monotonic() - t0
    return bed


def stop_slurm(bed: SlurmBed) -> float:
    """Stop the daemons in reverse order of start, each by its pid; seconds taken."""
    t0 = time.monotonic()
    for d in reversed(bed.daemons):
        stop_daemon(d)
    bed.daemons.clear()
    return time.monotonic() - t0


def wait_for_jobs(bed: SlurmBed, job_ids: list[str], timeout: float = 60.0) -> None:
    """Wait until none of ``job_ids`` is pending or running (squeue) and all are in sacct."""
    ids = ",".join(job_ids)

    def done() -> bool:
        if bed.run("squeue", "-h", "-j", ids, "-o", "%i", check=False).stdout.strip():
            return False
        out = bed.run("sacct", "-a", "-n", "-X", "-P", "-j", ids, "-o", "JobIDRaw,State", check=False).stdout
        states = [line.split("|")[1] for line in out.splitlines() if line]
        return len(states) >= len(job_ids) and not any(s in ("PENDING", "RUNNING", "COMPLETING") for s in states)

    wait_for(done, f"jobs {ids} to finish", None, timeout=timeout, every=0.25)


# --------------------------------------------------------------------------- Prometheus


@dataclass
class PrometheusBed:
    root: str
    url: str
    port: int
    username: str | None = None
    password: str | None = None
    daemons: list[Daemon] = field(default_factory=list)
    started_s: float = 0.0


def synthetic_power(nodes: int = 4, hours: float = 30.0, step_s: int = 10, end: int | None = None) -> dict[str, list[tuple[int, float]]]:
    """Node power in watts every ``step_s`` seconds for ``hours``, ending at ``end`` (epoch s).

    Values are multiples of 0.25 W (exact in binary), so sums compare exactly. The default end
    is two whole hours before the current even hour: in the past, as backfilled data must be.
    """
    if end is None:
        end = (int(time.time()) // 7200) * 7200 - 7200
    n = int(hours * 3600 // step_s)
    start = end - (n - 1) * step_s
    out = {}
    for k in range(nodes):
        name = f"gpu{k + 1:03d}"
        out[name] = [
            (start + i * step_s, 400.0 + 100 * k + round(4 * 250 * (1 + math.sin(i / 90 + k))) / 4)
            for i in range(n)
        ]
    return out


def openmetrics(series: dict[str, list[tuple[int, float]]], metric: str = POWER_METRIC) -> str:
    """OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics``: one series per
    node, labelled like the IPMI exporter's (``instance`` = node:port)."""
    lines = [f"# HELP {metric} Node power from the BMC.", f"# TYPE {metric} gauge"]
    for node, samples in series.items():
        labels = f'{{instance="{node}:9290",job="ipmi"}}'
        lines.extend(f"{metric}{labels} {v} {t}" for t, v in samples)
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def dcgm_openmetrics(series: dict[tuple[str, int, str | None], dict[str, list[tuple[int, float]]]]) -> str:
    """OpenMetrics text of DCGM exporter series: ``{(node, gpu index, hpc_job or None):
    {metric: [(epoch s, value), ...]}}``, labelled as dcgm-exporter labels them."""
    families: dict[str, list[str]] = {}
    for (node, gpu, job), metrics in series.items():
        labels = (f'Hostname="{node}",UUID="GPU-{node}-{gpu}",gpu="{gpu}",instance="{node}:9400",'
                  f'modelName="NVIDIA H100 80GB HBM3"' + (f',hpc_job="{job}"' if job else ""))
        for metric, samples in metrics.items():
            families.setdefault(metric, []).extend(f"{metric}{{{labels}}} {v} {t}" for t, v in samples)
    lines = []
    for metric, rows in families.items():
        lines += [f"# HELP {metric} DCGM field.", f"# TYPE {metric} gauge", *rows]
    return "\n".join(lines + ["# EOF"]) + "\n"


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash for Prometheus' web config, from Apache's htpasswd (apache2-utils)."""
    require("htpasswd")
    out = run_command(["htpasswd", "-nbBC", "10", "kirz", password]).stdout.strip()
    return out.split(":", 1)[1]


def _ready(url: str, auth: str | None) -> bool:
    req = urllib.request.Request(url + "/-/ready")
    if auth:
        req.add_header("Authorization", auth)
    with urllib.request.urlopen(req, timeout=2) as resp:
        return resp.status == 200


def start_prometheus(base: Path, series: dict[str, list[tuple[int, float]]] | None = None, *,
                     metric: str = POWER_METRIC, username: str | None = None,
                     password: str | None = None, text: str | None = None) -> PrometheusBed:
    """Backfill ``series`` (default :func:`synthetic_power`), or the OpenMetrics ``text`` when
    given, and serve it on 127.0.0.1.

    With ``username``/``password`` every endpoint asks for basic auth.
    """
    require("prometheus", "promtool")
    t0 = time.monotonic()
    root = Path(base) / "prometheus"
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    om = root / "backfill.om"
    om.write_text(text if text is not None else openmetrics(series if series is not None else synthetic_power(), metric))
    run_command(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)], timeout=120)
    (root / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    port = free_port()
    argv = [shutil.which("prometheus"), f"--config.file={root}/prometheus.yml",
            f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y"]
    auth = None
    if username:
        (root / "web.yml").write_text(
            f"basic_auth_users:\n  {username}: '{bcrypt_hash(password or '')}'\n"
        )
        argv.append(f"--web.config.file={root}/web.yml")
        auth = "Basic " + b64encode(f"{username}:{password}".encode()).decode()
    bed = PrometheusBed(root=str(root), url=f"http://127.0.0.1:{port}", port=port,
                        username=username, password=password)
    d = _spawn("prometheus", argv, root / "prometheus.log")
    bed.daemons.append(d)
    try:
        wait_for(lambda: _ready(bed.url, auth), "Prometheus /-/ready", d, timeout=30)
    except BaseException:
        stop_prometheus(bed)
        raise
    bed.started_s = time.monotonic() - t0
    return bed


def stop_prometheus(bed: PrometheusBed) -> float:
    t0 = time.monotonic()
    for d in reversed(bed.daemons):
        stop_daemon(d)
    bed.daemons.clear()
    return time.monotonic() - t0


# --------------------------------------------------------------------------- by hand


def _load_state(base: Path) -> dict:
    f = base / STATE_FILE
    return json.loads(f.read_text()) if f.exists() else {}


def up(base: Path) -> dict:
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    if _load_state(base).get("daemons"):
        raise TestbedError(f"{base} already runs a test bed: `python tests/testbed.py down {base}` first")
    slurm = start_slurm(base)
    try:
        prom = start_prometheus(base)
    except BaseException:
        stop_slurm(slurm)
        raise
    state = {
        "slurm_conf": slurm.conf,
        "prometheus_url": prom.url,
        "daemons": [asdict(d) for d in slurm.daemons + prom.daemons],
    }
    (base / STATE_FILE).write_text(json.dumps(state, indent=2))
    return state


def down(base: Path) -> list[tuple[str, int, float]]:
    state = _load_state(base)
    stopped = []
    for raw in reversed(state.get("daemons", [])):
        d = Daemon(**raw)
        stopped.append((d.name, d.pid, stop_daemon(d)))
    if state:
        state["daemons"] = []
        (base / STATE_FILE).write_text(json.dumps(state, indent=2))
    return stopped


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("up", "down"):
        print("usage: python tests/testbed.py up|down DIR", file=sys.stderr)
        return 2
    base = Path(argv[1]).resolve()
    try:
        if argv[0] == "up":
            state = up(base)
            print(f"export SLURM_CONF={state['slurm_conf']}")
            print("export SLURM_TIME_FORMAT=standard")
            print(f"export KIRZ_TEST_PROMETHEUS_URL={state['prometheus_url']}")
            print(f"# kirz.toml: [pull.slurm] clusters = [\"{CLUSTER}\"]; "
                  f"[pull.prometheus] url = \"{state['prometheus_url']}\"")
            print(f"# stop with: python tests/testbed.py down {base}")
        else:
            for name, pid, secs in down(base):
                print(f"stopped {name} (pid {pid}) in {secs:.1f} s")
    except TestbedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
