"""A source declares itself once: its name, raw tables, formats and ingest order.

Each module ``kirz/ingest/<source>.py`` ends with one :class:`Source` named ``SOURCE``. What
used to be spelled out in a dozen places is derived from these declarations:

- the source names (``kirz.config.SOURCES``, the landing folders, the ingest DAGs and their
  assets, the CLI's help) and their aliases (``sacct`` for ``slurm``);
- the loader's registry: which formats a source reads, how each is detected and parsed, and
  what the loader does besides (keep the head of a rejected file, check a delivery against the
  warehouse inside its transaction);
- the ingest order of the pipeline (inventory and contracts first: later sources are read
  against them);
- the raw tables and their columns (``kirz.warehouse.RAW_COLUMNS``, the DDL, the Arrow schema
  a parser returns);
- the time that places a raw row in a local day, for the raw suites that check what an
  ingest touched (``kirz.validation.days_touched`` and ``data_days``).

Sources are found by importing every module of ``kirz.ingest`` except the infrastructure
modules named in :data:`INFRASTRUCTURE`; a module there that declares no ``SOURCE``, or one
whose source is not named like the module, is an error. The name rule lets the Airflow layer
(assets, ingest DAGs, landing folders) list the sources without importing their parsers:
:func:`module_names` reads the package's module names only, so DAG files stay light. Adding a
source is one new module (plus its staging model, its suite and its one-line DAG file).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from kirz.ingest.base import Lineage, ParseContext, Parsed

# modules of kirz.ingest that are not sources
INFRASTRUCTURE = frozenset({"base", "csv_readers", "loader", "source", "yaml_loader"})

# the DuckDB column types a raw table may declare (arrow_type gives each one's Arrow type)
COLUMN_TYPES = frozenset({"timestamptz", "varchar", "json", "double", "integer", "bigint", "boolean", "date",
                          "varchar[]"})


def arrow_type(typ: str) -> pa.DataType:
    """The Arrow type a parser delivers a DuckDB column type as."""
    import pyarrow as pa

    return {
        "timestamptz": pa.timestamp("us", tz="UTC"),
        "varchar": pa.string(),
        "json": pa.string(),
        "double": pa.float64(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "varchar[]": pa.list_(pa.string()),
    }[typ]


@dataclass(frozen=True)
class RawTable:
    """One ``raw.<name>`` table: its columns after the lineage columns, in order.

    ``period_time`` is SQL over the table's columns giving the UTC instant that places a row
    in a local day, for the period-bound raw suites (the days an ingest touched, the first and
    last day with data); None for tables whose suites check them whole.
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    period_time: str | None = None

    def __post_init__(self):
        unknown = sorted({typ for _, typ in self.columns} - COLUMN_TYPES)
        if unknown:
            raise ValueError(f"raw.{self.name}: unknown column types {', '.join(unknown)}")

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        """What a parser returns for this table: ``line_no``, then the columns."""
        import pyarrow as pa

        return pa.schema(
            [pa.field("line_no", pa.int64())] + [pa.field(name, arrow_type(typ)) for name, typ in self.columns]
        )


@dataclass(frozen=True)
class Format:
    """One file format of a source: ``detect`` sees the first 64 KiB of a file and says whether
    it is of this format; ``parse`` reads a whole file of it (FormatError when it is not).

    ``load``, when given, reads a file of the format straight into its raw table inside the
    file's transaction: ``load(con, path, ctx, lineage)`` returns the Parsed of what it wrote
    (``Parsed.inserted``) and quarantined, or None, having written nothing, when the file is
    for ``parse`` after all. It gives exactly the rows and quarantine ``parse`` gives. The
    loader uses it for sources without a ``check`` (which needs the parsed rows)."""

    name: str
    detect: Callable[[bytes], bool]
    parse: Callable[[Path, ParseContext], Parsed]
    load: Callable[[object, Path, ParseContext, Lineage], Parsed | None] | None = None


