"""Configuration: one TOML file with defaults, each key overridable by a ``KIRZ_*`` variable.

Lookup order (later wins): built-in defaults, ``$KIRZ_HOME/kirz.toml`` (or the file named
by ``KIRZ_CONFIG``), environment variables ``KIRZ_<KEY>`` (upper case).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo

SOURCES = ("slurm", "power", "meters", "inventory", "contracts")


@dataclass(frozen=True)
class Settings:
    home: Path = Path("var")
    timezone: str = "Europe/Berlin"
    warehouse: Path | None = None
    pseudonym_key: str | None = None
    cluster: str = "kirz-leipzig"
    design_it_power_kw: float = 3000.0
    floor_area_m2: float = 1000.0
    progress: bool | None = None  # None: only when stdout is a terminal
    # DuckDB's memory limit during the transform: larger sorts and aggregates spill to disk
    memory_limit: str = "3GB"
    extra: dict = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse or self.home / "warehouse" / "kirz.duckdb"

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    def landing_for(self, source: str) -> Path:
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
        return self.landing / source

    @property
    def published_dir(self) -> Path:
        return self.home / "published"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def key_file(self) -> Path:
        return self.home / "pseudonym.key"

    def pseudonym_key_bytes(self, create: bool = False) -> bytes:
        """The HMAC key for user pseudonyms: setting, else the key file in home.

        With ``create`` a random key is written to the key file when none exists (the demo
        does that); otherwise a missing key is an error, because pseudonyms made with
        different keys cannot be joined.
        """
        if self.pseudonym_key:
            return self.pseudonym_key.encode()
        if self.key_file.exists():
            return self.key_file.read_text().strip().encode()
        if not create:
            raise RuntimeError(
                f"no pseudonymisation key: set KIRZ_PSEUDONYM_KEY or create {self.key_file}"
            )
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        self.key_file.write_text(key + "\n")
        self.key_file.chmod(0o600)
        return key.encode()


def _coerce(name: str, raw, current):
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if raw is None:
        return None
    if "Path" in str(kind):
        return Path(raw)
    if "float" in str(kind):
        return float(raw)
    if "bool" in str(kind):
        if isinstance(raw, bool):
            return raw
        return str(raw).lower() in ("1", "true", "yes", "on")
    return raw


def load_settings(env: dict[str, str] | None = None, **overrides) -> Settings:
    env = dict(os.environ if env is None else env)
    home = Path(overrides.get("home") or env.get("KIRZ_HOME") or Settings.home)
    values: dict = {"home": home}
    cfg_file = Path(env.get("KIRZ_CONFIG") or home / "kirz.toml")
    extra: dict = {}
    if cfg_file.exists():
        data = tomllib.loads(cfg_file.read_text())
        for key, val in data.items():
            if key in {f.name for f in fields(Settings)} and key != "extra":
                values[key] = _coerce(key, val, None)
            else:
                extra[key] = val
    for f in fields(Settings):
        if f.name in ("home", "extra"):
            continue
        var = f"KIRZ_{f.name.upper()}"
        if var in env:
            values[f.name] = _coerce(f.name, env[var], None)
    for key, val in overrides.items():
        if val is not None:
            values[key] = _coerce(key, val, None) if key != "extra" else val
    values["home"] = Path(values["home"])
    settings = Settings(**values, extra=extra) if "extra" not in values else Settings(**values)
    ZoneInfo(settings.timezone)  # fail early on an unknown zone
    return settings


def with_home(settings: Settings, home: Path) -> Settings:
    return replace(settings, home=Path(home))
