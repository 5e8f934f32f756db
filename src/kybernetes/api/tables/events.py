"""Events, core/v1 and events.k8s.io/v1, following printEvent in kubernetes
pkg/printers/internalversion/printers.go.

Columns: LAST SEEN TYPE REASON OBJECT MESSAGE | SUBOBJECT SOURCE FIRST SEEN COUNT NAME. The real
server stores both API versions as one internal Event, so an events.k8s.io object is first
mapped onto the core field names (note -> message, regarding -> involvedObject, deprecated* ->
the old timestamps, count and source) and printed by the same function. Note the core v1 JSON
name of the reporting controller is "reportingComponent".
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    NAME_DESCRIPTION,
    TableSpec,
    as_dict,
    as_int,
    as_str,
    column,
    meta_name,
)
from kybernetes.api.tables.duration import parse_time, since

COLUMNS = (
    column("Last Seen", "Time since the event was last observed."),
    column("Type", "Normal or Warning."),
    column("Reason", "Short, machine-readable reason for the event."),
    column("Object", "The object the event is about (kind/name)."),
    column("Subobject", "The part of the object the event is about, such as a container.", priority=1),
    column("Source", "The component (and host) that reported the event.", priority=1),
    column("Message", "Human-readable description of the event."),
    column("First Seen", "Time since the event was first observed.", priority=1),
    column("Count", "How many times the event was observed.", priority=1),
    column("Name", NAME_DESCRIPTION, priority=1, format="name"),
)


def _core_view(event: dict) -> dict:
    """An events.k8s.io/v1 Event expressed with the core/v1 field names the printer reads."""
    return {
        "metadata": event.get("metadata"),
        "involvedObject": event.get("regarding"),
        "reason": event.get("reason"),
        "message": event.get("note"),
        "source": event.get("deprecatedSource"),
        "firstTimestamp": event.get("deprecatedFirstTimestamp"),
        "lastTimestamp": event.get("deprecatedLastTimestamp"),
        "count": event.get("deprecatedCount"),
        "type": event.get("type"),
        "eventTime": event.get("eventTime"),
        "series": event.get("series"),
        "reportingComponent": event.get("reportingController"),
        "reportingInstance": event.get("reportingInstance"),
    }


def _source(event: dict) -> str:
    source = as_dict(event.get("source"))
    component = as_str(source.get("component")) or as_str(event.get("reportingComponent"))
    instance = as_str(source.get("host")) or as_str(event.get("reportingInstance"))
    return f"{component}, {instance}" if instance else component


def event_cells(event: dict, now: dt.datetime) -> list:
    if parse_time(event.get("firstTimestamp")) is not None:
        first_seen = since(event["firstTimestamp"], now)
    else:
        first_seen = since(event.get("eventTime"), now)
    last_seen = since(event["lastTimestamp"], now) if parse_time(event.get("lastTimestamp")) else first_seen
    count = as_int(event.get("count"))
    series = event.get("series")
    if isinstance(series, dict):
        last_seen = since(series.get("lastObservedTime"), now)
        count = as_int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events from the new API carry no count
    involved = as_dict(event.get("involvedObject"))
    kind, name = as_str(involved.get("kind")).lower(), as_str(involved.get("name"))
    return [
        last_seen,
        as_str(event.get("type")),
        as_str(event.get("reason")),
        f"{kind}/{name}" if name else kind,
        as_str(involved.get("fieldPath")),
        _source(event),
        as_str(event.get("message")).strip(),
        first_seen,
        count,
        meta_name(event),
    ]


def events_k8s_io_cells(event: dict, now: dt.datetime) -> list:
    return event_cells(_core_view(event), now)


TABLES = {
    ("", "events"): TableSpec(COLUMNS, event_cells),
    ("events.k8s.io", "events"): TableSpec(COLUMNS, events_k8s_io_cells),
}
