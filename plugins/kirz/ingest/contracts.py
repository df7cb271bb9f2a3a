"""Partner contracts: one YAML file per contract, expanded into one row per version.

Version 0 is the contract as signed; each amendment replaces the fields it names from its
``effective_from`` on, so a job is priced and assigned to a usage area by the version in force
on its start day. The state-aid fields (``activity``, ``signed_on``, ``partner.group``,
``other_deminimis_eur``) describe the contract as a whole and are repeated on every version;
amendments cannot change them.

Unlike the measurement sources, a contract is not a stream of independent rows: a half-read
contract would silently move usage to the wrong usage area or price. An invalid file is
therefore rejected whole with a :class:`FormatError` that names the line of the offending key
(the document is composed with PyYAML to keep node marks).
"""

from __future__ import annotations

import codecs
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import pyarrow as pa
import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kirz.ingest.base import FormatError, ParseContext, Parsed
from kirz.ingest.source import Format, RawTable, Source, detects_as

FORMAT = "contract_yaml"
TABLE = "contract_versions"

USAGE_AREAS = ("methods_research", "cooperation", "education", "operations")
PARTNER_TYPES = (
    "university",
    "research_institute",
    "sme",
    "large_enterprise",
    "startup",
    "public_administration",
    "education_provider",
)
ACTIVITIES = ("economic", "non_economic")
CHANGEABLE_FIELDS = (
    "gpu_hours_allocated",
    "price_eur_per_gpu_hour",
    "accounts",
    "valid_to",
    "usage_area",
    "funders",
    "commitments",
)

# Alias expansion and nesting are bounded so that a hostile file cannot exhaust memory.
_MAX_NODES = 100_000
_MAX_DEPTH = 50

# ---------------------------------------------------------------- field types


def _no_blank_id(value: str) -> str:
    if not value or any(ch.isspace() for ch in value):
        raise ValueError(f"{value!r} is not an id (it must be non-empty and without spaces)")
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


_ACCOUNT = re.compile(r"[^\s,|:=()\[\]]+")
_FUNDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_POSTCODE = re.compile(r"[0-9]{5}")
_NUTS3 = re.compile(r"DE[A-Z0-9]{3}")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _account(value: str) -> str:
    if not _ACCOUNT.fullmatch(value):
        raise ValueError(f"{value!r} is not a Slurm account name (no spaces, commas or brackets)")
    return value


def _funder(value: str) -> str:
    if not _FUNDER.fullmatch(value):
        raise ValueError(f"{value!r} is not a funder id (letters, digits, '.', '_', '-')")
    return value


def _postcode(value: str) -> str:
    if not _POSTCODE.fullmatch(value):
        raise ValueError(f"{value!r} is not a German postcode of 5 digits (quote it: \"04109\")")
    return value


def _nuts3(value: str) -> str:
    if not _NUTS3.fullmatch(value):
        raise ValueError(f"{value!r} is not a German NUTS-3 code (DE and 3 capitals or digits, e.g. DED51)")
    return value


def _day(value: Any) -> date:
    """A calendar day: YAML gives ``date`` for ``2026-01-01``, a string when it was quoted."""
    if isinstance(value, datetime):
        raise ValueError(f"must be a day without a time (YYYY-MM-DD), got {value.isoformat(sep=' ')}")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid day ({exc})") from None
    raise ValueError(f"must be a day (YYYY-MM-DD), got {value!r}")


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"lists {value!r} twice")
        seen.add(value)
    return values


