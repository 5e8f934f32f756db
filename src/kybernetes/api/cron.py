"""Cron schedules as a CronJob's spec.schedule means them (the standard 5-field syntax).

Kubernetes parses schedules with robfig/cron's standard parser, so the accepted language is:

    ┌ minute (0-59)  ┌ hour (0-23)  ┌ day of month (1-31)  ┌ month (1-12, jan-dec)  ┌ day of week (0-6, sun-sat)
    *                *              *                      *                        *

  - each field is a comma list of items: ``*`` or ``?`` (any), ``5``, ``1-5``, a step over either
    (``*/15``, ``1-30/2``, ``5/10`` which means ``5-max/10``), and month / weekday names in any case
  - the descriptors @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly, and
    ``@every <Go duration>`` (``@every 1h30m``: a fixed delay, at least one second)
  - when both day fields are restricted, a day matches if either matches (cron's classic rule);
    when either is ``*``, both must match
  - a ``TZ=`` or ``CRON_TZ=`` prefix is refused: Kubernetes wants ``spec.timeZone`` instead

Times are computed in the CronJob's time zone (``load_time_zone``: IANA names through zoneinfo,
UTC when unset). A local time that does not exist (the hour skipped when DST starts) is skipped;
a local time that exists twice (the hour repeated when DST ends) fires at both instants, as the
Go library does. ``next_after`` searches at most five years ahead, then gives up (None), so an
impossible date such as ``0 0 30 2 *`` never loops forever.

Pure functions, no I/O: the validation and the CronJob controller both use this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SEARCH_YEARS = 5
_MINUTE = timedelta(minutes=1)
# The widest a clock change moves local time; candidates this close to a change are checked exactly.
_TRANSITION_WINDOW = timedelta(hours=3)


class CronError(ValueError):
    """A schedule or time zone Kubernetes would refuse; the message is the reason, as its parser says it."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_MONTH_NAMES = {n: i + 1 for i, n in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAY_NAMES = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day of month", 1, 31, {}),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day of week", 0, 6, _DAY_NAMES),
)
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_EVERY = "@every "


