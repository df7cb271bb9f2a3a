"""Report versions on disk: ``<home>/reports/<recipient>/<period>/<kind>.<lang>.v<N>.*``.

A version is the set of files (html, pdf, csv, and xlsx: the CSV's figures with native numbers)
plus its manifest ``<kind>.<lang>.v<N>.json``, written last: a version without a manifest does
not exist; the manifest's ``files`` holds the checksum of each. The manifest carries the canonical
hash of the report's figures; rendering figures that do not differ from the latest version's
makes no new version (:func:`same_issue`): a new snapshot, a later run or another data-quality
appendix alone issue nothing. It also keeps the figures (to list changes in the next version), the file checksums,
the inputs and run ids, and the deliveries made.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from kirz import __version__
from kirz.reporting.model import Figure

MANIFEST_RE = re.compile(r"^(?P<kind>[a-z_]+)\.(?P<lang>[a-z]{2})\.v(?P<n>\d+)\.json$")
# a file export (the energy register) has no language: <kind>.v<N>.{json,csv} and this manifest
EXPORT_MANIFEST_RE = re.compile(r"^(?P<kind>[a-z_]+)\.v(?P<n>\d+)\.manifest\.json$")


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit of the checkout when there is one (``KIRZ_CODE_VERSION`` wins)."""
    if os.environ.get("KIRZ_CODE_VERSION"):
        return os.environ["KIRZ_CODE_VERSION"]
    repo = Path(__file__).resolve().parents[3]
    try:
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "--",
                                "plugins", "reports"], capture_output=True, text=True, timeout=5).stdout.strip()
        return f"{__version__}+g{sha}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return __version__


def new_run_id(data_hash: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"rep-{now.strftime('%Y%m%dT%H%M%SZ')}-{data_hash[:6]}"


def period_dir(reports_dir: Path, recipient_id: str, period_label: str) -> Path:
    return Path(reports_dir) / recipient_id / period_label


def stem(kind: str, lang: str, n: int) -> str:
    return f"{kind}.{lang}.v{n}"


def manifests(folder: Path, kind: str, lang: str) -> list[dict]:
    """All versions' manifests of one kind and language in a period folder, oldest first."""
    out = []
    if not folder.exists():
        return out
    for p in folder.iterdir():
        m = MANIFEST_RE.match(p.name)
        if m and m["kind"] == kind and m["lang"] == lang:
            doc = json.loads(p.read_text(encoding="utf-8"))
            doc["_path"] = str(p)
            out.append(doc)
    return sorted(out, key=lambda d: d["version"])


def export_manifests(folder: Path, kind: str) -> list[dict]:
    """All versions' manifests of a file export (no language) in a period folder, oldest first."""
    out = []
    for p in folder.glob(f"{kind}.v*.manifest.json") if folder.exists() else []:
        if EXPORT_MANIFEST_RE.match(p.name):
            doc = json.loads(p.read_text(encoding="utf-8"))
            doc["_path"] = str(p)
            out.append(doc)
    return sorted(out, key=lambda d: d["version"])


def report_versions(reports_dir: Path) -> list[tuple[str, str, str, str | None, list[dict]]]:
    """(recipient, period, kind, lang or None for an export, manifests oldest first) of every
    report on disk under ``reports_dir``."""
    found = []
    if not reports_dir.is_dir():
        return found
    for rdir in sorted(p for p in reports_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for pdir in sorted(p for p in rdir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            pairs: set[tuple[str, str | None]] = set()
            for f in pdir.iterdir():
                m = MANIFEST_RE.match(f.name) or EXPORT_MANIFEST_RE.match(f.name)
                if m:
                    pairs.add((m["kind"], m.groupdict().get("lang")))
            for kind, lang in sorted(pairs, key=lambda x: (x[0], x[1] or "")):
                docs = export_manifests(pdir, kind) if lang is None else manifests(pdir, kind, lang)
                if docs:
                    found.append((rdir.name, pdir.name, kind, lang, docs))
    return found


def last_delivered(versions: list[dict]) -> dict | None:
    done = [v for v in versions if v.get("deliveries")]
    return done[-1] if done else None


def last_delivery_at(versions: list[dict]) -> datetime | None:
    """When anything of these versions last went out (any channel)."""
    times = [datetime.fromisoformat(d["at"]) for v in versions for d in v.get("deliveries", [])]
    return max(times) if times else None


def same_issue(manifest: dict, figures: list[Figure], override_id: str | None) -> bool:
    """Would ``figures`` released under ``override_id`` say what the version of ``manifest`` says?
    Only the printed figures and the gate override count: not the rendering time, provenance,
    run id, code version, snapshot or data-quality appendix."""
    gate = manifest.get("gate") or {}
    if (gate.get("override_id") if isinstance(gate, dict) else None) != override_id:
        return False
    return not diff_figures(figures_of(manifest), figures)


def figures_of(manifest: dict) -> dict[str, Figure]:
    return {k: Figure.from_json(k, v) for k, v in manifest.get("figures", {}).items()}


def diff_figures(old: dict[str, Figure], new: list[Figure]) -> list[tuple[Figure | None, Figure | None]]:
    """Figures that differ between a stored version and the new data: (old, new) pairs, in new order."""
    out = []
    new_keys = set()
    for f in new:
        new_keys.add(f.key)
        o = old.get(f.key)
        if o is None or o.value.canonical() != f.value.canonical():
            if o is None and (f.value.missing or f.value.value == 0):
                continue
            out.append((o, f))
    for k, o in old.items():
        if k not in new_keys and not o.value.missing:
            out.append((o, None))
    return out


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_version(folder: Path, kind: str, lang: str, n: int, files: dict[str, bytes], manifest: dict) -> dict[str, Path]:
    """Write the files, then the manifest (with their checksums) last."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, sums = {}, {}
    for ext, data in files.items():
        p = folder / f"{stem(kind, lang, n)}.{ext}"
        _atomic_write(p, data)
        paths[ext] = p
        sums[p.name] = sha256_bytes(data)
    doc = dict(manifest, files=sums, deliveries=[])
    mpath = folder / f"{stem(kind, lang, n)}.json"
    _atomic_write(mpath, json.dumps(doc, indent=2, ensure_ascii=False, default=str).encode("utf-8"))
    paths["manifest"] = mpath
    return paths


def record_delivery(manifest_path: Path, channel: str, to: list[str] | str, at: datetime | None = None, *,
                    files: list | None = None, correction: bool = False, changes: int = 0,
                    lang: str | None = None) -> None:
    """Add a delivery to a version's manifest: channel, address, time, and each file sent under its
    delivered name with the checksum of its content (what ``audit.report_deliveries`` is made of).
    ``files``: paths, or (delivered name, path) pairs."""
    doc = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    entry = {"channel": channel, "to": to, "at": when.isoformat(timespec="seconds"),
             "correction": bool(correction), "changes": int(changes)}
    if lang:
        entry["lang"] = lang
    if files is not None:
        named = [f if isinstance(f, tuple) else (Path(f).name, f) for f in files]
        entry["files"] = [{"file": name, "sha256": sha256_bytes(Path(f).read_bytes())} for name, f in named]
    doc.setdefault("deliveries", []).append(entry)
    _atomic_write(Path(manifest_path), json.dumps(doc, indent=2, ensure_ascii=False, default=str).encode("utf-8"))


def delivered_via(manifest_path: Path, channel: str) -> bool:
    doc = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    return any(d["channel"] == channel for d in doc.get("deliveries", []))