Id = Annotated[str, AfterValidator(_no_blank_id)]
Text = Annotated[str, AfterValidator(_text)]
Day = Annotated[date, BeforeValidator(_day)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
Accounts = Annotated[list[Annotated[str, AfterValidator(_account)]], Field(min_length=1), AfterValidator(_unique)]
Funders = Annotated[list[Annotated[str, AfterValidator(_funder)]], AfterValidator(_unique)]
UsageArea = Literal[USAGE_AREAS]
PartnerType = Literal[PARTNER_TYPES]
Activity = Literal[ACTIVITIES]


class _Model(BaseModel):
    # strict: YAML already types its scalars, so '20000' or 'yes' where a number or a flag
    # belongs is a mistake in the file, not something to coerce.
    model_config = ConfigDict(extra="forbid", strict=True)


class Partner(_Model):
    id: Id
    name: Text
    type: PartnerType
    postcode: Annotated[str, AfterValidator(_postcode)]
    nuts3: Annotated[str, AfterValidator(_nuts3)]
    confidential: bool
    # single undertaking (linked enterprises) for de-minimis; None (not named): the partner alone
    group: Id = None


class Commitments(_Model):
    jobs_created: Count = 0
    trainees: Count = 0


class CommitmentsChange(_Model):
    # None is never a valid input (the types are not Optional): it marks "not named".
    jobs_created: Count = None
    trainees: Count = None


class Amendment(_Model):
    effective_from: Day
    gpu_hours_allocated: Amount = None
    price_eur_per_gpu_hour: Amount = None
    accounts: Accounts = None
    valid_to: Day = None
    usage_area: UsageArea = None
    funders: Funders = None
    commitments: CommitmentsChange = None


class Contract(_Model):
    contract_id: Id
    partner: Partner
    usage_area: UsageArea
    # economic use is decided by the contract, never by the price (DESIGN, State aid)
    activity: Activity = "non_economic"
    # de-minimis aid is granted at signature; None (not named): valid_from
    signed_on: Day = None
    # de-minimis aid the undertaking declared from elsewhere over the rolling three years
    other_deminimis_eur: Amount = 0.0
    funders: Funders
    accounts: Accounts
    valid_from: Day
    valid_to: Day
    gpu_hours_allocated: Amount
    price_eur_per_gpu_hour: Amount
    commitments: Commitments = Field(default_factory=Commitments)
    amendments: list[Amendment] = Field(default_factory=list)


# ---------------------------------------------------------------- YAML with line numbers


class _Problem(Exception):
    def __init__(self, line: int | None, reason: str):
        super().__init__(reason)
        self.line = line
        self.reason = reason


class _Loader(yaml.SafeLoader):
    """SafeLoader whose value errors (e.g. ``2026-13-01``) carry the node's mark."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            shown = f" {node.value!r}" if isinstance(node, ScalarNode) else ""
            raise ConstructorError(None, None, f"value{shown} cannot be read: {exc}", node.start_mark) from None


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _index_lines(root: Node) -> dict[tuple, int]:
    """Line (1-based) of every key and list item, addressed by its path from the root.

    Also rejects duplicate keys, which plain YAML loading would silently collapse.
    """
    lines: dict[tuple, int] = {(): root.start_mark.line + 1}
    visited = 0

    def walk(node: Node, path: tuple, depth: int, weak: bool) -> None:
        nonlocal visited
        visited += 1
        if visited > _MAX_NODES or depth > _MAX_DEPTH:
            raise _Problem(node.start_mark.line + 1, "document too large or nested too deeply (aliases expand beyond limits)")

        def put(key: tuple, line: int) -> None:
            if weak:
                lines.setdefault(key, line)
            else:
                lines[key] = line

        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    walk(value_node, path, depth + 1, True)
                    continue
                key = key_node.value if isinstance(key_node, ScalarNode) else None
                line = key_node.start_mark.line + 1
                if key is not None and key in seen:
                    shown = _show_path(path + (key,))
                    raise _Problem(line, f"duplicate key {shown} (first at line {seen[key]})")
                if key is not None:
                    seen[key] = line
                    put(path + (key,), line)
                walk(value_node, path + (key,), depth + 1, weak)
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                put(path + (i,), item.start_mark.line + 1)
                walk(item, path + (i,), depth + 1, weak)

    walk(root, (), 0, False)
    return lines


def _line_at(lines: dict[tuple, int], path: tuple) -> int:
    while path not in lines:
        path = path[:-1]
    return lines[path]


def _show_path(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "the document"


def _yaml_reason(exc: yaml.YAMLError) -> tuple[int | None, str]:
    if isinstance(exc, yaml.MarkedYAMLError):
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = exc.problem or "invalid YAML"
        if exc.context:
            where = f" (line {exc.context_mark.line + 1})" if exc.context_mark else ""
            problem = f"{exc.context}{where}, {problem}"
        if line is None and exc.context_mark:
            line = exc.context_mark.line + 1
        kind = "YAML value error" if isinstance(exc, ConstructorError) else "YAML syntax error"
        return line, f"{kind}: {problem}"
    return None, f"YAML error: {exc}"


def _compose(text: str) -> tuple[Node | None, Any, dict[tuple, int]]:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        raise _Problem(line, f"character U+{char:04X} is not allowed in YAML") from None
    except yaml.YAMLError as exc:
        raise _Problem(*_yaml_reason(exc)) from None
    except RecursionError:
        raise _Problem(None, "document nested too deeply") from None
    if root is None:
        raise _Problem(None, "the file holds no YAML document")
    if not isinstance(root, MappingNode):
        kind = "a list" if isinstance(root, SequenceNode) else f"the value {root.value!r}"
        raise _Problem(root.start_mark.line + 1, f"a contract must be a mapping of keys, found {kind}")
    lines = _index_lines(root)
    loader = _Loader("")
    try:
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise _Problem(*_yaml_reason(exc)) from None
    finally:
        loader.dispose()
    return root, data, lines


def _raw_postcode(root: MappingNode, data: dict) -> None:
    """Keep the postcode as written: unquoted ``04103`` is octal 2115 to YAML 1.1."""
    partner = data.get("partner")
    if not isinstance(partner, dict) or "postcode" not in partner:
        return
    for key_node, value_node in root.value:
        if key_node.value == "partner" and isinstance(value_node, MappingNode):
            for k, v in value_node.value:
                if k.value == "postcode" and isinstance(v, ScalarNode) and v.tag.endswith((":int", ":str")):
                    partner["postcode"] = v.value


# ---------------------------------------------------------------- validation messages


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return repr(value)


_TYPE_WORDS = {
    "string_type": "text",
    "float_type": "a number",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "model_type": "a mapping of keys",
    "dict_type": "a mapping of keys",
}


def _field_choices(path: tuple) -> tuple[str, ...]:
    if path and path[-1] == "type":
        return PARTNER_TYPES
    if path and path[-1] == "activity":
        return ACTIVITIES
    return USAGE_AREAS


def _allowed_keys(path: tuple) -> tuple[str, ...]:
    model: type[BaseModel] = Contract
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        if part == "amendments":
            model = Amendment
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            break
    return tuple(model.model_fields)


def _message(err: dict) -> str:
    path = tuple(err["loc"])
    where = _show_path(path)
    kind = err["type"]
    value = err.get("input")
    if kind == "missing":
        return f"required key {where} is missing"
    if kind == "extra_forbidden":
        if len(path) == 3 and path[0] == "amendments":
            return (
                f"{where} cannot be changed by an amendment "
                f"(changeable: {', '.join(CHANGEABLE_FIELDS)})"
            )
        return f"unknown key {where} (expected keys: {', '.join(_allowed_keys(path))})"
    if kind == "literal_error":
        return f"{where} {_describe(value)} is not one of {', '.join(_field_choices(path))}"
    if kind in _TYPE_WORDS:
        return f"{where} must be {_TYPE_WORDS[kind]}, got {_describe(value)}"
    if kind in ("greater_than_equal", "finite_number"):
        return f"{where} must be a finite number not below zero, got {_describe(value)}"
    if kind == "too_short":
        return f"{where} must name at least one entry"
    if kind == "value_error":
        return f"{where} {err['ctx']['error']}"
    return f"{where}: {err['msg']}, got {_describe(value)}"


def _validate(data: dict, lines: dict[tuple, int]) -> Contract:
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        problems = sorted(
            ((_line_at(lines, _anchor(tuple(err["loc"]), err["type"])), _message(err)) for err in exc.errors()),
            key=lambda p: p[0],
        )
        line, reason = problems[0]
        if len(problems) > 1:
            more = "; ".join(f"line {ln}: {msg}" for ln, msg in problems[1:6])
            reason += f" (and {len(problems) - 1} more: {more})"
        raise _Problem(line, reason) from None


def _anchor(loc: tuple, kind: str) -> tuple:
    """The path whose line a validation error points at: the parent key when a key is missing."""
    return loc[:-1] if kind == "missing" else loc


# ---------------------------------------------------------------- versions


def _versions(c: Contract, lines: dict[tuple, int]) -> list[tuple[int, date, dict]]:
    """(line, effective_from, fields) per version; amendments applied in date order."""
    state = {
        "valid_to": c.valid_to,
        "usage_area": c.usage_area,
        "funders": list(c.funders),
        "accounts": list(c.accounts),
        "gpu_hours_allocated": c.gpu_hours_allocated,
        "price_eur_per_gpu_hour": c.price_eur_per_gpu_hour,
        "jobs_created": c.commitments.jobs_created,
        "trainees": c.commitments.trainees,
    }
    if c.valid_to < c.valid_from:
        raise _Problem(lines[("valid_to",)], f"valid_to {c.valid_to} is before valid_from {c.valid_from}")
    if c.signed_on is not None and c.signed_on > c.valid_to:
        raise _Problem(
            lines[("signed_on",)],
            f"signed_on {c.signed_on} is after valid_to {c.valid_to} (a contract is signed before it ends)",
        )
    out = [(lines[()], c.valid_from, dict(state))]
    taken: dict[date, int] = {}
    for i in sorted(range(len(c.amendments)), key=lambda i: (c.amendments[i].effective_from, i)):
        a = c.amendments[i]
        here = ("amendments", i)
        eff = a.effective_from
        eff_line = lines[here + ("effective_from",)]
        if eff <= c.valid_from:
            raise _Problem(
                eff_line,
                f"amendments[{i}].effective_from {eff} is not after valid_from {c.valid_from} "
                "(change the signed fields instead)",
            )
        if eff in taken:
            raise _Problem(
                eff_line,
                f"amendments[{i}] and amendments[{taken[eff]}] both take effect on {eff} (merge them into one)",
            )
        if eff > state["valid_to"]:
            raise _Problem(
                eff_line, f"amendments[{i}].effective_from {eff} is after valid_to {state['valid_to']}"
            )
        taken[eff] = i
        named = a.model_fields_set - {"effective_from", "commitments"}
        commitments = a.commitments.model_fields_set if a.commitments is not None else set()
        if not named and not commitments:
            raise _Problem(lines[here], f"amendments[{i}] (effective {eff}) changes nothing")
        if "valid_to" in named and a.valid_to < eff:
            raise _Problem(
                lines[here + ("valid_to",)],
                f"amendments[{i}].valid_to {a.valid_to} is before its effective_from {eff}",
            )
        for name in named:
            value = getattr(a, name)
            state[name] = list(value) if isinstance(value, list) else value
        for name in commitments:
            state[name] = getattr(a.commitments, name)
        out.append((lines[here], eff, dict(state)))
    return out


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(_json_ready(k)): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


# ---------------------------------------------------------------- public interface


_TOP_KEY = re.compile(rb"^[\"']?contract_id[\"']?[ \t]*:(?:[ \t]|\r?$)", re.M)


def detect(head: bytes) -> str | None:
    """'contract_yaml' when the text is YAML with a top-level ``contract_id`` key."""
    if b"\x00" in head:
        return None
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8):]
    if _TOP_KEY.search(head):
        return FORMAT
    if head.lstrip().startswith(b"{"):
        try:
            data = yaml.load(head.decode("utf-8"), Loader=yaml.SafeLoader)
        except (yaml.YAMLError, UnicodeDecodeError, ValueError, RecursionError):
            return None
        if isinstance(data, dict) and "contract_id" in data:
            return FORMAT
    return None


def parse(path: Path, ctx: ParseContext) -> Parsed:
    """One row per contract version; an invalid file raises :class:`FormatError`."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FormatError(
            path, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be read (save the file as UTF-8)", line
        ) from None
    try:
        root, data, lines = _compose(text)
        _raw_postcode(root, data)
        contract = _validate(data, lines)
        versions = _versions(contract, lines)
    except _Problem as problem:
        raise FormatError(path, problem.reason, problem.line) from None

    document = json.dumps(_json_ready(data), ensure_ascii=False, allow_nan=False)
    p = contract.partner
    columns: dict[str, list] = {name: [] for name in SCHEMA.names}
    for no, (line, eff, fields) in enumerate(versions):
        eff_to = versions[no + 1][1] - timedelta(days=1) if no + 1 < len(versions) else fields["valid_to"]
        row = {
            "line_no": line,
            "contract_id": contract.contract_id,
            "version_no": no,
            "effective_from": eff,
            "effective_to": eff_to,
            "valid_from": contract.valid_from,
            "partner_id": p.id,
            "partner_name": p.name,
            "partner_type": p.type,
            "partner_postcode": p.postcode,
            "partner_nuts3": p.nuts3,
            "partner_confidential": p.confidential,
            "activity": contract.activity,
            "signed_on": contract.signed_on if contract.signed_on is not None else contract.valid_from,
            "partner_group": p.group if p.group is not None else p.id,
            "other_deminimis_eur": contract.other_deminimis_eur,
            "document": document,
            **fields,
        }
        for name in SCHEMA.names:
            columns[name].append(row[name])
    table = pa.table(columns, schema=SCHEMA)
    return Parsed(format=FORMAT, tables={TABLE: table}, rows_read=table.num_rows)


