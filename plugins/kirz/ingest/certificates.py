"""The renewable electricity certificate ledger -> ``raw.certificates``, one row per item.

Format ``certificates_yaml``, one file per year (``certificates/<year>.yaml``, DESIGN.md)::

    year: 2026
    items:
      - {kind: goo, kwh: 12000000, id: HKN-2026-000123, issuer: UBA-HKNR, technology: wind,
         cancelled_on: 2027-02-15, unsubsidised: true}
      - {kind: ppa, kwh: 4000000, id: PPA-2025-07, counterparty: Windpark Muster GmbH}
      - {kind: onsite, meter: M-PV}      # counted from an onsite_generation meter

The ledger is what the renewable energy factor (REF, EN 50600-4-3; ERES-GOO, ERES-PPA and ERES-OS
of Delegated Regulation (EU) 2024/1364, Annex II 1(o) to (r)) is computed from: guarantees of
origin (``goo``, kWh; counted once ``cancelled_on`` is given), power purchase agreements
(``ppa``, kWh) and on-site generation (``onsite``: no kWh, the named meter's energy in the year
is counted by dbt).

The document as a whole must be a ledger: a mapping with ``year`` (an integer, and the year of
the file name when that is a year, ``2026.yaml``) and a non-empty ``items`` list; otherwise the
file is rejected (FormatError). Each item is checked on its own: an item with an unknown key, a
missing or non-positive ``kwh``, a ``kwh`` on an ``onsite`` item, an ``onsite`` item without
``meter``, a ``goo`` without ``id``, or an ``id`` given twice goes to ``raw.quarantine`` with the
line of the item and the reason; the other items are loaded. ``line_no`` of a row is the line
of its item. A corrected ledger is delivered as a whole new file; the latest delivery of a
year replaces the earlier ones (``stg_certificates__items``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from kirz.ingest.base import FormatError, ParseContext, Parsed, Quarantined
from kirz.ingest.csv_readers import raw_schema
from kirz.ingest.source import Format, RawTable, Source, detects_as
from kirz.ingest.yaml_loader import DateCheckingLoader, yaml_error

TABLE = "certificates"
FORMATS = ("certificates_yaml",)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _day(value: Any) -> Any:
    """A calendar day: YAML gives ``date`` for ``2027-02-15``, a string when it was quoted."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid day ({exc})") from None
    raise ValueError(f"must be a day (YYYY-MM-DD), got {value!r}")


