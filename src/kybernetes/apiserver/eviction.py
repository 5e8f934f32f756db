"""POST pods/{name}/eviction: a delete that respects PodDisruptionBudgets (``kubectl drain``).

Mirrors the real EvictionREST:

    Eviction{metadata.name, deleteOptions}   (policy/v1 or v1beta1; name must be the URL's: 400)
      ──► the pod is terminal, Pending, or already deleting?  no budget to spend: delete it
      ──► the PDBs in its namespace whose selector matches it (a nil/empty selector matches none)
            more than one            500 "This pod has more than one PodDisruptionBudget ..."
            the pod is not Ready and the budget is healthy anyway (or unhealthyPodEvictionPolicy
            AlwaysAllow)             delete, pinned to the pod's resourceVersion (a race: 429)
            otherwise                check and decrement: status stale (observedGeneration <
                                     generation, or no status yet) 429; disruptionsAllowed 0: 429;
                                     negative: 403; else disruptionsAllowed-1, the pod recorded in
                                     status.disruptedPods (the disruption controller clears it)
      ──► the pod gets the DisruptionTarget condition, then the DeleteOptions from the body
          (grace period, preconditions, propagation) delete it
      ──► 201 Status Success

429s carry a cause of type DisruptionBudget, which kubectl drain prints while it retries.
dryRun (query or deleteOptions.dryRun, which must agree) runs every check and changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from kybernetes.api import errors, meta
from kybernetes.api.selectors import label_selector_from_spec
from kybernetes.apiserver import body as bodies
from kybernetes.apiserver import deletion
from kybernetes.apiserver.listing import ListOptions, list_objects
from kybernetes.apiserver.objects import WriteContext
from kybernetes.apiserver.responses import object_response

MAX_DISRUPTED_PODS = 2000
_RETRIES = 20
_TERMINAL = ("Succeeded", "Failed")
_VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
_EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")


def disruption_budget_error(message: str, cause: str, retry_after: int) -> errors.ApiError:
    err = errors.too_many_requests(message, retry_after)
    err.causes = [errors.Cause("DisruptionBudget", cause)]
    return err


def _still_processing(pdb_name: str) -> errors.ApiError:
    return disruption_budget_error(_VIOLATION, f"The disruption budget {pdb_name} is still being processed "
                                   "by the server.", 10)


def _phase(pod: dict[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def can_ignore_pdb(pod: dict[str, Any]) -> bool:
    return _phase(pod) in (*_TERMINAL, "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def should_enforce_resource_version(pod: dict[str, Any]) -> bool:
    return _phase(pod) not in _TERMINAL and not pod["metadata"].get("deletionTimestamp")


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _dry_run_values(request: web.Request, delete_options: dict[str, Any] | None) -> bool:
    """Whether this is a dry run; the query's dryRun and deleteOptions.dryRun must agree."""
    query = request.query.getall("dryRun", [])
    body = (delete_options or {}).get("dryRun") or []
    if query and body and list(query) != list(body):
        raise errors.bad_request(f"Non-matching dry-run options in request and content: {query} and {body}")
    return bool(query or body)


def _read_eviction(eviction: dict[str, Any], namespace: str, name: str) -> dict[str, Any] | None:
    """The deleteOptions of a well-formed Eviction for this pod."""
    api_version, kind = eviction.get("apiVersion"), eviction.get("kind")
    if api_version not in (None, "") and api_version not in _EVICTION_VERSIONS:
        raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected "
                                 "API version (policy/v1)")
    if kind not in (None, "", "Eviction"):
        raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind (Eviction)")
    m = eviction.get("metadata") or {}
    if not isinstance(m, dict):
        raise errors.bad_request("metadata must be an object")
    if m.get("namespace") not in (None, "", namespace):
        raise errors.bad_request("the namespace of the provided object does not match the namespace sent "
                                 "on the request")
    if m.get("name") != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options = eviction.get("deleteOptions")
    if options is not None and not isinstance(options, dict):
        raise errors.bad_request("deleteOptions must be an object")
    return options


async def create_eviction(handlers, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
    from kybernetes.apiserver.handlers import write_context

    ctx = write_context(request)
    delete_options = _read_eviction(await bodies.read_object(request), namespace, name)
    opts = deletion.parse_delete_options(delete_options, {})  # refuses bad values, dryRun's too
    opts.dry_run = ctx.dry_run = _dry_run_values(request, delete_options)
    await evict(handlers.objects, namespace, name, opts, ctx)
    return object_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "code": 201}, 201)


async def evict(objects, namespace: str, name: str, opts: deletion.DeleteOptions, ctx: WriteContext) -> None:
    pods = objects.registry.get("", "v1", "pods")
    rv_given = bool(opts.precondition_resource_version)
    pod: dict[str, Any] = {}
    for attempt in range(_RETRIES):
        pod = await objects.get(pods, namespace, name)
        if not can_ignore_pdb(pod):
            break
        this_opts = opts
        if should_enforce_resource_version(pod) and not rv_given:
            this_opts = replace(opts, precondition_resource_version=pod["metadata"].get("resourceVersion"))
        try:
            await _mark_and_delete(objects, pods, namespace, name, this_opts, ctx)
            return
        except errors.ApiError as e:
            if e.code != 409 or rv_given or attempt + 1 == _RETRIES:
                raise

    pdbs = await matching_budgets(objects, pod)
    if len(pdbs) > 1:
        raise errors.ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which "
                              "the eviction subresource does not support.")
    pin_resource_version = False
    if pdbs:
        pdb = pdbs[0]
        status = pdb.get("status") or {}
        unhealthy_policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy")
        if not pod_ready(pod) and (
                unhealthy_policy == "AlwaysAllow"
                or (int(status.get("currentHealthy") or 0) >= int(status.get("desiredHealthy") or 0) > 0)):
            pin_resource_version = True  # not counted as healthy: no budget to spend
        else:
            await _spend_budget(objects, pdb, name, ctx)

    final = opts
    if pin_resource_version:
        final = replace(opts, precondition_resource_version=pod["metadata"].get("resourceVersion"))
    try:
        await _mark_and_delete(objects, pods, namespace, name, final, ctx)
    except errors.ApiError as e:
        if e.code == 409 and pin_resource_version and not rv_given:
            raise _still_processing(pdbs[0]["metadata"]["name"]) from None
        raise


