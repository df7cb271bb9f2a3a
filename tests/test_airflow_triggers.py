"""The landing-folder arrival trigger: stability rule, listing rule, the running trigger."""

import os
import tempfile

# Airflow reads its configuration once, at import: a throwaway home, the repo's folders.
os.environ.setdefault("KIRZ_TEST_AIRFLOW_HOME", tempfile.mkdtemp(prefix="kirz-airflow-test-"))
os.environ["AIRFLOW_HOME"] = os.environ["KIRZ_TEST_AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins")

import asyncio  # noqa: E402

import pytest  # noqa: E402
from airflow.triggers.base import BaseEventTrigger  # noqa: E402

from kirz.airflow_triggers import LandingFileTrigger, StabilityTracker, scan_landing  # noqa: E402


def test_a_file_is_announced_after_two_unchanged_polls_and_only_once():
    t = StabilityTracker(stable_polls=2, refire_after=600)
    assert t.observe({"a.csv": (10, 1)}, now=0) == []
    assert t.observe({"a.csv": (10, 1)}, now=5) == ["a.csv"]
    assert t.observe({"a.csv": (10, 1)}, now=10) == []
    assert t.observe({"a.csv": (10, 1)}, now=15) == []


def test_a_growing_file_waits_until_it_stops_growing():
    t = StabilityTracker(stable_polls=2)
    assert t.observe({"a.csv": (10, 1)}, now=0) == []
    assert t.observe({"a.csv": (20, 2)}, now=5) == []
    assert t.observe({"a.csv": (30, 3)}, now=10) == []
    assert t.observe({"a.csv": (30, 3)}, now=15) == ["a.csv"]


def test_a_new_version_of_an_announced_file_is_announced_again():
    t = StabilityTracker(stable_polls=2)
    t.observe({"a.csv": (10, 1)}, now=0)
    assert t.observe({"a.csv": (10, 1)}, now=5) == ["a.csv"]
    assert t.observe({"a.csv": (12, 7)}, now=10) == []
    assert t.observe({"a.csv": (12, 7)}, now=15) == ["a.csv"]


def test_several_files_at_once_come_in_one_batch_and_late_ones_in_the_next():
    t = StabilityTracker(stable_polls=2)
    t.observe({"a": (1, 1), "b": (2, 2)}, now=0)
    assert t.observe({"a": (1, 1), "b": (2, 2), "c": (3, 3)}, now=5) == ["a", "b"]
    assert t.observe({"a": (1, 1), "b": (2, 2), "c": (3, 3)}, now=10) == ["c"]


def test_a_file_still_waiting_after_refire_after_is_announced_again():
    t = StabilityTracker(stable_polls=2, refire_after=60)
    t.observe({"a": (1, 1)}, now=0)
    assert t.observe({"a": (1, 1)}, now=5) == ["a"]
    assert t.observe({"a": (1, 1)}, now=64) == []
    assert t.observe({"a": (1, 1)}, now=65) == ["a"]
    assert t.observe({"a": (1, 1)}, now=70) == []


def test_a_file_that_left_and_came_back_is_announced_again():
    t = StabilityTracker(stable_polls=2)
    t.observe({"a": (1, 1)}, now=0)
    assert t.observe({"a": (1, 1)}, now=5) == ["a"]
    assert t.observe({}, now=10) == []
    assert t.observe({"a": (1, 1)}, now=15) == []
    assert t.observe({"a": (1, 1)}, now=20) == ["a"]


def test_scan_lists_what_the_loader_would_load(tmp_path):
    assert scan_landing(tmp_path / "missing") == {}
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.csv").write_text("12345")
    (tmp_path / "sub" / "b.json").write_text("{}")
    (tmp_path / ".part.csv").write_text("being copied")
    (tmp_path / ".hidden" / "c.csv").write_text("x")
    (tmp_path / "manifest.json").write_text("{}")
    scan = scan_landing(tmp_path)
    assert sorted(scan) == ["a.csv", "sub/b.json"]
    assert scan["a.csv"][0] == 5
    assert scan["sub/b.json"][0] == 2


def test_trigger_is_an_event_trigger_and_serializes_to_itself(tmp_path):
    trig = LandingFileTrigger(source="slurm", directory=str(tmp_path), poll_interval=2.5, stable_polls=3)
    assert isinstance(trig, BaseEventTrigger)
    classpath, kwargs = trig.serialize()
    assert classpath == "kirz.airflow_triggers.LandingFileTrigger"
    again = LandingFileTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert kwargs == {"source": "slurm", "directory": str(tmp_path), "poll_interval": 2.5,
                      "stable_polls": 3, "refire_after": 600.0}


def test_trigger_rejects_a_useless_configuration():
    with pytest.raises(ValueError, match="stable_polls"):
        LandingFileTrigger(source="slurm", stable_polls=0)
    with pytest.raises(ValueError, match="poll_interval"):
        LandingFileTrigger(source="slurm", poll_interval=0)


def test_trigger_folder_defaults_to_the_sources_landing_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KIRZ_HOME", str(tmp_path))
    assert LandingFileTrigger(source="power").folder() == tmp_path / "landing" / "power"


def test_running_trigger_fires_for_arrivals_and_keeps_watching(tmp_path):
    """Two files at once -> one event; nothing new -> silence; a third file -> an event for it."""

    async def scenario():
        trig = LandingFileTrigger(source="slurm", directory=str(tmp_path), poll_interval=0.05)
        events = trig.run()
        (tmp_path / "a.txt").write_text("aaaa")
        (tmp_path / "b.txt").write_text("bb")
        first = await asyncio.wait_for(events.__anext__(), timeout=5)
        nxt = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0.5)  # ten polls with the same two files
        quiet = not nxt.done()
        (tmp_path / "c.txt").write_text("c")
        second = await asyncio.wait_for(nxt, timeout=5)
        await events.aclose()
        return first, quiet, second

    first, quiet, second = asyncio.run(scenario())
    assert first.payload == {"source": "slurm", "directory": str(tmp_path), "files": ["a.txt", "b.txt"], "bytes": 6}
    assert quiet
    assert second.payload["files"] == ["c.txt"]
    assert second.payload["bytes"] == 1


def test_running_trigger_does_not_announce_a_file_while_it_is_written(tmp_path):
    async def scenario():
        trig = LandingFileTrigger(source="power", directory=str(tmp_path), poll_interval=0.05, stable_polls=3)
        events = trig.run()
        nxt = asyncio.ensure_future(events.__anext__())
        path = tmp_path / "power.csv"
        with open(path, "w") as fh:
            for i in range(8):
                fh.write(f"2026-10-19T00:00:{i:02d}Z,gpu001,{1000 + i}\n")
                fh.flush()
                os.utime(path, ns=(i * 10**9, i * 10**9))
                await asyncio.sleep(0.06)
                assert not nxt.done(), f"announced while still growing (after write {i})"
        event = await asyncio.wait_for(nxt, timeout=5)
        await events.aclose()
        return event, path.stat().st_size

    event, size = asyncio.run(scenario())
    assert event.payload["files"] == ["power.csv"]
    assert event.payload["bytes"] == size == 8 * len("2026-10-19T00:00:00Z,gpu001,1000\n")
