"""Disclosure control (kirz.reporting.disclosure): the aggregate, primary and secondary
suppression, and the four leaks the report scenario had.

The property tests build random partner sets (confidential flags, types, regions, usage areas,
GPU-hours in two months, cost, allotments, committed jobs) into the tables a funder report has
(headline totals, usage by area and month, Revier and company shares, the contract table with
the aggregate's row and a total, the cooperation table, partners by type and region) through
the disclosure functions, and then *solve*, with numpy and independently of the module's own
exact arithmetic, whether the printed cells give anything protected away:

- no withheld cell (printed or implied) is a linear combination of printed cells, even for a
  reader who knows which figures are zero;
- no combination of printed cells adds up the figures of fewer than ``min_group_size`` partners
  one of which is confidential;
- the aggregate is atomic: a printed cell adds up all of its members' non-zero figures in its
  measure and months or none of them; a confidential partner is never alone in a printed cell;
- printed counts are zero or at least ``min_group_size``.

The report scenario (tests/report_scenario.py; the hand sums are in tests/test_report_data.py)
then goes end to end: built, rendered to HTML, PDF and CSV, with the same solver run on the
cells the real funder reports printed.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pypdf import PdfReader

import report_scenario
from kirz.reporting import report
from kirz.reporting.data import open_readonly
from kirz.reporting.disclosure import (
    WITHHELD, Aggregate, Sheet, Unit, choose_aggregate, deminimis_grouped, region_rows,
)
from kirz.reporting.funder_impact import build_funder_report
from kirz.reporting.model import L, Period, Q
from kirz.reporting.recipients import Recipient, ReportSpec, Scope

REVIER = {"DED51", "DEE02", "DED52"}
COMPANIES = {"sme", "startup", "large_enterprise"}
MONTHS = ("2026-10", "2026-11")


def partner(pid, confidential=False, ptype="sme", nuts3="DED51", name=None):
    return {"partner_id": pid, "partner_name": name if name is not None else f"Name {pid}",
            "partner_type": ptype, "confidential": confidential, "nuts3": nuts3,
            "region_name": "", "is_revier": nuts3 in REVIER}


# ---------------------------------------------------------------------------- the solver

class Solver:
    """The published cells of a protected sheet as a matrix over units, for numpy to solve."""

    def __init__(self, sheet: Sheet):
        self.sheet = sheet
        self.published = [c for c in sheet.cells.values() if c.shown and c.key not in sheet.reasons]
        units = sorted({u for c in sheet.cells.values() for u, _ in c.form},
                       key=lambda u: (u.measure, u.partner, u.part, u.bucket, u.inside))
        self.col = {u: i for i, u in enumerate(units)}
        self.units = units
        self.zero = [u for u in units if u not in sheet.nonzero]

    def row(self, form) -> np.ndarray:
        r = np.zeros(len(self.units))
        for u, c in form:
            r[self.col[u]] = c
        return r

    def matrix(self, zeros_known: bool = True) -> np.ndarray:
        rows = [self.row(c.form) for c in self.published]
        if zeros_known:
            rows += [self.row(((u, 1),)) for u in self.zero]
        return np.array(rows) if rows else np.zeros((0, len(self.units)))

    def determined(self, form, zeros_known: bool = True) -> bool:
        m = self.matrix(zeros_known)
        t = self.row(form)
        if not m.shape[0]:
            return not t.any()
        return np.linalg.matrix_rank(np.vstack([m, t])) == np.linalg.matrix_rank(m)

    def isolated(self, group: set[str], confidential: set[str]) -> bool:
        """Whether some combination of printed cells (zeros known) adds up only non-zero figures
        of ``group``, a confidential partner's among them."""
        m = self.matrix(True)
        if not m.shape[0]:
            return False
        outside = [self.col[u] for u in self.units if u in self.sheet.nonzero and u.partner not in group]
        conf = [self.col[u] for u in self.units if u in self.sheet.nonzero and u.partner in group & confidential]
        if not conf:
            return False
        m_out = m[:, outside]
        if m_out.shape[1]:
            _, s, vt = np.linalg.svd(m_out.T, full_matrices=True)
            rank = int((s > 1e-9).sum())
            combos = vt[rank:]  # row combinations that cancel every figure outside the group
        else:
            combos = np.eye(m.shape[0])
        if not combos.shape[0]:
            return False
        return bool(np.abs(combos @ m[:, conf]).max() > 1e-7)


