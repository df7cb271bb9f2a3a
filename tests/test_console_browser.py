"""The operator console under a real Airflow API server, clicked through in a real browser.

One ``airflow api-server`` (the one ``make airflow`` runs inside ``airflow standalone``, with
the environment :func:`kirz.airflow_local.airflow_env` gives it) serves a home built by
:func:`test_airflow_plugin.build_console_home` for the whole module; the simple auth manager
has an operator, an admin and a viewer with passwords written beforehand. Headless Chromium from
Debian's packages (``chromium``, ``chromium-driver``; ``.ci/run`` installs them), driven by
Selenium, logs in through Airflow's own login page, opens the register, a report and the
data-quality history, and leaves screenshots in ``/tmp/console-*.png``. The rest (redirects,
401/403, the JSON) is asked of the same server without a browser. Everything started here is
stopped by its process id.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from test_airflow_plugin import RUN_B, RUN_D, build_console_home, console_periods

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path(os.environ.get("KIRZ_CONSOLE_SCREENSHOTS", "/tmp"))
PASSWORDS = {"operator": "op-pass-1", "boss": "admin-pass-2", "reader": "viewer-pass-3"}
START_TIMEOUT_S = 180
pytestmark = [pytest.mark.airflow]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, token: str | None = None, accept: str | None = None, data: bytes | None = None):
    headers = {"Content-Type": "application/json"} if data else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if accept:
        headers["Accept"] = accept

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=headers), timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def server():
    """A home with reports and validation runs, and an Airflow API server serving it."""
    from kirz.airflow_local import airflow_env, airflow_home, wait_until_up

    root = Path(tempfile.mkdtemp(prefix="kirz-console-"))
    settings = build_console_home(root / "home", date.today())
    port = _free_port()
    env = airflow_env(settings, port=port, log_ports=(_free_port(), _free_port()),
                      base={k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KIRZ_"))})
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = "operator:op,boss:admin,reader:viewer"
    ahome = airflow_home(settings)
    ahome.mkdir(parents=True)
    (ahome / "simple_auth_manager_passwords.json.generated").write_text(json.dumps(PASSWORDS))
    airflow = str(Path(sys.executable).parent / "airflow")
    t0 = time.monotonic()
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    log = open(root / "api-server.log", "wb")
    proc = subprocess.Popen([airflow, "api-server", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_up(port, proc, timeout=START_TIMEOUT_S)
        print(f"\nconsole: Airflow API server up in {time.monotonic() - t0:.1f} s")
        yield {"base": f"http://localhost:{port}", "settings": settings, "root": root}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _token(base: str, user: str) -> str:
    status, _, body = _request(f"{base}/auth/token",
                               data=json.dumps({"username": user, "password": PASSWORDS[user]}).encode())
    assert status == 201, body
    return json.loads(body)["access_token"]


# ------------------------------------------------------------------ through the API


def test_without_a_session_browsers_go_to_the_login_and_clients_get_401(server):
    base = server["base"]
    for path in ("/kirz/", "/kirz/dq/", f"/kirz/dq/{RUN_B}.html"):
        status, headers, _ = _request(base + path, accept="text/html,application/xhtml+xml")
        assert status == 303, path
        assert headers["location"].startswith("/auth/login?next=http%3A%2F%2Flocalhost%3A"), headers["location"]
        assert _request(base + path)[0] == 401, path
    assert _request(base + "/kirz/api/reports", accept="text/html")[0] == 401
    for path in ("/kirz/docs", "/kirz/redoc", "/kirz/openapi.json"):
        assert _request(base + path)[0] == 404, path
        assert _request(base + path, _token(base, "boss"))[0] == 404, path


def test_only_operators_get_the_register(server):
    base = server["base"]
    viewer = _token(base, "reader")
    for path in ("/kirz/", "/kirz/api/reports", "/kirz/api/dq", "/kirz/dq/"):
        assert _request(base + path, viewer)[0] == 403, path
    for user in ("operator", "boss"):
        status, _, body = _request(base + "/kirz/api/reports", _token(base, user))
        assert status == 200, user
    data = json.loads(body)
    assert data["counts"] == {"groups": 4, "reports": 5, "versions": 6,
                              "states": {"preview": 1, "due": 1, "delivered": 2, "correction pending": 1}}
    per = console_periods(date.today())
    states = {(g["recipient"], g["period"], r["kind"], r["lang"]): (r["state"], r["versions"])
              for g in data["register"] for r in g["reports"]}
    assert states == {
        ("bund-strukturwandel", per["quarter"], "funder_impact", "de"): ("preview", 1),
        ("energy-regulator", per["year"], "energy_register", None): ("delivered", 1),
        ("partner-p-0042", per["mid"], "partner_statement", "de"): ("correction pending", 2),
        ("partner-p-0042", per["mid"], "partner_statement", "en"): ("delivered", 1),
        ("partner-p-0042", per["old"], "partner_statement", "de"): ("due", 1),
    }
    dq = json.loads(_request(base + "/kirz/api/dq", _token(base, "operator"))[2])
    assert dq["counts"] == {"runs": 4, "open_critical": 0, "open_warnings": 3}


# ------------------------------------------------------------------ in the browser


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).is_file(), f"{path} missing: apt-get install chromium chromium-driver (.ci/run does)"
    profile = tempfile.mkdtemp(prefix="kirz-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _shot(driver, name: str) -> Path:
    """A screenshot of the whole page, beyond the window (DevTools' Page.captureScreenshot)."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                  {"format": "png", "captureBeyondViewport": True, "clip": clip})
    path = SHOTS / f"console-{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 10_000, path
    return path


def _wait(driver, condition, what: str, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition, message=what)


def _foreign_resources(driver, base: str) -> list[str]:
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [u for u in urls if not u.startswith(base)]


def test_an_operator_logs_in_and_clicks_through_the_console(server, browser):
    from selenium.webdriver.common.by import By

    base, driver = server["base"], browser
    per = console_periods(date.today())
    t0 = time.monotonic()
    # the address printed at start-up, in a fresh browser: Airflow's login page, and back
    driver.get(f"{base}/kirz/")
    _wait(driver, lambda d: "/auth/login" in d.current_url and d.find_elements(By.CSS_SELECTOR, "input[type=password]"),
          "the Airflow login page")
    assert "next=" in driver.current_url
    _shot(driver, "login")
    driver.find_element(By.CSS_SELECTOR, "input[name=username], input[type=text]").send_keys("operator")
    driver.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(PASSWORDS["operator"])
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(driver, lambda d: d.current_url == f"{base}/kirz/" and d.find_elements(By.CSS_SELECTOR, "section.group"),
          "the register after the login")

    # the register: four recipient periods, states as badges, the older version folded
    assert driver.title == "kirz · report register"
    assert len(driver.find_elements(By.CSS_SELECTOR, "section.group")) == 4
    badges = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "tr.report td:nth-child(3) .badge")]
    assert sorted(badges) == ["correction pending", "delivered", "delivered", "due", "preview"]
    details = driver.find_element(By.CSS_SELECTOR, "details.older")
    older_link = details.find_element(By.CSS_SELECTOR, 'a[href$="partner_statement.de.v1.pdf"]')
    assert not older_link.is_displayed()
    _shot(driver, "register")
    details.find_element(By.TAG_NAME, "summary").click()
    _wait(driver, lambda d: older_link.is_displayed(), "the older version unfolded")
    assert _foreign_resources(driver, base) == []

    # a report: the latest statement's HTML
    row = driver.find_element(By.CSS_SELECTOR, f'section[id="partner-p-0042--{per["mid"]}"] tr[data-state="correction pending"]')
    row.find_element(By.LINK_TEXT, "html").click()
    _wait(driver, lambda d: d.current_url.endswith(f"/kirz/reports/partner-p-0042/{per['mid']}/partner_statement.de.v2.html"),
          "the report")
    assert "Version 2 (de)" in driver.find_element(By.TAG_NAME, "body").text
    _shot(driver, "report")
    driver.back()

    # the data-quality history, from the register's menu
    _wait(driver, lambda d: d.find_elements(By.LINK_TEXT, "Data-quality history"), "the register again")
    driver.find_element(By.LINK_TEXT, "Data-quality history").click()
    _wait(driver, lambda d: d.current_url == f"{base}/kirz/dq/" and d.find_elements(By.CSS_SELECTOR, "tr.run"),
          "the data-quality history")
    runs = driver.find_elements(By.CSS_SELECTOR, "tr.run")
    assert [r.get_attribute("data-status") for r in runs] == ["passed", "passed", "warning", "failed"]
    first_finding = driver.find_element(By.CSS_SELECTOR, "#open-findings tbody tr")
    assert "jobs_account_covered" in first_finding.text
    assert _foreign_resources(driver, base) == []
    _shot(driver, "dq-history")
    driver.find_element(By.LINK_TEXT, RUN_B).click()
    _wait(driver, lambda d: d.current_url.endswith(f"/kirz/dq/{RUN_B}.html"), "the page of run B")
    assert f"Data-quality run {RUN_B}" in driver.find_element(By.TAG_NAME, "h1").text
    _shot(driver, "dq-run")
    driver.find_element(By.LINK_TEXT, "All validation runs").click()
    _wait(driver, lambda d: d.current_url == f"{base}/kirz/dq/", "back to the history")
    assert driver.find_element(By.LINK_TEXT, RUN_D)
    print(f"\nconsole: clicked through in {time.monotonic() - t0:.1f} s")


def test_a_viewer_is_refused_after_logging_in(server, browser):
    from selenium.webdriver.common.by import By

    base, driver = server["base"], browser
    driver.delete_all_cookies()
    driver.get(f"{base}/kirz/dq/")
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=password]"), "the login page")
    driver.find_element(By.CSS_SELECTOR, "input[name=username], input[type=text]").send_keys("reader")
    driver.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(PASSWORDS["reader"])
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(driver, lambda d: d.current_url == f"{base}/kirz/dq/" and "operator roles" in d.page_source,
          "the refusal")
