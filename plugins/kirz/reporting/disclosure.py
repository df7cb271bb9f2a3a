"""Disclosure control of report tables: one confidential aggregate per report, primary and
secondary suppression, checked by solving.

Python computes no figure here. The builders of the report kinds select their rows from the
reporting models; this module decides which of those cells a report may print, which it merges
and which it withholds. The only arithmetic on figures is adding up the rows of an aggregate.

**The aggregate.** Confidential partners (a missing flag counts as confidential) never appear
on their own: :func:`choose_aggregate` picks, once per report and from all partners of the
scope, the confidential partners padded with the smallest named partners (smallest use first;
partners without use last, since they protect nobody) until the group has ``min_group_size``
members. Every table of the report shows exactly these members in its aggregate row, under a
truthful label (how many partners, how many of them confidential, of which types). When the
scope has fewer partners than that, the aggregate's figures are withheld.

**The model.** A report is a :class:`Sheet` of cells. A cell is a linear form over *units*:
one partner's figure of one measure in one bucket (a month, the previous period, the state at
the period's end), split by contract where a table splits partners by contract. Counts of
partners or users are cells too. Some cells are never printed but protected all the same
(*implied* cells, e.g. all users minus the course participants). The reader is assumed to know
which units every printed cell adds up and which figures are zero, but no other value.

**Primary suppression** withholds a cell when

- it holds part of the aggregate's non-zero figures in its measure and months but not all of
  them (the aggregate is atomic: its members appear together or not at all, in every table,
  so no difference of printed cells can single out part of it), or
- fewer than ``min_group_size`` partners contribute a non-zero value to it and one of them is
  confidential, or
- it counts between one and ``min_group_size - 1`` partners or users (printed as "< 3").

**The aggregate's slices.** Printed cells hold the aggregate in whole (measure, month) blocks; a
reader can derive the *atoms* of the blocks they hold (e.g. one month where the printed cells
hold the quarter and the other two months). Where an atom has fewer than ``min_group_size``
contributors with a confidential one among them, every small group it could be combined into
is checked by solving, and a cell of any combination that adds up such a group is withheld.

**Secondary suppression** then solves: as long as the printed cells (and the zeros) determine
a withheld cell, one more printed cell of that combination is withheld, table cells before
totals and headline figures, the smallest first (exact rational arithmetic). Tables of the same
measure share their units, so a total, a row or column sum, a share with a printed denominator
or another table of the same report cannot give a withheld value back. Counts of named partners
the report lists by name are never withheld (the names are public anyway).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable, Mapping

from kirz.reporting.model import L, Q, count_q

WITHHELD = L("disclosure", "withheld")
"""What a report prints for a figure it withholds (a value, or a count of three or more)."""


# ---------------------------------------------------------------------------- partners

def partner_label(p: Mapping):
    """The partner's name, or a label for a confidential partner (never its name)."""
    if p["confidential"] or not p.get("partner_name"):
        return L("confidential_partner", p.get("partner_type") or "unknown")
    return p["partner_name"]


def users_q(n, rules) -> Q:
    """A count of users (or partners): "< 3" between one and ``min_group_size - 1``."""
    return count_q(None if n is None else int(n), rules.min_group_size)


@dataclass(frozen=True)
class Aggregate:
    """The confidential aggregate of one report: the same members in every table."""

    members: tuple[str, ...]
    confidential: tuple[str, ...]
    types: tuple[str, ...]  # partner types of the confidential members
    min_group: int

    @property
    def suppressed(self) -> bool:
        """Fewer members than the smallest group a report may show: its figures are withheld."""
        return len(self.members) < self.min_group

    def __contains__(self, partner_id: object) -> bool:
        return partner_id in self.members

    def view(self, values: Mapping[str, object] | None = None) -> dict:
        """The aggregate as the templates show it: its label parts and the given figures."""
        return {
            "partners": Q(len(self.members), "count"),
            "confidential_partners": Q(len(self.confidential), "count"),
            "merged_named": Q(len(self.members) - len(self.confidential), "count"),
            "types": [L("partner_types_plural", t) for t in self.types],
            "suppressed": self.suppressed,
            **(values or {}),
        }


def is_confidential(p: Mapping) -> bool:
    return bool(p.get("confidential", True)) or not p.get("partner_name")


