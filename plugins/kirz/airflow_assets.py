"""The Airflow assets of the pipeline, declared once and shared by every DAG file.

- ``LANDING[source]``: "files are waiting in landing/<source>/". Watched by a
  :class:`~kirz.airflow_triggers.LandingFileTrigger` in the triggerer; the ingest DAG of that
  source is scheduled on it (and nightly).
- ``RAW[source]``: "raw.* got new rows from <source>". Produced by the ingest task.
- ``MARTS``: "the marts were rebuilt and validated". Produced by the transform DAG's last
  task; the publish DAG is scheduled on it.

URIs use a ``kirz://`` scheme: they name things of this pipeline, not storage locations, so
DAG files need no configuration to declare them.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from kirz.airflow_local import WAREHOUSE_POOL, WAREHOUSE_QUEUE  # noqa: F401 (the DAG files' pool and queue)
from kirz.airflow_triggers import LandingFileTrigger
from kirz.config import SOURCES, load_settings

GROUP = "kirz"
# seconds between scans of a landing folder; two unchanged scans make a file stable
LANDING_POLL_S = 5.0
# the nightly ingest, in the centre's configured zone (KIRZ_TIMEZONE or kirz.toml; a cheap read)
NIGHTLY_INGEST = "15 1 * * *"
TIMEZONE = load_settings().timezone


def landing_asset(source: str) -> Asset:
    return Asset(
        name=f"kirz_landing_{source}",
        uri=f"kirz://landing/{source}",
        group=GROUP,
        watchers=[
            AssetWatcher(
                name=f"kirz_landing_{source}_watcher",
                trigger=LandingFileTrigger(source=source, poll_interval=LANDING_POLL_S),
            )
        ],
    )


def raw_asset(source: str) -> Asset:
    return Asset(name=f"kirz_raw_{source}", uri=f"kirz://warehouse/raw/{source}", group=GROUP)


# one landing and one raw asset per declared source (kirz.ingest.<source>.SOURCE; the names are
# read without importing the parsers, see kirz.ingest.source.module_names)
LANDING: dict[str, Asset] = {source: landing_asset(source) for source in SOURCES}
RAW: dict[str, Asset] = {source: raw_asset(source) for source in SOURCES}
MARTS = Asset(name="kirz_marts", uri="kirz://warehouse/marts", group=GROUP)