def assert_protected(sheet: Sheet) -> None:
    """The properties every protected sheet has (see the module docstring)."""
    k = sheet.min_group
    agg = sheet.aggregate
    members = set(agg.members) if agg else set()
    confidential = set(agg.confidential) if agg else set()
    solver = Solver(sheet)
    # withheld cells stay unknown, even to a reader who knows which figures are zero
    for key, reason in sheet.reasons.items():
        cell = sheet.cells[key]
        if any(u in sheet.nonzero for u, _ in cell.form):
            assert not solver.determined(cell.form), (key, reason)
            assert not solver.determined(cell.form, zeros_known=False), (key, reason)
    for cell in solver.published:
        nz = {u.partner for u, _ in cell.form if u in sheet.nonzero}
        if cell.count is not None:
            assert cell.listed or cell.count == 0 or cell.count >= k, cell.key
            continue
        if cell.contributors is not None:
            nz = set(cell.contributors)
        # a confidential partner is never alone (nor in a group smaller than k)
        assert not (nz & confidential) or len(nz) >= k, cell.key
        # the aggregate is atomic: all of its members' non-zero figures in the cell's measure and months, or none
        for measure in {u.measure for u, _ in cell.form}:
            buckets = {u.bucket for u, _ in cell.form if u.measure == measure}
            mine = {u for u, _ in cell.form if u.measure == measure and u.partner in members and u in sheet.nonzero
                    and u.inside}
            every = {u for u in sheet.universe if u.measure == measure and u.bucket in buckets
                     and u.partner in members and u in sheet.nonzero and u.inside}
            assert not mine or mine == every, (cell.key, measure)
    # no combination of printed figures isolates a small group with a confidential partner
    value_partners = sorted({u.partner for c in solver.published if c.count is None for u, _ in c.form
                             if u in sheet.nonzero})
    for conf in sorted(confidential & set(value_partners)):
        others = [p for p in value_partners if p != conf]
        for r in range(0, k - 1):
            for extra in itertools.combinations(others, r):
                group = {conf, *extra}
                value_solver = _values_only(sheet)
                assert not value_solver.isolated(group, confidential), (sorted(group), sheet.reasons)


def _values_only(sheet: Sheet) -> Solver:
    """A solver over the value cells only (counts of partners are about who, not how much)."""
    s = Solver(sheet)
    s.published = [c for c in s.published if c.count is None]
    return s


# ---------------------------------------------------------------------------- a funder report's tables

