"""Reports for funders, partners and the energy regulator: data, charts, rendering, versions, delivery.

Entry points: :func:`report` (render, version and optionally deliver what is due),
:func:`due_reports` (what the scheduler should issue as of a day) and :func:`deliver_due` (deliver
what became due since it was rendered). Scope and confidentiality are enforced in
:mod:`kirz.reporting.data`, before anything is rendered.
"""

from kirz.reporting.service import ReportError, ReportOutput, deliver_due, due_reports, load_recipients, report

__all__ = ["ReportError", "ReportOutput", "deliver_due", "due_reports", "load_recipients", "report"]
