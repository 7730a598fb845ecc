"""Benchmark: computing due dates and states on read, and the GPS check, without a database.

    .venv/bin/python bench/deadlines.py [--count 30000]

* deadlines: ``count`` completion dates spread over 2026 (some running into 2027, provisional),
  20 working days each, with their state on one day — what a task's list or a supervisor's overdue
  list costs when due dates are computed when shown (one WorkCalendar, chinesecalendar layer);
* the first deadline of a fresh WorkCalendar (it counts the working days of each year it touches once):
  why the lead should take the session's calendar (``work_calendar(session)``), not make one per row;
* the GPS check of ``count`` fixes (GCJ-02 registered locations, so each one is converted).

Prints figures (best of three); it is not a test.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.inspections.geo import check_fix, wgs84_to_gcj02  # noqa: E402
from backend.publication.services import WorkCalendar  # noqa: E402


def best_of_three(fn) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=30000)
    count = parser.parse_args().count
    rng = random.Random(1)
    starts = [dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(365)) for _ in range(count)]
    today = dt.date(2026, 10, 9)

    def shared():
        cal = WorkCalendar(None)
        for start in starts:
            cal.deadline(start, 20, today=today)

    cold_count = max(1, count // 100)

    def fresh():
        for start in starts[:cold_count]:
            WorkCalendar(None).deadline(start, 20, today=today)

    fixes = []
    for _ in range(count):
        lat, lon = 34.0 + rng.random(), 111.0 + rng.random()
        g_lat, g_lon = wgs84_to_gcj02(lat, lon)
        fixes.append(({"lat": lat + rng.gauss(0, 0.002), "lon": lon + rng.gauss(0, 0.002), "accuracy": 20.0,
                       "datum": "WGS-84", "time": "2026-03-02T10:00:00+08:00", "source": "gps"},
                      {"latitude": g_lat, "longitude": g_lon, "datum": "GCJ-02"}))
    record_time = dt.datetime(2026, 3, 2, 10, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))

    def gps():
        for fix, place in fixes:
            check_fix(fix, place, record_time=record_time)

    for label, fn, n in [("deadlines, one calendar", shared, count), ("a fresh calendar's first", fresh, cold_count),
                         ("GPS checks", gps, count)]:
        seconds = best_of_three(fn)
        print(f"{label:28s} {n:>7,d} in {seconds * 1000:8.1f} ms  = {seconds / n * 1e6:7.1f} µs each")


if __name__ == "__main__":
    main()
