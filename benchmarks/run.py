"""`make bench`: the pipeline's stages at the 300-node scale, timed in one run.

Synthesizes N nodes x D days at S-second power samples, ingests every source, builds the dbt
project (full, then incremental after one more day lands), validates, and prints seconds and
rows/s per stage plus the floor: the time DuckDB needs merely to scan and sum the raw power
samples once. Figures are only comparable within one run (shared, noisy machines): the
ratios are what to quote.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path


def peak_rss_mb() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(self_kb, child_kb) / 1024


class Timer:
    def __init__(self):
        self.rows: list[tuple[str, float, int | None]] = []

    def run(self, name, fn, rows_fn=None):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        n = rows_fn(out) if rows_fn else None
        self.rows.append((name, dt, n))
        rate = f"{n / dt:>14,.0f} rows/s" if n else ""
        print(f"{name:<38} {dt:>9.2f} s {'' if n is None else f'{n:>12,} rows'} {rate}", flush=True)
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=300)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--interval-s", type=int, default=10)
    ap.add_argument("--start", default="2026-10-19")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temp folder, removed after)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args(argv)

    from kirz.config import load_settings
    from kirz.pipeline import INGEST_ORDER, ingest_landing
    from kirz.synth import synthesize
    from kirz.warehouse import connect

    work = args.work or Path(tempfile.mkdtemp(prefix="kirz-bench-"))
    settings = load_settings(home=work / "home", pseudonym_key="bench-key", progress=False)
    start = date.fromisoformat(args.start)
    t = Timer()
    print(f"kirz bench: {args.nodes} nodes x {args.days} days at {args.interval_s} s, work folder {work}")

    t.run("synthesize", lambda: synthesize(settings.landing, nodes=args.nodes, days=args.days, start=start,
                                           interval_s=args.interval_s, seed=11))
    (settings.landing / "manifest.json").unlink(missing_ok=True)
    # the last day is held back to measure an incremental nightly run
    held = work / "held"
    last = (start + timedelta(days=args.days - 1)).isoformat()
    for f in settings.landing.rglob(f"*{last}*"):
        dest = held / f.relative_to(settings.landing)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(f), dest)

    for source in INGEST_ORDER:
        t.run(f"ingest {source}", lambda s=source: ingest_landing(settings, sources=(s,)),
              lambda run: sum(r.rows_loaded for r in run.results))

    con = connect(settings.warehouse_path, read_only=True)
    samples = con.execute("select count(*) from raw.node_power").fetchall()[0][0]
    t.run("floor: scan+sum raw.node_power", lambda: con.execute(
        "select node, sum(watts), count(*) from raw.node_power group by node").fetchall(), lambda _: samples)
    floor = t.rows[-1][1]
    con.close()

    from kirz.transform import transform

    full = t.run("transform (dbt build, full)", lambda: transform(settings, full_refresh=True))
    full_s = t.rows[-1][1]
    _print_slowest(full)
    shutil.copytree(held, settings.landing, dirs_exist_ok=True)
    for source in INGEST_ORDER:
        ingest_landing(settings, sources=(source,))
    incr = t.run("transform (incremental, +1 day)", lambda: transform(settings))
    incr_s = t.rows[-1][1]
    _print_slowest(incr)
    t.run("transform (full refresh, same inputs)", lambda: transform(settings, full_refresh=True))
    full2_s = t.rows[-1][1]

    try:
        from kirz.validation import validate
    except ImportError:
        validate = None
    if validate is not None:
        t.run("validate raw + marts", lambda: validate(settings))

    startup = t.run("dbt start-up (dbt parse)", lambda: _dbt_parse(settings))
    startup_s = t.rows[-1][1]
    figures = {
        "nodes": args.nodes, "days": args.days, "interval_s": args.interval_s, "samples": samples,
        "floor_s": floor, "transform_full_s": full_s, "transform_incremental_s": incr_s,
        "transform_full_again_s": full2_s, "dbt_startup_s": startup_s,
        "ratio_full_minus_startup_to_floor": (full_s - startup_s) / floor if floor else None,
        "ratio_incremental_to_full": incr_s / full2_s if full2_s else None,
        "peak_rss_mb": peak_rss_mb(), "transform_ok": bool(getattr(full, "ok", False)),
        "stages": [{"stage": n, "seconds": s, "rows": r} for n, s, r in t.rows],
    }
    print()
    print(f"floor (scan+sum {samples:,} samples): {floor:.2f} s")
    print(f"transform full: {full_s:.2f} s = dbt start-up {startup_s:.2f} s + {full_s - startup_s:.2f} s "
          f"= {figures['ratio_full_minus_startup_to_floor']:.1f} x floor + start-up")
    print(f"incremental run (+1 day): {incr_s:.2f} s = {figures['ratio_incremental_to_full']:.2f} x a full refresh")
    print(f"peak memory (max RSS): {figures['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _print_slowest(run, n=8):
    """The dbt nodes that took longest in one transform, to show where its time goes."""
    results = sorted(run.run.results, key=lambda r: -r.execution_time)
    total = sum(r.execution_time for r in results)
    print(f"    {len(results)} dbt nodes, {total:.1f} s in all; slowest:")
    for r in results[:n]:
        print(f"    {r.execution_time:8.2f} s  {r.resource_type:<9} {r.name}")


def _dbt_parse(settings):
    from kirz.transform import run_dbt

    return run_dbt(settings, ["parse"])


if __name__ == "__main__":
    sys.exit(main())
