"""What every source parser returns, and the errors it raises.

A parser is a function ``parse(path: Path, ctx: ParseContext) -> Parsed``. It never raises for
a bad row: the row goes to ``Parsed.quarantine`` with its line number, raw text and reason.
It raises :class:`FormatError` only when the file as a whole is not of its format (then the
file is rejected with one clear error). Counting holds: ``rows_read`` = rows in all tables +
quarantined rows.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa


class FormatError(ValueError):
    """The file is not of the expected format at all (rejected whole)."""

    def __init__(self, path: Path | str, reason: str, line_no: int | None = None):
        self.path = str(path)
        self.reason = reason
        self.line_no = line_no
        where = f"{self.path}:{line_no}" if line_no else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Quarantined:
    line_no: int | None
    raw_text: str
    reason: str


@dataclass
class Parsed:
    """Rows per raw table (Arrow tables whose columns are ``line_no`` + RAW_COLUMNS[table])."""

    format: str
    tables: dict[str, pa.Table]
    quarantine: list[Quarantined] = field(default_factory=list)
    rows_read: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(t.num_rows for t in self.tables.values())


@dataclass(frozen=True)
class ParseContext:
    tz: ZoneInfo = ZoneInfo("Europe/Berlin")
    pseudonym_key: bytes = b""
    cluster: str = "kirz-leipzig"
    fmt: str | None = None               # force a format instead of detecting it
    fields: tuple[str, ...] | None = None  # field list for headerless sacct -P files


def pseudonymise(key: bytes, user: str | None) -> str | None:
    """Keyed HMAC-SHA256 of a user name, shortened: stable per key, not reversible."""
    if user is None or user == "":
        return None
    if not key:
        raise ValueError("pseudonymisation needs a key")
    return "u_" + hmac.new(key, user.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
