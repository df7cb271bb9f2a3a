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

from kirz.reporting import charts
from kirz.reporting.model import Figure, L, Period, Q

REPO_REPORTS = Path(__file__).resolve().parents[3] / "reports"
TEMPLATES = {
    "funder_impact": "funder_impact.html.j2",
    "partner_statement": "partner_statement.html.j2",
    "energy_annual": "energy_annual.html.j2",
}


def reports_root(settings=None) -> Path:
    """The folder holding templates/, styles/, i18n/ and recipients/ (``reports_dir`` in kirz.toml)."""
    extra = getattr(settings, "extra", None) or {}
    return Path(extra.get("reports_dir") or REPO_REPORTS)


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
    if not group:
        return ""
    types = ", ".join(lang.label(t) for t in group["types"])
    if group["suppressed"]:  # fewer than three partners: not even their number is given
        return lang.s["t"]["small_group_label"].format(types=types)
    if group["merged_named"].value:
        return lang.s["t"]["merged_group_label"].format(
            n=group["partners"].value, c=group["confidential_partners"].value, types=types)
    return lang.s["t"]["confidential_group_label"].format(n=group["partners"].value, types=types)


# ---------------------------------------------------------------------------- per-kind extras

def _funder_extras(data: dict, lang: Lang) -> tuple[dict, dict]:
    t, f = lang.s["t"], lang.s["funder"]
    reg, cap, sa = data["regional"], data["capacity"], data["state_aid"]
    text = {
        "subtitle": f["subtitle"].format(period=lang.period(data["period"])),
        "headline_intro": f["headline_intro"].format(period=lang.period(data["period"]),
                                                     previous=lang.period(data["previous_period"])),
        "revier": f["revier_text"].format(share=lang.q(reg["revier_share"]), previous=lang.q(reg["revier_share_previous"]),
                                          company=lang.q(reg["company_share"])),
        "capacity": f["capacity_text"].format(gpus=lang.q(cap["installed_gpus"]), cap=lang.q(cap["capacity_gpu_hours"]),
                                              share=lang.q(cap["scope_share_of_capacity"])),
        "design": f["design_text"].format(design=lang.q(cap["design_it_power_kw"]), floor=lang.q(cap["floor_area_m2"])),
        "econ": f["econ_text"].format(share=lang.q(sa["economic_use_share"]), year=data["period"].year,
                                      limit=lang.q(sa["limit"])),
        "deminimis_ceiling": f["deminimis_ceiling"].format(ceiling=lang.q(sa["ceiling"])),
        "new_confidential": f["new_partners_confidential"].format(n=lang.q(reg["new_confidential"]))
        if reg["new_confidential"].value else "",
        "coop_group": _group_label(lang, data["cooperation"]["group"]),
        "contracts_group": _group_label(lang, data["contracts"]["group"]),
        "suppressed_group": t["suppressed_group"],
    }
    series = data["usage_by_area"]["series"]
    cats = [lang.bucket(series["bucket_kind"], b) for b in series["buckets"]]
    months = [lang.month_short(m) for m in data["energy"]["months"]]
    figs = {
        "usage": charts.bar_chart(
            f["usage_chart"], cats, {lang.label(L("areas", a)): series["gpu_hours"][a] for a in series["areas"]},
            _fmt(lang), lang.s["units"]["gpu_h"]),
        "revier": charts.line_chart(
            f["revier_chart"], cats, {f["revier_chart"]: series["revier_share"]}, _fmt(lang, 0, "pct"),
            "", y_min=0.0, y_max=100.0),
        "utilisation": charts.bar_chart(
            f["utilisation_chart"], months, {f["utilisation_chart"]: data["energy"]["utilization_by_month"]},
            _fmt(lang, 0, "pct"), "", height=200),
        "pue": charts.line_chart(
            f["pue_chart"], months, {"PUE": data["energy"]["pue_by_month"]}, _fmt(lang, 2), "", y_min=1.0),
        "econ": charts.gauge_bar(
            f["econ_chart"], sa["economic_use_share"].value, sa["limit"].value, _fmt(lang, 1, "pct"),
            lang.q(sa["limit"])),
    }
    return text, figs


def _partner_extras(data: dict, lang: Lang) -> tuple[dict, dict]:
    p = lang.s["partner"]
    text = {"subtitle": p["subtitle"].format(period=lang.period(data["period"]))}
    cats = [str(r["day"].day) for r in data["daily"]]
    figs = {
        "daily": charts.bar_chart(p["daily_chart"], cats, {p["daily_chart"]: [r["gpu_hours"].value for r in data["daily"]]},
                                  _fmt(lang), lang.s["units"]["gpu_h"], height=220),
    }
    return text, figs


def _energy_extras(data: dict, lang: Lang) -> tuple[dict, dict]:
    e = lang.s["energy"]
    s = data["series"]
    months = [lang.month_short(m) for m in s["months"]]
    text = {"subtitle": e["subtitle"].format(period=lang.period(data["period"]))}
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


def _environment(root: Path) -> Environment:
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
    }
    return _environment(root).get_template(TEMPLATES[data["kind"]]).render(**view)


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
        note = lang.s["suppressed"] if q.suppressed else ""
        w.writerow([fig.key, lang.context(fig.context), lang.label(fig.label), value, lang.unit(q), note])
    return buf.getvalue()