def choose_aggregate(partners: Iterable[Mapping], size: Mapping[str, float], min_group: int) -> Aggregate | None:
    """The report's aggregate (None when no partner of the scope is confidential).

    ``partners`` are all partners of the scope (``partner_id``, ``partner_name``,
    ``partner_type``, ``confidential``); ``size`` their use in the period (e.g. GPU-hours). The
    confidential partners are padded with the named ones of least use; named partners without
    use come last, because a member that contributes nothing protects nobody.
    """
    ps = {p["partner_id"]: p for p in partners}
    conf = sorted(pid for pid, p in ps.items() if is_confidential(p))
    if not conf:
        return None
    named = sorted((pid for pid in ps if pid not in conf),
                   key=lambda pid: (not (size.get(pid) or 0.0) > 0, size.get(pid) or 0.0, pid))
    members = list(conf)
    for pid in named:
        if len(members) >= min_group:
            break
        members.append(pid)
    types = sorted({ps[pid].get("partner_type") or "unknown" for pid in conf})
    return Aggregate(tuple(sorted(members)), tuple(conf), tuple(types), min_group)


def region_rows(partners: Iterable[Mapping], min_group: int) -> list[dict]:
    """Partners by NUTS-3 region; regions with fewer than ``min_group`` partners merged by class.

    Each partner has ``partner_id``, ``nuts3``, ``region_name`` and ``is_revier``. A region with
    enough partners keeps its own row; the others are merged into "other regions of the Revier"
    (or "the Revier" when no Revier region has its own row), "rest of Germany", "abroad" and
    "region unknown". Rows: ``key``, ``nuts3``, ``region_name``, ``group`` (None for a single
    region), ``revier`` and ``members``.
    """
    by_region: dict[str, list[Mapping]] = defaultdict(list)
    for p in partners:
        by_region[p.get("nuts3") or ""].append(p)
    single, merged = [], defaultdict(list)
    for nuts, ps in sorted(by_region.items()):
        revier = any(bool(p.get("is_revier")) for p in ps)
        if nuts and len(ps) >= min_group:
            single.append({"key": nuts, "nuts3": nuts, "region_name": ps[0].get("region_name") or "",
                           "group": None, "revier": revier, "members": sorted(p["partner_id"] for p in ps)})
        else:
            cls = ("revier" if revier else "unknown" if not nuts
                   else "germany" if nuts.startswith("DE") else "abroad")
            merged[cls] += [p["partner_id"] for p in ps]
    out = list(single)
    revier_single = any(r["revier"] for r in single)
    for cls in ("revier", "germany", "abroad", "unknown"):
        if merged.get(cls):
            group = "revier_other" if cls == "revier" and revier_single else cls
            out.append({"key": f"@{group}", "nuts3": "", "region_name": "", "group": group,
                        "revier": cls == "revier", "members": sorted(merged[cls])})
    return out


def deminimis_grouped(rows_in: list[Mapping], aggregate: Aggregate | None, partners: Mapping[str, Mapping],
                      min_group: int) -> tuple[list[Mapping], dict | None]:
    """De-minimis rows (one per single undertaking): those with a member in the aggregate merged.

    An undertaking goes into the aggregate's row when one of its partners is a member of the
    aggregate or is confidential, so that a confidential partner is never alone in this table
    either. The merged row has the undertakings' ``total_eur`` added up and the worst status;
    with fewer than ``min_group`` undertakings it is withheld (``suppressed``).
    """
    named, grouped = [], []
    for r in rows_in:
        ids = list(r.get("partner_ids") or [])
        conf = bool(r.get("is_confidential")) or any(is_confidential(partners[p]) for p in ids if p in partners)
        if conf or (aggregate is not None and any(p in aggregate for p in ids)):
            grouped.append(r)
        else:
            named.append(r)
    if not grouped:
        return named, None
    worst = max((r.get("status") or "unknown" for r in grouped), key=lambda s: _STATUS_ORDER.get(s, -1))
    conf_types = sorted({partners[p].get("partner_type") or "unknown" for r in grouped
                         for p in (r.get("partner_ids") or []) if p in partners and is_confidential(partners[p])})
    n_conf = sum(1 for r in grouped if bool(r.get("is_confidential"))
                 or any(is_confidential(partners[p]) for p in (r.get("partner_ids") or []) if p in partners))
    group = {
        "undertakings": len(grouped),
        "confidential": n_conf,
        "partner_ids": sorted({p for r in grouped for p in (r.get("partner_ids") or [])}),
        "types": conf_types,
        "total_eur": sum(float(r.get("total_eur") or 0.0) for r in grouped),
        "status": worst,
        "suppressed": len(grouped) < min_group,
    }
    return named, group


