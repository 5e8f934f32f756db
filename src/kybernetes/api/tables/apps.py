"""apps/v1: deployments, replicasets, statefulsets, daemonsets and controllerrevisions, following
printDeployment, printReplicaSet, printStatefulSet, printDaemonSet and printControllerRevision in
kubernetes pkg/printers/internalversion/printers.go.

spec.replicas defaults to 1 on the real server, so an object stored without it prints as 1.
A Deployment's wide SELECTOR is the bare selector string (empty for an empty selector), while
the other kinds print "<none>" for an empty selector, as upstream does.
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
    format_labels,
    format_selector,
    layout_containers,
    meta_name,
    name_column,
    selector_string,
)


def _replicas(spec: dict) -> int:
    value = spec.get("replicas")
    return as_int(value) if value is not None else 1


def _template_containers(spec: dict) -> tuple[str, str]:
    return layout_containers(dig(spec, "template", "spec", "containers"))


def _wide_columns(selector_description: str | None) -> tuple[dict, ...]:
    columns = (
        column("Containers", CONTAINERS_DESCRIPTION, priority=1),
        column("Images", IMAGES_DESCRIPTION, priority=1),
    )
    if selector_description:
        columns += (column("Selector", selector_description, priority=1),)
    return columns


def deployment_cells(deploy: dict, now: dt.datetime) -> list:
    spec, status = as_dict(deploy.get("spec")), as_dict(deploy.get("status"))
    names, images = _template_containers(spec)
    selector = selector_string(spec.get("selector"))
    return [
        meta_name(deploy),
        f"{as_int(status.get('readyReplicas'))}/{_replicas(spec)}",
        as_int(status.get("updatedReplicas")),
        as_int(status.get("availableReplicas")),
        age(deploy, now),
        names,
        images,
        "<invalid>" if selector is None else selector,
    ]


def replicaset_cells(rs: dict, now: dt.datetime) -> list:
    spec, status = as_dict(rs.get("spec")), as_dict(rs.get("status"))
    names, images = _template_containers(spec)
    return [
        meta_name(rs),
        _replicas(spec),
        as_int(status.get("replicas")),
        as_int(status.get("readyReplicas")),
        age(rs, now),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def statefulset_cells(sts: dict, now: dt.datetime) -> list:
    spec, status = as_dict(sts.get("spec")), as_dict(sts.get("status"))
    names, images = _template_containers(spec)
    return [
        meta_name(sts),
        f"{as_int(status.get('readyReplicas'))}/{_replicas(spec)}",
        age(sts, now),
        names,
        images,
    ]


def daemonset_cells(ds: dict, now: dt.datetime) -> list:
    spec, status = as_dict(ds.get("spec")), as_dict(ds.get("status"))
    names, images = _template_containers(spec)
    return [
        meta_name(ds),
        as_int(status.get("desiredNumberScheduled")),
        as_int(status.get("currentNumberScheduled")),
        as_int(status.get("numberReady")),
        as_int(status.get("updatedNumberScheduled")),
        as_int(status.get("numberAvailable")),
        format_labels(dig(spec, "template", "spec", "nodeSelector")),
        age(ds, now),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def _controller_name(obj: dict) -> str:
    """The controlling owner as "kind.group/name" (lower-case kind and group), "<none>" if none."""
    for ref in as_list(dig(obj, "metadata", "ownerReferences")):
        ref = as_dict(ref)
        if ref.get("controller") is not True:
            continue
        api_version, kind = as_str(ref.get("apiVersion")), as_str(ref.get("kind"))
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        name = as_str(ref.get("name"))
        if not kind and not group:
            return name
        group_kind = f"{kind}.{group}" if group else kind
        return f"{group_kind.lower()}/{name}"
    return "<none>"


def controllerrevision_cells(rev: dict, now: dt.datetime) -> list:
    return [meta_name(rev), _controller_name(rev), as_int(rev.get("revision")), age(rev, now)]


TABLES = {
    ("apps", "deployments"): TableSpec(
        (
            name_column(),
            column("Ready", "Number of the pod with ready state"),
            column("Up-to-date", "Replicas running the newest pod template."),
            column("Available", "Replicas available to serve for at least minReadySeconds."),
            age_column(),
            *_wide_columns("Label selector of the deployment's pods."),
        ),
        deployment_cells,
    ),
    ("apps", "replicasets"): TableSpec(
        (
            name_column(),
            column("Desired", "Number of replicas asked for.", type="integer"),
            column("Current", "Number of replicas that exist.", type="integer"),
            column("Ready", "Number of ready replicas.", type="integer"),
            age_column(),
            *_wide_columns("Label selector of the replica set's pods."),
        ),
        replicaset_cells,
    ),
    ("apps", "statefulsets"): TableSpec(
        (
            name_column(),
            column("Ready", "Number of the pod with ready state"),
            age_column(),
            *_wide_columns(None),
        ),
        statefulset_cells,
    ),
    ("apps", "daemonsets"): TableSpec(
        (
            name_column(),
            column("Desired", "Nodes that should run the daemon pod.", type="integer"),
            column("Current", "Nodes running at least one daemon pod.", type="integer"),
            column("Ready", "Nodes with a ready daemon pod.", type="integer"),
            column("Up-to-date", "Nodes running the newest daemon pod template.", type="integer"),
            column("Available", "Nodes with an available daemon pod.", type="integer"),
            column("Node Selector", "Node labels the daemon pods are restricted to."),
            age_column(),
            *_wide_columns("Label selector of the daemon set's pods."),
        ),
        daemonset_cells,
    ),
    ("apps", "controllerrevisions"): TableSpec(
        (
            name_column(),
            column("Controller", "Controller of the object"),
            column("Revision", "Revision number of the stored state."),
            age_column(),
        ),
        controllerrevision_cells,
    ),
}
