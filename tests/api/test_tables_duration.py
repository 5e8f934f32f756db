"""human_duration and timestamp helpers, checked against apimachinery's duration.HumanDuration
(staging/src/k8s.io/apimachinery/pkg/util/duration/duration.go) boundaries."""

import datetime as dt

import pytest

from kybernetes.api.tables import human_duration
from kybernetes.api.tables.duration import between, parse_time, rfc3339, since

MINUTE, HOUR, DAY, YEAR = 60, 3600, 86400, 365 * 86400


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-3, "<invalid>"),
        (-2, "<invalid>"),
        (-1.9, "0s"),  # Go truncates toward zero: -1 is tolerated clock skew
        (-0.5, "0s"),
        (0, "0s"),
        (59.9, "59s"),
        (90, "90s"),
        (119, "119s"),
        (120, "2m"),
        (121, "2m1s"),
        (5 * MINUTE + 3, "5m3s"),
        (9 * MINUTE + 59, "9m59s"),
        (10 * MINUTE + 30, "10m"),
        (179 * MINUTE + 59, "179m"),
        (3 * HOUR, "3h"),
        (3 * HOUR + 2 * MINUTE, "3h2m"),
        (7 * HOUR + 59 * MINUTE, "7h59m"),
        (8 * HOUR + 30 * MINUTE, "8h"),
        (47 * HOUR + 59 * MINUTE, "47h"),
        (2 * DAY, "2d"),
        (2 * DAY + 3 * HOUR, "2d3h"),
        (7 * DAY + 23 * HOUR, "7d23h"),
        (8 * DAY, "8d"),
        (729 * DAY, "729d"),
        (2 * YEAR, "2y"),
        (3 * YEAR + 40 * DAY, "3y40d"),
        (8 * YEAR + 100 * DAY, "8y"),
    ],
)
def test_human_duration_matches_apimachinery(seconds, expected):
    assert human_duration(seconds) == expected


NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_since_handles_time_microtime_and_missing_values():
    assert since("2024-05-01T11:55:00Z", NOW) == "5m"
    assert since("2024-05-01T11:59:58.123456Z", NOW) == "1s"
    assert since(None, NOW) == "<unknown>"
    assert since("not a time", NOW) == "<unknown>"
    assert since(17, NOW) == "<unknown>"
    # A naive "now" is taken as UTC rather than failing.
    assert since("2024-05-01T11:00:00Z", NOW.replace(tzinfo=None)) == "60m"


def test_between_and_rfc3339():
    assert between("2024-05-01T11:00:00Z", "2024-05-01T11:00:45Z") == "45s"
    assert between(None, "2024-05-01T11:00:45Z") is None
    assert rfc3339("2024-05-01T11:00:00.5+02:00") == "2024-05-01T09:00:00Z"
    assert rfc3339(None) == "0001-01-01T00:00:00Z"  # Go's zero time
    assert parse_time("") is None