def report_sheet(ps: list[dict], k: int) -> Sheet:
    """The tables of a funder report over partners ``ps`` (one contract each), protected."""
    use = {p["partner_id"]: sum(p["gpu"]) for p in ps}
    agg = choose_aggregate(ps, use, k)
    sheet = Sheet(agg, k)
    by_id = {p["partner_id"]: p for p in ps}
    ids = sorted(by_id)

    def flow(measure, pids, months=MONTHS):
        return {Unit(measure, pid, f"C-{pid}", m): 1 for pid in pids for m in months}

    def asof(measure, pids):
        return {Unit(measure, pid, f"C-{pid}", "asof"): 1 for pid in pids}

    for p in ps:
        pid = p["partner_id"]
        for i, m in enumerate(MONTHS):
            sheet.add_units([Unit("gpu", pid, f"C-{pid}", m), Unit("cost", pid, f"C-{pid}", m)],
                            [u for u, v in ((Unit("gpu", pid, f"C-{pid}", m), p["gpu"][i]),
                                            (Unit("cost", pid, f"C-{pid}", m), p["cost"][i])) if v])
        sheet.add_units(asof("allotment", [pid]), asof("allotment", [pid]))
        sheet.add_units(asof("jobs_created", [pid]), asof("jobs_created", [pid]) if p["jobs_created"] else [])

    def total(pids, key):
        return sum(sum(by_id[p][key]) if isinstance(by_id[p][key], tuple) else by_id[p][key] for p in pids)

    sheet.value("scope.gpu_hours", flow("gpu", ids), rank=0, size=total(ids, "gpu"))
    sheet.value("scope.cost_eur", flow("cost", ids), rank=0, size=total(ids, "cost"))
    areas = sorted({p["area"] for p in ps})
    for a in areas:
        pids = [p for p in ids if by_id[p]["area"] == a]
        sheet.value(f"area.{a}", flow("gpu", pids), size=total(pids, "gpu"))
        for m in MONTHS:
            sheet.value(f"series.{a}.{m}", flow("gpu", pids, [m]), rank=2)
    for m in MONTHS:
        sheet.value(f"series.total.{m}", flow("gpu", ids, [m]), rank=2)
    revier = [p for p in ids if by_id[p]["is_revier"]]
    companies = [p for p in ids if by_id[p]["partner_type"] in COMPANIES]
    sheet.value("regional.revier_gpu_hours", flow("gpu", revier), size=total(revier, "gpu"))
    sheet.value("regional.outside_gpu_hours", flow("gpu", set(ids) - set(revier)), shown=False)
    sheet.value("regional.company_gpu_hours", flow("gpu", companies), size=total(companies, "gpu"))
    sheet.value("regional.other_gpu_hours", flow("gpu", set(ids) - set(companies)), shown=False)
    named = [p for p in ids if agg is None or p not in agg]
    grouped = [p for p in ids if agg is not None and p in agg]
    for name, pids, rank in [(p, [p], 1) for p in named] + ([("group", grouped, 1)] if grouped else []) + \
            [("total", ids, 0)]:
        sheet.value(f"contract.{name}.allotment", asof("allotment", pids), rank=rank, size=total(pids, "allotment"))
        sheet.value(f"contract.{name}.used", flow("gpu", pids), rank=rank, size=total(pids, "gpu"))
    coop = [p for p in ids if by_id[p]["area"] == "cooperation"]
    sheet.value("cooperation.jobs_created_committed", asof("jobs_created", coop), size=total(coop, "jobs_created"))
    for p in coop:
        if agg is None or p not in agg:
            sheet.value(f"coop.{p}.gpu_hours", flow("gpu", [p]), size=total([p], "gpu"))
            sheet.value(f"coop.{p}.jobs_created", asof("jobs_created", [p]), size=by_id[p]["jobs_created"])
    coop_group = [p for p in coop if agg is not None and p in agg]
    if coop_group:
        sheet.value("coop.group.gpu_hours", flow("gpu", coop_group), size=total(coop_group, "gpu"))
        sheet.value("coop.group.jobs_created", asof("jobs_created", coop_group))
    active = [p for p in ids if sum(by_id[p]["gpu"])]

    def units(pids):
        return {Unit("partners", p, "", "period"): 1 for p in pids}

    sheet.count("scope.active_partners", units(active), len(active), rank=0)
    for t in sorted({by_id[p]["partner_type"] for p in active}):
        pids = [p for p in active if by_id[p]["partner_type"] == t]
        sheet.count(f"by_type.{t}", units(pids), len(pids))
    for r in region_rows([by_id[p] for p in active], k):
        sheet.count(f"by_region.{r['key']}", units(r["members"]), len(r["members"]))
    inside = [p for p in active if by_id[p]["is_revier"]]
    sheet.count("regional.partners_revier", units(inside), len(inside))
    sheet.count("regional.partners_outside", units(set(active) - set(inside)), len(active) - len(inside))
    sheet.protect()
    return sheet


figure = st.one_of(st.just(0), st.integers(1, 500))
partners_strategy = st.lists(
    st.fixed_dictionaries({
        "confidential": st.sampled_from([False, False, True]),
        "partner_type": st.sampled_from(["university", "sme", "startup", "large_enterprise"]),
        "nuts3": st.sampled_from(["DED51", "DEE02", "DED52", "DE300", "DED21", "AT130"]),
        "area": st.sampled_from(["methods_research", "cooperation", "education"]),
        "gpu": st.tuples(figure, figure),
        "cost": st.tuples(figure, figure),
        "allotment": st.integers(100, 5000),
        "jobs_created": st.integers(0, 4),
    }),
    min_size=1, max_size=7,
)


