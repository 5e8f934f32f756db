"""batch/v1: jobs and cronjobs, following printJob and printCronJob in kubernetes
pkg/printers/internalversion/printers.go (the current columns: jobs gained STATUS, cronjobs
TIMEZONE).

A job's STATUS takes the first of Complete, Failed, Terminating (deletion pending), Suspended,
FailureTarget, else Running; COMPLETIONS is "succeeded/completions" (or "/1 of N" for work
queues with parallelism N); DURATION runs from startTime to completionTime, or to now.
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    CONTAINERS_DESCRIPTION,
    IMAGES_DESCRIPTION,
    TableSpec,
    age,
    age_column,
    as_dict,
    as_int,
    as_list,
    as_str,
    column,
    dig,
    format_selector,
    go_bool,
    is_deleting,
    layout_containers,
    meta_name,
    name_column,
    opt_int,
)
from kybernetes.api.tables.duration import between, parse_time, since


def _has_true_condition(job: dict, type_: str) -> bool:
    for entry in as_list(dig(job, "status", "conditions")):
        entry = as_dict(entry)
        if entry.get("type") == type_:
            return entry.get("status") == "True"
    return False


def job_status(job: dict) -> str:
    if _has_true_condition(job, "Complete"):
        return "Complete"
    if _has_true_condition(job, "Failed"):
        return "Failed"
    if is_deleting(job):
        return "Terminating"
    if _has_true_condition(job, "Suspended"):
        return "Suspended"
    if _has_true_condition(job, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _completions(spec: dict, succeeded: int) -> str:
    completions = opt_int(spec.get("completions"))
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = opt_int(spec.get("parallelism")) or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _duration(status: dict, now: dt.datetime) -> str:
    start = status.get("startTime")
    if parse_time(start) is None:
        return ""
    if parse_time(status.get("completionTime")) is None:
        return since(start, now)
    return between(start, status["completionTime"]) or ""


def job_cells(job: dict, now: dt.datetime) -> list:
    spec, status = as_dict(job.get("spec")), as_dict(job.get("status"))
    names, images = layout_containers(dig(spec, "template", "spec", "containers"))
    return [
        meta_name(job),
        job_status(job),
        _completions(spec, as_int(status.get("succeeded"))),
        _duration(status, now),
        age(job, now),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def cronjob_cells(cronjob: dict, now: dt.datetime) -> list:
    spec, status = as_dict(cronjob.get("spec")), as_dict(cronjob.get("status"))
    job_spec = as_dict(dig(spec, "jobTemplate", "spec"))
    names, images = layout_containers(dig(job_spec, "template", "spec", "containers"))
    last = status.get("lastScheduleTime")
    suspend = spec.get("suspend", False)  # defaulted to false by the server
    return [
        meta_name(cronjob),
        as_str(spec.get("schedule")),
        "<none>" if spec.get("timeZone") is None else as_str(spec["timeZone"]),
        go_bool(suspend),
        len(as_list(status.get("active"))),
        "<none>" if last is None else since(last, now),
        age(cronjob, now),
        names,
        images,
        format_selector(job_spec.get("selector")),
    ]


_WIDE = (
    column("Containers", CONTAINERS_DESCRIPTION, priority=1),
    column("Images", IMAGES_DESCRIPTION, priority=1),
    column("Selector", "Label selector of the job's pods.", priority=1),
)

TABLES = {
    ("batch", "jobs"): TableSpec(
        (
            name_column(),
            column("Status", "Status of the job."),
            column("Completions", "Succeeded pods out of the completions asked for."),
            column("Duration", "Time required to complete the job."),
            age_column(),
            *_WIDE,
        ),
        job_cells,
    ),
    ("batch", "cronjobs"): TableSpec(
        (
            name_column(),
            column("Schedule", "The cron schedule."),
            column("Timezone", "Time zone the schedule is interpreted in."),
            column("Suspend", "Whether new runs are suspended.", type="boolean"),
            column("Active", "Number of running jobs.", type="integer"),
            column("Last Schedule", "Time since a job was last scheduled."),
            age_column(),
            *_WIDE,
        ),
        cronjob_cells,
    ),
}
