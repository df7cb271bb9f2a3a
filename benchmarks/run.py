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
        print(f"{name:<44} {dt:>9.2f} s {'' if n is None else f'{n:>12,} rows'} {rate}", flush=True)
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
    from kirz.warehouse import connect, open_warehouse

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

    def floors(label: str) -> tuple[int, float, float]:
        """Samples, the scan+sum floor and the ordered-pass floor, on the samples loaded now."""
        con = connect(settings.warehouse_path, read_only=True)
        try:
            n = con.execute("select count(*) from raw.node_power").fetchall()[0][0]
            t.run(f"floor{label}: scan+sum raw.node_power", lambda: con.execute(
                "select node, sum(watts), count(*) from raw.node_power group by node").fetchall(), lambda _: n)
            scan = t.rows[-1][1]
            # the least an exact integration must add: one ordered pass (each sample meets its successor)
            t.run(f"sort floor{label}: one ordered pass", lambda: con.execute(_ORDERED_PASS).fetchall(), lambda _: n)
            return n, scan, t.rows[-1][1]
        finally:
            con.close()

    samples, floor, sort_floor = floors("")

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
    _, floor_all, sort_floor_all = floors(" (all days)")
    full2 = t.run("transform (full refresh, same inputs)", lambda: transform(settings, full_refresh=True))
    full2_s = t.rows[-1][1]
    _print_slowest(full2)

    try:
        from kirz.validation import validate
    except ImportError:
        validate = None
    if validate is not None:
        t.run("validate raw + marts", lambda: validate(settings))

    t.run("dbt start-up (dbt parse)", lambda: _dbt_parse(settings))
    startup_s = t.rows[-1][1]
    # dbt's fixed cost: the same build (every seed, model, snapshot and data test) on a
    # warehouse with empty raw tables; what a transform costs beyond it depends on the data
    empty = load_settings(home=work / "empty-home", pseudonym_key="bench-key", progress=False)
    with open_warehouse(empty.warehouse_path):
        pass
    transform(empty, full_refresh=True)  # first build of a new project folder parses it in full
    t.run("dbt fixed cost (build, empty warehouse)", lambda: transform(empty, full_refresh=True))
    fixed_s = t.rows[-1][1]
    figures = {
        "nodes": args.nodes, "days": args.days, "interval_s": args.interval_s, "samples": samples,
        "floor_s": floor, "sort_floor_s": sort_floor, "transform_full_s": full_s, "transform_incremental_s": incr_s,
        "transform_full_again_s": full2_s, "dbt_startup_s": startup_s, "dbt_fixed_s": fixed_s,
        "ratio_full_minus_startup_to_floor": (full_s - startup_s) / floor if floor else None,
        "floor_all_days_s": floor_all, "sort_floor_all_days_s": sort_floor_all,
        "ratio_full_minus_fixed_to_floor": (full2_s - fixed_s) / floor_all if floor_all else None,
        "ratio_incremental_to_full": incr_s / full2_s if full2_s else None,
        "peak_rss_mb": peak_rss_mb(), "transform_ok": bool(getattr(full, "ok", False)),
        "stages": [{"stage": n, "seconds": s, "rows": r} for n, s, r in t.rows],
    }
    print()
    print(f"floor (scan+sum {samples:,} samples): {floor:.2f} s; one ordered pass over them: {sort_floor:.2f} s "
          f"= {sort_floor / floor:.1f} x floor")
    print(f"transform full: {full_s:.2f} s = dbt start-up {startup_s:.2f} s + {full_s - startup_s:.2f} s "
          f"= {figures['ratio_full_minus_startup_to_floor']:.1f} x floor + start-up")
    print(f"full refresh again: {full2_s:.2f} s = dbt's fixed cost {fixed_s:.2f} s (the same build on an empty "
          f"warehouse) + {full2_s - fixed_s:.2f} s = {figures['ratio_full_minus_fixed_to_floor']:.1f} x floor + fixed cost")
    print(f"    the data-dependent part: {(full2_s - fixed_s) / floor_all:.1f} x the scan floor, "
          f"{(full2_s - fixed_s) / sort_floor_all:.1f} x the ordered pass")
    print(f"incremental run (+1 day): {incr_s:.2f} s = {figures['ratio_incremental_to_full']:.2f} x a full refresh "
          f"(the day added and its neighbours, and the jobs running into it: see make bench-nightly for a night at scale)")
    return finish(args, work, figures)


# lead() over one bigint key packing node number and instant, the sort int_node_minute_energy does
_ORDERED_PASS = """
    with numbered as (
        select node, row_number() over (order by node) as node_no
        from (select distinct node from raw.node_power) as names
    ),
    keyed as (
        select numbered.node_no * 281474976710656
               + (epoch_us(p.sample_at) - (select min(epoch_us(sample_at)) from raw.node_power)) as k,
               p.watts
        from raw.node_power as p
        inner join numbered on p.node = numbered.node
    )
    select sum(coalesce(next_k - k, 0)), sum(watts)
    from (select k, watts, lead(k) over (order by k) as next_k from keyed) as ordered
"""


def finish(args, work: Path, figures: dict) -> int:
    """The closing lines of a bench: peak memory, the figures as JSON when asked, the temp folder removed."""
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
