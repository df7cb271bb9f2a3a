"""Shared fixtures: a small synthetic centre run through the whole pipeline once per session."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class DemoCentre:
    settings: object
    manifest: dict
    snapshot: Path


@pytest.fixture(scope="session")
def demo_centre(tmp_path_factory) -> DemoCentre:
    """8 nodes x 3 days at 300 s: synth -> landing -> ingest -> dbt build -> published snapshot."""
    from kirz.config import load_settings
    from kirz.pipeline import ingest_landing
    from kirz.publish import publish_snapshot
    from kirz.synth import synthesize
    from kirz.transform import transform

    root = tmp_path_factory.mktemp("demo-centre")
    settings = load_settings(env={}, home=root / "home", pseudonym_key="demo-centre-key")
    manifest = synthesize(root / "synth", nodes=8, days=3, interval_s=300, seed=5)
    shutil.copytree(root / "synth", settings.landing)
    run = ingest_landing(settings)
    assert not run.rejected, [r.message for r in run.rejected]
    result = transform(settings)
    assert result.ok, result.message
    pub = publish_snapshot(settings, run_id="demo-centre")
    return DemoCentre(settings=settings, manifest=manifest, snapshot=pub.latest)
