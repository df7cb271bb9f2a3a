"""The Airflow plugin: loaded from plugins/ alone, and its FastAPI app serving reports and DQ pages."""

import os
import tempfile
from pathlib import Path
from urllib.parse import quote

# Airflow reads its configuration once, at import: a throwaway home, the repo's folders.
os.environ.setdefault("KIRZ_TEST_AIRFLOW_HOME", tempfile.mkdtemp(prefix="kirz-airflow-test-"))
os.environ["AIRFLOW_HOME"] = os.environ["KIRZ_TEST_AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins")

import pytest  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from airflow.plugins_manager import _load_plugins_from_plugin_directory  # noqa: E402

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


@pytest.fixture(scope="module")
def plugin_module():
    plugins, errors = _load_plugins_from_plugin_directory(plugins_folder=str(PLUGINS))
    assert errors == {}
    assert [p.name for p in plugins] == ["kirz"]
    import sys

    return sys.modules["kirz_airflow_plugin"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KIRZ_HOME", str(tmp_path))
    monkeypatch.delenv("KIRZ_CONFIG", raising=False)
    reports = tmp_path / "reports"
    (reports / "partner-p-0042" / "2026-10").mkdir(parents=True)
    (reports / "bund" / "2026-Q4").mkdir(parents=True)
    older = reports / "bund" / "2026-Q4" / "funder_impact.de.html"
    older.write_text("<h1>Wirkungsbericht</h1>")
    newer = reports / "partner-p-0042" / "2026-10" / "statement.en.pdf"
    newer.write_bytes(b"%PDF-1.7 fake")
    os.utime(older, (1_790_000_000, 1_790_000_000))
    os.utime(newer, (1_790_000_600, 1_790_000_600))
    (reports / ".statement.tmp").write_text("half written")
    (tmp_path / "pseudonym.key").write_text("secret\n")
    return tmp_path


@pytest.fixture(scope="module", autouse=True)
def auth_manager():
    """Airflow's configured auth manager (the simple one), as the API server creates it."""
    from airflow.api_fastapi.app import create_auth_manager

    return create_auth_manager()


def _client(plugin_module, logged_in=True, role="admin") -> TestClient:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    root = FastAPI()
    app = plugin_module.create_app()
    if logged_in:
        app.dependency_overrides[plugin_module.current_user] = lambda: SimpleAuthManagerUser(username="u", role=role)
    root.mount(plugin_module.URL_PREFIX, app)
    return TestClient(root, follow_redirects=False)


def test_plugin_folder_loads_only_the_plugin_file(plugin_module):
    """.airflowignore keeps plugins/kirz/ (the library) out of Airflow's plugin scan."""
    import sys

    assert Path(sys.modules["kirz_airflow_plugin"].__file__).name == "kirz_airflow_plugin.py"
    for stem in ("config", "warehouse", "pipeline", "cli"):
        mod = sys.modules.get(stem)
        assert mod is None or "plugins/kirz/" not in str(getattr(mod, "__file__", ""))


def test_plugin_declares_the_app_and_two_menu_links(plugin_module):
    plugin = plugin_module.KirzPlugin
    assert [(a["url_prefix"], a["name"]) for a in plugin.fastapi_apps] == [("/kirz", "kirz reports")]
    views = {v["name"]: v for v in plugin.external_views}
    assert views["Reports"]["href"] == "/kirz/"
    assert views["Data quality"]["href"] == "/kirz/dq/"
    assert {v["destination"] for v in views.values()} == {"nav"}
    assert {v["url_route"] for v in views.values()} == {"kirz-reports", "kirz-data-quality"}


PAGES = ("/kirz/", "/kirz/api/reports", "/kirz/reports/bund/2026-Q4/funder_impact.de.html", "/kirz/dq/")


def test_every_route_needs_an_airflow_login(plugin_module, home):
    client = _client(plugin_module, logged_in=False)
    for url in PAGES:
        resp = client.get(url)
        assert resp.status_code == 401, url


def test_a_browser_without_a_session_is_sent_to_the_login_and_back(plugin_module, home):
    client = _client(plugin_module, logged_in=False)
    for url in ("/kirz/", "/kirz/dq/", "/kirz/reports/bund/2026-Q4/funder_impact.de.html"):
        resp = client.get(url, headers={"accept": "text/html,application/xhtml+xml"})
        assert resp.status_code == 303, url
        assert resp.headers["location"] == "/auth/login?next=" + quote("http://testserver" + url, safe=""), url
    # the JSON index answers 401 even to a browser
    assert client.get("/kirz/api/reports", headers={"accept": "text/html"}).status_code == 401


@pytest.mark.parametrize("role, status", [("viewer", 403), ("user", 403), ("op", 200), ("admin", 200)])
def test_only_the_operator_roles_see_the_pages(plugin_module, home, role, status):
    client = _client(plugin_module, role=role)
    for url in PAGES:
        # this home has no data-quality page yet: an operator gets its 404, the others 403
        expected = 404 if (url == "/kirz/dq/" and status == 200) else status
        assert client.get(url).status_code == expected, (role, url)


def test_no_openapi_or_docs_routes(plugin_module, home):
    client = _client(plugin_module)
    for url in ("/kirz/docs", "/kirz/redoc", "/kirz/openapi.json"):
        assert client.get(url).status_code == 404, url


def test_index_lists_reports_newest_first_with_working_links(plugin_module, home):
    client = _client(plugin_module)
    resp = client.get("/kirz/")
    assert resp.status_code == 200
    text = resp.text
    first = text.index('href="reports/partner-p-0042/2026-10/statement.en.pdf"')
    second = text.index('href="reports/bund/2026-Q4/funder_impact.de.html"')
    assert first < second
    assert ".statement.tmp" not in text
    assert "no snapshot published yet" in text
    assert "no data-quality report yet" in text
    # the relative link resolves below the mount point
    pdf = client.get("/kirz/reports/partner-p-0042/2026-10/statement.en.pdf")
    assert pdf.status_code == 200
    assert pdf.content == b"%PDF-1.7 fake"
    assert pdf.headers["content-type"] == "application/pdf"
    page = client.get("/kirz/reports/bund/2026-Q4/funder_impact.de.html")
    assert page.text == "<h1>Wirkungsbericht</h1>"


def test_api_lists_the_same_files_with_sizes(plugin_module, home):
    data = _client(plugin_module).get("/kirz/api/reports").json()
    assert data["snapshot"] is None
    assert data["reports"] == [
        {"path": "partner-p-0042/2026-10/statement.en.pdf", "bytes": 13, "modified": "2026-09-21T14:23:20+00:00"},
        {"path": "bund/2026-Q4/funder_impact.de.html", "bytes": 24, "modified": "2026-09-21T14:13:20+00:00"},
    ]


def test_files_outside_the_reports_folder_are_not_served(plugin_module, home):
    client = _client(plugin_module)
    for rel in ("../pseudonym.key", "..%2Fpseudonym.key", "bund/../../pseudonym.key", "missing.html", "bund"):
        resp = client.get(f"/kirz/reports/{rel}")
        assert resp.status_code == 404, rel
        assert "secret" not in resp.text


def test_dq_page_and_snapshot_status(plugin_module, home):
    client = _client(plugin_module)
    missing = client.get("/kirz/dq/")
    assert missing.status_code == 404
    assert "latest.html" in missing.json()["detail"]

    (home / "dq" / "runs").mkdir(parents=True)
    (home / "dq" / "latest.html").write_text("<p>3 critical</p>")
    (home / "dq" / "runs" / "dq-1.html").write_text("<p>run 1</p>")
    (home / "published").mkdir()
    (home / "published" / "LATEST").write_text('{"run_id": "20261101T031500Z", "snapshot": "kirz-20261101T031500Z.duckdb"}\n')

    assert client.get("/kirz/dq/").text == "<p>3 critical</p>"
    assert client.get("/kirz/dq/runs/dq-1.html").text == "<p>run 1</p>"
    redirect = client.get("/kirz/dq", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "dq/"
    index = client.get("/kirz/").text
    assert 'href="dq/"' in index
    assert "kirz-20261101T031500Z.duckdb" in index
    assert client.get("/kirz/api/reports").json()["snapshot"]["run_id"] == "20261101T031500Z"
