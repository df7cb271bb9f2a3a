"""When a report may go out: the delivery rules of the recipient files and the correction interval.

A recipient file may give a delivery rule for all its reports (top-level ``deliver:``) or for
one report (``deliver:`` inside its entry under ``reports:``; that one wins)::

    deliver: {on: 3rd_working_day}        # the 3rd working day after the period ends
    deliver: {settle_days: 20}            # 20 calendar days after the period ends
    deliver: {by: "03-31"}                # on 31 March following the period's end
    deliver: {settle_days: 45, by: "03-31", correction_interval_days: 14}

- ``on: <N>th_working_day`` (1st, 2nd, 3rd, 4th, ... up to 20th): working days are Monday to
  Friday except the public holidays of Saxony (New Year, Good Friday, Easter Monday, 1 May,
  Ascension, Whit Monday, 3 October, Reformation Day, Repentance Day, 25 and 26 December),
  counted from the first day after the period.
- ``settle_days: N`` (0..366): N calendar days after the period's last day.
- ``by: "MM-DD"``: the first such day after the period's end; alone it is the delivery day,
  with ``on`` or ``settle_days`` the earlier of the two.
- ``correction_interval_days: N`` (default 7): a correction (a newer version after one was
  delivered) goes out at most once per N days.

Without a rule a report is deliverable the day after its period ends. Rendering may happen
earlier (the operator's preview); delivery waits for the due day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

DEFAULT_CORRECTION_INTERVAL_DAYS = 7
_ORDINAL_RE = re.compile(r"^(\d{1,2})(st|nd|rd|th)_working_day$")
_BY_RE = re.compile(r"^(\d{2})-(\d{2})$")
KEYS = ("on", "settle_days", "by", "correction_interval_days")


class DeliveryRuleError(ValueError):
    """A delivery rule that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class DeliveryRule:
    working_day: int | None = None  # on: <N>th_working_day
    settle_days: int | None = None
    by: tuple[int, int] | None = None  # (month, day)
    correction_interval_days: int = DEFAULT_CORRECTION_INTERVAL_DAYS

    def due(self, period_end: date) -> date:
        """The first day a report of a period ending on ``period_end`` may be delivered."""
        candidates = []
        if self.working_day is not None:
            candidates.append(nth_working_day(period_end, self.working_day))
        if self.settle_days is not None:
            candidates.append(period_end + timedelta(days=self.settle_days))
        if self.by is not None:
            deadline = _next_month_day(period_end, *self.by)
            candidates = [min(candidates + [deadline])] if candidates else [deadline]
        return candidates[0] if candidates else period_end + timedelta(days=1)

    def to_json(self) -> dict:
        out: dict = {}
        if self.working_day is not None:
            out["on"] = _ordinal(self.working_day) + "_working_day"
        if self.settle_days is not None:
            out["settle_days"] = self.settle_days
        if self.by is not None:
            out["by"] = f"{self.by[0]:02d}-{self.by[1]:02d}"
        out["correction_interval_days"] = self.correction_interval_days
        return out


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _next_month_day(after: date, month: int, day: int) -> date:
    year = after.year
    while True:
        try:
            d = date(year, month, day)
        except ValueError:  # 29 February in a common year: the last day of February
            d = date(year, 3, 1) - timedelta(days=1)
        if d > after:
            return d
        year += 1