_STATUS_ORDER = {"unknown": 0, "ok": 1, "warning": 2, "exceeded": 3}


# ---------------------------------------------------------------------------- cells

@dataclass(frozen=True)
class Unit:
    """One partner's figure of one measure in one bucket, split by ``part`` (e.g. a contract).

    ``inside`` is False for figures outside the report's scope that a whole-centre figure adds
    up (they are never part of the scope's aggregate).
    """

    measure: str
    partner: str
    part: str = ""
    bucket: str = ""
    inside: bool = True


@dataclass(frozen=True)
class Cell:
    """A printed (or implied) figure: a linear form over units."""

    key: str
    form: tuple[tuple[Unit, int], ...]
    count: int | None = None  # set for counts of partners or users
    shown: bool = True  # False: implied by printed cells, never printed, protected all the same
    rank: int = 1  # which to withhold first in secondary suppression: higher first (0: totals, headline)
    size: float = 0.0  # the printed magnitude: among equal ranks, the smallest is withheld first
    contributors: frozenset[str] | None = None  # partners contributing a non-zero value, where the units cannot tell
    listed: bool = False  # a count of named partners the report lists by name: never withheld

    @property
    def units(self) -> dict[Unit, int]:
        return dict(self.form)


@dataclass
class Sheet:
    """All cells of one report, protected together (:meth:`protect`), then asked per cell."""

    aggregate: Aggregate | None
    min_group: int
    universe: set[Unit] = field(default_factory=set)  # every unit of the scope, zero or not
    nonzero: set[Unit] = field(default_factory=set)
    cells: dict[str, Cell] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    protected: bool = False

    # -- building

    def add_units(self, units: Iterable[Unit], nonzero: Iterable[Unit] = ()) -> None:
        self.universe.update(units)
        self.nonzero.update(nonzero)

    def value(self, key: str, form: Mapping[Unit, int] | Iterable[Unit], *, shown: bool = True, rank: int = 1,
              size: float | None = None, contributors: Iterable[str] | None = None) -> str:
        """A cell adding up values (GPU-hours, EUR, kWh, jobs); ``form`` maps units to +1/-1."""
        return self._add(key, form, None, shown, rank, size, contributors)

    def count(self, key: str, form: Mapping[Unit, int] | Iterable[Unit], n: float | None, *, shown: bool = True,
              rank: int = 1, listed: bool = False, nonzero: Iterable[Unit] | None = None) -> str:
        """A cell counting partners or users (``n``); its units are what it counts, each a
        non-zero figure unless ``nonzero`` names those that are. ``listed``: named partners the
        report lists by name anyway (never withheld: names of named partners are public)."""
        units = dict(form) if isinstance(form, Mapping) else {u: 1 for u in form}
        self.nonzero.update(units if nonzero is None else nonzero)
        return self._add(key, units, int(n or 0), shown, rank, None, None, listed)

    def _add(self, key, form, n, shown, rank, size, contributors, listed=False) -> str:
        if key in self.cells:
            raise ValueError(f"cell {key} added twice")
        units = dict(form) if isinstance(form, Mapping) else {u: 1 for u in form}
        units = {u: c for u, c in units.items() if c}
        self.universe.update(units)
        sz = float(n if n is not None else (size or 0.0))
        self.cells[key] = Cell(key, tuple(sorted(units.items(), key=lambda uc: _unit_key(uc[0]))), n, shown, rank,
                               abs(sz), None if contributors is None else frozenset(contributors), listed)
        self.protected = False
        return key

    # -- asking

    def withheld(self, key: str) -> bool:
        self._require()
        return key in self.reasons

    def show(self, key: str, q: Q):
        """What the report prints for cell ``key`` whose figure is ``q``: ``q`` itself, "< 3"
        (a count below the group size) or :data:`WITHHELD`."""
        self._require()
        reason = self.reasons.get(key)
        if reason is None:
            return q
        if reason == "small_count":
            return Q(None, q.unit, q.decimals, suppressed=True)
        return WITHHELD

    def figure(self, key: str, q: Q) -> Q:
        """The figure for CSV and versions: suppressed (no value) when withheld."""
        self._require()
        if key not in self.reasons:
            return q
        return Q(None, q.unit, q.decimals, suppressed=True, withheld=self.reasons[key] != "small_count")

    def any_withheld(self) -> bool:
        """Whether a printed cell is withheld (the report then explains the mark)."""
        self._require()
        return any(self.cells[k].shown for k in self.reasons)

    def _require(self) -> None:
        if not self.protected:
            raise RuntimeError("Sheet.protect() must run before cells are read")

    # -- protecting

    def protect(self) -> dict[str, str]:
        """Decide every cell: primary rules, the aggregate's slices, then secondary suppression."""
        self.reasons = {}
        self._primary()
        self._aggregate_slices()
        self._secondary()
        self.protected = True
        return self.reasons

    def _members(self) -> set[str]:
        return set(self.aggregate.members) if self.aggregate else set()

    def _confidential(self) -> set[str]:
        return set(self.aggregate.confidential) if self.aggregate else set()

    def _a_units(self) -> dict[tuple[str, str], set[Unit]]:
        members = self._members()
        out: dict[tuple[str, str], set[Unit]] = defaultdict(set)
        for u in self.universe:
            if u.inside and u.partner in members:
                out[(u.measure, u.bucket)].add(u)
        return out

    def _contributors(self, cell: Cell) -> set[str]:
        if cell.contributors is not None:
            return set(cell.contributors)
        return {u.partner for u, _ in cell.form if u in self.nonzero}

    def _a_blocks(self, cell: Cell, a_units) -> dict[tuple[str, str], int] | None:
        """The aggregate's (measure, bucket) blocks a cell holds with their coefficient, or None
        when it holds part of a block, or blocks of one measure unevenly (it splits the aggregate).

        Only non-zero figures count: a cell without a member whose figure is zero holds as much
        of the aggregate as one with it (a reader may know who used nothing)."""
        members = self._members()
        if not members:
            return {}
        units = cell.units
        buckets: dict[str, set[str]] = defaultdict(set)
        for u in units:
            buckets[u.measure].add(u.bucket)
        blocks: dict[tuple[str, str], int] = {}
        for measure, bs in buckets.items():
            mine = {u: c for u, c in units.items() if u.measure == measure and u.inside and u.partner in members
                    and u in self.nonzero}
            if not mine:
                continue
            expected = {u for b in bs for u in a_units.get((measure, b), ()) if u in self.nonzero}
            coefs = set(mine.values())
            if set(mine) != expected or len(coefs) != 1:
                return None
            for b in bs:
                if any(u in self.nonzero for u in a_units.get((measure, b), ())):
                    blocks[(measure, b)] = next(iter(coefs))
        return blocks

    def _primary(self) -> None:
        k, conf = self.min_group, self._confidential()
        a_units = self._a_units()
        for cell in self.cells.values():
            if cell.listed:
                continue
            if cell.count is not None and 0 < cell.count < k:
                self.reasons[cell.key] = "small_count"
                continue
            nz = self._contributors(cell)
            if 0 < len(nz) < k and nz & conf:
                self.reasons[cell.key] = "few_contributors"
                continue
            if cell.count is None and self._a_blocks(cell, a_units) is None:
                self.reasons[cell.key] = "splits_aggregate"

    def _aggregate_slices(self) -> None:
        """Withhold value cells until no combination of printed cells adds up fewer than
        ``min_group`` partners' figures one of which is confidential.

        Printed cells hold the aggregate only in whole (measure, bucket) blocks; a reader can
        derive the *atoms* of the blocks they hold. An atom that fewer than ``min_group``
        partners contribute to is sensitive: every group of partners it could be combined with
        into fewer than ``min_group`` contributors is checked by solving (zero figures count as
        known). Where a group is derivable, one cell of the combination is withheld (the same
        preference as in secondary suppression) and the check repeats. Where the groups to check
        would be too many, the cells holding the finest slices are withheld instead.
        """
        if not self._members():
            return
        k, conf = self.min_group, self._confidential()
        a_units = self._a_units()
        keys = sorted(self.cells)
        forms, var_units = _compress([self.cells[key] for key in keys])
        var_nz = [{u.partner for u in units if u in self.nonzero} for units in var_units]
        for _ in range(len(keys)):
            holding: dict[str, frozenset] = {}
            for cell in self.cells.values():
                if cell.count is None and cell.shown and cell.key not in self.reasons:
                    blocks = self._a_blocks(cell, a_units)
                    if blocks:
                        holding[cell.key] = frozenset(blocks.items())
            sets = sorted(set(holding.values()), key=lambda s: (len(s), sorted(map(repr, s))))
            sens = [a for a in _atoms(sets) if _sensitive(a, a_units, self.nonzero, k, conf)]
            if not sens:
                return
            groups = _small_groups(sens, a_units, self.nonzero, var_nz, k)
            if groups is None:
                bad = sens[0]
                drop = next((s for s in sets if _merges(bad, _atoms([t for t in sets if t != s]))),
                            next(s for s in sets if _blocks(s) & bad))
                for key in [key for key, s in holding.items() if s == drop]:
                    self.reasons[key] = "aggregate_slice"
                continue
            published = [i for i, key in enumerate(keys) if self.cells[key].shown and key not in self.reasons]
            used = next((u for g in groups if (u := [i for i in _isolates(g, published, forms, var_nz, conf)
                                                        if not self.cells[keys[i]].listed])), None)
            if not used:
                return
            self.reasons[keys[self._pick(used, keys)]] = "aggregate_slice"

    def _pick(self, candidates: list[int], keys: list[str]) -> int:
        """The printed cell to withhold next: table cells before totals, the smallest first."""
        return min(candidates, key=lambda i: (-self.cells[keys[i]].rank, self.cells[keys[i]].size, keys[i]))

    def _secondary(self) -> None:
        """Withhold printed cells until no withheld cell is a combination of printed ones (and of
        figures known to be zero)."""
        keys = sorted(self.cells)
        forms, var_units = _compress([self.cells[key] for key in keys])
        zeros = [v for v, units in enumerate(var_units) if not any(u in self.nonzero for u in units)]
        zero_basis = _basis([(-1 - v, {v: Fraction(1)}) for v in zeros])
        for component in _components(forms, len(keys)):
            trivial = {i for i in component if not _reduce(forms[i], zero_basis)[0]}
            while True:
                published = [i for i in component if self.cells[keys[i]].shown and keys[i] not in self.reasons]
                targets = [i for i in component if keys[i] in self.reasons and i not in trivial]
                if not targets or not published:
                    break
                basis = _basis([(-1 - v, {v: Fraction(1)}) for v in zeros] + [(i, forms[i]) for i in published])
                used = None
                for t in targets:
                    rest, combo = _reduce(forms[t], basis)
                    cells_used = [i for i, c in combo.items() if c and i >= 0 and not self.cells[keys[i]].listed]
                    if not rest and cells_used:
                        used = cells_used
                        break
                if used is None:
                    break
                self.reasons[keys[self._pick(used, keys)]] = "secondary"


