"""Inventory YAML -> ``raw.inventory_nodes``, ``raw.inventory_meters``, ``raw.inventory_facility``.

Format ``inventory_yaml``, the schema of DESIGN.md::

    cluster: kirz-leipzig
    valid_from: 2026-07-01      # optional: the day this delivery takes effect
    facility: {floor_area_m2: 1000, design_it_power_kw: 3000, name: KI-Rechenzentrum Leipzig, ...}
    nodes:                      # names may use Slurm host-list syntax
      - {name: "gpu[001-048]", partition: gpu, rack: R01, gpus: 8, gpu_model: h100, cpus: 128, idle_w: 1200, max_w: 10500}
    meters:
      - {id: M-GRID, kind: grid_intake}
      - {id: M-IT,   kind: it, parent: M-GRID, pue_category: 1}
      - {id: M-WATER, kind: water_intake, potable: true}           # unit m3
      - {id: M-HEAT-T, kind: temperature, of: M-HEAT}              # unit degC

The facility's master data (name, operator, ..., it_intake_setpoint_c), ``gpu_model``, the
meters' ``unit``, ``potable``, ``of`` and ``pue_category`` and the top-level ``valid_from`` are
optional, so older inventories still load; ``valid_from`` is stored on every row of the
delivery (null when the file does not give it). A meter's unit follows from its kind (m3 for
``water_intake``, degC for ``temperature``, kWh for every other kind) and is stored resolved;
a unit given that does not fit the kind is an error.

An inventory is reference data: it is used whole or not at all, so any fault rejects the
file (FormatError) with the line of the offending YAML entry, found through the marks that
yaml's composer keeps on every node. Types are strict (``gpus: "8"`` or ``rack: 7`` are
errors: an unquoted ``07`` would silently lose its zero; postcodes and LAU codes must be
quoted for the same reason) and unknown keys are refused, so that a misspelt ``parent``
cannot vanish. Each node entry gives one row per host of its expanded host list; ``line_no``
of a row is the line of its entry.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import pyarrow as pa
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from kirz.hostlist import HostListError, expand
from kirz.ingest.base import FormatError, ParseContext, Parsed
from kirz.ingest.csv_readers import raw_schema
from kirz.ingest.source import Format, RawTable, Source, detects_as
from kirz.ingest.yaml_loader import DateCheckingLoader, yaml_error

FORMATS = ("inventory_yaml",)
MeterKind = Literal[
    "grid_intake", "it", "cooling", "grid_export", "onsite_generation", "backup_generator", "heat_removed",
    "heat_reuse", "heat_released", "water_intake", "temperature", "renewable_supply", "other",
]
METER_KINDS = get_args(MeterKind)
MeterUnit = Literal["kWh", "m3", "degC"]
# the unit of each kind that is not measured in kWh
KIND_UNIT = {"water_intake": "m3", "temperature": "degC"}
DcType = Literal["enterprise", "colocation", "co-hosting"]
PUE_CATEGORIES = (1, 2, 3)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def meter_unit(kind: str) -> str:
    """The unit a meter of ``kind`` is read in."""
    return KIND_UNIT.get(kind, "kWh")


def _digits(n: int, what: str, example: str):
    """A check for a code of ``n`` digits that YAML must see quoted (``04103`` unquoted is the octal 2115)."""
    pattern = re.compile(rf"[0-9]{{{n}}}")

    def check(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"must be a quoted {what} of {n} digits (write \"{example}\"), got {value!r}")
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a {what} of {n} digits (e.g. \"{example}\")")
        return value

    return check


def _nuts3(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"DE[A-Z0-9]{3}", value):
        raise ValueError(f"{value!r} is not a German NUTS-3 code (DE and 3 capitals or digits, e.g. DED51)")
    return value


def _day(value: Any) -> Any:
    """A calendar day: YAML gives ``date`` for ``2026-07-01``, a string when it was quoted."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        raise ValueError(f"must be a day without a time (YYYY-MM-DD), got {value.isoformat(sep=' ')}")
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid day ({exc})") from None
    raise ValueError(f"must be a day (YYYY-MM-DD), got {value!r}")