def named_partners(raw: list[dict]) -> list[dict]:
    out = []
    for i, p in enumerate(raw):
        pid = f"P-{i:02d}"
        # the cost follows the use: no use, no cost
        cost = tuple(c if g else 0 for g, c in zip(p["gpu"], p["cost"]))
        out.append({**partner(pid, p["confidential"], p["partner_type"], p["nuts3"]), "area": p["area"],
                    "gpu": p["gpu"], "cost": cost, "allotment": p["allotment"], "jobs_created": p["jobs_created"]})
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=partners_strategy, k=st.sampled_from([3, 3, 4]))
def test_random_partner_sets_give_nothing_protected_away(raw, k):
    ps = named_partners(raw)
    sheet = report_sheet(ps, k)
    assert_protected(sheet)
    agg = sheet.aggregate
    confidential = {p["partner_id"] for p in ps if p["confidential"]}
    if not confidential:
        assert agg is None
        return
    # every confidential partner is in the one aggregate; it has min_group_size members unless the scope is smaller
    assert set(agg.confidential) == confidential and confidential <= set(agg.members)
    assert len(agg.members) == min(k, len(ps)) or len(agg.members) == len(confidential) >= k
    assert agg.suppressed == (len(agg.members) < k)


@settings(max_examples=60, deadline=None)
@given(raw=partners_strategy)
def test_a_scope_smaller_than_the_group_size_prints_nothing_of_a_confidential_partner(raw):
    ps = named_partners(raw[:2])
    ps[0]["confidential"] = True
    ps[0]["gpu"] = (40, 0)
    sheet = report_sheet(ps, 3)
    assert sheet.aggregate.suppressed
    for cell in Solver(sheet).published:
        if cell.count is None:
            assert not any(u.partner == "P-00" and u in sheet.nonzero for u, _ in cell.form), cell.key
    assert sheet.withheld("scope.gpu_hours") and sheet.withheld("contract.total.used")


# ---------------------------------------------------------------------------- the parts, with real numbers

def test_aggregate_pads_with_the_smallest_named_partners_that_used_something():
    ps = [partner("A"), partner("B"), partner("C", True), partner("D"), partner("E")]
    use = {"A": 240.0, "B": 160.0, "C": 100.0, "D": 40.0, "E": 0.0}
    agg = choose_aggregate(ps, use, 3)
    # E used nothing: it would protect nobody, so D (40) and then B (160) join C
    assert agg == Aggregate(("B", "C", "D"), ("C",), ("sme",), 3) and not agg.suppressed
    view = agg.view({"used": Q(300.0, "gpu_h", 1)})
    assert (view["partners"].value, view["confidential_partners"].value, view["merged_named"].value) == (3, 1, 2)
    assert view["types"] == [L("partner_types_plural", "sme")] and view["used"].value == 300.0
    # a missing name counts as confidential; no confidential partner, no aggregate
    assert choose_aggregate([partner("A", name=""), partner("B")], {"A": 1, "B": 2}, 3).confidential == ("A",)
    assert choose_aggregate([partner("A"), partner("B")], {"A": 1}, 3) is None
    small = choose_aggregate([partner("A", True), partner("B")], {"A": 1, "B": 2}, 3)
    assert small.members == ("A", "B") and small.suppressed


def test_regions_below_the_group_size_are_merged_by_class():
    ps = [partner("A", nuts3="DED51"), partner("B", nuts3="DED51"), partner("C", nuts3="DED51"),
          partner("D", nuts3="DEE02"), partner("E", nuts3="DE300"), partner("F", nuts3="AT130")]
    rows = region_rows(ps, 3)
    assert [(r["key"], r["members"], r["revier"]) for r in rows] == [
        ("DED51", ["A", "B", "C"], True), ("@revier_other", ["D"], True), ("@germany", ["E"], False),
        ("@abroad", ["F"], False)]
    rows = region_rows(ps[3:5], 3)
    assert [r["key"] for r in rows] == ["@revier", "@germany"]  # no Revier region of its own: "the Revier"


