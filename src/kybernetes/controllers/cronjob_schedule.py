"""When a CronJob should run, and the Job it runs then.

The controller never keeps a timer per CronJob. Each sync asks "what is the latest scheduled
time in (last scheduled time or creation, now]?" and starts that one if it has not run yet; then
it requeues the CronJob for just after the next scheduled time. Missed times in between are not
caught up one by one: only the most recent counts, as in Kubernetes.

    earliest = status.lastScheduleTime, else metadata.creationTimestamp
               (moved up to now - startingDeadlineSeconds when that is later)
    t1, t2   = the first two scheduled times after earliest
    missed   = roughly (now - t1) / (t2 - t1) + 1; over 100 is "too many missed start times"

Jobs are named "<cronjob>-<scheduled time in minutes since the epoch>", so a restarted controller
that tries the same time again gets AlreadyExists instead of a second Job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from kybernetes.api.cron import CronError, Schedule
from kybernetes.api.meta import deep_copy, parse_rfc3339
from kybernetes.controllers import podutil

Obj = dict[str, Any]

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1  # requeue this long after the scheduled time, so the sync lands past it
MANY_MISSED = 100
_MAX_STEPS = 10_000


@dataclass(frozen=True)
class ScheduleTimes:
    earliest: datetime
    most_recent: datetime | None  # the latest scheduled time <= now, if any after earliest
    missed: int  # approximate number of scheduled times in (earliest, now]


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None


def last_schedule_time(cronjob: Obj) -> datetime | None:
    return parse_time((cronjob.get("status") or {}).get("lastScheduleTime"))


def most_recent_schedule_time(cronjob: Obj, now: datetime, schedule: Schedule, zone: tzinfo,
                              include_starting_deadline: bool) -> ScheduleTimes:
    """CronError when two consecutive scheduled times are under a second apart (never, for a
    valid schedule; kept for parity with Kubernetes' guard)."""
    meta = cronjob.get("metadata") or {}
    earliest = last_schedule_time(cronjob) or parse_time(meta.get("creationTimestamp")) or now
    deadline = (cronjob.get("spec") or {}).get("startingDeadlineSeconds")
    if include_starting_deadline and deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    t1 = schedule.next_after(earliest, zone)
    if t1 is None or now < t1:
        return ScheduleTimes(earliest, None, 0)
    t2 = schedule.next_after(t1, zone)
    if t2 is None or now < t2:
        return ScheduleTimes(earliest, t1, 1)
    interval = round((t2 - t1).total_seconds())
    if interval < 1:
        raise CronError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // interval + 1
    # Jump close to now instead of walking every missed time, then let the schedule finish the
    # walk (one interval early, for schedules whose gaps are not all the same).
    candidate: datetime | None = t1 + timedelta(seconds=max(missed - 2, 0) * interval)
    most_recent = t1
    for _ in range(_MAX_STEPS):
        candidate = schedule.next_after(candidate, zone) if candidate is not None else None
        if candidate is None or candidate > now:
            break
        most_recent = candidate
    return ScheduleTimes(earliest, most_recent, missed)


def next_schedule_time(cronjob: Obj, now: datetime, schedule: Schedule, zone: tzinfo) -> ScheduleTimes | None:
    """The scheduled time a sync should act on (None: nothing due)."""
    times = most_recent_schedule_time(cronjob, now, schedule, zone, include_starting_deadline=True)
    if times.most_recent is None or times.most_recent > now:
        return None
    return times


def next_schedule_delay(cronjob: Obj, now: datetime, schedule: Schedule, zone: tzinfo) -> float | None:
    """Seconds until just after the next scheduled time (None if the schedule never fires again)."""
    try:
        times = most_recent_schedule_time(cronjob, now, schedule, zone, include_starting_deadline=False)
        base = times.most_recent or times.earliest
    except CronError:
        base = now
    upcoming = schedule.next_after(base, zone)
    if upcoming is None:
        return None
    return (upcoming - now).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cronjob: Obj, scheduled: datetime) -> str:
    return f"{(cronjob.get('metadata') or {}).get('name', '')}-{int(scheduled.timestamp()) // 60}"


def rfc3339_in_zone(moment: datetime, zone: tzinfo) -> str:
    """As Go's time.RFC3339 writes it: "Z" for UTC, else the zone's offset."""
    local = moment.astimezone(zone)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    offset = local.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def rfc1123z(moment: datetime) -> str:
    """Go's time.RFC1123Z in UTC: "Mon, 02 Jan 2006 15:04:05 +0000"."""
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def job_from_template(cronjob: Obj, scheduled: datetime, zone: tzinfo) -> Obj:
    spec = cronjob.get("spec") or {}
    template = spec.get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    meta = cronjob.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = rfc3339_in_zone(scheduled, zone)
    job_meta: Obj = {"name": job_name(cronjob, scheduled), "namespace": meta.get("namespace"),
                     "annotations": annotations,
                     "ownerReferences": [podutil.new_controller_ref(cronjob, "batch/v1", "CronJob")]}
    if tmeta.get("labels"):
        job_meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_meta, "spec": deep_copy(template.get("spec") or {})}


def job_reference(job: Obj) -> Obj:
    meta = job.get("metadata") or {}
    return {"kind": "Job", "namespace": meta.get("namespace"), "name": meta.get("name"), "uid": meta.get("uid"),
            "apiVersion": "batch/v1", "resourceVersion": meta.get("resourceVersion")}


def job_start_order(job: Obj) -> tuple[int, datetime, str]:
    """Oldest first by status.startTime, Jobs that never started last, names breaking ties."""
    started = parse_time((job.get("status") or {}).get("startTime"))
    name = (job.get("metadata") or {}).get("name", "")
    if started is None:
        return (1, datetime.max.replace(tzinfo=UTC), name)
    return (0, started, name)