def _as_day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def find_account_overlaps(versions: list[dict]) -> list[str]:
    """One message per (account, pair of contracts) that share the account on some day.

    ``versions`` are contract-version rows (``contract_id``, ``accounts``, ``effective_from``,
    ``effective_to``; ``version_no`` is shown when present) of any number of contracts.
    Versions of the same contract never conflict. An account in two contracts at once would
    make the job-to-contract assignment ambiguous, so the caller rejects such a file.
    """
    spans: dict[str, list[tuple[date, date, str, Any]]] = {}
    for v in versions:
        accounts = v.get("accounts")
        if accounts is None:
            continue
        start = _as_day(v["effective_from"])
        end = date.max if v.get("effective_to") is None else _as_day(v["effective_to"])
        if end < start:
            continue
        for account in set(accounts):
            spans.setdefault(account, []).append((start, end, v["contract_id"], v.get("version_no")))

    first: dict[tuple[str, str, str], tuple[date, tuple, tuple]] = {}
    for account, items in spans.items():
        items.sort(key=lambda s: (s[0], s[1], s[2]))
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                if b[0] > a[1]:
                    break
                if a[2] == b[2]:
                    continue
                day = b[0]
                x, y = (a, b) if a[2] < b[2] else (b, a)
                key = (account, x[2], y[2])
                if key not in first or day < first[key][0]:
                    first[key] = (day, x, y)

    def span(s: tuple) -> str:
        version = f"version {s[3]}, " if s[3] is not None else ""
        end = "open" if s[1] == date.max else s[1].isoformat()
        return f"{version}{s[0].isoformat()}..{end}"

    return [
        f"account {account!r} is in contract {c1} ({span(x)}) and in contract {c2} ({span(y)}) "
        f"on overlapping days, first on {day.isoformat()}"
        for (account, c1, c2), (day, x, y) in sorted(first.items())
    ]


