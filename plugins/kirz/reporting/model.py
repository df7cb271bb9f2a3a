"""The plain values reports are made of: periods, quantities, translatable labels, figures.

The data layer builds trees of these; the render layer turns every :class:`Q` into a string in
the report's language and every :class:`L` into its translation, so that templates never
compute or format. Everything here is language independent and hashable into one canonical
form (:func:`canonical`), which is what report versions compare.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kirz.localtime import local_day_bounds

_PERIOD_RE = re.compile(r"^(\d{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])))?$")


@dataclass(frozen=True)
class Period:
    """A local reporting period: a month ('2026-10'), a quarter ('2026-Q4') or a year ('2026')."""

    kind: str  # month | quarter | year
    label: str
    start: date
    end: date  # inclusive

    @classmethod
    def parse(cls, text: str) -> "Period":
        m = _PERIOD_RE.match(str(text).strip())
        if not m:
            raise ValueError(f"period {text!r} is not a month (2026-10), quarter (2026-Q4) or year (2026)")
        year = int(m.group(1))
        if m.group(2):
            return cls.month(year, int(m.group(2)))
        if m.group(3):
            return cls.quarter(year, int(m.group(3)))
        return cls("year", f"{year}", date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def month(cls, year: int, month: int) -> "Period":
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        return cls("month", f"{year}-{month:02d}", date(year, month, 1), nxt - timedelta(days=1))

    @classmethod
    def quarter(cls, year: int, q: int) -> "Period":
        start = date(year, 3 * q - 2, 1)
        end = cls.month(year, 3 * q).end
        return cls("quarter", f"{year}-Q{q}", start, end)

    @property
    def year(self) -> int:
        return self.start.year

    def previous(self) -> "Period":
        return Period.containing(self.kind, self.start - timedelta(days=1))

    @classmethod
    def containing(cls, kind: str, day: date) -> "Period":
        if kind == "month":
            return cls.month(day.year, day.month)
        if kind == "quarter":
            return cls.quarter(day.year, (day.month - 1) // 3 + 1)
        if kind == "year":
            return cls.parse(str(day.year))
        raise ValueError(f"unknown period kind {kind!r}")

    def months(self) -> list["Period"]:
        out, d = [], self.start
        while d <= self.end:
            out.append(Period.month(d.year, d.month))
            d = out[-1].end + timedelta(days=1)
        return out

    def days(self) -> int:
        return (self.end - self.start).days + 1

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) of the period in UTC, cut at local midnight."""
        return local_day_bounds(self.start, tz)[0], local_day_bounds(self.end, tz)[1]

    def hours(self, tz: ZoneInfo) -> float:
        start, end = self.utc_bounds(tz)
        return (end - start).total_seconds() / 3600.0


@dataclass(frozen=True)
class Q:
    """A quantity to print: value, unit key, decimals; ``suppressed`` hides a small group;
    ``withheld`` (with ``suppressed``) says it is hidden to protect another figure, not because
    it counts fewer than three."""

    value: float | int | None
    unit: str = ""
    decimals: int = 0
    suppressed: bool = False
    withheld: bool = False

    @property
    def missing(self) -> bool:
        return self.value is None or (isinstance(self.value, float) and math.isnan(self.value))

    def canonical(self):
        if self.suppressed:
            return ["suppressed", self.unit]
        if self.missing:
            return [None, self.unit]
        return [round(float(self.value), max(self.decimals, 0) + 4), self.unit]


def count_q(n: int | None, min_group: int) -> Q:
    """A count of users or partners: below ``min_group`` (and above zero) it is suppressed."""
    if n is None:
        return Q(None, "count")
    return Q(int(n), "count", 0, suppressed=0 < n < min_group)


@dataclass(frozen=True)
class L:
    """A label to translate: ``group`` names a table in the i18n file, ``key`` an entry in it."""

    group: str
    key: str

    def canonical(self):
        return [self.group, self.key]


@dataclass(frozen=True)
class Figure:
    """One reported figure with a stable key: what CSV, versions and change lists are made of."""

    key: str
    label: L
    value: Q
    context: str = ""  # e.g. a contract id, printed before the label

    def to_json(self) -> dict:
        return {
            "label": [self.label.group, self.label.key],
            "context": self.context,
            "value": None if self.value.missing or self.value.suppressed else float(self.value.value),
            "unit": self.value.unit,
            "decimals": self.value.decimals,
            "suppressed": self.value.suppressed,
        }

    @classmethod
    def from_json(cls, key: str, d: dict) -> "Figure":
        return cls(
            key,
            L(*d["label"]),
            Q(d["value"], d["unit"], d["decimals"], d["suppressed"]),
            d.get("context", ""),
        )


def canonical(obj):
    """A JSON-ready, language-independent form of a data tree (dicts sorted by key)."""
    if isinstance(obj, (Q, L)):
        return obj.canonical()
    if isinstance(obj, Figure):
        return [obj.key, obj.context, obj.label.canonical(), obj.value.canonical()]
    if isinstance(obj, Period):
        return obj.label
    if isinstance(obj, (date, datetime)):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, 6)
    return obj


def data_hash(data: dict, exclude: tuple[str, ...] = ("provenance",)) -> str:
    """sha256 of the canonical JSON of a report's data, without the volatile provenance part."""
    body = {k: v for k, v in data.items() if k not in exclude}
    text = json.dumps(canonical(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