def _pue_category(value: int | None) -> int | None:
    if value is not None and value not in PUE_CATEGORIES:
        raise ValueError(f"pue_category must be 1, 2 or 3 (EN 50600-4-2), got {value}")
    return value


Day = Annotated[date | None, BeforeValidator(_day)]
Postcode = Annotated[str | None, BeforeValidator(_digits(5, "German postcode", "04109"))]
LauCode = Annotated[str | None, BeforeValidator(_digits(8, "LAU code (Gemeindeschlüssel)", "14713000"))]
Nuts3 = Annotated[Name | None, AfterValidator(_nuts3)]
PueCategory = Annotated[int | None, AfterValidator(_pue_category)]
Positive = Annotated[float | None, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Facility(_Strict):
    floor_area_m2: float = Field(gt=0)
    design_it_power_kw: float = Field(gt=0)
    name: Name | None = None
    operator: Name | None = None
    owner: Name | None = None
    contact: Name | None = None
    postcode: Postcode = None
    lau_code: LauCode = None
    nuts3: Nuts3 = None
    dc_type: DcType | None = None
    commissioned_on: Day = None
    building_area_m2: Positive = None
    rated_connection_kw: Positive = None
    non_redundant_connection_kw: Positive = None
    # supply-air temperature at the IT intake; ASHRAE's widest allowable envelope is 5 to 45 degC
    it_intake_setpoint_c: Annotated[float | None, Field(ge=5, le=45)] = None

    @model_validator(mode="after")
    def _non_redundant_within_rated(self):
        rated, single = self.rated_connection_kw, self.non_redundant_connection_kw
        if rated is not None and single is not None and single > rated:
            raise ValueError(
                f"non_redundant_connection_kw {single:g} is above rated_connection_kw {rated:g}"
            )
        return self


class NodeGroup(_Strict):
    name: Name
    partition: Name
    rack: Name
    gpus: int = Field(ge=0)
    gpu_model: Name | None = None
    cpus: int = Field(ge=0)
    idle_w: float = Field(ge=0)
    max_w: float = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self):
        if self.max_w < self.idle_w:
            raise ValueError(f"max_w {self.max_w:g} is below idle_w {self.idle_w:g}")
        if self.gpu_model is not None and self.gpus == 0:
            raise ValueError(f"gpu_model {self.gpu_model!r} is given for a node without GPUs (gpus: 0)")
        return self


class Meter(_Strict):
    id: Name
    kind: MeterKind
    parent: Name | None = None
    unit: MeterUnit | None = None
    potable: bool | None = None
    of: Name | None = None
    pue_category: PueCategory = None

    @model_validator(mode="after")
    def _fits_kind(self):
        expected = meter_unit(self.kind)
        if self.unit is not None and self.unit != expected:
            raise ValueError(f"unit {self.unit!r} does not fit kind {self.kind!r}, which is read in {expected}")
        if self.kind == "temperature" and self.of is None:
            raise ValueError("a temperature meter needs `of`: the meter whose medium it measures")
        if self.kind != "temperature" and self.of is not None:
            raise ValueError(f"`of` is for temperature meters only, not kind {self.kind!r}")
        if self.kind != "water_intake" and self.potable is not None:
            raise ValueError(f"`potable` is for water_intake meters only, not kind {self.kind!r}")
        if self.kind != "it" and self.pue_category is not None:
            raise ValueError(f"pue_category is for it meters only, not kind {self.kind!r}")
        return self


class Inventory(_Strict):
    cluster: Name
    valid_from: Day = None
    facility: Facility
    nodes: list[NodeGroup]
    meters: list[Meter]


_TOP_KEY = re.compile(rb"^(cluster|facility|nodes|meters)\s*:", re.MULTILINE)


def detect(head: bytes) -> str | None:
    """'inventory_yaml' when top-level keys of an inventory appear in the first bytes."""
    keys = {m.group(1) for m in _TOP_KEY.finditer(head)}
    if keys & {b"nodes", b"meters"} and keys & {b"cluster", b"facility"}:
        return "inventory_yaml"
    return None


