"""Compute ``lunisolar.csv`` (the Chinese lunisolar calendar and 清明, 1900–2100) from the sun and the moon.

A developer's tool, not part of the server: it needs PyEphem (``pip install ephem`` in a throw-away virtualenv;
VSOP87 for the sun, ELP 2000 for the moon, ΔT included), which the project does not depend on. The server
only reads the CSV; ``tests/unit/test_lunisolar.py`` checks the CSV against chinesecalendar, year by year.

    python backend/publication/data/make_lunisolar.py > backend/publication/data/lunisolar.csv

The rules are those of GB/T 33661-2017 《农历的编算和颁行》:

* a month begins on the day (Beijing time) of a new moon;
* the month holding the winter solstice (冬至, the sun at 270°) is the eleventh month;
* when 13 months begin between two eleventh months, the first of them holding no principal term (中气, the sun at
  a multiple of 30°) is a leap month, numbered as the month before it.

Beijing time is UTC+8 from 1929 on; before 1929 the calendar was reckoned on the local mean time of Beijing
(116°25′ E, UTC+7:45:40), as the calendars of those years were printed.

清明 is the day (Beijing time) on which the sun's apparent geocentric longitude reaches 15°.

Stderr lists the moments that fall within 10 minutes of midnight: the days a small error could move.
"""
from __future__ import annotations

import math
import sys

import ephem  # a developer's tool: see the docstring

UTC8 = 8 * ephem.hour
LMT = 7 * ephem.hour + 45 * ephem.minute + 40 * ephem.second
CHANGE = ephem.Date("1929/1/1")
close_calls: list[tuple[float, str]] = []


def sun_longitude(moment) -> float:
    """Apparent geocentric ecliptic longitude of the sun, of date, in degrees."""
    sun = ephem.Sun()
    sun.compute(moment)
    return math.degrees(ephem.Ecliptic(ephem.Equatorial(sun.g_ra, sun.g_dec, epoch=moment), epoch=moment).lon)


def term_after(moment, longitude: float):
    """The first moment after ``moment`` (within a year) at which the sun reaches ``longitude``."""
    guess = ephem.Date(moment + (longitude - sun_longitude(moment)) % 360 * 365.2422 / 360)
    return ephem.Date(ephem.newton(lambda t: (sun_longitude(t) - longitude + 180) % 360 - 180, guess - 1, guess + 1))


def beijing_day(moment, what: str):
    local = ephem.Date(moment + (UTC8 if moment >= CHANGE else LMT)).datetime()
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    if min(seconds, 86400 - seconds) < 600:
        close_calls.append((min(seconds, 86400 - seconds), f"{what} {local:%Y-%m-%d %H:%M:%S}"))
    return local.date()


def main() -> None:
    starts = []                                  # the first day of every month, 1899-10 to 2102-02
    moment = ephem.Date("1899/10/1")
    while moment < ephem.Date("2102/3/1"):
        moment = ephem.next_new_moon(moment + 0.001)
        starts.append(beijing_day(moment, "new moon"))
    principal = []                               # (day, longitude) of every principal term
    moment = ephem.Date("1899/10/1")
    longitude = (math.floor(sun_longitude(moment) / 30) + 1) * 30 % 360
    while moment < ephem.Date("2102/1/1"):
        moment = term_after(moment, longitude)
        principal.append((beijing_day(moment, f"principal term {longitude}°"), longitude))
        moment = ephem.Date(moment + 5)
        longitude = (longitude + 30) % 360

    months = list(zip(starts, starts[1:]))       # [first day, first day of the next month)

    def month_holding(day) -> int:
        return next(i for i, (a, b) in enumerate(months) if a <= day < b)

    labels: dict[int, tuple[int, bool]] = {}     # month index → (number, leap)
    solstices = [day for day, lon in principal if lon == 270]
    for first, second in zip(solstices, solstices[1:]):
        i, j = month_holding(first), month_holding(second)
        assert j - i in (12, 13), (first, second)
        leap_left = j - i == 13
        number = 11
        labels[i] = (11, False)
        for k in range(i + 1, j):
            a, b = months[k]
            if leap_left and not any(a <= day < b for day, _ in principal):
                labels[k] = (number, True)
                leap_left = False
            else:
                number = number % 12 + 1
                labels[k] = (number, False)

    new_years = sorted(k for k, label in labels.items() if label == (1, False))
    print("year,new_year,leap_month,month_lengths,qingming")
    for k0, k1 in zip(new_years, new_years[1:]):
        year = months[k0][0].year
        if not 1900 <= year <= 2100:
            continue
        leap = next((number for number, is_leap in (labels[k] for k in range(k0, k1)) if is_leap), 0)
        lengths = "".join("1" if (months[k][1] - months[k][0]).days == 30 else "0" for k in range(k0, k1))
        qingming = beijing_day(term_after(ephem.Date(f"{year}/3/1"), 15), f"清明 {year}")
        print(f"{year},{months[k0][0]:%m-%d},{leap},{lengths},{qingming:%m-%d}")
    for seconds, what in sorted(close_calls):
        print(f"{seconds:4.0f} s from midnight: {what}", file=sys.stderr)


if __name__ == "__main__":
    main()
