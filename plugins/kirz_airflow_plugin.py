"""The kirz Airflow plugin: published reports and the latest data-quality page in the Airflow UI.

A small FastAPI app mounted by the API server at ``/kirz`` serves

- ``/kirz/``: an index of ``<home>/reports/`` (newest first) with the status of the latest
  published snapshot and a link to the data-quality page;
- ``/kirz/reports/<path>``: one report file (HTML, PDF, JSON, ...);
- ``/kirz/dq/``: ``<home>/dq/latest.html``; ``/kirz/dq/<path>``: other files of ``<home>/dq/``;
- ``/kirz/api/reports``: the index as JSON.

Two menu entries (``external_views``) embed the index and the data-quality page in the UI.
Plugin endpoints are not protected by Airflow on their own. Reports hold every partner's
figures, so every route here is for the operator roles only: a user the auth manager lets
manage pools (Op and Admin in Airflow's simple auth manager); other logged-in users get 403. A
browser without a session is sent to Airflow's login page and back; an API client gets 401.
There are no OpenAPI or docs routes. ``<home>`` is read from the kirz settings at each
request, so the API server sees the same ``KIRZ_HOME`` as the tasks.
"""

from __future__ import annotations

import html
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


def _index_html(home: Path) -> str:
    reports = list_reports(home / "reports")
    latest = _latest_snapshot(home)
    dq = (home / "dq" / "latest.html").is_file()
    esc = html.escape
    rows = "\n".join(
        f'<tr><td><a href="reports/{esc(r["path"], quote=True)}">{esc(r["path"])}</a></td>'
        f'<td class="n">{r["bytes"]:,}</td><td>{esc(r["modified"])}</td></tr>'
        for r in reports
    )
    snapshot = (
        f"latest published snapshot: <code>{esc(str(latest.get('snapshot', '?')))}</code> "
        f"(run <code>{esc(str(latest.get('run_id', '?')))}</code>)"
        if latest
        else "no snapshot published yet"
    )
    dq_link = '<a href="dq/">latest data-quality report</a>' if dq else "no data-quality report yet"
    body = (
        f'<table><thead><tr><th>report</th><th class="n">bytes</th><th>written (UTC)</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        if reports
        else "<p>No reports published yet.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kirz reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .2rem .8rem; border-bottom: 1px solid #ddd; text-align: left; }}
.n {{ text-align: right; }}
</style></head>
<body>
<h1>kirz: published reports</h1>
<p>{snapshot} · {dq_link}</p>
{body}
</body></html>
"""


def create_app() -> FastAPI:
    app = FastAPI(
        title="kirz reports",
        description="Published reports and data-quality pages of the kirz pipeline.",
        dependencies=[Depends(require_operator)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return _index_html(_home())

    @app.get("/api/reports")
    def api_reports() -> dict:
        home = _home()
        return {"reports": list_reports(home / "reports"), "snapshot": _latest_snapshot(home)}

    @app.get("/reports/{rel:path}")
    def report_file(rel: str) -> FileResponse:
        return FileResponse(_inside(_home() / "reports", rel))

    @app.get("/dq", include_in_schema=False)
    def dq_redirect() -> RedirectResponse:
        return RedirectResponse(url="dq/")

    @app.get("/dq/{rel:path}")
    def dq_file(rel: str) -> FileResponse:
        home = _home()
        if rel in ("", "/"):
            page = home / "dq" / "latest.html"
            if not page.is_file():
                raise HTTPException(
                    status_code=404,
                    detail=f"no data-quality report yet ({page} is written by the first validation run)",
                )
            return FileResponse(page)
        return FileResponse(_inside(home / "dq", rel))

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
