"""Deployment helpers: template hash, fenceposts and their rounding, revision annotations,
conditions, proportional scaling shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kybernetes.controllers import deployment_util as du
from kybernetes.controllers.deployment_sync import _fraction, _proportion

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def dep(replicas=10, surge="25%", unavailable="25%", strategy="RollingUpdate", **spec):
    strat = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "web", "generation": 1, "annotations": {}},
            "spec": {"replicas": replicas, "strategy": strat, "template": TEMPLATE, **spec}}


def test_fnv32a_and_safe_encoding_are_kubernetes_ones():
    assert du.fnv32a(b"") == 0x811C9DC5
    assert du.fnv32a(b"a") == 0xE40C292C  # the published FNV-1a test vector
    assert du.safe_encode("0123456789") == "456789bcdf"  # byte % 27 into the consonant alphabet
    h = du.template_hash(TEMPLATE)
    assert h == du.template_hash({**TEMPLATE}) and 1 <= len(h) <= 10
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert du.template_hash(TEMPLATE, 1) != h  # a collision count changes the hash
    other = {**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    assert du.template_hash(other) != h


def test_equal_ignore_hash_ignores_the_hash_label_and_empty_fields():
    with_hash = {"metadata": {"labels": {"app": "web", du.HASH_LABEL: "abc"}}, "spec": TEMPLATE["spec"]}
    assert du.equal_ignore_hash(with_hash, TEMPLATE)
    assert du.equal_ignore_hash({**TEMPLATE, "metadata": {**TEMPLATE["metadata"], "annotations": {}}}, TEMPLATE)
    changed = {"metadata": {"labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "x"}},
               "spec": TEMPLATE["spec"]}
    assert not du.equal_ignore_hash(changed, TEMPLATE)


@pytest.mark.parametrize(("replicas", "surge", "unavailable", "want"), [
    (10, "25%", "25%", (3, 2)),  # surge rounds up (2.5 -> 3), unavailable down (2.5 -> 2)
    (4, "25%", "25%", (1, 1)),
    (1, "25%", "25%", (1, 0)),
    (3, 0, 0, (0, 1)),  # both zero would never progress: unavailable becomes 1
    (5, 2, "50%", (2, 2)),
])
def test_fenceposts(replicas, surge, unavailable, want):
    assert du.resolve_fenceposts(dep(replicas, surge, unavailable)) == want


def test_max_surge_and_unavailable_only_for_rolling_updates():
    assert du.max_surge(dep(strategy="Recreate")) == 0
    assert du.max_unavailable(dep(strategy="Recreate")) == 0
    assert du.max_unavailable(dep(replicas=0)) == 0
    assert du.max_unavailable(dep(replicas=2, unavailable=5)) == 2  # never more than replicas
    with pytest.raises(ValueError, match="IntOrString"):
        du.scaled_value("lots", 3, True)


def test_new_rs_annotations_bump_revision_and_keep_history():
    d = dep()
    d["metadata"]["annotations"] = {"team": "a", du.REVISION: "9", du.LAST_APPLIED: "{}"}
    rs = {"metadata": {"annotations": {du.REVISION: "1"}}}
    assert du.set_new_rs_annotations(d, rs, "3", exists=True)
    ann = rs["metadata"]["annotations"]
    assert ann == {"team": "a", du.REVISION: "3", du.REVISION_HISTORY: "1"}
    assert du.set_new_rs_annotations(d, rs, "5", exists=True)
    assert ann[du.REVISION_HISTORY] == "1,3"
    assert not du.set_new_rs_annotations(d, rs, "5", exists=True)  # nothing new
    fresh = {"metadata": {}}
    du.set_new_rs_annotations(d, fresh, "1", exists=False)
    assert fresh["metadata"]["annotations"][du.DESIRED_REPLICAS] == "10"
    assert fresh["metadata"]["annotations"][du.MAX_REPLICAS] == "13"


def test_set_condition_keeps_transition_time_unless_status_changes():
    status: dict = {}
    du.set_condition(status, du.new_condition("Progressing", "True", du.NEW_RS_CREATED, "m", NOW))
    later = NOW + timedelta(minutes=1)
    du.set_condition(status, du.new_condition("Progressing", "True", du.RS_UPDATED, "m2", later))
    [cond] = status["conditions"]
    assert cond["reason"] == du.RS_UPDATED and cond["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert cond["lastUpdateTime"] == "2026-01-01T00:01:00Z"
    du.set_condition(status, du.new_condition("Progressing", "False", du.TIMED_OUT, "m3", later))
    assert status["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:01:00Z"


def test_timed_out_after_the_progress_deadline():
    d = dep(progressDeadlineSeconds=60)
    status = {"conditions": [du.new_condition("Progressing", "True", du.RS_UPDATED, "m", NOW)]}
    assert not du.deployment_timed_out(d, status, NOW + timedelta(seconds=60))
    assert du.deployment_timed_out(d, status, NOW + timedelta(seconds=61))
    d["spec"]["progressDeadlineSeconds"] = du.MAX_INT32
    assert not du.deployment_timed_out(d, status, NOW + timedelta(days=999))


def test_proportions_when_scaling_mid_rollout():
    d = dep(replicas=20, surge=3, unavailable=0)
    old = {"metadata": {"name": "old", "annotations": {du.MAX_REPLICAS: "13"}}, "spec": {"replicas": 10}}
    new = {"metadata": {"name": "new", "annotations": {du.MAX_REPLICAS: "13"}}, "spec": {"replicas": 3}}
    assert _fraction(old, d) == 8  # 10 * 23 / 13 = 17.7 -> 18
    assert _proportion(old, d, 10, 0) == 8
    assert _proportion(new, d, 10, 8) == 2  # capped by what is left to add
    assert _fraction(old, dep(replicas=0)) == -10


def test_complete_and_progressing():
    d = dep(replicas=2)
    assert du.deployment_complete(d, {"updatedReplicas": 2, "replicas": 2, "availableReplicas": 2,
                                      "observedGeneration": 1})
    assert not du.deployment_complete(d, {"updatedReplicas": 2, "replicas": 3, "availableReplicas": 2,
                                          "observedGeneration": 1})
    d["status"] = {"replicas": 3, "updatedReplicas": 1}
    assert du.deployment_progressing(d, {"replicas": 3, "updatedReplicas": 2})
    assert not du.deployment_progressing(d, {"replicas": 3, "updatedReplicas": 1})
