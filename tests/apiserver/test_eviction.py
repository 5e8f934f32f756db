"""pods/{name}/eviction: graceful deletes that spend PodDisruptionBudgets (kubectl drain)."""

from __future__ import annotations

import pytest

from kybernetes.apiserver.eviction import check_and_decrement

PODS = "/api/v1/namespaces/default/pods"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"


def eviction(name: str, **delete_options) -> dict:
    body: dict = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}
    if delete_options:
        body["deleteOptions"] = delete_options
    return body


async def make_pod(api, name: str, *, phase: str = "Running", ready: bool = True, node: str = "n1",
                   labels: dict | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    status, pod = await api.post(PODS, json={"metadata": {"name": name, "labels": labels or {"app": "web"}},
                                             "spec": spec})
    assert status == 201, pod
    if phase != "Pending":
        pod["status"] = {"phase": phase, "conditions": [
            {"type": "Ready", "status": "True" if ready else "False"}]}
        status, pod = await api.put(f"{PODS}/{name}/status", json=pod)
        assert status == 200, pod
    return pod


async def make_pdb(api, name: str = "budget", status: dict | None = None, selector: dict | None = None,
                   **spec) -> dict:
    spec.setdefault("minAvailable", 1)
    spec["selector"] = selector if selector is not None else {"matchLabels": {"app": "web"}}
    code, pdb = await api.post(PDBS, json={"metadata": {"name": name}, "spec": spec})
    assert code == 201, pdb
    if status is not None:
        pdb["status"] = {"observedGeneration": pdb["metadata"]["generation"], "currentHealthy": 1,
                         "desiredHealthy": 1, "expectedPods": 1, **status}
        code, pdb = await api.put(f"{PDBS}/{name}/status", json=pdb)
        assert code == 200, pdb
    return pdb


async def evict(api, name: str, body: dict | None = None, **kw):
    return await api.post(f"{PODS}/{name}/eviction", json=body or eviction(name), **kw)


async def test_evicting_a_pod_without_budget_deletes_it_gracefully(api):
    await make_pod(api, "p1")
    status, body = await evict(api, "p1")
    assert status == 201, body
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    status, pod = await api.get(f"{PODS}/p1")
    assert status == 200 and pod["metadata"]["deletionTimestamp"]  # bound pod: graceful
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 30
    target = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert target and target[0]["reason"] == "EvictionByEvictionAPI" and target[0]["status"] == "True"


async def test_delete_options_in_the_eviction_are_honoured(api):
    pod = await make_pod(api, "p1")
    status, body = await evict(api, "p1", eviction("p1", preconditions={"uid": "someone-else"}))
    assert status == 409, body
    status, _ = await evict(api, "p1", eviction("p1", gracePeriodSeconds=0,
                                                preconditions={"uid": pod["metadata"]["uid"]}))
    assert status == 201
    assert (await api.get(f"{PODS}/p1"))[0] == 404


async def test_pending_pod_is_deleted_without_consulting_the_budget(api):
    await make_pod(api, "p1", phase="Pending", node="")
    await make_pdb(api, status={"disruptionsAllowed": 0})
    status, _ = await evict(api, "p1")
    assert status == 201
    assert (await api.get(f"{PODS}/p1"))[0] == 404


async def test_budget_without_status_refuses_with_429(api):
    await make_pod(api, "p1")
    await make_pdb(api)  # the disruption controller has not computed a status yet
    status, body = await evict(api, "p1")
    assert status == 429, body
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"] == [{"reason": "DisruptionBudget", "message":
                                          "The disruption budget budget is still being processed by the server."}]
    assert body["details"]["retryAfterSeconds"] == 10
    status, pod = await api.get(f"{PODS}/p1")
    assert status == 200 and "deletionTimestamp" not in pod["metadata"]