@dataclass(frozen=True)
class Source:
    """A source of raw data: what lands in ``landing/<name>/`` and the tables it fills.

    ``formats`` are tried in order by :meth:`detect`. ``order`` places the source in the
    ingest order (lower first). ``keeps_rejected_head``: the start of a rejected file is stored
    beside the reason (False where a file may hold data that must not be stored as delivered,
    such as Slurm user names before pseudonymisation). ``check``, when given, is called with
    the warehouse connection, the parsed file and its path inside the file's transaction and
    raises FormatError to reject the file against what the warehouse already holds.
    """

    name: str
    title: str
    tables: tuple[RawTable, ...]
    formats: tuple[Format, ...]
    order: int
    aliases: tuple[str, ...] = ()
    keeps_rejected_head: bool = True
    check: Callable[[object, Parsed, Path], None] | None = None

    @property
    def format_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.formats)

    def detect(self, head: bytes) -> str | None:
        """The first declared format whose detector accepts ``head``, else None."""
        for fmt in self.formats:
            if fmt.detect(head):
                return fmt.name
        return None

    def format(self, name: str) -> Format | None:
        return next((f for f in self.formats if f.name == name), None)


def detects_as(detect: Callable[[bytes], str | None], name: str) -> Callable[[bytes], bool]:
    """A format's detector from a module's detector that names the format it sees."""

    def is_format(head: bytes) -> bool:
        return detect(head) == name

    is_format.__name__ = f"is_{name}"
    return is_format


def module_names() -> tuple[str, ...]:
    """The source modules of ``kirz.ingest`` (= the source names), found without importing them."""
    import kirz.ingest as package

    return tuple(sorted(info.name for info in pkgutil.iter_modules(package.__path__)
                        if info.name not in INFRASTRUCTURE))


@cache
def _registry() -> dict[str, Source]:
    found: list[Source] = []
    for name in module_names():
        module = importlib.import_module(f"kirz.ingest.{name}")
        declared = getattr(module, "SOURCE", None)
        if not isinstance(declared, Source):
            raise TypeError(f"kirz.ingest.{name} declares no SOURCE (a kirz.ingest.source.Source)")
        if declared.name != name:
            raise ValueError(f"kirz.ingest.{name} declares the source {declared.name!r}: a source is named like its module")
        found.append(declared)
    names: dict[str, str] = {}
    tables: dict[str, str] = {}
    for s in found:
        for alias in (s.name, *s.aliases):
            if alias in names:
                raise ValueError(f"source name {alias!r} declared by {names[alias]} and {s.name}")
            names[alias] = s.name
        for t in s.tables:
            if t.name in tables or t.name == "quarantine":
                raise ValueError(f"raw.{t.name} declared by {tables.get(t.name, 'the loader')} and {s.name}")
            tables[t.name] = s.name
    return {s.name: s for s in sorted(found, key=lambda s: (s.order, s.name))}


def sources() -> dict[str, Source]:
    """Every declared source by name, in ingest order."""
    return _registry()


def source_names() -> tuple[str, ...]:
    return tuple(sources())


def canonical_name(name: str) -> str:
    """A source's name from its name or an alias; ValueError naming the choices otherwise."""
    for s in sources().values():
        if name == s.name or name in s.aliases:
            return s.name
    raise ValueError(f"unknown source {name!r}; expected one of {choices()}")


def get_source(name: str) -> Source:
    return sources()[canonical_name(name)]


def choices() -> str:
    """The names a command accepts, in ingest order: 'inventory, contracts, slurm (or sacct), ...'."""
    return ", ".join(
        s.name + (f" (or {' or '.join(s.aliases)})" if s.aliases else "") for s in sources().values()
    )


def raw_tables() -> dict[str, RawTable]:
    """Every raw table by name, in ingest order of their sources."""
    return {t.name: t for s in sources().values() for t in s.tables}


def raw_table(name: str) -> RawTable:
    try:
        return raw_tables()[name]
    except KeyError:
        raise KeyError(f"no source declares raw.{name}") from None


def raw_columns() -> dict[str, list[tuple[str, str]]]:
    return {name: list(t.columns) for name, t in raw_tables().items()}
