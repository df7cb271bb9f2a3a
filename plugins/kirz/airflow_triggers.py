"""A file-arrival event trigger for Airflow's ``AssetWatcher``: "files are waiting in landing".

The standard provider only ships file-*deletion* triggers; ingestion must leave the file in
place for the loader (which checksums it and moves it to ``archive/`` or ``rejected/`` only
after its transaction committed), so this trigger watches without touching anything.

It polls one landing folder and fires when files are present and *stable*: the same size and
modification time over ``stable_polls`` consecutive polls, so a file still being copied is not
announced half-written. It keeps running after an event (an event trigger is never "done"):
each file version is announced once, and again only when it is still waiting
``refire_after`` seconds later (an ingest run that was killed must not leave it stranded).
A file that leaves landing is forgotten. When the triggerer restarts, files still in landing
are announced again, which is harmless: ingestion is idempotent by checksum.

Files are listed the way the loader lists them (recursively, hidden files and the loader's
ignored names skipped), so an event always means "the ingest task has work".
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

# (size in bytes, mtime in ns): a file's version as far as arrival is concerned
Fingerprint = tuple[int, int]


def scan_landing(folder: Path) -> dict[str, Fingerprint]:
    """Relative path -> fingerprint of every regular, visible file below ``folder``.

    A missing folder is empty (it is created by the first delivery); a file that vanishes
    between listing and ``stat`` (the ingest task just moved it) is skipped.
    """
    from kirz.ingest.loader import IGNORED_NAMES

    out: dict[str, Fingerprint] = {}
    if not folder.is_dir():
        return out
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name in IGNORED_NAMES:
                continue
            path = Path(root) / name
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            out[path.relative_to(folder).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


@dataclass
class StabilityTracker:
    """Decides, poll by poll, which files are ready to announce.

    ``observe`` takes one scan and the current (monotonic) time and returns the files that
    became announceable: unchanged for ``stable_polls`` polls and not announced yet (or
    announced longer than ``refire_after`` seconds ago and still there).
    """

    stable_polls: int = 2
    refire_after: float = 600.0
    _last: dict[str, Fingerprint] = field(default_factory=dict)
    _streak: dict[str, int] = field(default_factory=dict)
    _announced: dict[tuple[str, Fingerprint], float] = field(default_factory=dict)

    def observe(self, snapshot: dict[str, Fingerprint], now: float) -> list[str]:
        for name in list(self._streak):
            if name not in snapshot:
                del self._streak[name]
        for name, fp in snapshot.items():
            self._streak[name] = self._streak.get(name, 0) + 1 if self._last.get(name) == fp else 1
        self._last = dict(snapshot)
        current = {(name, fp) for name, fp in snapshot.items()}
        self._announced = {k: t for k, t in self._announced.items() if k in current}

        ready = []
        for name, fp in sorted(snapshot.items()):
            if self._streak[name] < self.stable_polls:
                continue
            when = self._announced.get((name, fp))
            if when is None or now - when >= self.refire_after:
                ready.append(name)
                self._announced[(name, fp)] = now
        return ready


class LandingFileTrigger(BaseEventTrigger):
    """Fire an event for every batch of stable new files in one source's landing folder.

    :param source: the kirz source (``slurm``, ``power``, ``meters``, ``inventory``,
        ``contracts``); its folder is ``load_settings().landing_for(source)``, resolved in the
        triggerer at run time so that DAG files never read configuration.
    :param directory: watch this folder instead (tests, or a landing folder elsewhere).
    :param poll_interval: seconds between scans.
    :param stable_polls: polls a file must stay unchanged before it is announced.
    :param refire_after: seconds after which a file still waiting is announced again.
    """

    def __init__(
        self,
        source: str,
        directory: str | None = None,
        poll_interval: float = 5.0,
        stable_polls: int = 2,
        refire_after: float = 600.0,
    ):
        super().__init__()
        if stable_polls < 1:
            raise ValueError(f"stable_polls must be at least 1, got {stable_polls}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval}")
        self.source = source
        self.directory = directory
        self.poll_interval = poll_interval
        self.stable_polls = stable_polls
        self.refire_after = refire_after

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "kirz.airflow_triggers.LandingFileTrigger",
            {
                "source": self.source,
                "directory": self.directory,
                "poll_interval": self.poll_interval,
                "stable_polls": self.stable_polls,
                "refire_after": self.refire_after,
            },
        )

    def folder(self) -> Path:
        if self.directory:
            return Path(self.directory)
        from kirz.config import load_settings

        return load_settings().landing_for(self.source)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        folder = await asyncio.to_thread(self.folder)
        tracker = StabilityTracker(stable_polls=self.stable_polls, refire_after=self.refire_after)
        self.log.info("watching %s for %s files (every %.1f s)", folder, self.source, self.poll_interval)
        while True:
            try:
                snapshot = await asyncio.to_thread(scan_landing, folder)
            except OSError as exc:
                self.log.warning("cannot list %s (%s); retrying", folder, exc)
                snapshot = None
            if snapshot is not None:
                ready = tracker.observe(snapshot, time.monotonic())
                if ready:
                    payload = {
                        "source": self.source,
                        "directory": str(folder),
                        "files": ready,
                        "bytes": sum(snapshot[name][0] for name in ready),
                    }
                    self.log.info("%d stable file(s) waiting in %s", len(ready), folder)
                    yield TriggerEvent(payload)
            await asyncio.sleep(self.poll_interval)
