"""The kirz Airflow plugin: the operator console (report register, data-quality history) in the Airflow UI.

A small FastAPI app mounted by the API server at ``/kirz`` serves

- ``/kirz/``: the report register (:func:`kirz.reporting.register.report_register`): the report
  versions grouped by recipient and period, the latest first and older ones folded, each with
  its state, delivery record and the data-quality verdict of its snapshot; above it the latest
  validation run of each layer;
- ``/kirz/api/reports``: the register as JSON (``register``, grouped the same way, ``counts``,
  ``snapshot``) and ``reports``, every file below ``<home>/reports/`` newest first, for scripts;
- ``/kirz/reports/<path>``: one report file (HTML, PDF, CSV, ...);
- ``/kirz/dq/``: the data-quality history (:func:`kirz.dq_render.dq_history`): the runs of
  both layers with window, status and counts, the open findings worst first, each run's page
  linked; ``/kirz/api/dq``: the same as JSON; ``/kirz/dq/<path>``: the files of ``<home>/dq/``
  (``<run_id>.html``, ``latest.html``).

Two menu entries (``external_views``) embed the register and the history in the UI. The pages
read files and the latest published snapshot only, never the live warehouse (a DuckDB reader
would block the pipeline's writers). Every page is self-contained: no asset from another host.

Plugin endpoints are not protected by Airflow on their own. Reports hold every partner's
figures, so every route here is for the operator roles only: a user the auth manager lets
manage pools (Op and Admin in Airflow's simple auth manager); other logged-in users get 403. A
browser without a session is sent to Airflow's login page and back; an API client gets 401.
There are no OpenAPI or docs routes. ``<home>`` is read from the kirz settings at each
request, so the API server sees the same ``KIRZ_HOME`` as the tasks.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/kirz"


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and "/api/" not in request.url.path


async def current_user(request: Request):
    """The Airflow user of the request (bearer header, else the UI's cookie).

    Without a valid token a browser is redirected to the login page (and back), an API client
    gets 401.
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    try:
        return await resolve_user_from_token(token)
    except HTTPException as exc:
        if exc.status_code != 401 or not _wants_html(request):
            raise
        login = get_auth_manager().get_url_login()
        raise HTTPException(status_code=303, detail="login required",
                            headers={"Location": f"{login}?next={quote(str(request.url), safe='')}"}) from None


def is_operator(user) -> bool:
    """Operators are the users the auth manager lets manage pools (Op and Admin)."""
    from airflow.api_fastapi.app import get_auth_manager

    return bool(get_auth_manager().is_authorized_pool(method="PUT", user=user))


async def require_operator(user=Depends(current_user)) -> None:
    if not is_operator(user):
        raise HTTPException(status_code=403, detail="the kirz pages are for the operator roles (Op, Admin)")


def _home() -> Path:
    from kirz.config import load_settings

    return load_settings().home


def _inside(base: Path, rel: str) -> Path:
    """``base/rel`` when it is a file below ``base``; 404 otherwise (no escaping by ``..``)."""
    root = base.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(status_code=404, detail=f"no such file: {rel}")
    return target


def list_reports(reports_dir: Path) -> list[dict]:
    """Every visible file below the reports folder, newest first."""
    if not reports_dir.is_dir():
        return []
    out = []
    for path in reports_dir.rglob("*"):
        rel = path.relative_to(reports_dir)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        st = path.stat()
        out.append(
            {
                "path": rel.as_posix(),
                "bytes": st.st_size,
                "modified": datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="seconds"),
            }
        )
    out.sort(key=lambda r: (r["modified"], r["path"]), reverse=True)
    return out


def _latest_snapshot(home: Path) -> dict | None:
    marker = home / "published" / "LATEST"
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def _settings():
    from kirz.config import load_settings

    return load_settings()


def register_data(settings) -> dict:
    """The register, its totals, the latest run of each layer and the snapshot they come from."""
    from kirz.dq_render import dq_history, snapshot_connection
    from kirz.reporting.register import register_counts, report_register

    today = datetime.now(settings.tz).date()
    with snapshot_connection(settings) as con:
        groups = report_register(settings, today, con=con)
        dq = dq_history(settings, con)
    return {
        "today": today.isoformat(),
        "snapshot": _latest_snapshot(settings.home),
        "counts": register_counts(groups),
        "register": groups,
        "dq": dq,
    }


def create_app() -> FastAPI:
    app = FastAPI(
        title="kirz reports",
        description="The report register and the data-quality history of the kirz pipeline.",
        dependencies=[Depends(require_operator)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        from kirz.dq_render import render_template

        settings = _settings()
        data = register_data(settings)
        return render_template("console_register.html.j2", settings, groups=data["register"],
                               counts=data["counts"], snapshot=data["snapshot"], dq=data["dq"], today=data["today"])

    @app.get("/api/reports")
    def api_reports() -> dict:
        settings = _settings()
        data = register_data(settings)
        return {
            "today": data["today"],
            "snapshot": data["snapshot"],
            "counts": data["counts"],
            "register": data["register"],
            "dq_latest": data["dq"]["latest_by_layer"],
            "reports": list_reports(settings.reports_dir),
        }

    @app.get("/api/dq")
    def api_dq() -> dict:
        from kirz.dq_render import dq_history

        return dq_history(_settings())

    @app.get("/reports/{rel:path}")
    def report_file(rel: str) -> FileResponse:
        return FileResponse(_inside(_home() / "reports", rel))

    @app.get("/dq", include_in_schema=False)
    def dq_redirect() -> RedirectResponse:
        return RedirectResponse(url="dq/")

    @app.get("/dq/{rel:path}")
    def dq_file(rel: str):
        if rel in ("", "/"):
            from kirz.dq_render import dq_history, render_template

            settings = _settings()
            return HTMLResponse(render_template("dq_history.html.j2", settings, dq=dq_history(settings)))
        return FileResponse(_inside(_home() / "dq", rel))

    return app


class KirzPlugin(AirflowPlugin):
    name = "kirz"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "kirz reports"}]
    external_views = [
        {
            "name": "Reports",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "kirz-reports",
            "category": "kirz",
        },
        {
            "name": "Data quality",
            "href": f"{URL_PREFIX}/dq/",
            "destination": "nav",
            "url_route": "kirz-data-quality",
            "category": "kirz",
        },
    ]
