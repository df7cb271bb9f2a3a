"""Configuration: one TOML file with defaults, each key overridable by a ``KIRZ_*`` variable.

Lookup order (later wins): built-in defaults, ``$KIRZ_HOME/kirz.toml`` (or the file named
by ``KIRZ_CONFIG``), environment variables ``KIRZ_<KEY>`` (upper case).

Top-level keys are the fields of :class:`Settings`; an unknown top-level key is an error.
Tables configure parts: ``[rules]`` overrides business constants (dbt vars declared in
``dbt_project/dbt_project.yml``; an undeclared name is an error), ``[smtp]`` delivery,
``[pull.slurm]`` / ``[pull.prometheus]`` the live connectors.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo



def __getattr__(name: str):
    # SOURCES, the names of the sources declared in kirz.ingest (one module each, named like its
    # source): read from the package's module names, without importing the parsers, so that
    # settings, DAG files and the triggerer stay light (kirz.pipeline.INGEST_ORDER has their order)
    if name == "SOURCES":
        from kirz.ingest.source import module_names

        return module_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# the repository's folders, one place for every module that reads them
REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
REPORT_ASSETS_DIR = REPO_ROOT / "reports"  # templates, styles, i18n, recipients

# settings that are also dbt vars (the facility fallbacks the models use)
DBT_VAR_SETTINGS = ("design_it_power_kw", "floor_area_m2")
TABLES = ("rules", "smtp", "pull")


class ConfigError(ValueError):
    """A configuration that cannot be used (names the file or variable and the problem)."""


def dbt_var_names() -> set[str]:
    """The vars dbt_project.yml declares: the only names ``[rules]`` may override."""
    import yaml

    data = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return set((data or {}).get("vars") or {})


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
    # the database reports read (default: the published snapshot, else the live warehouse)
    report_db: Path | None = None
    # recipient definitions (default: reports/recipients of the repository)
    recipients_dir: Path | None = None
    # report templates, styles and i18n (default: reports/ of the repository)
    report_assets_dir: Path = REPORT_ASSETS_DIR
    # Great Expectations suites (default: expectations/ of the repository)
    expectations_dir: Path = EXPECTATIONS_DIR
    # overrides of dbt vars (the [rules] table)
    rules: dict = field(default_factory=dict)
    # the other tables of kirz.toml ([smtp], [pull]) as read
    extra: dict = field(default_factory=dict)

    @property
    def dbt_vars(self) -> dict:
        """The dbt vars this configuration sets: the facility fallbacks and every [rules] entry."""
        out = {name: getattr(self, name) for name in DBT_VAR_SETTINGS}
        out.update(self.rules)
        return out

    @property
    def templates_dir(self) -> Path:
        return self.report_assets_dir / "templates"

    @property
    def recipients_path(self) -> Path:
        return self.recipients_dir or self.report_assets_dir / "recipients"

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
        from kirz.ingest.source import module_names

        if source not in module_names():
            raise ValueError(f"unknown source {source!r}; expected one of {', '.join(module_names())}")
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
    plain = {f.name for f in fields(Settings)} - {"extra", "rules"}
    if cfg_file.exists():
        data = tomllib.loads(cfg_file.read_text())
        for key, val in data.items():
            if key == "rules":
                if not isinstance(val, dict):
                    raise ConfigError(f"{cfg_file}: [rules] must be a table")
                unknown = sorted(set(val) - dbt_var_names())
                if unknown:
                    raise ConfigError(
                        f"{cfg_file}: [rules] names no dbt var: {', '.join(unknown)} "
                        "(the vars are declared in dbt_project/dbt_project.yml)"
                    )
                values["rules"] = dict(val)
            elif key in plain:
                values[key] = _coerce(key, val, None)
            elif key in TABLES and isinstance(val, dict):
                extra[key] = val
            else:
                raise ConfigError(
                    f"{cfg_file}: unknown setting {key!r} (settings: {', '.join(sorted(plain))}; "
                    f"tables: {', '.join(TABLES)})"
                )
    for f in fields(Settings):
        if f.name in ("home", "extra", "rules"):
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

