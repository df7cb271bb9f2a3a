"""Inventory YAML -> ``raw.inventory_nodes``, ``raw.inventory_meters``, ``raw.inventory_facility``.

Format ``inventory_yaml``, the schema of DESIGN.md::

    cluster: kirz-leipzig
    facility: {floor_area_m2: 1000, design_it_power_kw: 3000}
    nodes:                      # names may use Slurm host-list syntax
      - {name: "gpu[001-048]", partition: gpu, rack: R01, gpus: 8, cpus: 128, idle_w: 1200, max_w: 10500}
    meters:
      - {id: M-GRID, kind: grid_intake}
      - {id: M-IT,   kind: it, parent: M-GRID}

An inventory is reference data: it is used whole or not at all, so any fault rejects the
file (FormatError) with the line of the offending YAML entry, found through the marks that
yaml's composer keeps on every node. Types are strict (``gpus: "8"`` or ``rack: 7`` are
errors: an unquoted ``07`` would silently lose its zero) and unknown keys are refused, so
that a misspelt ``parent`` cannot vanish. Each node entry gives one row per host of its
expanded host list; ``line_no`` of a row is the line of its entry.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, get_args

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from kirz.hostlist import HostListError, expand
from kirz.ingest.base import FormatError, ParseContext, Parsed
from kirz.ingest.power import raw_schema

FORMATS = ("inventory_yaml",)
MeterKind = Literal["grid_intake", "it", "cooling", "heat_reuse", "renewable_supply", "other"]
METER_KINDS = get_args(MeterKind)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Facility(_Strict):
    floor_area_m2: float = Field(gt=0)
    design_it_power_kw: float = Field(gt=0)


class NodeGroup(_Strict):
    name: Name
    partition: Name
    rack: Name
    gpus: int = Field(ge=0)
    cpus: int = Field(ge=0)
    idle_w: float = Field(ge=0)
    max_w: float = Field(ge=0)

    @model_validator(mode="after")
    def _max_not_below_idle(self):
        if self.max_w < self.idle_w:
            raise ValueError(f"max_w {self.max_w:g} is below idle_w {self.idle_w:g}")
        return self


class Meter(_Strict):
    id: Name
    kind: MeterKind
    parent: Name | None = None


class Inventory(_Strict):
    cluster: Name
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
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise FormatError(path, "inventory_yaml: empty document", 1)
        lines: dict[tuple, int] = {}
        _mark_lines(path, node, (), lines)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise FormatError(
            path, f"inventory_yaml: not valid YAML: {exc.problem or exc.context}", mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise FormatError(path, f"inventory_yaml: not valid YAML: {exc}") from None
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
                ("idle_w", group.idle_w), ("max_w", group.max_w),
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
        chain, cur = [meter.id], meter.parent
        while cur is not None:
            if cur in chain:
                raise FormatError(
                    path, f"inventory_yaml: meters[{i}] (line {line}): parent cycle {' -> '.join(chain + [cur])}", line
                )
            chain.append(cur)
            cur = parent_of[cur]

    nodes = pa.table(node_rows, schema=raw_schema("inventory_nodes"))
    meters = pa.table(
        {
            "line_no": [meter_line[m.id] for m in inv.meters],
            "cluster": [inv.cluster] * len(inv.meters),
            "meter_id": [m.id for m in inv.meters],
            "kind": [m.kind for m in inv.meters],
            "parent_meter_id": [m.parent for m in inv.meters],
        },
        schema=raw_schema("inventory_meters"),
    )
    facility = pa.table(
        {
            "line_no": [lines[("facility",)]],
            "cluster": [inv.cluster],
            "floor_area_m2": [inv.facility.floor_area_m2],
            "design_it_power_kw": [inv.facility.design_it_power_kw],
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