# one row per contract version: the base document and each amendment applied in order
CONTRACT_VERSIONS = RawTable(
    "contract_versions",
    (
        ("contract_id", "varchar"),
        ("version_no", "integer"),       # 0 = as signed, 1.. = amendments in date order
        ("effective_from", "date"),
        ("effective_to", "date"),        # inclusive; day before the next version, or valid_to
        ("valid_from", "date"),
        ("valid_to", "date"),            # inclusive
        ("partner_id", "varchar"),
        ("partner_name", "varchar"),
        ("partner_type", "varchar"),
        ("partner_postcode", "varchar"),
        ("partner_nuts3", "varchar"),
        ("partner_confidential", "boolean"),
        ("usage_area", "varchar"),
        ("funders", "varchar[]"),
        ("accounts", "varchar[]"),
        ("gpu_hours_allocated", "double"),
        ("price_eur_per_gpu_hour", "double"),
        ("jobs_created", "integer"),
        ("trainees", "integer"),
        ("activity", "varchar"),         # economic | non_economic
        ("signed_on", "date"),           # de-minimis aid is granted at signature
        ("partner_group", "varchar"),    # single undertaking for de-minimis (default: the partner)
        ("other_deminimis_eur", "double"),
        ("document", "json"),            # the whole YAML document as delivered
    ),
)
SCHEMA = CONTRACT_VERSIONS.arrow_schema