def test_deminimis_rows_of_the_aggregate_go_into_one_row():
    parts = {p["partner_id"]: p for p in (partner("P2"), partner("P3", True), partner("P5"), partner("P9"))}
    agg = Aggregate(("P3", "P5", "P6"), ("P3",), ("sme",), 3)
    rows = [
        {"undertaking_id": "G", "partner_ids": ["P2", "P5"], "total_eur": 240200.0, "status": "warning",
         "is_confidential": False},
        {"undertaking_id": "P3", "partner_ids": ["P3"], "total_eur": 6000.0, "status": "ok", "is_confidential": True},
        {"undertaking_id": "P9", "partner_ids": ["P9"], "total_eur": 1000.0, "status": "ok", "is_confidential": False},
    ]
    named, group = deminimis_grouped(rows, agg, parts, 3)
    assert [r["undertaking_id"] for r in named] == ["P9"]
    assert (group["undertakings"], group["confidential"], group["total_eur"], group["status"], group["suppressed"]) == (
        2, 1, 246200.0, "warning", True)
    assert group["partner_ids"] == ["P2", "P3", "P5"]


def test_federal_scenario_tables_by_hand():
    """The federal funder's scope of the scenario: P-005 (40 GPU-h) is the only partner outside
    the Revier and, with P-006 (20, education), pads P-003's aggregate."""
    ps = [partner("P-001", ptype="university"), partner("P-002"), partner("P-003", True, nuts3="DEE02"),
          partner("P-005", ptype="large_enterprise", nuts3="DE300"),
          partner("P-006", ptype="education_provider", nuts3="DEE02")]
    use = {"P-001": 240.0, "P-002": 160.0, "P-003": 100.0, "P-005": 40.0, "P-006": 20.0}
    area = {"P-001": "methods_research", "P-002": "cooperation", "P-003": "cooperation", "P-005": "cooperation",
            "P-006": "education"}
    agg = choose_aggregate(ps, use, 3)
    assert agg.members == ("P-003", "P-005", "P-006")
    sheet = Sheet(agg, 3)

    def gpu(pids):
        return [Unit("gpu_hours", p, f"C-{p}", "q") for p in pids]

    sheet.add_units(gpu(use), gpu(use))
    sheet.value("scope.gpu_hours", gpu(use), rank=0, size=560)
    for a in ("methods_research", "cooperation", "education"):
        sheet.value(f"area.{a}", gpu([p for p in use if area[p] == a]))
    sheet.value("regional.revier_gpu_hours", gpu(["P-001", "P-002", "P-003", "P-006"]), size=520)
    sheet.value("regional.outside_gpu_hours", gpu(["P-005"]), shown=False)
    for p in ("P-001", "P-002"):
        sheet.value(f"contract.{p}.used", gpu([p]), size=use[p])
    sheet.value("contract.group.used", gpu(agg.members), size=160)

    def count(pids):
        return [Unit("partners", p) for p in pids]

    sheet.count("scope.active_partners", count(use), 5, rank=0)
    sheet.count("regional.partners_revier", count(["P-001", "P-002", "P-003", "P-006"]), 4)
    sheet.count("regional.partners_outside", count(["P-005"]), 1)
    reasons = sheet.protect()
    # the Revier share would give P-005's 40 away, and with it P-003's 100 = 160 - 40 - 20
    assert reasons == {
        "area.cooperation": "splits_aggregate", "area.education": "splits_aggregate",
        "regional.revier_gpu_hours": "splits_aggregate", "regional.outside_gpu_hours": "splits_aggregate",
        "regional.partners_outside": "small_count", "regional.partners_revier": "secondary",
    }
    assert sheet.show("scope.gpu_hours", Q(560.0, "gpu_h", 1)).value == 560.0
    assert sheet.show("contract.group.used", Q(160.0, "gpu_h", 1)).value == 160.0
    assert sheet.show("regional.revier_gpu_hours", Q(520.0, "gpu_h", 1)) == WITHHELD
    assert sheet.show("regional.partners_outside", Q(1, "count")).suppressed  # "< 3"
    assert sheet.show("regional.partners_revier", Q(4, "count")) == WITHHELD  # 5 - 4 = 1 otherwise
    assert sheet.figure("regional.revier_gpu_hours", Q(520.0, "gpu_h", 1)).canonical() == ["suppressed", "gpu_h"]
    assert_protected(sheet)


