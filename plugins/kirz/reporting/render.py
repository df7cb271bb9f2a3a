"""Data tree -> HTML, PDF and CSV in one language.

All formatting happens here: :class:`Lang` turns every quantity into a string (German
``1.234,5``, English ``1,234.5``), every label into its translation and every sentence into
its final text, so that templates only place strings. Jinja2 runs with autoescape on and
``StrictUndefined``; charts are SVG built by :mod:`kirz.reporting.charts`, which escapes its
own text. The PDF is WeasyPrint's rendering of the very same HTML.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from kirz.config import REPORT_ASSETS_DIR
from kirz.reporting import charts
from kirz.reporting.model import Figure, L, Period, Q

REPO_REPORTS = REPORT_ASSETS_DIR
TEMPLATES = {
    "funder_impact": "funder_impact.html.j2",
    "partner_statement": "partner_statement.html.j2",
    "energy_annual": "energy_annual.html.j2",
}


def reports_root(settings=None) -> Path:
    """The folder holding templates/, styles/ and i18n/ (setting ``report_assets_dir``)."""
    return Path(settings.report_assets_dir) if settings is not None else REPO_REPORTS


@lru_cache(maxsize=8)
def _strings(path: str) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


class Lang:
    """Formatting and translation for one language."""

    def __init__(self, code: str, root: Path | None = None):
        self.code = code
        self.s = _strings(str((root or REPO_REPORTS) / "i18n" / f"{code}.yaml"))

    # numbers
    def number(self, x: float, decimals: int = 0) -> str:
        text = f"{abs(x):,.{decimals}f}"
        sep = self.s["number"]
        text = text.replace(",", "\0").replace(".", sep["decimal"]).replace("\0", sep["thousands"])
        return ("-" if x < 0 and text.strip("0,.") else "") + text

    def q(self, q: Q) -> str:
        if q.suppressed:
            return self.s["suppressed"]
        if q.missing:
            return self.s["missing"]
        v = float(q.value)
        if q.unit == "pct":
            return self._pct(self.number(v, q.decimals))
        if q.unit == "pct_change":
            return ("+" if v > 0 else "") + self._pct(self.number(v, q.decimals))
        if q.unit == "pp":
            return ("+" if v > 0 else "") + self.number(v, q.decimals) + " " + self.s["pp_symbol"]
        return self.number(v, q.decimals)

    def _pct(self, text: str) -> str:
        return f"{text}{self.s['pct_symbol']}" if self.code == "en" else f"{text} {self.s['pct_symbol']}"

    def unit(self, q: Q) -> str:
        return self.s["units"].get(q.unit, "")

    # words
    def label(self, lab: L) -> str:
        return str(self.s.get(lab.group, {}).get(lab.key, lab.key))

    def context(self, ctx: str) -> str:
        """A figure's context: '@group.key' is translated, '@centre' names the whole centre."""
        if not ctx.startswith("@"):
            return ctx
        if "." in ctx:
            group, key = ctx[1:].split(".", 1)
            return self.label(L(group, key))
        return str(self.s.get(ctx[1:], ctx[1:]))

    def date(self, d: date) -> str:
        if isinstance(d, datetime):
            return d.strftime("%Y-%m-%d %H:%M UTC") if self.code == "en" else d.strftime("%d.%m.%Y %H:%M UTC")
        return d.isoformat() if self.code == "en" else d.strftime("%d.%m.%Y")

    def period(self, p: Period) -> str:
        if p.kind == "month":
            return f"{self.s['months'][p.start.month - 1]} {p.year}"
        if p.kind == "quarter":
            return self.s["quarter_format"].format(q=(p.start.month - 1) // 3 + 1, year=p.year)
        return str(p.year)

    def month_short(self, p: Period | date) -> str:
        d = p.start if isinstance(p, Period) else p
        return self.s["months_short"][d.month - 1]

    def bucket(self, kind: str, d: date) -> str:
        if kind == "month":
            return self.month_short(d)
        return f"{self.s['week_prefix']}{d.isocalendar()[1]}"


def present(obj, lang: Lang):
    """Every Q, L, date and Period in a tree -> its string; a dict gains ``<key>_unit`` per Q."""
    if isinstance(obj, Q):
        return lang.q(obj)
    if isinstance(obj, L):
        return lang.label(obj)
    if isinstance(obj, Period):
        return lang.period(obj)
    if isinstance(obj, (date, datetime)):
        return lang.date(obj)
    if isinstance(obj, Figure):
        return None
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out[k] = present(v, lang)
            if isinstance(v, Q):
                out[f"{k}_unit"] = lang.unit(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [present(v, lang) for v in obj]
    return obj


def _fmt(lang: Lang, decimals: int = 0, unit: str = ""):
    def f(v: float) -> str:
        text = lang.number(v, decimals)
        return lang._pct(text) if unit == "pct" else text
    return f


def _group_label(lang: Lang, group: dict | None) -> str:
    """The label of a confidential aggregate (partners) or of its de-minimis row (undertakings):
    how many, how many of them confidential, of which types; no number when the group is too small."""
    if not group:
        return ""
    types = ", ".join(lang.label(t) for t in group["types"])
    d = lang.s["disclosure"]
    if "undertakings" in group:
        if not group["confidential"].value:  # only undertakings of named members of the aggregate
            return d["deminimis_merged"].format(
                n=lang.s["suppressed"] if group["suppressed"] else lang.q(group["undertakings"]))
        if group["suppressed"]:
            return d["deminimis_small"].format(types=types)
        return d["deminimis_group"].format(n=lang.q(group["undertakings"]), c=lang.q(group["confidential"]),
                                           types=types)
    if group["suppressed"]:  # fewer than three partners: not even their number is given
        return lang.s["t"]["small_group_label"].format(types=types)
    if group["merged_named"].value:
        return lang.s["t"]["merged_group_label"].format(
            n=group["partners"].value, c=group["confidential_partners"].value, types=types)
    return lang.s["t"]["confidential_group_label"].format(n=group["partners"].value, types=types)


# ---------------------------------------------------------------------------- per-kind extras

def coverage_text(data: dict, lang: Lang) -> str:
    """'Data: 19.10.–01.11.2026, 14 of 92 days' and, where it falls in the period, the start of operation."""
    cov, t = data["coverage"], lang.s["t"]
    if cov["first_data_day"] is None:
        return t["coverage_none"]
    text = t["coverage"].format(first=lang.date(cov["first_data_day"]), last=lang.date(cov["last_data_day"]),
                                days=lang.q(cov["days_with_data"]), of=lang.q(cov["days_in_period"]))
    if cov["operation_started_in_period"]:
        text += " " + t["operation_start"].format(date=lang.date(cov["operation_start_day"]))
    if cov["is_partial"]:
        text += " " + t["partial_period"]
    return text


def _funder_extras(data: dict, lang: Lang) -> tuple[dict, dict]:
    """The funder report's sentences and charts; a withheld figure (:data:`disclosure.WITHHELD`)
    turns its sentence into one saying so, and leaves its chart out."""
    t, f, dc = lang.s["t"], lang.s["funder"], lang.s["disclosure"]
    reg, cap, sa = data["regional"], data["capacity"], data["state_aid"]
    prev = data["previous_period"]

    def v(x) -> str:
        return lang.label(x) if isinstance(x, L) else lang.q(x)

    def open_(x) -> bool:
        return isinstance(x, Q) and not x.suppressed

    revier_open, company_open = open_(reg["revier_share"]), open_(reg["company_share"])
    if revier_open and company_open:
        previous_open = prev is not None and open_(reg["revier_share_previous"])
        revier = (f["revier_text"] if previous_open else f["revier_text_first"]).format(
            share=v(reg["revier_share"]), company=v(reg["company_share"]),
            previous=v(reg["revier_share_previous"]) if previous_open else "")
    elif revier_open:
        revier = dc["revier_only"].format(share=v(reg["revier_share"]))
    elif company_open:
        revier = dc["company_only"].format(company=v(reg["company_share"]))
    else:
        revier = dc["shares_withheld"]
    nc = reg["new_confidential"]
    disclosure = data["disclosure"]
    group = data["contracts"]["group"] or data["cooperation"]["group"]
    text = {
        "subtitle": f["subtitle"].format(period=lang.period(data["period"])),
        "headline_intro": (f["headline_intro"].format(period=lang.period(data["period"]), previous=lang.period(prev))
                           if prev else f["headline_intro_first"].format(period=lang.period(data["period"]))),
        "coverage": coverage_text(data, lang),
        "revier": revier,
        "capacity": f["capacity_text"].format(gpus=lang.q(cap["installed_gpus"]), days=lang.q(cap["days_in_operation"]),
                                              cap=lang.q(cap["capacity_gpu_hours"]),
                                              share=v(cap["scope_share_of_capacity"])),
        "design": f["design_text"].format(design=lang.q(cap["design_it_power_kw"]), floor=lang.q(cap["floor_area_m2"])),
        "econ": dc["econ_withheld"] if sa["economic_withheld"] else f["econ_text"].format(
            year=data["period"].year, hours=v(sa["economic_use_gpu_hours"]), capacity_share=v(sa["share_of_capacity"]),
            allowance=lang.q(sa["allowance"]), allowance_share=v(sa["share_of_allowance"])),
        "deminimis_ceiling": f["deminimis_ceiling"].format(ceiling=lang.q(sa["ceiling"]), years=sa["window_years"],
                                                           warn=lang.q(sa["warn_at"])),
        "new_confidential": f["new_partners_confidential"].format(n=v(nc))
        if not isinstance(nc, Q) or nc.suppressed or nc.value else "",
        "coop_group": _group_label(lang, data["cooperation"]["group"]),
        "contracts_group": _group_label(lang, data["contracts"]["group"]),
        "deminimis_group": _group_label(lang, sa["deminimis"]["group"]),
        "suppressed_group": t["suppressed_group"],
        "group_withheld": dc["group_withheld"],
        "deminimis_small": dc["deminimis_small_note"],
        "too_small": dc["too_small"].format(types=", ".join(lang.label(x) for x in disclosure["types"]))
        if disclosure["too_small"] else "",
        "aggregate": dc["aggregate"].format(label=_group_label(lang, group))
        if group and not disclosure["too_small"] else "",
        "legend": dc["legend"] if disclosure["withheld"] or disclosure["small_counts"] else "",
    }
    series = data["usage_by_area"]["series"]
    cats = [lang.bucket(series["bucket_kind"], b) for b in series["buckets"]]
    months = [lang.month_short(m) for m in data["energy"]["months"]]
    figs = {
        "usage": _usage_chart(series, cats, lang),
        "revier": charts.line_chart(
            f["revier_chart"], cats, {f["revier_chart"]: series["revier_share"]}, _fmt(lang, 0, "pct"),
            "", y_min=0.0, y_max=100.0) if revier_open else "",
        "utilisation": charts.bar_chart(
            f["utilisation_chart"], months, {f["utilisation_chart"]: data["energy"]["utilization_by_month"]},
            _fmt(lang, 0, "pct"), "", height=200),
        "pue": charts.line_chart(
            f["pue_chart"], months, {"PUE": data["energy"]["pue_by_month"]}, _fmt(lang, 2), "", y_min=1.0),
        "econ": "" if sa["economic_withheld"] else charts.gauge_bar(
            f["econ_chart"], sa["share_of_allowance"].value, 100.0, _fmt(lang, 1, "pct"),
            f["econ_chart_limit"].format(allowance=lang.q(sa["allowance"])), sa["status_key"]),
    }
    text["chart_withheld"] = dc["chart_withheld"] if series["withheld"] and figs["usage"] else ""
    text.update(_summary_text(data, lang, revier))
    shares = {r["quality"].key: r["share"] for r in data["energy"]["quality"]["rows"]}
    text["dq_meaning"] = lang.s["dq"]["energy_meaning"].format(
        **{k: v(shares.get(k, Q(0.0, "pct", 1))) for k in ("measured", "interpolated", "estimated")}) \
        if data["energy"]["quality"]["available"] and all(isinstance(x, Q) for x in shares.values()) else ""
    return text, figs


def _summary_text(data: dict, lang: Lang, revier: str) -> dict:
    """The executive summary's paragraphs, one per usage area and one for the Revier, each
    written from the figures the report prints (a withheld figure is named as withheld)."""
    sm = lang.s["summary"]

    def v(x) -> str:
        return lang.label(x) if isinstance(x, L) else lang.q(x)

    def used(x) -> bool:
        return not isinstance(x, Q) or x.suppressed or bool(x.value)

    edu, coop, reg = data["education"], data["cooperation"], data["regional"]
    areas = []
    for r in data["summary"]["areas"]:
        if not used(r["gpu_hours"]):
            body = sm["area_unused"]
        elif isinstance(r["gpu_hours"], L):  # withheld: the sentence says so instead of printing marks
            body = sm["area_withheld"].format(contracts=v(r["contracts"]))
        else:
            body = sm["area_text"].format(gpu_hours=v(r["gpu_hours"]), share=v(r["share"]), jobs=v(r["jobs"]),
                                          contracts=v(r["contracts"]))
        if r["key"] == "education":
            body += " " + sm["education_text"].format(trainees=v(edu["trainees"]), courses=v(edu["courses_centre"]))
        elif r["key"] == "cooperation":
            body += " " + sm["cooperation_text"].format(active=v(coop["active"]),
                                                        jobs_created=v(coop["jobs_created_committed"]))
        areas.append({"title": v(r["area"]), "text": body})
    partners = ""
    if not isinstance(reg["partners_revier"], L) and not isinstance(reg["partners_total"], L):
        partners += " " + sm["revier_partners"].format(revier=v(reg["partners_revier"]), total=v(reg["partners_total"]))
    if not isinstance(reg["new_partners"], L):
        partners += " " + sm["new_partners"].format(new=v(reg["new_partners"]))
    return {
        "summary_title": sm["title"].format(period=lang.period(data["period"])),
        "summary_areas": areas,
        "summary_revier": f"{revier}{partners}",
        "summary_previous": "" if data["previous_period"] else sm["no_previous"],
    }


def _usage_chart(series: dict, cats: list[str], lang: Lang) -> str:
    """GPU-hours by month stacked by usage area; where an area's month is withheld, the scope's
    month totals alone (when printed); no chart when nothing is left to draw."""
    f = lang.s["funder"]
    if not series["withheld"]:
        by_area = {lang.label(L("areas", a)): series["gpu_hours"][a] for a in series["areas"]}
        return charts.bar_chart(f["usage_chart"], cats, by_area, _fmt(lang), lang.s["units"]["gpu_h"]) \
            if any(x for xs in by_area.values() for x in xs) else ""
    if any(series["total"]):
        return charts.bar_chart(lang.s["disclosure"]["usage_chart_total"], cats,
                                {lang.s["disclosure"]["usage_chart_total"]: series["total"]}, _fmt(lang),
                                lang.s["units"]["gpu_h"])
    return ""


def _partner_extras(data: dict, lang: Lang) -> tuple[dict, dict]:
    """The statement's sentences: subtitle, coverage, the VAT line, the de-minimis notice and, for a
    year, the EnEfG § 15 heading. A statement is tables and sentences only: no charts."""
    p = lang.s["partner"]
    period, yearly = data["period"], data["yearly"]
    dm = data["deminimis"]
    text = {
        "subtitle": (p["subtitle_year"] if yearly else p["subtitle"]).format(period=lang.period(period)),
        "coverage": coverage_text(data, lang),
        "vat": p["vat"].format(rate=lang.q(data["amounts"]["vat_rate"])),
        "energy_title": p["energy_title_year"].format(year=period.year) if yearly else p["energy_title"],
        "energy_intro": p["energy_intro_year"].format(year=period.year) if yearly else "",
        "deminimis_intro": p["deminimis_intro"].format(regulation=p["deminimis_regulation"]),
        "deminimis_total": "",
        "deminimis_none": "",
    }
    if dm["applies"] and dm["granted"] and not dm["position"]:
        text["deminimis_none"] = p["deminimis_no_position"]
    elif dm["applies"] and dm["granted"]:
        who = (p["deminimis_group"] if dm["is_group"] else p["deminimis_self"]).format(name=dm["undertaking"])
        text["deminimis_total"] = p["deminimis_total" if dm["other"].value else "deminimis_total_no_other"].format(
            who=who, start=lang.date(dm["window_start"]), end=lang.date(dm["period_end"]), total=lang.q(dm["total"]),
            aid=lang.q(dm["aid_in_window"]), other=lang.q(dm["other"]), share=lang.q(dm["share"]),
            ceiling=lang.q(dm["ceiling"]), status=lang.label(dm["status"]))
    elif dm["applies"]:
        text["deminimis_none"] = p["deminimis_none"].format(date=lang.date(dm["period_end"]))
    return text, {}


def _energy_extras(data: dict, lang: Lang) -> tuple[dict, dict]:
    e = lang.s["energy"]
    s = data["series"]
    months = [lang.month_short(m) for m in s["months"]]
    text = {"subtitle": e["subtitle"].format(period=lang.period(data["period"])), "coverage": coverage_text(data, lang)}
    figs = {
        "pue": charts.line_chart(e["pue_chart"], months, {"PUE": s["pue"]}, _fmt(lang, 2), "", y_min=1.0),
        "utilisation": charts.bar_chart(e["util_chart"], months, {e["util_chart"]: s["gpu_utilization_pct"]},
                                        _fmt(lang, 0, "pct"), "", height=200),
        "energy": charts.bar_chart(e["energy_chart"], months,
                                   {e["facility_series"]: s["facility_energy_kwh"], e["it_series"]: s["it_energy_kwh"]},
                                   _fmt(lang), "kWh", stacked=False),
    }
    return text, figs


EXTRAS = {"funder_impact": _funder_extras, "partner_statement": _partner_extras, "energy_annual": _energy_extras}


@dataclass
class VersionInfo:
    """What the renderer needs to say about the version: its number and the change list."""

    version: int
    issued: datetime
    base_version: int | None = None
    base_delivered_at: datetime | None = None
    changes: list[tuple[Figure, Figure | None]] | None = None  # (old, new)


def _version_view(v: VersionInfo, lang: Lang) -> dict:
    t = lang.s["t"]
    out = {"number": v.version, "issued": t["issued_as"].format(version=v.version, date=lang.date(v.issued.date())),
           "reissue": v.base_version is not None, "intro": "", "changes": [], "no_figure_changes": ""}
    if v.base_version is None:
        return out
    state = (t["base_delivered"].format(date=lang.date(v.base_delivered_at.date()))
             if v.base_delivered_at else t["base_not_delivered"])
    out["intro"] = t["reissue_intro"].format(version=v.version, base=v.base_version, base_state=state)
    for old, new in v.changes or []:
        ref = new or old
        ctx = lang.context(ref.context)
        label = (ctx + " · " if ctx else "") + lang.label(ref.label)
        out["changes"].append({"figure": label, "old": lang.q(old.value) if old else lang.s["missing"],
                               "new": lang.q(new.value) if new else lang.s["missing"]})
    if not out["changes"]:
        out["no_figure_changes"] = t["reissue_no_figure_changes"]
    return out


@lru_cache(maxsize=8)
def _environment(root: Path) -> Environment:
    """One environment per templates folder and process: Jinja compiles each template once and
    recompiles it only when its file changes."""
    return Environment(
        loader=FileSystemLoader(str(root / "templates")),
        autoescape=select_autoescape(enabled_extensions=("html", "j2", "xml"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(data: dict, lang_code: str, version: VersionInfo, root: Path | None = None) -> str:
    root = root or REPO_REPORTS
    lang = Lang(lang_code, root)
    text, figs = EXTRAS[data["kind"]](data, lang)
    view = {
        "lang": lang_code,
        "t": lang.s,
        "d": present({k: v for k, v in data.items() if k != "figures"}, lang),
        "text": text,
        "charts": {k: Markup(v) for k, v in figs.items()},
        "version": _version_view(version, lang),
        "css": Markup((root / "styles" / "report.css").read_text(encoding="utf-8")),
        "dq_counts": lang.s["dq"]["counts"].format(
            n=lang.q(data["dq"]["counts"].get("expectations", Q(0, "count"))),
            passed=lang.q(data["dq"]["counts"].get("passed", Q(0, "count"))),
            accepted=lang.q(data["dq"]["counts"].get("accepted", Q(0, "count"))),
            warning=lang.q(data["dq"]["counts"].get("warning_failed", Q(0, "count"))),
            critical=lang.q(data["dq"]["counts"].get("critical_failed", Q(0, "count")))),
        "kind_title": lang.s["kinds"][data["kind"]],
        "period_title": lang.period(data["period"]),
        "dq_file": dq_file_name(data["kind"], lang_code, version.version),
    }
    return _environment(root).get_template(TEMPLATES[data["kind"]]).render(**view)


def dq_file_name(kind: str, lang_code: str, version: int) -> str:
    """The full list of data-quality checks beside a report version."""
    return f"{kind}.{lang_code}.v{version}.dq.csv"


DQ_COLUMNS = ("suite", "expectation", "severity", "outcome", "meaning", "unexpected", "rows_checked", "days_failed",
              "days", "observed", "acceptance_reason")


def dq_rows(data: dict, lang_code: str, root: Path | None = None) -> list[list]:
    """Every data-quality check of the report's period: translated header, then one row per check
    (counts as numbers, summed over the period's days; empty where a check records none)."""
    lang = Lang(lang_code, root or REPO_REPORTS)
    head = lang.s["dq_csv"]
    out: list[list] = [[head[c] for c in DQ_COLUMNS]]

    def n(q: Q):
        return None if q.suppressed or q.missing else int(q.value)
    for r in data["dq"]["results"]:
        meaning = r["meaning_de"] if lang_code == "de" and r["meaning_de"] else r["meaning"]
        out.append([r["suite"], r["expectation"], lang.label(r["severity"]), lang.label(r["outcome"]), meaning,
                    n(r["unexpected"]), n(r["rows_checked"]), n(r["days_failed"]), n(r["days"]),
                    r["observed"] or None, r["acceptance_reason"] or None])
    return out


def render_dq_csv(data: dict, lang_code: str, root: Path | None = None) -> str:
    """:func:`dq_rows` as CSV (UTF-8, comma, like the report's CSV)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for row in dq_rows(data, lang_code, root):
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def render_pdf(html: str) -> bytes:
    """The PDF of the same HTML (WeasyPrint; no network: every asset is inline)."""
    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return weasyprint.HTML(string=html, base_url=None).write_pdf()


def render_csv(data: dict, lang_code: str, root: Path | None = None) -> str:
    """The report's figures as CSV: stable key, translated label, value with a dot, unit."""
    lang = Lang(lang_code, root or REPO_REPORTS)
    c = lang.s["csv"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c["key"], c["context"], c["label"], c["value"], c["unit"], c["note"]])
    for fig in data["figures"]:
        q = fig.value
        value = "" if (q.suppressed or q.missing) else (f"{float(q.value):.{max(q.decimals, 0) + 2}f}".rstrip("0").rstrip(".")
                                                        if isinstance(q.value, float) else str(q.value))
        note = (c["withheld_note"] if q.withheld else lang.s["suppressed"]) if q.suppressed else ""
        w.writerow([fig.key, lang.context(fig.context), lang.label(fig.label), value, lang.unit(q), note])
    return buf.getvalue()


def render_xlsx(data: dict, lang_code: str, root: Path | None = None) -> bytes:
    """The CSV's rows as an Excel workbook: the same header, keys, labels, units and notes, each
    value a native number (the CSV's, so both files agree to the digit) shown with the figure's
    decimals; empty where the CSV is empty (suppressed or missing)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    table = list(csv.reader(io.StringIO(render_csv(data, lang_code, root))))
    wb = Workbook()
    ws = wb.active
    ws.title = data["kind"]
    ws.append(table[0])
    for fig, row in zip(data["figures"], table[1:]):
        text = row[3]
        number = None if text == "" else (int(text) if text.lstrip("-").isdigit() else float(text))
        ws.append([row[0], row[1] or None, row[2], number, row[4] or None, row[5] or None])
        if number is not None:
            decimals = max(fig.value.decimals, 0)
            ws.cell(row=ws.max_row, column=4).number_format = "#,##0" + ("." + "0" * decimals if decimals else "")
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEF", (42, 18, 48, 16, 16, 12)):
        ws.column_dimensions[letter].width = width
    if data["dq"]["available"]:  # the full list of checks, as in the .dq.csv beside the report
        lang = Lang(lang_code, root or REPO_REPORTS)
        dq = wb.create_sheet(lang.s["dq_csv"]["sheet"])
        for row in dq_rows(data, lang_code, root):
            dq.append(row)
        for cell in dq[1]:
            cell.font = Font(bold=True)
        dq.freeze_panes = "A2"
        for letter, width in zip("ABCDEFGHIJK", (22, 34, 10, 20, 60, 12, 12, 10, 10, 24, 40)):
            dq.column_dimensions[letter].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