def _unit_key(u: Unit) -> tuple:
    return (u.measure, u.partner, u.part, u.bucket, u.inside)


def _atoms(sets: list[frozenset]) -> list[frozenset]:
    """The finest partition of the blocks of ``sets`` (each a set of (block, coefficient)) such
    that every set holds each part whole and with one coefficient."""
    signature: dict[object, list[tuple[int, int]]] = defaultdict(list)
    for i, s in enumerate(sets):
        for block, coef in s:
            signature[block].append((i, coef))
    groups: dict[tuple, set] = defaultdict(set)
    for block, sig in signature.items():
        groups[tuple(sig)].add(block)
    return sorted((frozenset(g) for g in groups.values()), key=lambda a: sorted(map(repr, a)))


def _blocks(s: frozenset) -> set:
    return {block for block, _ in s}


def _merges(bad: frozenset, atoms: list[frozenset]) -> bool:
    """Whether the slice ``bad`` is no longer an atom of its own (merged into a larger one, or
    held by no printed cell at all)."""
    for atom in atoms:
        if atom & bad:
            return atom != bad
    return True


def _sensitive(atom: frozenset, a_units, nonzero: set[Unit], k: int, conf: set[str]) -> bool:
    nz = {u.partner for (measure, bucket) in atom for u in a_units.get((measure, bucket), ()) if u in nonzero}
    return 0 < len(nz) < k and bool(nz & conf)