def test_a_named_row_is_withheld_where_the_total_would_leave_a_confidential_partner_with_one_other():
    """C (confidential) and N1 are the aggregate's only members with a non-zero figure: the
    total minus the named row would be their sum, a group of two. The named row goes (table
    cells before totals)."""
    ps = [partner("C", True), partner("N1"), partner("N2"), partner("N3")]
    agg = choose_aggregate(ps, {"C": 5, "N1": 7, "N2": 0, "N3": 9}, 3)
    assert agg.members == ("C", "N1", "N3")
    sheet = Sheet(agg, 3)
    cost = {p: Unit("cost", p, "", "q") for p in ("C", "N1", "N2", "N3")}
    sheet.add_units(cost.values(), [cost["C"], cost["N1"], cost["N2"]])  # N3 paid nothing
    sheet.value("scope.cost", cost.values(), rank=0, size=30)
    sheet.value("contract.N2.cost", [cost["N2"]], size=10)
    sheet.value("contract.group.cost", [cost["C"], cost["N1"], cost["N3"]], size=20)
    reasons = sheet.protect()
    # the group's cost has two contributors (C, N1): withheld; the total minus N2 would give it back
    assert reasons == {"contract.group.cost": "few_contributors", "contract.N2.cost": "aggregate_slice"}
    assert_protected(sheet)


def test_sheet_must_be_protected_before_it_is_read():
    sheet = Sheet(None, 3)
    sheet.value("x", [Unit("gpu", "A")])
    with pytest.raises(RuntimeError, match="protect"):
        sheet.show("x", Q(1.0))
    with pytest.raises(ValueError, match="twice"):
        sheet.value("x", [Unit("gpu", "A")])


# ---------------------------------------------------------------------------- the report scenario, end to end

@pytest.fixture(scope="session")
def scenario(tmp_path_factory):
    return report_scenario.shared(tmp_path_factory)


def funder(fid):
    return Recipient(fid, fid, "funder", ("de",), Scope(funders=(fid,)), (ReportSpec("funder_impact", "quarter"),))


@pytest.fixture(scope="module")
def built(scenario, monkeypatch_module):
    """The federal and EU funder reports of 2026-Q4 with the sheets they were protected with."""
    sheets = []
    original = Sheet.protect

    def protect(self):
        sheets.append(self)
        return original(self)

    monkeypatch_module.setattr(Sheet, "protect", protect)
    con = open_readonly(scenario.snapshot)
    try:
        out = {}
        for fid in ("bund-strukturwandel", "eu-jtf", "freistaat-sachsen"):
            data = build_funder_report(con, funder(fid), Period.parse("2026-Q4"), scenario.settings,
                                       run_id="t", code_version="t")
            out[fid] = (data, sheets[-1])
    finally:
        con.close()
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def rendered(scenario, tmp_path_factory):
    settings_ = report_scenario.settings_for(tmp_path_factory.mktemp("disclosure-home"))
    outs = report(settings_, recipient="bund-strukturwandel", period="2026-Q4", langs=["de", "en"],
                  db=scenario.snapshot)
    outs += report(settings_, recipient="eu-jtf", period="2026-Q4", langs=["en"], db=scenario.snapshot)
    texts = {}
    for o in outs:
        pdf = " ".join(" ".join(p.extract_text() for p in PdfReader(str(o.pdf)).pages).split())
        texts[(o.recipient, o.lang)] = {"html": o.html.read_text(encoding="utf-8"), "pdf": pdf,
                                        "csv": {r["key" if o.lang == "en" else "schluessel"]: r for r in
                                                csv.DictReader(io.StringIO(o.csv.read_text(encoding="utf-8")))}}
    return texts


def section(html: str, sid: str) -> str:
    body = html.split(f'<section id="{sid}"', 1)[1].split("</section>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", body.split(">", 1)[1]).split())


def test_scenario_sheets_give_nothing_protected_away(built):
    for fid, (data, sheet) in built.items():
        assert_protected(sheet)
    assert built["freistaat-sachsen"][1].aggregate is None


