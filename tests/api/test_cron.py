"""Cron schedules: the standard 5-field language Kubernetes accepts, next times in time zones."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kybernetes.api.cron import (
    CronError,
    EverySchedule,
    load_time_zone,
    parse_go_duration,
    parse_schedule,
    schedule_errors,
)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def times(schedule, start, count, zone=UTC):
    out, moment = [], start
    for _ in range(count):
        moment = parse_schedule(schedule).next_after(moment, zone)
        out.append(moment)
    return out


@pytest.mark.parametrize("schedule, start, expected", [
    ("* * * * *", utc(2026, 3, 1, 10, 0, 30), utc(2026, 3, 1, 10, 1)),
    ("* * * * *", utc(2026, 3, 1, 10, 0, 0), utc(2026, 3, 1, 10, 1)),  # strictly after
    ("*/15 * * * *", utc(2026, 3, 1, 10, 7), utc(2026, 3, 1, 10, 15)),
    ("5 4 * * *", utc(2026, 3, 1, 10, 0), utc(2026, 3, 2, 4, 5)),
    ("0 0 1 1 *", utc(2026, 3, 1), utc(2027, 1, 1)),
    ("@yearly", utc(2026, 3, 1), utc(2027, 1, 1)),
    ("@monthly", utc(2026, 3, 15), utc(2026, 4, 1)),
    ("@weekly", utc(2026, 3, 4), utc(2026, 3, 8)),  # Sunday
    ("@daily", utc(2026, 3, 4, 12), utc(2026, 3, 5)),
    ("@midnight", utc(2026, 3, 4, 12), utc(2026, 3, 5)),
    ("@hourly", utc(2026, 3, 4, 12, 30), utc(2026, 3, 4, 13)),
    ("0 9 * jan-MAR mon-fri", utc(2026, 11, 26), utc(2027, 1, 1, 9)),  # 2027-01-01 is a Friday
    ("0 0 29 2 *", utc(2026, 3, 1), utc(2028, 2, 29)),
    ("0 12 13 * 5", utc(2026, 3, 1), utc(2026, 3, 6, 12)),  # day 13 OR a Friday
    ("0 12 */2 * 5", utc(2026, 3, 2), utc(2026, 3, 3, 12)),  # a stepped day field is restricted: OR
    ("0 12 * * 5", utc(2026, 3, 1), utc(2026, 3, 6, 12)),  # "*" day: Fridays only
    ("30 10/5 * * *", utc(2026, 3, 1, 16), utc(2026, 3, 1, 20, 30)),  # N/step = N-max/step
    ("0 0 ? * sun", utc(2026, 3, 1, 1), utc(2026, 3, 8)),
    ("1,2,59 * * * *", utc(2026, 3, 1, 1, 2), utc(2026, 3, 1, 1, 59)),
])
def test_next_time(schedule, start, expected):
    assert parse_schedule(schedule).next_after(start) == expected


def test_consecutive_times_and_dom_dow_or_rule():
    assert times("0 0 1,15 * 1", utc(2026, 3, 1), 4) == [
        utc(2026, 3, 2), utc(2026, 3, 9), utc(2026, 3, 15), utc(2026, 3, 16)]


def test_time_zone_local_times():
    tokyo = ZoneInfo("Asia/Tokyo")
    assert parse_schedule("30 9 * * *").next_after(utc(2026, 3, 1), tokyo) == utc(2026, 3, 1, 0, 30)


def test_dst_start_skips_the_missing_hour_and_dst_end_repeats_it():
    ny = ZoneInfo("America/New_York")
    # 2026-03-08 02:30 does not exist in New York: that day is skipped.
    assert times("30 2 * * *", utc(2026, 3, 7, 12), 2, ny) == [utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)]
    # 2026-11-01 01:00-01:59 happens twice: an every-15-minutes schedule fires in both.
    fired = times("*/15 * * * *", utc(2026, 11, 1, 5, 50), 6, ny)
    assert fired == [utc(2026, 11, 1, 6, 0), utc(2026, 11, 1, 6, 15), utc(2026, 11, 1, 6, 30),
                     utc(2026, 11, 1, 6, 45), utc(2026, 11, 1, 7, 0), utc(2026, 11, 1, 7, 15)]
    assert [t.astimezone(ny).strftime("%H:%M%z") for t in fired[:2]] == ["01:00-0500", "01:15-0500"]


def test_impossible_date_gives_none_instead_of_looping():
    assert parse_schedule("0 0 30 2 *").next_after(utc(2026, 1, 1)) is None


def test_every():
    schedule = parse_schedule("@every 1h30m")
    assert schedule == EverySchedule(5400)
    assert schedule.next_after(datetime(2026, 3, 1, 10, 0, 0, 500_000, tzinfo=UTC)) == utc(2026, 3, 1, 11, 30)
    assert parse_schedule("@every 100ms") == EverySchedule(1)


@pytest.mark.parametrize("schedule, message", [
    ("", "empty spec string"),
    ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* 24 * * *", "end of range (24) above maximum (23): 24"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("* * * 13 *", "end of range (13) above maximum (12): 13"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("*/2/3 * * * *", "too many slashes: */2/3"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("* * * foo *", 'failed to parse int from foo: strconv.Atoi: parsing "foo": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every", "unrecognized descriptor: @every"),
    ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
    ("TZ=UTC * * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
    ("CRON_TZ=Europe/Berlin 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
])
def test_invalid_schedules_say_why(schedule, message):
    with pytest.raises(CronError) as info:
        parse_schedule(schedule)
    assert str(info.value) == message
    assert schedule_errors(schedule) == [message]


def test_schedule_errors_is_empty_for_valid_schedules():
    assert schedule_errors("*/5 1-3,22 * JAN,jul MON-fri") == []
    assert schedule_errors(None) == ["schedule must be a string, not NoneType"]


def test_go_durations():
    assert parse_go_duration("1h30m") == 5400
    assert parse_go_duration("1.5h") == 5400
    assert parse_go_duration("250ms") == 0.25
    assert parse_go_duration("0") == 0
    with pytest.raises(CronError, match='unknown unit "d"'):
        parse_go_duration("1d")


def test_time_zones():
    assert load_time_zone(None) is UTC
    assert load_time_zone("UTC") is UTC
    assert str(load_time_zone("Europe/Berlin")) == "Europe/Berlin"
    for name, message in [("", "timeZone must be nil or non-empty string"),
                          ("Local", "timeZone must be an explicit time zone as defined in "
                                    "https://www.iana.org/time-zones"),
                          ("Mars/Olympus_Mons", "unknown time zone Mars/Olympus_Mons"),
                          ("../../etc/passwd", "unknown time zone ../../etc/passwd")]:
        with pytest.raises(CronError) as info:
            load_time_zone(name)
        assert str(info.value) == message


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        parse_schedule("* * * * *").next_after(datetime(2026, 1, 1))


def test_cronjob_validation_uses_the_controllers_parser():
    from kybernetes.api.validation_workloads import validate_cronjob

    def causes(schedule, tz=None):
        spec = {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "i", "imagePullPolicy": "Always",
            "terminationMessagePolicy": "File"}]}}}}}
        if tz is not None:
            spec["timeZone"] = tz
        return [(c.field, c.message) for c in validate_cronjob({"metadata": {"name": "c"}, "spec": spec})]

    assert causes("*/5 * * * *", "Europe/Paris") == []
    assert [f for f, _ in causes("60 * * * *")] == ["spec.schedule"]
    assert [f for f, _ in causes("* * * * *", "Mars/Olympus")] == ["spec.timeZone"]
