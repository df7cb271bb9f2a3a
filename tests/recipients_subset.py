"""The repo's recipient definitions cut to one funder, the regulator and two partners.

Rendering every partner's statement would only make the Airflow tests slow; which reports are
due is still decided by the reporting code, from these definitions.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def small_recipients(home: Path, contracts_dir: Path) -> list[str]:
    """Write the subset under ``home/recipients``, point ``home/kirz.toml`` at it and return
    the recipient ids of the two partners kept."""
    src = REPO / "reports" / "recipients"
    dst = home / "recipients"
    dst.mkdir(parents=True)
    for name in ("bund-strukturwandel.yaml", "energy-regulator.yaml"):
        shutil.copy(src / name, dst / name)
    partners = sorted({yaml.safe_load(p.read_text())["partner"]["id"] for p in contracts_dir.glob("*.yaml")})
    doc = yaml.safe_load((src / "partners.yaml").read_text())
    doc["exclude"] = partners[2:]
    (dst / "partners.yaml").write_text(yaml.safe_dump(doc))
    (home / "kirz.toml").write_text(f'recipients_dir = "{dst}"\n')
    return [f"partner-{p.lower()}" for p in partners[:2]]
