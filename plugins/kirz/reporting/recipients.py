"""Who gets which report: the definitions in ``reports/recipients/*.yaml``.

One file per recipient::

    id: bund-strukturwandel
    name: "Bund – Strukturwandelprogramm"
    language: de                    # or [de, en]
    scope: {funders: [bund-strukturwandel], contracts: [], usage_areas: []}
    reports:
      - {kind: funder_impact, every: quarter}
      - {kind: funder_impact, every: year}
    emails: [foerderung@example.org]

A contract is in scope when it meets every non-empty condition of ``scope`` (funders: one of
the contract's funders is listed; contracts: its id is listed; usage_areas: its area is
listed). ``scope: all`` means the whole centre (for the energy regulator, whose report holds no
contract figures anyway).

A file with ``partners: auto`` is a template: it yields one recipient per partner in
``marts.dim_partner`` (id ``partner-<partner_id in lower case>``, scope = that partner's
contracts), with the file's language, reports, delivery rule and ``emails`` (a mapping
partner_id -> list); ``exclude`` lists partner ids to skip.

``deliver:`` (top level, for every report of the file, or inside one entry of ``reports:``,
which wins) says when a report may go out; the syntax is in :mod:`kirz.reporting.schedule`.
Errors in it name the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kirz.reporting.schedule import DeliveryRule, DeliveryRuleError, parse_rule

KINDS = {
    "funder_impact": ("quarter", "year"),
    "partner_statement": ("month", "year"),
    "energy_annual": ("year",),
    "energy_register": ("year",),
}
EVERY = {"month": "month", "monthly": "month", "quarter": "quarter", "quarterly": "quarter",
         "year": "year", "yearly": "year", "annual": "year"}
LANGS = ("de", "en")


class RecipientError(ValueError):
    """A recipient definition that cannot be used (names the file and the problem)."""


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    funders: tuple[str, ...] = ()
    contracts: tuple[str, ...] = ()
    usage_areas: tuple[str, ...] = ()

    def covers(self, contract_id: str, funders, usage_area: str | None) -> bool:
        if self.everything:
            return True
        if self.funders and not set(self.funders) & set(funders or ()):
            return False
        if self.contracts and contract_id not in self.contracts:
            return False
        if self.usage_areas and usage_area not in self.usage_areas:
            return False
        return True

    def to_json(self) -> dict:
        if self.everything:
            return {"all": True}
        return {"funders": list(self.funders), "contracts": list(self.contracts),
                "usage_areas": list(self.usage_areas)}


@dataclass(frozen=True)
class ReportSpec:
    kind: str
    every: str  # month | quarter | year
    deliver: DeliveryRule | None = None  # when it may go out (None: the recipient's rule or the default)


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    role: str  # funder | partner | regulator | other
    languages: tuple[str, ...]
    scope: Scope
    reports: tuple[ReportSpec, ...]
    emails: tuple[str, ...] = ()
    partner_id: str | None = None
    source: str = ""
    deliver: DeliveryRule | None = None  # the rule of every report without one of its own
    funding: tuple[tuple[str, str], ...] = ()  # (language, the cover's funding line), e.g. "Gefördert durch …"

    def funding_line(self, lang: str) -> str:
        """The cover's funding line in ``lang`` (the first one given when there is none in ``lang``)."""
        lines = dict(self.funding)
        return lines.get(lang) or next(iter(lines.values()), "")

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.kind for r in self.reports))


@dataclass
class Definitions:
    recipients: list[Recipient] = field(default_factory=list)
    auto_partner_templates: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files skipped (strict=False), each with its reason


def _tuple(val, what: str, src: str) -> tuple[str, ...]:
    if val is None:
        return ()
    if isinstance(val, str):
        return (val,)
    if isinstance(val, (list, tuple)):
        return tuple(str(v) for v in val)
    raise RecipientError(f"{src}: {what} must be a list, got {val!r}")


def _scope(raw, src: str) -> Scope:
    if raw in ("all", {"all": True}):
        return Scope(everything=True)
    if not isinstance(raw, dict):
        raise RecipientError(f"{src}: scope must be 'all' or a mapping of funders/contracts/usage_areas")
    unknown = set(raw) - {"funders", "contracts", "usage_areas"}
    if unknown:
        raise RecipientError(f"{src}: unknown scope key(s) {sorted(unknown)}")
    scope = Scope(False, _tuple(raw.get("funders"), "scope.funders", src),
                  _tuple(raw.get("contracts"), "scope.contracts", src),
                  _tuple(raw.get("usage_areas"), "scope.usage_areas", src))
    if not (scope.funders or scope.contracts or scope.usage_areas):
        raise RecipientError(f"{src}: empty scope (name funders, contracts or usage_areas, or say 'all')")
    return scope


def _line(node, *keys) -> int | None:
    """The 1-based line of the value at ``keys`` (mapping keys or list indexes) in a composed YAML node."""
    for key in keys:
        if isinstance(key, int) and isinstance(node, yaml.SequenceNode) and key < len(node.value):
            node = node.value[key]
            continue
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if found is not None:
                node = found
                continue
        return None
    return node.start_mark.line + 1 if node is not None else None