def load_with_lines(path: Path, text: str) -> tuple[object, dict[tuple, int]]:
    """The YAML document and the 1-based line of every path in it (keys and list items)."""
    loader = DateCheckingLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise FormatError(path, "inventory_yaml: empty document", 1)
        lines: dict[tuple, int] = {}
        _mark_lines(path, node, (), lines)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise yaml_error(path, "inventory_yaml", exc) from None
    finally:
        loader.dispose()
    return data, lines


def _mark_lines(path: Path, node: yaml.Node, at: tuple, lines: dict[tuple, int]) -> None:
    lines.setdefault(at, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value in seen and key.value != "<<":
                raise FormatError(
                    path, f"inventory_yaml: key {key.value!r} given twice (lines {seen[key.value]} and {line})", line
                )
            seen[key.value] = line
            lines.setdefault(at + (key.value,), line)
            _mark_lines(path, value, at + (key.value,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _mark_lines(path, item, at + (i,), lines)


def _line_of(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "document"


def _validation_error(path: Path, exc: ValidationError, lines: dict[tuple, int]) -> FormatError:
    parts, first_line = [], None
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = _line_of(loc, lines)
        first_line = first_line or line
        msg = err["msg"]
        if err["type"] == "missing":
            msg = f"required key missing ({loc[-1]})"
        elif err["type"] not in ("value_error",):
            msg = f"{msg}, got {err['input']!r}"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        parts.append(f"{_where(loc)} (line {line}): {msg}")
    return FormatError(path, "inventory_yaml: " + "; ".join(parts), first_line)


def parse(path: Path, ctx: ParseContext) -> Parsed:
    path = Path(path)
    if ctx.fmt not in (None, "inventory_yaml"):
        raise FormatError(path, f"format {ctx.fmt!r} is not an inventory format ({', '.join(FORMATS)})")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"inventory_yaml: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    data, lines = load_with_lines(path, text)
    if not isinstance(data, dict):
        raise FormatError(path, "inventory_yaml: the document is not a mapping of cluster, facility, nodes, meters", 1)
    try:
        inv = Inventory.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(path, exc, lines) from None

    node_rows: dict[str, list] = {c: [] for c in raw_schema("inventory_nodes").names}
    first_seen: dict[str, int] = {}
    for i, group in enumerate(inv.nodes):
        line = lines[("nodes", i)]
        try:
            hosts = expand(group.name)
        except HostListError as exc:
            raise FormatError(path, f"inventory_yaml: nodes[{i}].name (line {line}): {exc}", line) from None
        if not hosts:
            raise FormatError(path, f"inventory_yaml: nodes[{i}].name (line {line}): {group.name!r} names no node", line)
        for host in hosts:
            if host in first_seen:
                raise FormatError(
                    path,
                    f"inventory_yaml: node {host} named twice (lines {first_seen[host]} and {line})",
                    line,
                )
            first_seen[host] = line
            for col, val in (
                ("line_no", line), ("cluster", inv.cluster), ("node", host), ("partition", group.partition),
                ("rack", group.rack), ("gpus", group.gpus), ("cpus", group.cpus),
                ("idle_w", group.idle_w), ("max_w", group.max_w), ("gpu_model", group.gpu_model),
                ("valid_from", inv.valid_from),
            ):
                node_rows[col].append(val)

    meter_line: dict[str, int] = {}
    for i, meter in enumerate(inv.meters):
        line = lines[("meters", i)]
        if meter.id in meter_line:
            raise FormatError(
                path, f"inventory_yaml: meter {meter.id} named twice (lines {meter_line[meter.id]} and {line})", line
            )
        meter_line[meter.id] = line
    parent_of = {m.id: m.parent for m in inv.meters}
    for i, meter in enumerate(inv.meters):
        line = lines[("meters", i)]
        if meter.parent is not None and meter.parent not in parent_of:
            raise FormatError(
                path, f"inventory_yaml: meters[{i}] (line {line}): parent {meter.parent!r} names no meter", line
            )
        if meter.of is not None and (meter.of not in parent_of or meter.of == meter.id):
            raise FormatError(
                path, f"inventory_yaml: meters[{i}] (line {line}): of {meter.of!r} names no other meter", line
            )
        chain, cur = [meter.id], meter.parent
        while cur is not None:
            if cur in chain:
                raise FormatError(
                    path, f"inventory_yaml: meters[{i}] (line {line}): parent cycle {' -> '.join(chain + [cur])}", line
                )
            chain.append(cur)
            cur = parent_of[cur]

    nodes = pa.table(node_rows, schema=raw_schema("inventory_nodes"))
    n_meters = len(inv.meters)
    meters = pa.table(
        {
            "line_no": [meter_line[m.id] for m in inv.meters],
            "cluster": [inv.cluster] * n_meters,
            "meter_id": [m.id for m in inv.meters],
            "kind": [m.kind for m in inv.meters],
            "parent_meter_id": [m.parent for m in inv.meters],
            "unit": [m.unit or meter_unit(m.kind) for m in inv.meters],
            "potable": [m.potable for m in inv.meters],
            "of_meter_id": [m.of for m in inv.meters],
            "pue_category": [m.pue_category for m in inv.meters],
            "valid_from": [inv.valid_from] * n_meters,
        },
        schema=raw_schema("inventory_meters"),
    )
    fac = inv.facility
    facility = pa.table(
        {
            "line_no": [lines[("facility",)]],
            "cluster": [inv.cluster],
            "valid_from": [inv.valid_from],
            **{name: [getattr(fac, name)] for name in Facility.model_fields},
        },
        schema=raw_schema("inventory_facility"),
    )
    warnings = []
    if inv.cluster != ctx.cluster:
        warnings.append(f"inventory is for cluster {inv.cluster!r}, the configured cluster is {ctx.cluster!r}")
    return Parsed(
        format="inventory_yaml",
        tables={"inventory_nodes": nodes, "inventory_meters": meters, "inventory_facility": facility},
        rows_read=nodes.num_rows + meters.num_rows + 1,
        warnings=warnings,
    )


INVENTORY_NODES = RawTable(
    "inventory_nodes",
    (
        ("cluster", "varchar"),
        ("node", "varchar"),
        ("partition", "varchar"),
        ("rack", "varchar"),
        ("gpus", "integer"),
        ("cpus", "integer"),
        ("idle_w", "double"),
        ("max_w", "double"),
        ("gpu_model", "varchar"),
        ("valid_from", "date"),          # the delivery's top-level valid_from (null: from the start)
    ),
)

INVENTORY_METERS = RawTable(
    "inventory_meters",
    (
        ("cluster", "varchar"),
        ("meter_id", "varchar"),
        ("kind", "varchar"),
        ("parent_meter_id", "varchar"),
        ("unit", "varchar"),             # kWh (default), m3, degC
        ("potable", "boolean"),          # water meters
        ("of_meter_id", "varchar"),      # temperature meters: the meter whose medium they measure
        ("pue_category", "integer"),     # it meters: EN 50600-4-2 category 1 | 2 | 3
        ("valid_from", "date"),
    ),
)

INVENTORY_FACILITY = RawTable(
    "inventory_facility",
    (
        ("cluster", "varchar"),
        ("floor_area_m2", "double"),
        ("design_it_power_kw", "double"),
        ("valid_from", "date"),
        ("name", "varchar"),
        ("operator", "varchar"),
        ("owner", "varchar"),
        ("contact", "varchar"),
        ("postcode", "varchar"),
        ("lau_code", "varchar"),
        ("nuts3", "varchar"),
        ("dc_type", "varchar"),
        ("commissioned_on", "date"),
        ("building_area_m2", "double"),
        ("rated_connection_kw", "double"),
        ("non_redundant_connection_kw", "double"),
        ("it_intake_setpoint_c", "double"),
    ),
)

SOURCE = Source(
    name="inventory",
    title="the inventory YAML (facility, nodes, meters)",
    tables=(INVENTORY_NODES, INVENTORY_METERS, INVENTORY_FACILITY),
    formats=(Format("inventory_yaml", detects_as(detect, "inventory_yaml"), parse),),
    order=10,
)
