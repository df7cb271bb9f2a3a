"""Local wall-clock times without offset -> UTC, with the daylight-saving edge cases explicit.

A local time is *ambiguous* in the repeated hour at the end of summer time (two UTC instants)
and *nonexistent* in the skipped hour at its start (none). :func:`utc_candidates` returns every
UTC instant whose local wall-clock reading equals the given naive time, earliest first; callers
pick among them by their own rule (Slurm: the one consistent with ElapsedRaw; the building
export: row order).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc


def utc_candidates(naive: datetime, tz: ZoneInfo) -> list[datetime]:
    """All UTC instants that read as ``naive`` on a clock in ``tz`` (0, 1 or 2), earliest first."""
    out = []
    for fold in (0, 1):
        aware = naive.replace(tzinfo=tz, fold=fold)
        utc = aware.astimezone(UTC)
        # round-trip check: a nonexistent time does not come back as itself
        if utc.astimezone(tz).replace(tzinfo=None) == naive and utc not in out:
            out.append(utc)
    return sorted(out)


def to_utc(naive: datetime, tz: ZoneInfo, prefer: str = "earliest") -> datetime:
    """One UTC instant for a naive local time.

    Ambiguous: ``prefer`` = 'earliest' (summer time) or 'latest'. Nonexistent (in the spring
    gap): read with the offset in force before the gap, as clocks that did not jump would show
    it (``fold=0`` semantics of :mod:`zoneinfo`).
    """
    cands = utc_candidates(naive, tz)
    if cands:
        return cands[0] if prefer == "earliest" else cands[-1]
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def pick_by_elapsed(
    start: datetime | None,
    end: datetime | None,
    elapsed_s: int | None,
    tz: ZoneInfo,
) -> tuple[datetime | None, datetime | None]:
    """Convert naive Slurm Start and End to UTC, resolving ambiguity so End - Start = ElapsedRaw.

    Among the candidate pairs, the one whose duration is closest to ``elapsed_s`` wins; ties
    (or no elapsed) take the earliest reading of each.
    """
    s_c = utc_candidates(start, tz) if start else []
    e_c = utc_candidates(end, tz) if end else []
    if start and not s_c:
        s_c = [to_utc(start, tz)]
    if end and not e_c:
        e_c = [to_utc(end, tz)]
    if not s_c or not e_c:
        return (s_c[0] if s_c else None, e_c[0] if e_c else None)
    if elapsed_s is None or (len(s_c) == 1 and len(e_c) == 1):
        return s_c[0], e_c[0]
    best = None
    for s in s_c:
        for e in e_c:
            if e < s:
                continue
            err = abs((e - s).total_seconds() - elapsed_s)
            if best is None or err < best[0]:
                best = (err, s, e)
    if best is None:
        return s_c[0], e_c[-1]
    return best[1], best[2]


def local_day_bounds(day, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day in UTC (23, 24 or 25 hours long)."""
    start = datetime(day.year, day.month, day.day).replace(tzinfo=tz).astimezone(UTC)
    nxt = datetime(day.year, day.month, day.day) + timedelta(days=1)
    return start, nxt.replace(tzinfo=tz).astimezone(UTC)
