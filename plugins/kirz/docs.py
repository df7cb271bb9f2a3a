"""dbt's documentation site (models, columns, lineage graph) for analysts, offline."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

from kirz.config import Settings


def generate_docs(settings: Settings) -> Path:
    """``dbt docs generate --static``: one self-contained HTML file under ``<home>/docs/``."""
    from kirz.transform import dbt_paths, run_dbt

    run = run_dbt(settings, ["docs", "generate", "--static"])
    if not run.success:
        raise RuntimeError(f"dbt docs generate failed: {run.exception or 'see the dbt log'}")
    static = dbt_paths(settings)["target"] / "static_index.html"
    out_dir = settings.home / "docs"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "index.html"
    tmp = out_dir / ".index.html.tmp"
    shutil.copyfile(static, tmp)
    tmp.replace(out)
    return out


def serve(folder: Path, port: int = 8580, host: str = "127.0.0.1") -> tuple[http.server.ThreadingHTTPServer, threading.Thread]:
    """Serve ``folder`` on localhost (in a thread); the caller shuts the server down."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