def _rule(raw, src: str, node, *keys) -> DeliveryRule | None:
    if raw is None:
        return None
    line = _line(node, *keys) if node is not None else None
    try:
        return parse_rule(raw, f"{src}:{line}" if line else src)
    except DeliveryRuleError as exc:
        raise RecipientError(str(exc)) from exc


def _reports(raw, src: str, node=None) -> tuple[ReportSpec, ...]:
    out = []
    if raw is not None and not isinstance(raw, list):
        raise RecipientError(f"{src}: reports must be a list")
    for i, item in enumerate(raw or []):
        if isinstance(item, str):
            item = {"kind": item}
        kind = item.get("kind")
        if kind not in KINDS:
            raise RecipientError(f"{src}: unknown report kind {kind!r}; expected one of {', '.join(KINDS)}")
        every = EVERY.get(str(item.get("every", KINDS[kind][0])))
        if every not in KINDS[kind]:
            raise RecipientError(f"{src}: {kind} cannot be issued every {item.get('every')!r}")
        out.append(ReportSpec(kind, every, _rule(item.get("deliver"), src, node, "reports", i, "deliver")))
    if not out:
        raise RecipientError(f"{src}: no reports listed")
    return tuple(out)


def _languages(raw, src: str) -> tuple[str, ...]:
    langs = _tuple(raw or "de", "language", src)
    bad = [lang for lang in langs if lang not in LANGS]
    if bad:
        raise RecipientError(f"{src}: unsupported language(s) {bad}; expected de or en")
    return langs


def _funding(raw, src: str) -> tuple[tuple[str, str], ...]:
    """``funding: "Gefördert durch …"`` (every language) or ``funding: {de: …, en: …}``."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        return tuple((lang, raw.strip()) for lang in LANGS)
    if isinstance(raw, dict) and raw and all(k in LANGS and isinstance(v, str) and v.strip() for k, v in raw.items()):
        return tuple((k, v.strip()) for k, v in raw.items())
    raise RecipientError(f"{src}: funding must be a text or a mapping of language (de, en) to text, got {raw!r}")


def load_definitions(directory: Path, strict: bool = True) -> Definitions:
    """Read every ``*.yaml`` in ``directory``; ids must be unique.

    ``strict``: the first unusable file raises :class:`RecipientError`; otherwise unusable files
    are skipped and named in ``errors``, so that one broken definition does not stop the
    reports of everyone else.
    """
    defs = Definitions()
    seen: dict[str, str] = {}
    for path in sorted(Path(directory).glob("*.y*ml")):
        try:
            _load_one(path, defs, seen)
        except RecipientError as exc:
            if strict:
                raise
            defs.errors.append(str(exc))
    return defs


def _load_one(path: Path, defs: Definitions, seen: dict[str, str]) -> None:
    src = str(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RecipientError(f"{src}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict):
        raise RecipientError(f"{src}: expected a mapping")
    node = yaml.compose(path.read_text(encoding="utf-8"))
    deliver = _rule(doc.get("deliver"), src, node, "deliver")
    if doc.get("partners") == "auto":
        defs.auto_partner_templates.append(
            {"languages": _languages(doc.get("language"), src), "reports": _reports(doc.get("reports"), src, node),
             "deliver": deliver,
             "emails": dict(doc.get("emails") or {}), "exclude": set(_tuple(doc.get("exclude"), "exclude", src)),
             "source": src}
        )
        return
    rid = str(doc.get("id") or "")
    if not rid or "/" in rid or rid.startswith("."):
        raise RecipientError(f"{src}: missing or unusable id {rid!r}")
    if rid in seen:
        raise RecipientError(f"{src}: id {rid!r} already defined in {seen[rid]}")
    recipient = Recipient(
        id=rid,
        name=str(doc.get("name") or rid),
        role=str(doc.get("role") or "other"),
        languages=_languages(doc.get("language"), src),
        scope=_scope(doc.get("scope"), src),
        reports=_reports(doc.get("reports"), src, node),
        emails=_tuple(doc.get("emails"), "emails", src),
        partner_id=doc.get("partner_id"),
        source=src,
        deliver=deliver,
        funding=_funding(doc.get("funding"), src),
    )
    seen[rid] = src
    defs.recipients.append(recipient)


def expand_auto_partners(defs: Definitions, partners: list[dict], contracts: list[dict]) -> list[Recipient]:
    """All recipients: the explicit ones plus one per partner for each ``partners: auto`` file.

    ``partners`` rows carry partner_id; ``contracts`` rows carry contract_id and partner_id.
    An explicit recipient with the same id wins over a generated one.
    """
    out = list(defs.recipients)
    ids = {r.id for r in out}
    for tpl in defs.auto_partner_templates:
        for p in sorted(partners, key=lambda r: r["partner_id"]):
            pid = p["partner_id"]
            rid = f"partner-{pid.lower()}"
            if pid in tpl["exclude"] or rid in ids:
                continue
            own = tuple(sorted(c["contract_id"] for c in contracts if c["partner_id"] == pid))
            if not own:
                continue
            out.append(
                Recipient(
                    id=rid, name=pid, role="partner", languages=tpl["languages"],
                    scope=Scope(contracts=own), reports=tpl["reports"],
                    emails=_tuple(tpl["emails"].get(pid), "emails", tpl["source"]),
                    partner_id=pid, source=tpl["source"], deliver=tpl.get("deliver"),
                )
            )
            ids.add(rid)
    return out
