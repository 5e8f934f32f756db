"""Human durations and timestamps, formatted exactly as the real apiserver formats them.

kubectl prints whatever strings the server puts in Table cells, so "how old is this" must be
computed here the way apimachinery's ``duration.HumanDuration`` does: about two or three
significant figures ("90s", "5m3s", "3h2m", "2d3h", "3y40d"), "0s" for a clock skew of up to
a second into the future, "<invalid>" beyond that, and "<unknown>" when there is no timestamp.
"""

from __future__ import annotations

import datetime as dt

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def human_duration(seconds: float) -> str:
    """Format a duration given in seconds like apimachinery's HumanDuration."""
    # Go truncates toward zero when it turns the duration into whole seconds.
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24
        rest = days % 365
        return f"{days // 365}y" if rest == 0 else f"{days // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: object) -> dt.datetime | None:
    """An RFC 3339 timestamp (Time or MicroTime) as an aware UTC datetime; None if absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _aware(now: dt.datetime) -> dt.datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)


def since(value: object, now: dt.datetime) -> str:
    """How long ago a timestamp was ("<unknown>" when unset), like the printers' translateTimestampSince."""
    moment = parse_time(value)
    if moment is None:
        return "<unknown>"
    return human_duration((_aware(now) - moment).total_seconds())


def between(start: object, end: object) -> str | None:
    """HumanDuration of end - start, or None when either is unset or unparseable."""
    first, last = parse_time(start), parse_time(end)
    if first is None or last is None:
        return None
    return human_duration((last - first).total_seconds())


def rfc3339(value: object) -> str:
    """A timestamp rendered as Go's time.RFC3339 in UTC (whole seconds); Go's zero time if unset."""
    moment = parse_time(value)
    if moment is None:
        return "0001-01-01T00:00:00Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