async def test_exhausted_budget_refuses_with_429(api):
    await make_pod(api, "p1")
    await make_pdb(api, status={"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1})
    status, body = await evict(api, "p1")
    assert status == 429
    assert body["details"]["causes"][0] == {"reason": "DisruptionBudget", "message":
                                            "The disruption budget budget needs 1 healthy pods and has 1 currently"}


async def test_eviction_spends_the_budget(api):
    await make_pod(api, "p1")
    await make_pod(api, "p2")
    await make_pdb(api, status={"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1,
                                "expectedPods": 2})
    status, body = await evict(api, "p1")
    assert status == 201, body
    _, pdb = await api.get(f"{PDBS}/budget")
    assert pdb["status"]["disruptionsAllowed"] == 0
    assert list(pdb["status"]["disruptedPods"]) == ["p1"]
    allowed = [c for c in pdb["status"]["conditions"] if c["type"] == "DisruptionAllowed"]
    assert allowed[0]["status"] == "False" and allowed[0]["reason"] == "InsufficientPods"
    # The next one must wait for the disruption controller.
    status, body = await evict(api, "p2")
    assert status == 429


async def test_unready_pod_with_a_healthy_budget_is_evicted_without_spending_it(api):
    await make_pod(api, "sick", ready=False)
    await make_pdb(api, status={"disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2})
    status, body = await evict(api, "sick")
    assert status == 201, body
    _, pdb = await api.get(f"{PDBS}/budget")
    assert pdb["status"]["disruptionsAllowed"] == 0 and not pdb["status"].get("disruptedPods")


async def test_unhealthy_pod_eviction_policy_always_allow(api):
    await make_pod(api, "sick", ready=False)
    await make_pdb(api, status={"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 1},
                   unhealthyPodEvictionPolicy="AlwaysAllow")
    assert (await evict(api, "sick"))[0] == 201


async def test_budgets_that_do_not_select_the_pod_are_ignored(api):
    await make_pod(api, "p1")
    await make_pdb(api, "other", selector={"matchLabels": {"app": "db"}}, status={"disruptionsAllowed": 0})
    await make_pdb(api, "empty", selector={}, status={"disruptionsAllowed": 0})
    assert (await evict(api, "p1"))[0] == 201


async def test_two_budgets_for_one_pod_is_an_error(api):
    await make_pod(api, "p1")
    await make_pdb(api, "a", status={"disruptionsAllowed": 1})
    await make_pdb(api, "b", status={"disruptionsAllowed": 1})
    status, body = await evict(api, "p1")
    assert status == 500
    assert body["message"] == ("This pod has more than one PodDisruptionBudget, which the eviction "
                               "subresource does not support.")


async def test_dry_run_eviction_changes_nothing(api):
    await make_pod(api, "p1")
    await make_pdb(api, status={"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1})
    before = await api.store.list("/registry/")
    status, body = await evict(api, "p1", params={"dryRun": "All"})
    assert status == 201, body
    status, body = await evict(api, "p1", eviction("p1", dryRun=["All"]))
    assert status == 201, body
    after = await api.store.list("/registry/")
    assert [(kv.key, kv.mod_revision) for kv in after.items] == [(kv.key, kv.mod_revision) for kv in before.items]
    # The checks still run on a dry run.
    await api.put(f"{PDBS}/budget/status", json={**(await api.get(f"{PDBS}/budget"))[1],
                                                 "status": {"observedGeneration": 1, "disruptionsAllowed": 0}})
    status, _ = await evict(api, "p1", params={"dryRun": "All"})
    assert status == 429


@pytest.mark.parametrize("body,params,text", [
    (eviction("other"), None, "name in URL does not match name in Eviction object"),
    ({"apiVersion": "v1", "kind": "Eviction", "metadata": {"name": "p1"}}, None, "API version"),
    ({"kind": "Pod", "metadata": {"name": "p1"}}, None, "kind"),
    (eviction("p1", dryRun=["All"]), {"dryRun": "All", "x": "1"}, None),
    (eviction("p1", dryRun=["Some"]), None, "dry run"),
    (eviction("p1", propagationPolicy="Sideways"), None, "propagationPolicy"),
])
async def test_bad_evictions_are_400(api, body, params, text):
    await make_pod(api, "p1")
    status, answer = await evict(api, "p1", body, params=params)
    if text is None:  # agreeing dry-run options are fine
        assert status == 201
        return
    assert status == 400, answer
    assert answer["reason"] == "BadRequest" and text in answer["message"]


async def test_mismatched_dry_run_options_are_400(api):
    await make_pod(api, "p1")
    status, body = await api.post(f"{PODS}/p1/eviction", json=eviction("p1", dryRun=[]),
                                  params={"dryRun": "All"})
    assert status == 201  # an empty list in the body takes the query's
    status, body = await api.request("POST", f"{PODS}/p1/eviction?dryRun=All&dryRun=All",
                                     json=eviction("p1", dryRun=["All"]))
    assert status == 400 and "Non-matching dry-run options" in body["message"]


async def test_evicting_a_missing_pod_is_404(api):
    status, body = await evict(api, "ghost")
    assert status == 404 and body["message"] == 'pods "ghost" not found'


def test_check_and_decrement_refuses_negative_budgets():
    pdb = {"metadata": {"name": "b", "generation": 1},
           "status": {"observedGeneration": 1, "disruptionsAllowed": -1}}
    with pytest.raises(Exception) as info:
        check_and_decrement(pdb, "p")
    assert info.value.code == 403 and "pdb disruptions allowed is negative" in info.value.message
    pdb["status"]["disruptionsAllowed"] = 2
    new = check_and_decrement(pdb, "p")
    assert new["status"]["disruptionsAllowed"] == 1 and "p" in new["status"]["disruptedPods"]
    assert "conditions" not in new["status"] and pdb["status"]["disruptionsAllowed"] == 2
