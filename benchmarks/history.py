"""`make bench-history`: does a nightly run cost the same on top of a year of history?

Synthesizes N nodes x D days (default 20 nodes x 366 days at 60 s samples: a year of history
plus the night's day), then times, in one run on one machine, the same night's transform in
three warehouses:

  empty  - the first run ever: only the night's day is delivered (a full build);
  week   - a nightly incremental run on top of the 7 days before it;
  year   - a nightly incremental run on top of all the days before it.

In week and year, the nightly validation of the marts (the days whose content changed) is
timed as well.

The ratios year/week and year/empty are what to quote (shared, noisy machines). The time the
full build of the year took is printed for comparison.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import Timer, _print_slowest, finish, peak_rss_mb  # noqa: E402

DATED_SOURCES = ("slurm", "power", "meters", "gpu")


def stage_days(synth: Path, landing: Path, days: list[date]) -> None:
    """Copy the undated files (inventory, contracts) and the files of `days` into `landing`."""
    wanted = {d.isoformat() for d in days}
    for f in synth.rglob("*"):
        if not f.is_file() or f.name == "manifest.json":
            continue
        rel = f.relative_to(synth)
        if rel.parts[0] in DATED_SOURCES and not any(d in f.name for d in wanted):
            continue
        dest = landing / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--days", type=int, default=366, help="history days plus the night's day")
    ap.add_argument("--interval-s", type=int, default=60)
    ap.add_argument("--start", default="2025-10-20")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temp folder, removed after)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args(argv)
    if args.days < 9:
        ap.error("--days must be at least 9 (a week of history, the night's day and one more)")

    from kirz.config import load_settings
    from kirz.pipeline import INGEST_ORDER, ingest_landing
    from kirz.synth import synthesize
    from kirz.transform import transform
    from kirz.validation import validate

    work = args.work or Path(tempfile.mkdtemp(prefix="kirz-bench-history-"))
    start = date.fromisoformat(args.start)
    all_days = [start + timedelta(days=i) for i in range(args.days)]
    night = all_days[-1]
    t = Timer()
    print(f"kirz bench-history: {args.nodes} nodes x {args.days} days at {args.interval_s} s, "
          f"night {night}, work folder {work}")
    synth = work / "synth"
    t.run("synthesize", lambda: synthesize(synth, nodes=args.nodes, days=args.days, start=start,
                                           interval_s=args.interval_s, seed=13))

    def home(name):
        return load_settings(home=work / name, pseudonym_key="bench-key", progress=False)

    def ingest(settings, label):
        t.run(f"{label}: ingest", lambda: ingest_landing(settings, sources=INGEST_ORDER),
              lambda run: sum(r.rows_loaded for r in run.results))

    def checked(result):
        if not result.ok:
            raise SystemExit(f"transform failed: {result.message}")
        return result

    figures = {"nodes": args.nodes, "days": args.days, "interval_s": args.interval_s, "night": night.isoformat()}

    # empty: the night's day alone, first run ever
    empty = home("empty")
    stage_days(synth, empty.landing, [night])
    ingest(empty, "empty")
    t.run("empty: first run (night's day only)", lambda: checked(transform(empty)))
    figures["empty_s"] = t.rows[-1][1]

    # week and year: history first (one build), then the night's day (the measured run)
    for label, history in (("week", all_days[-8:-1]), ("year", all_days[:-1])):
        settings = home(label)
        stage_days(synth, settings.landing, history)
        ingest(settings, f"{label}: history")
        t.run(f"{label}: build of {len(history)} days", lambda s=settings: checked(transform(s)))
        figures[f"{label}_history_build_s"] = t.rows[-1][1]
        t.run(f"{label}: validate marts, every day", lambda s=settings: validate(s, layer="marts"))
        stage_days(synth, settings.landing, [night])
        ingest(settings, f"{label}: night")
        result = t.run(f"{label}: nightly run (+1 day)", lambda s=settings: checked(transform(s)))
        figures[f"{label}_nightly_s"] = t.rows[-1][1]
        _print_slowest(result)
        run = t.run(f"{label}: nightly validate marts", lambda s=settings: validate(s, layer="marts"))
        figures[f"{label}_nightly_validate_marts_s"] = t.rows[-1][1]
        print(f"    batch {run.batch}")

    figures["ratio_year_to_week"] = figures["year_nightly_s"] / figures["week_nightly_s"]
    figures["ratio_year_to_empty"] = figures["year_nightly_s"] / figures["empty_s"]
    figures["ratio_validate_year_to_week"] = (figures["year_nightly_validate_marts_s"]
                                              / figures["week_nightly_validate_marts_s"])
    figures["peak_rss_mb"] = peak_rss_mb()
    print()
    print(f"nightly run on a year of history: {figures['year_nightly_s']:.2f} s "
          f"= {figures['ratio_year_to_week']:.2f} x on a week of history "
          f"= {figures['ratio_year_to_empty']:.2f} x the first run on an empty warehouse")
    print(f"nightly validation of the marts (changed days): {figures['year_nightly_validate_marts_s']:.2f} s on a "
          f"year = {figures['ratio_validate_year_to_week']:.2f} x on a week")
    print(f"full build of the year's history: {figures['year_history_build_s']:.2f} s")
    return finish(args, work, figures)


if __name__ == "__main__":
    sys.exit(main())