def _compress(cells: list[Cell]) -> tuple[list[dict[int, Fraction]], list[set[Unit]]]:
    """Each cell's form over variables: units that every cell holds alike are one variable.
    Also the units of each variable."""
    signature: dict[Unit, list[tuple[int, int]]] = defaultdict(list)
    for i, cell in enumerate(cells):
        for u, c in cell.form:
            signature[u].append((i, c))
    var_of: dict[tuple, int] = {}
    var_units: list[set[Unit]] = []
    forms: list[dict[int, Fraction]] = [dict() for _ in cells]
    for u, sig in signature.items():
        key = tuple(sig)
        if key in var_of:
            var_units[var_of[key]].add(u)
            continue
        var_of[key] = v = len(var_units)
        var_units.append({u})
        for i, c in sig:
            forms[i][v] = Fraction(c)
    return forms, var_units


def _small_groups(sens: list[frozenset], a_units, nonzero: set[Unit], var_nz: list[set[str]], k: int,
                  limit: int = 2000) -> list[frozenset[str]] | None:
    """The groups of fewer than ``k`` partners a sensitive slice of the aggregate could be
    isolated with: its contributors (of one or several sensitive atoms) and up to ``k - 1 - n``
    other partners. None when there would be more than ``limit``."""
    from itertools import combinations

    nz = [frozenset(u.partner for block in atom for u in a_units.get(block, ()) if u in nonzero) for atom in sens]
    bases = set()
    for r in range(1, len(nz) + 1):
        if r > 6:
            return None
        for combo in combinations(nz, r):
            base = frozenset().union(*combo)
            if len(base) < k:
                bases.add(base)
    others = sorted({p for ps in var_nz for p in ps})
    groups: set[frozenset[str]] = set()
    for base in bases:
        rest = [p for p in others if p not in base]
        for r in range(0, k - len(base)):
            for extra in combinations(rest, r):
                groups.add(base | frozenset(extra))
                if len(groups) > limit:
                    return None
    return sorted(groups, key=lambda g: (len(g), sorted(g)))