async def matching_budgets(objects, pod: dict[str, Any]) -> list[dict[str, Any]]:
    info = objects.registry.get("policy", "v1", "poddisruptionbudgets")
    namespace = pod["metadata"].get("namespace")
    page = await list_objects(objects.store, info, namespace, ListOptions())
    labels = pod["metadata"].get("labels") or {}
    out = []
    for pdb in page.items:
        try:
            selector = label_selector_from_spec((pdb.get("spec") or {}).get("selector"))
        except errors.ApiError:
            continue  # an invalid selector matches no pod
        if selector.empty or not selector.matches(labels):
            continue
        out.append(pdb)
    return out


async def _spend_budget(objects, pdb: dict[str, Any], pod_name: str, ctx: WriteContext) -> None:
    """Check that the budget allows one more disruption and take it (retried on write races)."""
    info = objects.registry.get("policy", "v1", "poddisruptionbudgets")
    namespace, name = pdb["metadata"].get("namespace"), pdb["metadata"]["name"]
    for attempt in range(_RETRIES):
        if attempt:
            pdb = await objects.get(info, namespace, name)
        updated = check_and_decrement(pdb, pod_name)
        if ctx.dry_run:
            return
        try:
            await objects.update(info, namespace, name, lambda _stored, new=updated: new,
                                 WriteContext(user=ctx.user), subresource="status")
            return
        except errors.ApiError as e:
            if e.code != 409:
                raise
    raise errors.ApiError(504, "Timeout", f'couldn\'t update PodDisruptionBudget "{name}" due to conflicts',
                          retry_after_seconds=10)


def check_and_decrement(pdb: dict[str, Any], pod_name: str) -> dict[str, Any]:
    """The PDB after one more disruption, or the error the real server gives (pure)."""
    name = pdb["metadata"]["name"]
    status = pdb.get("status") or {}
    generation = int(pdb["metadata"].get("generation") or 1)
    if int(status.get("observedGeneration") or 0) < generation:
        raise _still_processing(name)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise errors.forbidden(f'poddisruptionbudget.policy "{name}" is forbidden: pdb disruptions allowed '
                               "is negative", "poddisruptionbudget", name, "policy")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise errors.forbidden(f'poddisruptionbudget.policy "{name}" is forbidden: DisruptedPods map too big '
                               "- too many evictions not confirmed by PDB controller",
                               "poddisruptionbudget", name, "policy")
    if allowed == 0:
        raise disruption_budget_error(
            _VIOLATION, f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} healthy "
            f"pods and has {int(status.get('currentHealthy') or 0)} currently", 0)
    new = meta.deep_copy(pdb)
    new_status = new.setdefault("status", {})
    new_status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        _set_condition(new_status, "False", "InsufficientPods")
    new_status.setdefault("disruptedPods", {})
    new_status["disruptedPods"] = {**(new_status["disruptedPods"] or {}), pod_name: meta.now_rfc3339()}
    return new


def _set_condition(status: dict[str, Any], value: str, reason: str) -> None:
    conditions = list(status.get("conditions") or [])
    for c in conditions:
        if c.get("type") == "DisruptionAllowed":
            if c.get("status") != value:
                c["lastTransitionTime"] = meta.now_rfc3339()
            c.update(status=value, reason=reason, observedGeneration=status.get("observedGeneration", 0))
            break
    else:
        conditions.append({"type": "DisruptionAllowed", "status": value, "reason": reason, "message": "",
                           "observedGeneration": status.get("observedGeneration", 0),
                           "lastTransitionTime": meta.now_rfc3339()})
    status["conditions"] = conditions


async def _mark_and_delete(objects, pods, namespace: str, name: str, opts: deletion.DeleteOptions,
                           ctx: WriteContext) -> None:
    """Record the DisruptionTarget condition on the pod (not on a dry run), then delete it."""
    if not ctx.dry_run:
        def add_condition(pod: dict[str, Any]) -> dict[str, Any]:
            m = pod["metadata"]
            if opts.precondition_uid and opts.precondition_uid != m.get("uid"):
                raise errors.conflict("pods", name, "", f"Precondition failed: UID in precondition: "
                                      f"{opts.precondition_uid}, UID in object meta: {m.get('uid', '')}")
            rv = opts.precondition_resource_version
            if rv and rv != m.get("resourceVersion"):
                raise errors.conflict("pods", name, "", f"Precondition failed: ResourceVersion in "
                                      f"precondition: {rv}, ResourceVersion in meta: {m.get('resourceVersion')}")
            status = pod.setdefault("status", {})
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
            conditions.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": meta.now_rfc3339(), "reason": "EvictionByEvictionAPI",
                               "message": "Eviction API: evicting"})
            status["conditions"] = conditions
            return pod

        updated, _ = await objects.update(pods, namespace, name, add_condition, WriteContext(user=ctx.user),
                                          subresource="status")
        if opts.precondition_resource_version:
            # Our own write moved the resourceVersion on; the delete must expect the new one.
            opts = replace(opts, precondition_resource_version=updated["metadata"].get("resourceVersion"))
    await deletion.delete(objects, pods, namespace, name, opts, ctx)
