"""`make airflow` helpers: the environment Airflow runs with, the demo drop, waiting for the login."""

import json
import socket

import pytest

from kirz.airflow_local import (
    DAGS_FOLDER,
    PLUGINS_FOLDER,
    admin_password,
    airflow_env,
    drop_demo_data,
    port_free,
)
from kirz.config import SOURCES, load_settings


@pytest.fixture
def settings(tmp_path):
    return load_settings(env={}, home=tmp_path / "home")


def test_environment_points_airflow_at_the_repo_and_the_home(settings, tmp_path):
    env = airflow_env(settings, port=8123, log_ports=(8124, 8125),
                      base={"PATH": "/usr/bin", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://x"})
    home = (tmp_path / "home").resolve()
    assert env["KIRZ_HOME"] == str(home)
    assert env["AIRFLOW_HOME"] == str(home / "airflow")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(DAGS_FOLDER)
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(PLUGINS_FOLDER)
    assert (DAGS_FOLDER / "kirz_publish.py").is_file()
    assert (PLUGINS_FOLDER / "kirz_airflow_plugin.py").is_file()
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__API__PORT"] == "8123"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://localhost:8123/execution/"
    assert (env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"], env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]) == ("8124", "8125")
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env  # SQLite in AIRFLOW_HOME
    assert env["PATH"].endswith(":/usr/bin") and env["PATH"].split(":")[0].endswith("bin")


def test_demo_drop_lands_whole_files_in_every_source_folder(settings):
    landed = drop_demo_data(settings, nodes=8, days=1, interval_s=900)
    manifest = json.loads((settings.home / "synth-manifest.json").read_text())
    assert len(landed) == manifest["totals"]["files"]
    for source in SOURCES:
        files = [p for p in settings.landing_for(source).rglob("*") if p.is_file()]
        assert files, source
        assert not [p for p in files if p.name.startswith(".")]
    assert sorted(landed) == sorted(p for p in settings.landing.rglob("*") if p.is_file())
    assert not (settings.home / ".synth-staging").exists()
    assert not (settings.landing / "manifest.json").exists()


def test_port_check_sees_a_listening_socket():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not port_free(port)
    assert port_free(port)


def test_admin_password_is_read_from_the_generated_file_or_times_out(settings):
    with pytest.raises(TimeoutError, match="simple_auth_manager_passwords.json.generated"):
        admin_password(settings, timeout=0.2)
    path = settings.home / "airflow" / "simple_auth_manager_passwords.json.generated"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"admin": "s3cret"}))
    assert admin_password(settings, timeout=1) == "s3cret"


def test_start_up_banner_keeps_each_address_on_one_line_when_not_on_a_terminal(tmp_path, monkeypatch):
    """`kirz airflow > file`: rich would wrap at 80 columns; the addresses stay whole."""
    import subprocess
    import sys

    from typer.testing import CliRunner

    import kirz.airflow_local as local
    from kirz.cli import app

    home = tmp_path / ("a-rather-long-folder-name-for-the-kirz-home-" * 2)
    monkeypatch.setattr(local, "port_free", lambda port: True)
    monkeypatch.setattr(local, "prepare", lambda settings, env: local.airflow_home(settings).mkdir(parents=True))
    monkeypatch.setattr(local, "wait_until_up", lambda port, proc=None, timeout=300: None)
    monkeypatch.setattr(local, "admin_password", lambda settings, timeout=120: "Pw[x]-0123456789abcdef")
    monkeypatch.setattr(local, "start_standalone", lambda settings, env, log_path: subprocess.Popen(
        [sys.executable, "-c", "pass"]))
    result = CliRunner().invoke(app, ["airflow", "--no-demo-data", "--port", "18123", "--home", str(home)])
    lines = result.output.splitlines()
    assert "Airflow UI:       http://localhost:18123/" in lines
    assert "login:            admin / Pw[x]-0123456789abcdef" in lines
    assert "report register:  http://localhost:18123/kirz/" in lines
    assert "data quality:     http://localhost:18123/kirz/dq/" in lines
    assert any(line.startswith("Airflow home: ") and line.endswith(f"{home.name}/airflow") for line in lines)
    assert max(len(line) for line in lines) > 80  # long lines were not wrapped
    assert result.exit_code == 1  # standalone (here a process that ends at once) exited