def _int(value, what: str, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise DeliveryRuleError(f"{where}: deliver.{what} must be a whole number from {lo} to {hi}, got {value!r}")
    return value


def parse_rule(raw, where: str) -> DeliveryRule:
    """A ``deliver:`` mapping of a recipient file; ``where`` ('file:line') heads every error."""
    if not isinstance(raw, dict) or not raw:
        raise DeliveryRuleError(f"{where}: deliver must be a mapping such as {{on: 3rd_working_day}}, "
                                f"{{settle_days: 20}} or {{by: \"03-31\"}}, got {raw!r}")
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean true
    raw = {("on" if k is True else k): v for k, v in raw.items()}
    unknown = sorted(set(map(str, raw)) - set(KEYS))
    if unknown:
        raise DeliveryRuleError(f"{where}: unknown deliver key(s) {unknown}; expected {', '.join(KEYS)}")
    if "on" in raw and "settle_days" in raw:
        raise DeliveryRuleError(f"{where}: deliver takes 'on' or 'settle_days', not both")
    working_day = settle = by = None
    if "on" in raw:
        m = _ORDINAL_RE.match(str(raw["on"]).strip())
        if not m or int(m[1]) < 1 or int(m[1]) > 20 or _ordinal(int(m[1]))[-2:] != m[2]:
            raise DeliveryRuleError(f"{where}: deliver.on must read like 3rd_working_day (1st..20th), "
                                    f"got {raw['on']!r}")
        working_day = int(m[1])
    if "settle_days" in raw:
        settle = _int(raw["settle_days"], "settle_days", where, 0, 366)
    if "by" in raw:
        m = _BY_RE.match(str(raw["by"]).strip())
        valid = False
        if m:
            try:
                date(2024, int(m[1]), int(m[2]))  # a leap year: 02-29 is a valid deadline
                valid = True
            except ValueError:
                valid = False
        if not valid:
            raise DeliveryRuleError(f"{where}: deliver.by must be a day of the year as \"MM-DD\" (quoted), "
                                    f"got {raw['by']!r}")
        by = (int(m[1]), int(m[2]))
    interval = DEFAULT_CORRECTION_INTERVAL_DAYS
    if "correction_interval_days" in raw:
        interval = _int(raw["correction_interval_days"], "correction_interval_days", where, 0, 366)
    return DeliveryRule(working_day, settle, by, interval)


# ------------------------------------------------------------------ working days in Saxony

def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return date(year, month, day)


@lru_cache(maxsize=64)
def saxony_holidays(year: int) -> frozenset[date]:
    """The statutory public holidays of the Free State of Saxony in ``year``."""
    easter = easter_sunday(year)
    # Buß- und Bettag: the Wednesday before 23 November
    repentance = date(year, 11, 22) - timedelta(days=(date(year, 11, 22).weekday() - 2) % 7)
    return frozenset({
        date(year, 1, 1), easter - timedelta(days=2), easter + timedelta(days=1), date(year, 5, 1),
        easter + timedelta(days=39), easter + timedelta(days=50), date(year, 10, 3), date(year, 10, 31),
        repentance, date(year, 12, 25), date(year, 12, 26),
    })


def is_working_day(d: date) -> bool:
    return d.weekday() < 5 and d not in saxony_holidays(d.year)


def nth_working_day(after: date, n: int) -> date:
    """The ``n``-th working day after the day ``after``."""
    d, seen = after, 0
    while seen < n:
        d += timedelta(days=1)
        if is_working_day(d):
            seen += 1
    return d


# ------------------------------------------------------------------ the interface

def rule_for(recipient, spec_or_kind, period) -> DeliveryRule | None:
    """The delivery rule of one report: its own, else the recipient's, else none."""
    spec = spec_or_kind
    if isinstance(spec_or_kind, str):
        specs = [s for s in recipient.reports if s.kind == spec_or_kind]
        spec = next((s for s in specs if s.every == period.kind), specs[0] if specs else None)
    own = getattr(spec, "deliver", None) if spec is not None else None
    return own or getattr(recipient, "deliver", None)


def delivery_due(recipient, spec_or_kind, period) -> date:
    """The local day a report of ``period`` becomes deliverable to ``recipient``.

    ``spec_or_kind``: the :class:`~kirz.reporting.recipients.ReportSpec` or the report kind
    (the recipient's spec of that kind for the period's length is used).
    """
    rule = rule_for(recipient, spec_or_kind, period)
    return rule.due(period.end) if rule else period.end + timedelta(days=1)


def correction_interval(recipient, spec_or_kind, period) -> int:
    rule = rule_for(recipient, spec_or_kind, period)
    return rule.correction_interval_days if rule else DEFAULT_CORRECTION_INTERVAL_DAYS


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def correction_allowed(last_delivered_at: datetime, now: datetime, interval_days: int) -> bool:
    """May a correction go out at ``now`` when the last delivery was at ``last_delivered_at``?
    Yes once ``interval_days`` whole days have passed (naive times are read as UTC)."""
    return _aware(now) - _aware(last_delivered_at) >= timedelta(days=interval_days)
