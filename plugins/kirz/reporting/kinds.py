"""The report kinds: each is one builder module, one template and its i18n section."""

from __future__ import annotations

from kirz.reporting.energy_annual import build_energy_report
from kirz.reporting.funder_impact import build_funder_report
from kirz.reporting.partner_statement import build_partner_statement

BUILDERS = {
    "funder_impact": build_funder_report,
    "partner_statement": build_partner_statement,
    "energy_annual": build_energy_report,
}
