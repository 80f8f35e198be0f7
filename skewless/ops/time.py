"""Time: calendar fields of int64 unix timestamps (seconds since 1970-01-01T00:00:00 UTC), in
UTC and the proleptic Gregorian calendar. Correct for every int64, before 1970 included."""
from __future__ import annotations

from ..lazy import tf

from ..types import Type
from .common import elementwise, need
from .registry import Param, op

SECONDS_PER_DAY = 86400
DAYS_PER_ERA = 146097  # 400 Gregorian years
EPOCH_TO_ERA_START = 719468  # days from 0000-03-01 to 1970-01-01
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def _time_type(args) -> Type:
    need(args, "t", "int64", what="int64 unix seconds")
    return args.type("t")


def _days(seconds):
    return tf.math.floordiv(seconds, SECONDS_PER_DAY)


def civil_from_days(days):
    """(year, month, day) of a count of days since 1970-01-01: Howard Hinnant's
    ``civil_from_days`` in int64 arithmetic, with floor division for negative days."""
    z = days + EPOCH_TO_ERA_START
    era = tf.math.floordiv(z, DAYS_PER_ERA)
    day_of_era = z - era * DAYS_PER_ERA  # [0, 146096]
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524
                   - day_of_era // 146096) // 365  # [0, 399]
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153  # [0, 11], March = 0
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month_ = tf.where(shifted_month < 10, shifted_month + 3, shifted_month - 9)
    year_ = year_of_era + era * 400 + tf.cast(month_ <= 2, tf.int64)
    return year_, month_, day


def _time_field(name: str, field, doc: str):
    """Register a function of a timestamp that gives an int64 calendar field."""

    @op(name, Param("t"), infer=_time_type)
    @elementwise
    def apply(t):
        return field(t)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = doc
    return apply


hour = _time_field(
    "hour", lambda s: tf.math.floormod(s, SECONDS_PER_DAY) // 3600,
    "Hour of the day in UTC, 0..23.")
day_of_week = _time_field(
    "day_of_week", lambda s: tf.math.floormod(_days(s) + EPOCH_WEEKDAY, 7),
    "Day of the week in UTC, 0 = Monday .. 6 = Sunday (Python's ``datetime.weekday()``).")
day_of_month = _time_field(
    "day_of_month", lambda s: civil_from_days(_days(s))[2],
    "Day of the month in UTC, 1..31.")
month = _time_field(
    "month", lambda s: civil_from_days(_days(s))[1],
    "Month in UTC, 1 = January .. 12 = December.")
year = _time_field(
    "year", lambda s: civil_from_days(_days(s))[0],
    "Year in UTC, proleptic Gregorian; the year before 1 is 0 (as in ISO 8601).")