def _kwh(value: Any) -> Any:
    """kWh as a number; YAML reads ``12000000`` as int, which is a whole number of kWh."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number of kWh, got {value!r}")
    if isinstance(value, int):
        return float(value)
    return value


Day = Annotated[date | None, BeforeValidator(_day)]
Kwh = Annotated[float | None, BeforeValidator(_kwh), Field(gt=0)]


class Item(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    kind: Literal["goo", "ppa", "onsite"]
    kwh: Kwh = None
    id: Name | None = None
    issuer: Name | None = None
    technology: Name | None = None
    cancelled_on: Day = None
    unsubsidised: bool | None = None
    counterparty: Name | None = None
    meter: Name | None = None

    @model_validator(mode="after")
    def _fits_kind(self):
        if self.kind == "onsite":
            if self.meter is None:
                raise ValueError("an onsite item needs `meter`: the onsite_generation meter it is counted from")
            if self.kwh is not None:
                raise ValueError("an onsite item has no kwh: its energy is counted from its meter")
        else:
            if self.kwh is None:
                raise ValueError(f"a {self.kind} item needs kwh")
            if self.meter is not None:
                raise ValueError(f"`meter` is for onsite items only, not kind {self.kind!r}")
        if self.kind == "goo" and self.id is None:
            raise ValueError("a goo item needs `id`: the number of the guarantees of origin")
        if self.kind != "goo" and self.cancelled_on is not None:
            raise ValueError(f"`cancelled_on` is for goo items only, not kind {self.kind!r}")
        return self


_TOP_KEY = re.compile(rb"^(year|items)\s*:", re.MULTILINE)


def detect(head: bytes) -> str | None:
    """'certificates_yaml' when both top-level keys of a ledger appear in the first bytes."""
    keys = {m.group(1) for m in _TOP_KEY.finditer(head)}
    return "certificates_yaml" if keys == {b"year", b"items"} else None


def _compose(path: Path, text: str) -> yaml.Node:
    loader = DateCheckingLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise yaml_error(path, "certificates_yaml", exc) from None
    finally:
        loader.dispose()
    if node is None:
        raise FormatError(path, "certificates_yaml: empty document", 1)
    return node


def _construct(path: Path, node: yaml.Node) -> Any:
    loader = DateCheckingLoader("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise FormatError(
            path, f"certificates_yaml: {exc.problem or exc.context}", mark.line + 1 if mark else None
        ) from None
    finally:
        loader.dispose()


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required key missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        elif err["type"] != "value_error":
            msg = f"{msg}, got {err['input']!r}"
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def parse(path: Path, ctx: ParseContext) -> Parsed:
    path = Path(path)
    if ctx.fmt not in (None, "certificates_yaml"):
        raise FormatError(path, f"format {ctx.fmt!r} is not a certificate format ({', '.join(FORMATS)})")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"certificates_yaml: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    root = _compose(path, text)
    if not isinstance(root, yaml.MappingNode):
        raise FormatError(path, "certificates_yaml: the document is not a mapping of year and items", 1)
    keys: dict[str, yaml.Node] = {}
    for key, value in root.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else str(key)
        line = key.start_mark.line + 1
        if name in keys:
            raise FormatError(path, f"certificates_yaml: key {name!r} given twice (line {line})", line)
        if name not in ("year", "items"):
            raise FormatError(path, f"certificates_yaml: unknown top-level key {name!r} (line {line})", line)
        keys[name] = value
    for name in ("year", "items"):
        if name not in keys:
            raise FormatError(path, f"certificates_yaml: required key missing ({name})", 1)
    year = _construct(path, keys["year"])
    year_line = keys["year"].start_mark.line + 1
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise FormatError(path, f"certificates_yaml: year (line {year_line}) must be a year such as 2026, got {year!r}",
                          year_line)
    if re.fullmatch(r"[0-9]{4}", path.stem) and int(path.stem) != year:
        raise FormatError(path, f"certificates_yaml: the file is named {path.name} but its year is {year}", year_line)
    items_node = keys["items"]
    if not isinstance(items_node, yaml.SequenceNode) or not items_node.value:
        line = items_node.start_mark.line + 1
        raise FormatError(path, f"certificates_yaml: items (line {line}) must be a non-empty list", line)

    lines = text.splitlines()
    starts = [item.start_mark.line for item in items_node.value]
    rows: dict[str, list] = {c: [] for c in raw_schema(TABLE).names}
    quarantine: list[Quarantined] = []
    seen_ids: dict[str, int] = {}
    for i, node in enumerate(items_node.value):
        line = node.start_mark.line + 1
        end = starts[i + 1] if i + 1 < len(starts) else max(node.end_mark.line + (node.end_mark.column > 0), line)
        raw_text = "\n".join(lines[starts[i]:end]).rstrip()
        try:
            data = _construct(path, node)
        except FormatError as exc:
            quarantine.append(Quarantined(line, raw_text, exc.reason.removeprefix("certificates_yaml: ")))
            continue
        if not isinstance(data, dict):
            quarantine.append(Quarantined(line, raw_text, f"item {i + 1} is not a mapping"))
            continue
        try:
            item = Item.model_validate(data)
        except ValidationError as exc:
            quarantine.append(Quarantined(line, raw_text, f"item {i + 1}: {_validation_reason(exc)}"))
            continue
        if item.id is not None:
            if item.id in seen_ids:
                quarantine.append(Quarantined(
                    line, raw_text, f"item {i + 1}: id {item.id!r} already given on line {seen_ids[item.id]}"))
                continue
            seen_ids[item.id] = line
        for col, val in (
            ("line_no", line), ("year", year), ("item_no", i + 1), ("kind", item.kind), ("kwh", item.kwh),
            ("certificate_id", item.id), ("issuer", item.issuer), ("technology", item.technology),
            ("cancelled_on", item.cancelled_on), ("is_unsubsidised", item.unsubsidised),
            ("counterparty", item.counterparty), ("meter_id", item.meter),
        ):
            rows[col].append(val)
    table = pa.table(rows, schema=raw_schema(TABLE))
    return Parsed(
        format="certificates_yaml",
        tables={TABLE: table},
        quarantine=quarantine,
        rows_read=table.num_rows + len(quarantine),
    )


# the certificate ledger of one year (certificates/<year>.yaml), one row per item
CERTIFICATES = RawTable(
    "certificates",
    (
        ("year", "integer"),             # the year the ledger attributes renewable electricity to
        ("item_no", "integer"),          # 1-based position of the item in the file
        ("kind", "varchar"),             # goo | ppa | onsite
        ("kwh", "double"),               # goo and ppa; null for onsite (counted from its meter)
        ("certificate_id", "varchar"),   # the item's `id` (GoO number, PPA reference)
        ("issuer", "varchar"),
        ("technology", "varchar"),
        ("cancelled_on", "date"),        # goo: day the guarantees of origin were cancelled
        ("is_unsubsidised", "boolean"),  # `unsubsidised`
        ("counterparty", "varchar"),
        ("meter_id", "varchar"),         # onsite: the onsite_generation meter
    ),
)

SOURCE = Source(
    name="certificates",
    title="renewable electricity certificate ledgers (certificates/<year>.yaml)",
    tables=(CERTIFICATES,),
    formats=(Format("certificates_yaml", detects_as(detect, "certificates_yaml"), parse),),
    order=70,
    aliases=("certificate",),
)