def test_leak_1_revier_share_no_longer_isolates_the_aggregate(built, rendered):
    """Federal funder: 520 of 560 GPU-hours in the Revier gave P-005's 40 (the only partner
    outside), and with the education row (P-006's 20) P-003's 100 = 160 - 40 - 20."""
    data, sheet = built["bund-strukturwandel"]
    reg = data["regional"]
    assert reg["revier_share"] == WITHHELD and reg["revier_gpu_hours"] == WITHHELD
    assert reg["company_share"] == WITHHELD  # P-002, P-003, P-005: the aggregate without P-006
    areas = {r["area"].key: r["gpu_hours"] for r in data["usage_by_area"]["rows"]}
    assert areas == {"methods_research": Q(240.0, "gpu_h", 1), "cooperation": WITHHELD, "education": WITHHELD}
    assert data["education"]["gpu_hours"] == WITHHELD
    # economic use of the centre (C-002, C-003, C-005) minus C-002 would be P-003 + P-005
    assert data["state_aid"]["economic_use_gpu_hours"] == WITHHELD
    assert data["contracts"]["group"]["used"].value == 160.0 and data["contracts"]["total"]["used"].value == 560.0
    solver = Solver(sheet)
    period = {m.label for m in Period.parse("2026-Q4").months()}
    p005 = [u for u in solver.units if u.partner == "P-005" and u.measure == "gpu_hours" and u.bucket in period]
    p003 = [u for u in solver.units if u.partner == "P-003" and u.measure == "gpu_hours" and u.bucket in period]
    assert len(p005) == len(p003) == 3
    assert not solver.determined(tuple((u, 1) for u in p005))
    assert not solver.determined(tuple((u, 1) for u in p003))
    for lang, share in (("de", "92,9 %"), ("en", "92.9%")):
        t = rendered[("bund-strukturwandel", lang)]
        assert share not in t["html"] and share not in t["pdf"]
        assert "Revier" in section(t["html"], "sec-regional")
    de = rendered[("bund-strukturwandel", "de")]
    assert ("Die Anteile der GPU-Stunden an Partner im Mitteldeutschen Revier und an Unternehmen werden nicht "
            "ausgewiesen") in de["pdf"]
    row = de["csv"]["regional.revier_gpu_hours"]
    # withheld to protect the aggregate, not a count below three: the note says which
    assert (row["wert"], row["hinweis"]) == ("", "nicht ausgewiesen (Schutz vertraulicher Angaben)")
    assert de["csv"]["scope.revier_gpu_hour_share_pct"]["wert"] == ""
    assert de["csv"]["contract.confidential_group.gpu_hours_used"]["wert"] == "160"


def test_leak_2_a_confidential_partner_alone_in_a_small_scope(built, rendered):
    """EU JTF: P-006 and P-007 (confidential) only: the contract total, the headline GPU-hours
    and the cooperation row (20.0 GPU-h, 1 job created) were P-007's own."""
    data, _ = built["eu-jtf"]
    assert data["disclosure"]["too_small"]
    h = {x["key"]: x["value"] for x in data["headline"]}
    for key in ("gpu_hours", "cpu_core_hours", "jobs", "cost_eur", "compute_value_eur", "subsidy_eur",
                "it_energy_kwh", "co2e_kg", "active_users"):
        assert h[key] == WITHHELD, key
    assert h["active_partners"].suppressed and h["trainees"].value == 5  # P-006's course, a named partner
    assert all(r["gpu_hours"] == WITHHELD and r["jobs"] == WITHHELD for r in data["usage_by_area"]["rows"])
    assert data["usage_by_area"]["total"] == WITHHELD
    assert data["cooperation"]["jobs_created_committed"] == WITHHELD
    assert all(v == WITHHELD for k, v in data["contracts"]["total"].items() if not k.endswith("_q"))
    t = rendered[("eu-jtf", "en")]
    usage = section(t["html"], "sec-usage")
    assert "20.0" not in usage and "40.0" not in usage
    coop = section(t["html"], "sec-cooperation")
    assert "Jobs created (committed): •" in coop and "20.0" not in coop
    assert "Total • • • •" in section(t["html"], "sec-contracts")
    assert "Your scope has fewer than three partners, confidential ones among them (start-ups)." in t["pdf"]
    for key in ("scope.gpu_hours", "area.cooperation.gpu_hours", "contract.confidential_group.gpu_hours_used",
                "scope.cost_eur"):
        assert t["csv"][key]["value"] == "", key