@dataclass(frozen=True)
class CronSchedule:
    """A 5-field schedule: the allowed values of each field."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_any: bool  # the day-of-month field was "*" or "?" (no step)
    dow_any: bool

    def next_after(self, moment: datetime, zone: tzinfo = UTC) -> datetime | None:
        """The first firing strictly after ``moment`` (aware), as a UTC datetime; None if there is
        none within five years. The fields are matched against wall time in ``zone``."""
        if moment.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        local = moment.astimezone(zone)
        start = local.replace(tzinfo=None, second=0, microsecond=0) + _MINUTE
        limit = start.year + SEARCH_YEARS
        first = self._next_local(start, limit)
        if first is None:
            return None
        if _steady(zone, moment - _TRANSITION_WINDOW, moment + _TRANSITION_WINDOW):
            instant = _unique_instant(first, zone)
            if instant is not None:
                return instant
        return self._next_near_transition(moment, zone, start - _TRANSITION_WINDOW, limit)

    def _next_near_transition(self, moment: datetime, zone: tzinfo, naive: datetime,
                              limit: int) -> datetime | None:
        """Exact search where local time jumps: every matching wall time, both folds, the
        earliest instant after ``moment`` wins (local order and instant order differ here)."""
        best: datetime | None = None
        horizon: datetime | None = None
        while True:
            candidate = self._next_local(naive, limit)
            if candidate is None or (horizon is not None and candidate > horizon):
                return best
            for instant in _instants(candidate, zone):
                if instant > moment and (best is None or instant < best):
                    best = instant
                    horizon = horizon or candidate + _TRANSITION_WINDOW
            naive = candidate + _MINUTE

    def _next_local(self, naive: datetime, limit: int) -> datetime | None:
        """The first wall time at or after ``naive`` whose fields all match."""
        while naive.year <= limit:
            if naive.month not in self.months:
                naive = (naive.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(naive):
                naive = naive.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            hour = _first_at_least(self.hours, naive.hour)
            if hour is None:
                naive = naive.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if hour != naive.hour:
                naive = naive.replace(hour=hour, minute=0)
            minute = _first_at_least(self.minutes, naive.minute)
            if minute is None:
                naive = naive.replace(minute=0) + timedelta(hours=1)
                continue
            return naive.replace(minute=minute)
        return None

    def _day_matches(self, naive: datetime) -> bool:
        dom = naive.day in self.days_of_month
        dow = naive.isoweekday() % 7 in self.days_of_week
        if self.dom_any or self.dow_any:
            return dom and dow
        return dom or dow


@dataclass(frozen=True)
class EverySchedule:
    """``@every <duration>``: a fixed delay after the previous time (whole seconds, at least one)."""

    seconds: int

    def next_after(self, moment: datetime, zone: tzinfo = UTC) -> datetime | None:
        if moment.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        return (moment.replace(microsecond=0) + timedelta(seconds=self.seconds)).astimezone(UTC)


Schedule = CronSchedule | EverySchedule


def parse_schedule(text: str) -> Schedule:
    """Parse ``spec.schedule``; CronError with the reason if Kubernetes would refuse it."""
    if not isinstance(text, str):
        raise CronError(f"schedule must be a string, not {type(text).__name__}")
    spec = text.strip()
    if not spec:
        raise CronError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        raise CronError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if spec.startswith("@"):
        if spec.startswith(_EVERY):
            return EverySchedule(_every_seconds(spec[len(_EVERY):].strip()))
        if spec not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    values = [_parse_field(expr, f) for expr, f in zip(fields, _FIELDS, strict=True)]
    (minutes, _), (hours, _), (doms, dom_any), (months, _), (dows, dow_any) = values
    return CronSchedule(tuple(sorted(minutes)), tuple(sorted(hours)), frozenset(doms), frozenset(months),
                        frozenset(dows), dom_any, dow_any)


def schedule_errors(text: str) -> list[str]:
    """The reasons ``text`` is not a valid schedule (empty when it is)."""
    try:
        parse_schedule(text)
    except CronError as e:
        return [str(e)]
    return []


def load_time_zone(name: str | None) -> tzinfo:
    """The zone of ``spec.timeZone`` (UTC when unset); CronError as Kubernetes words the refusal."""
    if name is None:
        return UTC
    if not isinstance(name, str) or not name:
        raise CronError("timeZone must be nil or non-empty string")
    if name.lower() == "local":
        raise CronError("timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")
    if name == "UTC":
        return UTC
    if name.startswith(("/", ".")) or ".." in name.split("/") or "\\" in name:
        raise CronError(f"unknown time zone {name}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown time zone {name}") from None


# -- fields ----------------------------------------------------------------------------------------

def _parse_field(expr: str, field: _Field) -> tuple[set[int], bool]:
    """The values a field allows, and whether it was a plain "any" (which matters for days)."""
    values: set[int] = set()
    plain_any = False
    for item in expr.split(","):
        item_values, item_any = _parse_item(item, field)
        values |= item_values
        plain_any = plain_any or item_any
    return values, plain_any


def _parse_item(item: str, field: _Field) -> tuple[set[int], bool]:
    range_and_step = item.split("/")
    if len(range_and_step) > 2:
        raise CronError(f"too many slashes: {item}")
    low_high = range_and_step[0].split("-")
    plain_any = False
    if low_high[0] in ("*", "?"):
        start, end, plain_any = field.low, field.high, True
    else:
        if len(low_high) > 2:
            raise CronError(f"too many hyphens: {item}")
        start = _int_or_name(low_high[0], field)
        end = _int_or_name(low_high[1], field) if len(low_high) == 2 else start
    step = 1
    if len(range_and_step) == 2:
        step = _non_negative_int(range_and_step[1], item)
        if len(low_high) == 1:
            end = field.high  # "N/step" means "N-max/step"
        if step > 1:
            plain_any = False
    if start < field.low:
        raise CronError(f"beginning of range ({start}) below minimum ({field.low}): {item}")
    if end > field.high:
        raise CronError(f"end of range ({end}) above maximum ({field.high}): {item}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {item}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {item}")
    return set(range(start, end + 1, step)), plain_any


def _int_or_name(text: str, field: _Field) -> int:
    named = field.names.get(text.lower())
    if named is not None:
        return named
    return _non_negative_int(text, text)


def _non_negative_int(text: str, item: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if value < 0:
        raise CronError(f"negative number ({value}) not allowed: {item}")
    return value


# -- @every ----------------------------------------------------------------------------------------

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string ("1h30m", "90s", "1.5h", "0"); CronError otherwise."""
    body = text
    sign = 1.0
    if body[:1] in ("+", "-"):
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise CronError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None:
            number = re.match(r"(\d+\.?\d*|\.\d+)([^\d.]*)", body[pos:])
            if number is None:
                raise CronError(f'time: invalid duration "{text}"')
            if not number.group(2):
                raise CronError(f'time: missing unit in duration "{text}"')
            raise CronError(f'time: unknown unit "{number.group(2)}" in duration "{text}"')
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def _every_seconds(text: str) -> int:
    try:
        seconds = parse_go_duration(text)
    except CronError as e:
        raise CronError(f"failed to parse duration {_EVERY}{text}: {e}") from None
    return max(1, int(seconds))


# -- time zones ------------------------------------------------------------------------------------

def _first_at_least(sorted_values: tuple[int, ...], value: int) -> int | None:
    for v in sorted_values:
        if v >= value:
            return v
    return None


def _steady(zone: tzinfo, begin: datetime, end: datetime) -> bool:
    """No clock change between two instants (same UTC offset at both ends, checked hourly)."""
    offset = begin.astimezone(zone).utcoffset()
    moment = begin
    while moment < end:
        moment = min(moment + timedelta(hours=1), end)
        if moment.astimezone(zone).utcoffset() != offset:
            return False
    return True


def _instants(naive: datetime, zone: tzinfo) -> list[datetime]:
    """The instants (in UTC) a wall time names in ``zone``: none (skipped), one, or two (repeated).

    Compared in UTC on purpose: aware datetimes sharing a tzinfo compare by wall time, ignoring fold.
    """
    out: list[datetime] = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == naive and instant not in out:
            out.append(instant)
    return out


def _unique_instant(naive: datetime, zone: tzinfo) -> datetime | None:
    instants = _instants(naive, zone)
    return instants[0] if len(instants) == 1 else None
