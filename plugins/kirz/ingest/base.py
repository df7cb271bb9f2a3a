"""What every source parser returns, and the errors it raises.

A parser is a function ``parse(path: Path, ctx: ParseContext) -> Parsed``. It never raises for
a bad row: the row goes to ``Parsed.quarantine`` with its line number, raw text and reason.
It raises :class:`FormatError` only when the file as a whole is not of its format (then the
file is rejected with one clear error). Counting holds: ``rows_read`` = rows in all tables +
quarantined rows.

A format may also declare a ``load``: the same reading done by DuckDB straight into the raw
table inside the file's transaction (no Arrow table in between), each row carrying its
:class:`Lineage` as constants of the one insert. It returns a :class:`Parsed` whose
``inserted`` counts the rows it wrote, or None (having written nothing) when the file needs
the parser.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
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
    """Rows per raw table (Arrow tables whose columns are ``line_no`` + RAW_COLUMNS[table]);
    ``inserted``: rows a format's ``load`` already wrote into the raw tables, per table."""

    format: str
    tables: dict[str, pa.Table]
    quarantine: list[Quarantined] = field(default_factory=list)
    rows_read: int = 0
    warnings: list[str] = field(default_factory=list)
    inserted: dict[str, int] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return sum(t.num_rows for t in self.tables.values()) + sum(self.inserted.values())


@dataclass(frozen=True)
class Lineage:
    """What every row of one ingested file carries besides ``line_no`` (kirz.warehouse.LINEAGE)."""

    ingest_id: int
    source_file: str
    file_sha256: str
    received_at: datetime

    # the lineage as constants of a statement, one parameter each (in COLUMNS order)
    SQL = {"ingest_id": "?::bigint", "source_file": "?::varchar", "file_sha256": "?::varchar",
           "received_at": "?::timestamptz"}

    @property
    def params(self) -> list:
        return [self.ingest_id, self.source_file, self.file_sha256, self.received_at]


def insert_select(table: str, columns: list[str], select_sql: str) -> str:
    """``insert into raw.<table>`` of the rows ``select_sql`` gives (its columns ``line_no`` and
    ``columns``) with the lineage as constants: the parameters are ``Lineage.params``, then
    those of ``select_sql``."""
    cols = ["ingest_id", "source_file", "file_sha256", "line_no", "received_at"] + list(columns)
    return (f"insert into raw.{table} ({', '.join(cols)}) "
            f"select {', '.join(Lineage.SQL.get(c, f'_rows.{c}') for c in cols)} from ({select_sql}) as _rows")


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
