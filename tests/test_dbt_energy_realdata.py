"""Node-minute energy from a real Prometheus capture (Kepler, ../shared/realdata).

The capture is ingested by the real loader (joule counters become watts, placed at the earlier
sample), then int_node_minute_energy integrates it. Its spacing is irregular (15, 15, 21, 15,
18 and 3 s), so holds cross minute boundaries at odd seconds; the typical interval is the
lower median of the rounded gaps, 15 s, and every gap is within 1.5 intervals (measured); the
last sample holds 5 intervals (interpolated).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from kirz.ingest.base import ParseContext
from kirz.ingest.loader import ingest_file
from kirz.warehouse import open_warehouse
from test_dbt_energy import query, run_dbt
from test_dbt_energy_properties import Sample, reference_node_minutes

ROOT = Path(__file__).resolve().parents[1]
KEPLER = ROOT / ".." / "shared" / "realdata" / "kepler-model-server" / "prom_output_idle.json"
UTC = timezone.utc


@pytest.fixture(scope="module")
def kepler(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("energy_kepler")
    warehouse = work / "kepler.duckdb"
    with open_warehouse(warehouse) as con:
        result = ingest_file(con, "power", KEPLER, ParseContext())
        assert result.status == "loaded"
    run_dbt(warehouse, work, "run", "--select", "+int_node_minute_energy")
    return warehouse


def test_kepler_capture_minutes_match_hand_figures_and_reference(kepler):
    raw = query(kepler, "select node, sample_at, watts, ingest_id, line_no from raw.node_power order by sample_at")
    assert [r[1].strftime("%H:%M:%S") for r in raw] == ["10:16:39", "10:16:54", "10:17:09", "10:17:30", "10:17:45",
                                                         "10:18:03"]
    w = [r[2] for r in raw]
    got = query(kepler, """select strftime(minute_at, '%H:%M'), energy_j, measured_j, covered_s
                           from intermediate.int_node_minute_energy order by minute_at""")
    # 10:16: 114.6 W for 15 s, then 116.0 W for 6 s
    assert got[0][0] == "10:16" and got[0][1] == pytest.approx(114.6 * 15 + 116.0 * 6, rel=1e-12)
    assert got[0][3] == pytest.approx(21)
    # 10:17: 116.0 W 9 s, 82.0 W 21 s, then the 10:17:30 and 10:17:45 samples for 15 s each
    assert got[1][1] == pytest.approx(116.0 * 9 + 82.0 * 21 + w[3] * 15 + w[4] * 15, rel=1e-12)
    assert got[1][2] == got[1][1] and got[1][3] == pytest.approx(60)
    # 10:18: 10:17:45 for 3 s (measured), then the last sample (0 W) for 75 s: 57 s here, 18 s in 10:19
    assert got[2][1] == pytest.approx(w[4] * 3, rel=1e-12) and got[2][3] == pytest.approx(60)
    assert got[3] == ("10:19", 0.0, 0.0, pytest.approx(18))
    ref = reference_node_minutes([Sample(n, int(t.timestamp() * 1_000_000), wt, i, ln) for n, t, wt, i, ln in raw])
    assert len(ref) == len(got)
    for (_, energy, measured, covered), key in zip(got, sorted(ref)):
        assert (energy, measured, covered) == (pytest.approx(ref[key]["energy"], rel=1e-12),
                                               pytest.approx(ref[key]["measured"], rel=1e-12, abs=1e-12),
                                               pytest.approx(ref[key]["covered"]))