def check_account_overlaps(con, parsed: Parsed, path: Path) -> None:
    """Reject a delivery whose contract takes an account another contract holds at the same
    time, against the latest delivery of every other contract in the warehouse."""
    new = parsed.tables.get(TABLE)
    if new is None or new.num_rows == 0:
        return
    new_rows = new.select(["contract_id", "accounts", "effective_from", "effective_to"]).to_pylist()
    new_ids = {r["contract_id"] for r in new_rows}
    existing = con.execute(
        """
        with latest as (
            select contract_id, max(ingest_id) as ingest_id from raw.contract_versions group by contract_id
        )
        select v.contract_id, v.accounts, v.effective_from, v.effective_to
        from raw.contract_versions v join latest using (contract_id, ingest_id)
        """
    ).fetchall()
    rows = [
        {"contract_id": c, "accounts": a, "effective_from": f, "effective_to": t}
        for c, a, f, t in existing
        if c not in new_ids
    ]
    conflicts = find_account_overlaps(rows + new_rows)
    if conflicts:
        raise FormatError(path, "; ".join(conflicts))


SOURCE = Source(
    name="contracts",
    title="partner contracts (one YAML file per contract, with amendments)",
    tables=(CONTRACT_VERSIONS,),
    formats=(Format(FORMAT, detects_as(detect, FORMAT), parse),),
    order=20,
    aliases=("contract",),
    check=check_account_overlaps,
)
