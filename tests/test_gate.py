"""pass_gate: one decision over the days the marts hold for every step that lets data out, and
the overrides it records in audit.gate_overrides (on the small warehouse of the DQ tests)."""

import shutil
from datetime import datetime, timedelta, timezone

import pytest

from kirz.config import load_settings
from kirz.validation import accept, pass_gate, validate
from kirz.warehouse import open_warehouse
from test_expectations_marts import clean_warehouse  # noqa: F401  (fixture: with the intermediate models)
from test_validation_data import D1, D2, TZ, insert, warehouse  # noqa: F401  (fixtures)

REASON = "gpu002 PDU firmware reports a negative reading at restart; vendor ticket 4711"
FAILURE = "raw.node_power / power_watts_nonnegative on 2026-10-20"


@pytest.fixture
def settings(warehouse, tmp_path):
    return load_settings(env={}, home=tmp_path / "home", warehouse=warehouse, pseudonym_key="k")


@pytest.fixture
def blocked(settings, warehouse):
    """A negative power sample on D1 (critical), both layers validated over D1..D2."""
    with open_warehouse(warehouse) as con:
        insert(con, "node_power", 9, 1, sample_at="2026-10-20 12:00:30+00", node="gpu002", watts=-40.0)
    validate(settings, since=D1, until=D2)
    return warehouse


def _overrides(path) -> list[tuple]:
    with open_warehouse(path, read_only=True) as con:
        return con.execute(
            "select override_id, command, period_start, period_end, blocking, reason, overridden_by "
            "from audit.gate_overrides order by decided_at").fetchall()


def test_an_open_gate_lets_every_step_through_and_a_forced_step_records_nothing(settings, warehouse):
    validate(settings, since=D1, until=D2)
    with open_warehouse(warehouse) as con:
        for command in ("publish", "report"):
            decision = pass_gate(con, TZ, command)
            assert (decision.ok, decision.status, decision.override) == (True, "open", None)
            assert (decision.period_start, decision.period_end) == (D1, D2)
        forced = pass_gate(con, TZ, "publish", force=True, reason=REASON, by="ops")
    assert (forced.ok, forced.status) == (True, "open")
    assert _overrides(warehouse) == []


def test_a_critical_failure_blocks_naming_it_and_how_to_go_on(blocked):
    with open_warehouse(blocked) as con:
        publishing = pass_gate(con, TZ, "publish")
        reporting = pass_gate(con, TZ, "report")
    assert (publishing.ok, publishing.status, publishing.command) == (False, "blocked", "publish")
    assert [(b["suite"], b["expectation"], b["period_start"]) for b in publishing.blocking] == [
        ("raw.node_power", "power_watts_nonnegative", D1)]
    assert publishing.message.startswith("publishing 2026-10-20..2026-10-21 is blocked by 1 critical")
    assert FAILURE in publishing.message and '"min_watts": -40.0' in publishing.message
    assert "kirz dq accept SUITE EXPECTATION" in publishing.message
    assert publishing.message.endswith(
        "To publish anyway: kirz publish ... --force --reason TEXT --by NAME "
        "(recorded in audit.gate_overrides and printed in every report rendered under it).")
    assert reporting.message.startswith("reporting on 2026-10-20..2026-10-21 is blocked by 1 critical")
    assert "To report anyway: kirz report ... --force --reason TEXT --by NAME" in reporting.message


@pytest.mark.parametrize("force, reason, by", [
    (True, None, None), (True, REASON, None), (True, None, "ops"), (True, "  ", "ops"), (True, REASON, " "),
    (False, REASON, "ops"), (False, REASON, None), (False, None, "ops"),
])
def test_an_override_needs_force_a_reason_and_a_name_together(blocked, force, reason, by):
    with open_warehouse(blocked) as con:
        with pytest.raises(ValueError, match="--force|--reason"):
            pass_gate(con, TZ, "publish", force=force, reason=reason, by=by)
    assert _overrides(blocked) == []


def test_a_forced_step_records_the_override_and_goes_on(blocked):
    before = datetime.now(timezone.utc)
    with open_warehouse(blocked) as con:
        decision = pass_gate(con, TZ, "publish", force=True, reason=f"  {REASON} ", by=" ops on call ")
    assert (decision.ok, decision.status) == (True, "overridden")
    [(override_id, command, ps, pe, blocking, reason, by)] = _overrides(blocked)
    assert override_id == decision.override["override_id"] and override_id.startswith("gate-")
    assert (command, ps, pe, reason, by) == ("publish", D1, D2, REASON, "ops on call")
    assert len(blocking.splitlines()) == 1 and blocking.startswith(FAILURE)
    assert before - timedelta(seconds=1) <= decision.override["decided_at"] <= datetime.now(timezone.utc)
    assert f"goes ahead under override {override_id} by ops on call" in decision.message
    assert decision.message.endswith(f"It lets through:\n  - {blocking}")


def test_an_override_covers_exactly_the_failures_and_days_it_was_recorded_for(settings, blocked):
    with open_warehouse(blocked) as con:
        forced = pass_gate(con, TZ, "publish", force=True, reason=REASON, by="ops")
        # the same failures again (a re-run, the reports of what was published): under the same override
        again = pass_gate(con, TZ, "report")
    assert (again.ok, again.status, again.override["override_id"]) == (True, "overridden", forced.override["override_id"])
    assert len(_overrides(blocked)) == 1
    # a new validation of D1 is a new finding: a new decision is needed
    validate(settings, since=D1, until=D1)
    with open_warehouse(blocked) as con:
        assert pass_gate(con, TZ, "publish").status == "blocked"
    # accepted with a reason, the failure no longer blocks: the gate is open, no override needed
    accept(settings, "raw.node_power", "power_watts_nonnegative", D1, D1, REASON, "ops")
    with open_warehouse(blocked) as con:
        assert pass_gate(con, TZ, "publish").status == "open"


def test_a_read_only_copy_is_gated_and_its_override_recorded_in_the_live_warehouse(blocked, tmp_path):
    snapshot = tmp_path / "snapshot.duckdb"
    shutil.copy(blocked, snapshot)
    with open_warehouse(snapshot, read_only=True) as con:
        assert pass_gate(con, TZ, "report").status == "blocked"
        decision = pass_gate(con, TZ, "report", force=True, reason=REASON, by="ops", record_in=blocked)
    assert decision.status == "overridden"
    assert [(r[0], r[1]) for r in _overrides(blocked)] == [(decision.override["override_id"], "report")]
    assert _overrides(snapshot) == []


def test_without_validation_or_marts_nothing_goes_out(tmp_path, clean_warehouse):  # noqa: F811
    copy = tmp_path / "kirz.duckdb"
    shutil.copy(clean_warehouse, copy)
    with open_warehouse(copy, read_only=True) as con:
        unvalidated = pass_gate(con, TZ, "publish")
    assert (unvalidated.ok, unvalidated.status) == (False, "blocked")
    assert unvalidated.message.startswith("publishing 2026-10-20..2026-10-21 is blocked: no data-quality results")
    with open_warehouse(tmp_path / "empty.duckdb") as con:
        empty = pass_gate(con, TZ, "publish", force=True, reason=REASON, by="ops")
    assert (empty.ok, empty.status) == (False, "empty")
    assert empty.message == "nothing to publish: the marts hold no days yet; run `kirz transform` first"