def test_leak_3_the_same_members_in_every_table(built, rendered):
    """The cooperation table padded the group with P-002 and P-005, the contract table with
    P-005 and P-006: 300 - 160 = 140 GPU-hours of two partners. Now one aggregate."""
    data, sheet = built["bund-strukturwandel"]
    coop, contracts = data["cooperation"]["group"], data["contracts"]["group"]
    label = ("partners", "confidential_partners", "merged_named", "types", "suppressed")
    assert {k: coop[k] for k in label} == {k: contracts[k] for k in label}
    assert (contracts["partners"].value, contracts["confidential_partners"].value) == (3, 1)
    # P-006 has no cooperation contract: the cooperation table cannot show the aggregate whole
    assert coop["gpu_hours"] == WITHHELD and coop["withheld"]
    assert [r["contract_id"] for r in data["cooperation"]["rows"]] == ["C-002"]
    assert sheet.aggregate.members == ("P-003", "P-005", "P-006")
    de = rendered[("bund-strukturwandel", "de")]["html"]
    assert section(de, "sec-cooperation").count("3 Partner, davon 1 vertraulich (KMU)") == 1
    assert section(de, "sec-contracts").count("3 Partner, davon 1 vertraulich (KMU)") == 1
    assert ("Die Gruppe umfasst in allen Tabellen dieses Berichts dieselben Partner: "
            "3 Partner, davon 1 vertraulich (KMU).") in section(de, "sec-headline")


def test_leak_4_no_confidential_undertaking_alone_in_the_deminimis_table(built, rendered):
    for fid in ("bund-strukturwandel", "eu-jtf"):
        dm = built[fid][0]["state_aid"]["deminimis"]
        assert all(not isinstance(r["partner"], L) for r in dm["rows"])  # no "confidential SME" row of its own
        assert dm["group"]["suppressed"] and dm["group"]["aid"] == WITHHELD
    assert built["bund-strukturwandel"][0]["state_aid"]["deminimis"]["group"]["undertakings"].value == 2
    de = section(rendered[("bund-strukturwandel", "de")]["html"], "sec-state-aid")
    assert "Vertrauliches KMU" not in de and "6.000,00" not in de and "240.200,00" not in de
    assert "Unternehmen, darunter vertrauliche (KMU) Weniger als drei Unternehmen: Werte nicht ausgewiesen" in de
    en = section(rendered[("eu-jtf", "en")]["html"], "sec-state-aid")
    assert "Confidential start-up" not in en and "1,800.00" not in en


def test_small_counts_cannot_be_recovered_from_totals(built, rendered):
    """5 active partners, 4 of them in the Revier: "< 3" outside would be 5 - 4 = 1."""
    data, _ = built["bund-strukturwandel"]
    reg = data["regional"]
    assert reg["partners_total"].value == 5
    assert reg["partners_outside"].suppressed and reg["partners_revier"] == WITHHELD
    assert [(r["region"], r["partners"]) for r in reg["by_region"]] == [
        (L("region_groups", "revier"), WITHHELD), (L("region_groups", "germany"), Q(None, "count", 0, True))]
    assert all(r["partners"].suppressed for r in reg["by_type"])  # four types, none with three partners
    regional = section(rendered[("bund-strukturwandel", "de")]["html"], "sec-regional")
    assert "Mitteldeutsches Revier ja •" in regional and "Übriges Deutschland nein &lt; 3" in regional
    assert "Summe 5" in regional


def test_region_names_come_from_the_seed(scenario):
    con = open_readonly(scenario.snapshot)
    try:
        names = dict(con.execute("select nuts3, region_name from marts.dim_partner").fetchall())
    finally:
        con.close()
    assert names == {"DED51": "Leipzig, Kreisfreie Stadt", "DEE02": "Halle (Saale), Kreisfreie Stadt",
                     "DED21": "Dresden, Kreisfreie Stadt", "DE300": "Berlin"}


def test_seed_names_every_revier_region():
    root = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
    revier = {r["nuts3"] for r in csv.DictReader((root / "revier_nuts3.csv").open(encoding="utf-8"))}
    regions = {r["nuts3"]: r for r in csv.DictReader((root / "nuts3_regions.csv").open(encoding="utf-8"))}
    assert revier <= set(regions)
    assert all(r["name"] and r["state"] and r["source"] for r in regions.values())
    assert regions["DE300"]["name"] == "Berlin" and regions["DEE0B"]["state"] == "Sachsen-Anhalt"
