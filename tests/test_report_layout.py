"""The reports' page layout, checked on WeasyPrint's layout tree.

Every report kind (funder impact for two funders, partner statement monthly and yearly, energy
annual) is rendered in German and English from the report scenario (tests/report_scenario.py) through
kirz.reporting.report; the HTML it writes (the stylesheet is inline) is laid out again with
WeasyPrint, and each page's box tree is read:

- no box's border box leaves the page area (the page box's content box), 1 px tolerance; margins
  are not ink, and the content of a box that clips (overflow other than visible) is not looked at;
- no heading (h1-h3) holds the last line or image of a page: a heading is never left at a page
  bottom with its content on the next page;
- every page but the last is filled to at least 25 % of the page area's height, measured to the
  bottom of its lowest line or image; a page ended on purpose (the next page begins after a
  forced break, ``break-before``/``break-after: page`` or a change of named page) to at least 15 %;
- the partner statement's statement part (everything before its first ``section.appendix``, the
  data-quality note) ends on page 2 at the latest.

The first tests lay out small hand-made pages with and without each defect, so that each check is
shown to find what it looks for.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field

import pytest
import weasyprint
import yaml
from weasyprint.formatting_structure import boxes

import report_scenario
from kirz.reporting import report

TOLERANCE_PX = 1.0
MIN_FILL, MIN_FILL_FORCED = 0.25, 0.15
STATEMENT_PAGES = 2
FORCED = {"page", "left", "right", "recto", "verso"}
HEADINGS = {"h1", "h2", "h3"}
P2 = "partner-p-002"
# (recipient, period) of each report rendered in de and en, with its kind
# (the funders differ in what they may see: a confidential group, economic use, de-minimis tables;
# P-003 is a confidential undertaking, P-002's yearly statement adds the months and EnEfG energy)
REPORTS = {("bund-strukturwandel", "2026-Q4"): "funder_impact",
           ("eu-jtf", "2026-Q4"): "funder_impact",
           (P2, "2026-10"): "partner_statement",
           (P2, "2026"): "partner_statement",
           ("partner-p-003", "2026-10"): "partner_statement",
           ("energy-regulator", "2026"): "energy_annual"}
KEYS = [(rid, period, lang) for rid, period in REPORTS for lang in ("de", "en")]


@dataclass
class Ink:
    """A line with text or an image: where it ends and what it belongs to."""
    bottom: float
    heading: str | None  # the h1-h3 it is part of
    appendix: bool  # inside a section.appendix
    in_main: bool  # inside <main> (the body of the report, not the letterhead or cover)


@dataclass
class PageLayout:
    number: int
    name: str  # the named page ('' unless @page cover ...)
    top: float
    height: float
    overflows: list = field(default_factory=list)  # (box, edge, by how many px)
    ink: list = field(default_factory=list)
    elements: set = field(default_factory=set)  # id() of the elements with a box on this page
    first_chain: list = field(default_factory=list)  # (element id, style) down the page's first children
    last_chain: list = field(default_factory=list)  # (element id, style) down the page's last children

    @property
    def fill(self) -> float:
        return (max((i.bottom for i in self.ink), default=self.top) - self.top) / self.height


def _describe(box) -> str:
    el = box.element
    if el is None:
        return type(box).__name__
    attrs = "".join(f"{a}={el.get(a)!r}" for a in ("id", "class") if el.get(a))
    return f"{type(box).__name__} <{box.element_tag} {attrs}>"


def _has_text(line) -> bool:
    return any(isinstance(b, boxes.TextBox) and b.text.strip() for b in line.descendants())


def _walk(box, page: PageLayout, area, heading=None, appendix=False, in_main=False, root=False):
    """Record into ``page`` the overflows and the ink of ``box`` and its descendants (in document order)."""
    if not isinstance(box, boxes.Box) or box.width is None or box.height is None:
        return
    if box.element is not None:
        page.elements.add(id(box.element))
        cls = (box.element.get("class") or "").split()
        if box.element_tag in HEADINGS:
            heading = heading or box.element_tag
        appendix = appendix or (box.element_tag == "section" and "appendix" in cls)
        in_main = in_main or box.element_tag == "main"
    x0, y0, x1, y1 = area
    bx, by = box.border_box_x(), box.border_box_y()
    edges = (("left", x0 - bx), ("top", y0 - by), ("right", bx + box.border_width() - x1),
             ("bottom", by + box.border_height() - y1))
    # the root box is left out: margins do not collapse through it, so on the last page its height
    # holds the bottom margin of its last descendant (no ink); what it contains is checked box by box
    for edge, over in () if root else edges:
        if over > TOLERANCE_PX:
            page.overflows.append((_describe(box), edge, round(over, 1)))
    visible = box.style["visibility"] == "visible"
    if visible and ((isinstance(box, boxes.LineBox) and _has_text(box)) or isinstance(box, boxes.ReplacedBox)):
        page.ink.append(Ink(by + box.border_height(), heading, appendix, in_main))
    if box.style["overflow"] != "visible":
        return  # clipped: what is inside cannot show outside it
    for child in box.all_children():
        _walk(child, page, area, heading, appendix, in_main)


def _chain(box, first: bool) -> list:
    """(element id, style) of ``box`` and its first (or last) laid-out children, down the tree."""
    out = []
    while isinstance(box, boxes.ParentBox):
        if box.element is not None:
            out.append((id(box.element), box.style))
        kids = [c for c in box.children if isinstance(c, boxes.Box) and not isinstance(c, boxes.MarginBox)]
        if not kids:
            break
        box = kids[0] if first else kids[-1]
    return out


def layout(html: str) -> list[PageLayout]:
    """Each page of ``html`` as WeasyPrint lays it out."""
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    doc = weasyprint.HTML(string=html, base_url=None).render()
    pages = []
    for n, p in enumerate(doc.pages, 1):
        pb = p._page_box
        x0, y0 = pb.content_box_x(), pb.content_box_y()
        page = PageLayout(n, pb.page_type.name, y0, pb.height)
        for child in pb.children:
            if not isinstance(child, boxes.MarginBox):  # running headers and footers sit in the margin
                _walk(child, page, (x0, y0, x0 + pb.width, y0 + pb.height), root=True)
        page.first_chain = _chain(pb, first=True)
        page.last_chain = _chain(pb, first=False)
        pages.append(page)
    return pages


def forced_break_after(pages: list[PageLayout], i: int) -> bool:
    """Whether page ``i`` (0-based) ends on purpose: a forced break or a change of named page."""
    this, nxt = pages[i], pages[i + 1]
    if this.name != nxt.name:
        return True
    opening = [s for el, s in nxt.first_chain if el not in this.elements]  # boxes that begin on the next page
    closing = [s for el, s in this.last_chain if el not in nxt.elements]  # boxes that end on this page
    return (any(s["break_before"] in FORCED for s in opening)
            or any(s["break_after"] in FORCED for s in closing))


def overflows(pages: list[PageLayout]) -> list:
    """(page, box, edge, px) of every box beyond its page area."""
    return [(p.number, *o) for p in pages for o in p.overflows]


def stranded_headings(pages: list[PageLayout]) -> list:
    """(page, h1/h2/h3) of every page whose last line is part of a heading."""
    return [(p.number, p.ink[-1].heading) for p in pages if p.ink and p.ink[-1].heading]


def short_pages(pages: list[PageLayout]) -> list:
    """(page, fill, least fill) of every page but the last that is filled less than its rule allows."""
    short = []
    for i, p in enumerate(pages[:-1]):
        least = MIN_FILL_FORCED if forced_break_after(pages, i) else MIN_FILL
        if p.fill < least:
            short.append((p.number, round(p.fill, 2), least))
    return short


def statement_and_appendix_pages(pages: list[PageLayout]) -> tuple[list, list]:
    """The pages showing the statement part (lines in <main> before the appendix) and the appendix."""
    return ([p.number for p in pages if any(i.in_main and not i.appendix for i in p.ink)],
            [p.number for p in pages if any(i.appendix for i in p.ink)])


# ---------------------------------------------------------------- the checks catch what they look for

SMALL_PAGE = "<style>@page { size: 200px 300px; margin: 10px } body { margin: 0; font-size: 12px } {css}</style>"


def small(body: str, css: str = "") -> list[PageLayout]:
    return layout(SMALL_PAGE.replace("{css}", css) + body)


def test_checks_find_an_overflowing_box():
    assert overflows(small('<div style="width: 150px">fits</div>')) == []
    hits = overflows(small('<table style="width: 250px"><tr><td>wide</td></tr></table>'))
    assert hits and {(n, edge) for n, _, edge, _ in hits} == {(1, "right")}
    assert max(px for *_, px in hits) == pytest.approx(250 - 180, abs=1)  # the page area is 180 px wide
    assert overflows(small('<div style="height: 0; overflow: hidden"><p>clipped</p></div>')) == []
    # a bottom margin running past the last page's end is not ink
    assert overflows(small('<div style="height: 240px"></div><p style="margin: 0 0 30px">last</p>')) == []
    hits = overflows(small('<p>a</p><table><tr><td style="height: 350px">taller than a page</td></tr></table>'))
    assert (2, "TableCellBox <td >", "bottom", 74.0) in hits


def test_checks_find_a_stranded_heading():
    body = '<p style="height: 200px">a</p><h2>Heading</h2><div style="height: 150px; break-inside: avoid">b</div>'
    assert stranded_headings(small(body, "h2 { break-after: auto }")) == [(1, "h2")]
    assert stranded_headings(small(body, "h2 { break-after: avoid }")) == []


def test_checks_find_a_nearly_empty_page():
    tall = '<div style="height: 250px; break-inside: avoid">tall</div>'
    pages = small("<p>one line</p>" + tall)  # 1 line of 280 px: the block did not fit below it
    assert len(pages) == 2 and not forced_break_after(pages, 0)
    assert [(n, least) for n, _, least in short_pages(pages)] == [(1, MIN_FILL)]
    assert pages[0].fill < MIN_FILL_FORCED
    ended = small('<p style="line-height: 50px">a short section</p><section style="break-before: page">next</section>')
    assert forced_break_after(ended, 0) and short_pages(ended) == []  # ended on purpose
    assert MIN_FILL_FORCED <= ended[0].fill < MIN_FILL
    ended = small('<p>one line</p><section style="break-before: page">next</section>')
    assert forced_break_after(ended, 0) and [n for n, *_ in short_pages(ended)] == [1]
    after = small('<p style="line-height: 50px; break-after: page">a</p><p>b</p><p>c</p>')
    assert forced_break_after(after, 0) and short_pages(after) == []


@pytest.fixture(scope="session")
def scenario(tmp_path_factory):
    return report_scenario.shared(tmp_path_factory)


@pytest.fixture(scope="module")
def laid_out(scenario, tmp_path_factory):
    """(recipient, period, lang) -> (kind, pages) for every report of REPORTS in de and en; the
    partners' recipient template also issues a yearly statement (as reports/recipients/partners.yaml)."""
    folder = tmp_path_factory.mktemp("layout-recipients") / "recipients"
    shutil.copytree(report_scenario.RECIPIENTS, folder)
    doc = yaml.safe_load((folder / "partners.yaml").read_text())
    doc["reports"].append({"kind": "partner_statement", "every": "year"})
    (folder / "partners.yaml").write_text(yaml.safe_dump(doc))
    settings = report_scenario.settings_for(tmp_path_factory.mktemp("layout-home"), recipients=folder)
    outs = []
    for rid, period in REPORTS:
        outs += report(settings, recipient=rid, period=period, langs=["de", "en"], db=scenario.snapshot)
    got = {(o.recipient, o.period, o.lang): (o.kind, layout(o.html.read_text(encoding="utf-8"))) for o in outs}
    assert sorted(got) == sorted(KEYS)
    assert {kind for kind, _ in got.values()} == {"funder_impact", "partner_statement", "energy_annual"}
    return got


@pytest.mark.parametrize("key", KEYS, ids="-".join)
def test_no_box_leaves_its_page(laid_out, key):
    kind, pages = laid_out[key]
    assert [p.number for p in pages if not p.ink] == []  # every page shows something
    assert overflows(pages) == []


@pytest.mark.parametrize("key", KEYS, ids="-".join)
def test_no_heading_ends_a_page(laid_out, key):
    kind, pages = laid_out[key]
    assert stranded_headings(pages) == []


@pytest.mark.parametrize("key", KEYS, ids="-".join)
def test_no_nearly_empty_page(laid_out, key):
    kind, pages = laid_out[key]
    assert short_pages(pages) == [], [round(p.fill, 2) for p in pages]


@pytest.mark.parametrize("key", [k for k in KEYS if REPORTS[k[:2]] == "partner_statement"], ids="-".join)
def test_partner_statement_fits_two_pages(laid_out, key):
    kind, pages = laid_out[key]
    statement, appendix = statement_and_appendix_pages(pages)
    assert statement and appendix, (statement, appendix)
    assert max(statement) <= STATEMENT_PAGES, statement
    assert min(appendix) >= max(statement), (statement, appendix)