def _isolates(group: frozenset[str], published: list[int], forms: list[dict[int, Fraction]],
              var_nz: list[set[str]], conf: set[str]) -> list[int]:
    """The printed cells of a combination that adds up only figures of ``group`` (and figures
    known to be zero), a confidential one among them; empty when there is no such combination."""
    inside = {v for v, ps in enumerate(var_nz) if ps <= group}
    touching = {v for v in inside if var_nz[v] & conf}
    if not touching:
        return []
    relevant = {v for i in published for v in forms[i]}
    if not touching & relevant:
        return []
    order = sorted(relevant, key=lambda v: (v in inside, v))
    rank = {v: n for n, v in enumerate(order)}
    zeros = [v for v in relevant if not var_nz[v]]
    rows_in = [(-1 - v, {rank[v]: Fraction(1)}) for v in zeros]
    rows_in += [(i, {rank[v]: c for v, c in forms[i].items()}) for i in published if forms[i].keys() & touching]
    rows_in += [(i, {rank[v]: c for v, c in forms[i].items()}) for i in published
                if not forms[i].keys() & touching]
    first_inside = sum(1 for v in order if v not in inside)
    touching_ranks = {rank[v] for v in touching if v in rank}
    for pivot, (row, combo) in _basis(rows_in).items():
        if pivot >= first_inside and row.keys() & touching_ranks:
            cells_used = [i for i, c in combo.items() if c and i >= 0]
            if cells_used:
                return cells_used
    return []


def _components(forms: list[dict[int, Fraction]], n: int) -> list[list[int]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[int, int] = {}
    for i, form in enumerate(forms):
        for v in form:
            if v in owner:
                parent[find(i)] = find(owner[v])
            else:
                owner[v] = i
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[find(i)].append(i)
    return sorted(groups.values())


def _reduce(vec: dict[int, Fraction], basis: dict) -> tuple[dict, dict]:
    """What is left of ``vec`` after subtracting basis rows, and the printed cells subtracted
    (cell -> coefficient): when nothing is left, ``vec`` is that combination of printed cells."""
    vec, used = dict(vec), {}
    while True:
        pivots = [v for v in vec if v in basis]
        if not pivots:
            return vec, used
        p = min(pivots)  # a basis row's pivot is its smallest variable: pivots met only grow
        bvec, bcombo = basis[p]
        f = vec[p]
        for v, x in bvec.items():
            y = vec.get(v, 0) - f * x
            if y:
                vec[v] = y
            else:
                vec.pop(v, None)
        for i, x in bcombo.items():
            y = used.get(i, 0) + f * x
            if y:
                used[i] = y
            else:
                used.pop(i, None)


def _basis(rows_in: list[tuple[int, dict[int, Fraction]]]) -> dict[int, tuple[dict, dict]]:
    """Echelon basis of the printed forms: pivot variable -> (row, the row as printed cells)."""
    basis: dict[int, tuple[dict, dict]] = {}
    for i, vec in rows_in:
        rest, used = _reduce(vec, basis)
        if not rest:
            continue
        combo = {j: -c for j, c in used.items()}
        combo[i] = combo.get(i, 0) + 1
        p = min(rest)
        f = rest[p]
        basis[p] = ({v: x / f for v, x in rest.items()}, {j: c / f for j, c in combo.items() if c})
    return basis
