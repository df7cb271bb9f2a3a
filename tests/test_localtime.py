from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, strategies as st

from kirz.localtime import local_day_bounds, pick_by_elapsed, to_utc, utc_candidates

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


def test_repeated_hour_has_two_readings():
    assert utc_candidates(datetime(2026, 10, 25, 2, 30), BERLIN) == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ]


def test_skipped_hour_has_none_and_reads_with_winter_offset():
    assert utc_candidates(datetime(2026, 3, 29, 2, 30), BERLIN) == []
    assert to_utc(datetime(2026, 3, 29, 2, 30), BERLIN) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_elapsed_resolves_the_repeated_hour():
    # 02:10 (summer) to 02:20 (winter) is 70 minutes
    s, e = pick_by_elapsed(datetime(2026, 10, 25, 2, 10), datetime(2026, 10, 25, 2, 20), 4200, BERLIN)
    assert (s, e) == (datetime(2026, 10, 25, 0, 10, tzinfo=UTC), datetime(2026, 10, 25, 1, 20, tzinfo=UTC))
    # the same readings with 10 minutes elapsed: both in summer time
    s, e = pick_by_elapsed(datetime(2026, 10, 25, 2, 10), datetime(2026, 10, 25, 2, 20), 600, BERLIN)
    assert (e - s).total_seconds() == 600 and s == datetime(2026, 10, 25, 0, 10, tzinfo=UTC)


def test_local_day_lengths():
    for d, hours in [(date(2026, 10, 25), 25), (date(2026, 3, 29), 23), (date(2026, 6, 1), 24)]:
        a, b = local_day_bounds(d, BERLIN)
        assert (b - a).total_seconds() == hours * 3600


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)))
def test_round_trip_any_instant(instant):
    local = instant.astimezone(BERLIN).replace(tzinfo=None)
    assert instant in utc_candidates(local, BERLIN)


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
    st.integers(min_value=0, max_value=3 * 86400),
)
def test_elapsed_rule_recovers_true_interval(start, elapsed):
    from datetime import timedelta

    end = start + timedelta(seconds=elapsed)
    s_local = start.astimezone(BERLIN).replace(tzinfo=None)
    e_local = end.astimezone(BERLIN).replace(tzinfo=None)
    s, e = pick_by_elapsed(s_local, e_local, elapsed, BERLIN)
    assert (e - s).total_seconds() == elapsed
