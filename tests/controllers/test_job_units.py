"""The Job controller's pure pieces: index sets, the pod failure policy, the failure backoff,
and the status shape it writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kybernetes.controllers.job_backoff import BackoffRecord, BackoffStore, finished_time, remaining
from kybernetes.controllers.job_failure_policy import FAIL_INDEX, FAIL_JOB, IGNORE, match_pod_failure_policy
from kybernetes.controllers.job_indexes import (
    COMPLETION_INDEX,
    Indexes,
    duplicated_index_pods,
    first_pending_indexes,
    generate_name_with_index,
)
from kybernetes.controllers.job_state import clean_uncounted, serialised_status

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("text, completions, parsed", [
    ("", 10, ""),
    ("1,3-5", 10, "1,3-5"),
    ("3,4", 10, "3,4"),
    ("1-3,4-6", 10, "1-6"),
    ("0-9", 5, "0-4"),
    ("2,x,7", 10, "2,7"),
    ("8,9", 5, ""),
])
def test_indexes_parse_and_format(text, completions, parsed):
    assert str(Indexes.parse(text, completions)) == parsed


def test_indexes_merge_count_and_membership():
    indexes = Indexes.parse("1,3-5", 10).with_indexes([2, 9, 4])
    assert str(indexes) == "1-5,9"
    assert indexes.total() == 6
    assert [i for i in range(11) if indexes.has(i)] == [1, 2, 3, 4, 5, 9]
    assert str(Indexes.parse("0", 10).with_indexes([1])) == "0,1"


def test_first_pending_indexes_skips_done_and_running():
    assert first_pending_indexes(3, 10, Indexes.parse("0,2-4", 10)) == [1, 5, 6]
    assert first_pending_indexes(5, 3, Indexes.parse("1", 3)) == [0, 2]
    assert first_pending_indexes(0, 3, Indexes()) == []


def pod(name, index=None, **extra):
    meta = {"name": name, "uid": name}
    if index is not None:
        meta["annotations"] = {COMPLETION_INDEX: str(index)}
    return {"metadata": meta, "status": extra.get("status", {}), "spec": {}}


def test_duplicated_and_invalid_index_pods_are_removed():
    pods = [pod("a", 0), pod("b", 0), pod("c", 1), pod("d"), pod("e", 7)]
    remove, keep = duplicated_index_pods(pods, 3, order_key=lambda p: p["metadata"]["name"])
    assert sorted(p["metadata"]["name"] for p in remove) == ["a", "d", "e"]
    assert [p["metadata"]["name"] for p in keep] == ["b", "c"]


def test_generate_name_with_index_fits_63_characters():
    assert generate_name_with_index("pi", 3) == "pi-3-"
    name = generate_name_with_index("x" * 70, 12)
    assert len(name) == 58 and name.endswith("-12-")


def failed_pod(exit_code=1, container="work", conditions=()):
    return {"metadata": {"name": "p", "namespace": "ns"}, "status": {
        "phase": "Failed", "conditions": list(conditions),
        "containerStatuses": [{"name": container, "state": {"terminated": {"exitCode": exit_code}}}]}}


def test_failure_policy_rules_in_order():
    policy = {"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
        {"action": "FailIndex", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}},
    ]}
    assert match_pod_failure_policy(policy, failed_pod(conditions=[{"type": "DisruptionTarget", "status": "True"}]
                                                        )).action == IGNORE
    assert not match_pod_failure_policy(policy, failed_pod(conditions=[
        {"type": "DisruptionTarget", "status": "True"}])).counts
    match = match_pod_failure_policy(policy, failed_pod(42, "main"))
    assert match.action == FAIL_JOB and match.counts
    assert match.fail_job_message == "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1"
    assert match_pod_failure_policy(policy, failed_pod(42, "sidecar")).action == FAIL_INDEX
    assert match_pod_failure_policy(policy, failed_pod(2)).action is None
    assert match_pod_failure_policy(None, failed_pod(2)).counts


def test_failure_policy_on_pod_condition_message():
    policy = {"rules": [{"action": "FailJob", "onPodConditions": [{"type": "ConfigIssue", "status": "True"}]}]}
    match = match_pod_failure_policy(policy, failed_pod(conditions=[{"type": "ConfigIssue", "status": "True"}]))
    assert match.fail_job_message == "Pod ns/p has condition ConfigIssue matching FailJob rule at index 0"


def test_exit_code_zero_never_matches():
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [5]}}]}
    assert match_pod_failure_policy(policy, failed_pod(0)).action is None


def finished(moment, phase="Failed"):
    return {"metadata": {"creationTimestamp": stamp(T0 - timedelta(hours=1))}, "status": {
        "phase": phase, "containerStatuses": [{"name": "c", "state": {"terminated": {"finishedAt": stamp(moment)}}}]}}


def test_backoff_doubles_from_ten_seconds_to_six_minutes():
    waits = [remaining(BackoffRecord(n, T0), T0) for n in range(1, 9)]
    assert waits == [10, 20, 40, 80, 160, 320, 360, 360]
    assert remaining(BackoffRecord(2, T0), T0 + timedelta(seconds=15)) == 5
    assert remaining(BackoffRecord(0, None), T0) == 0


def test_backoff_record_counts_failures_after_the_last_success():
    store = BackoffStore()
    record = store.new_record("k", [], [finished(T0), finished(T0 + timedelta(seconds=5))])
    assert record == BackoffRecord(2, T0 + timedelta(seconds=5))
    store.update("k", record)
    record = store.new_record("k", [finished(T0 + timedelta(seconds=10), "Succeeded")],
                              [finished(T0 + timedelta(seconds=20))])
    assert record == BackoffRecord(1, T0 + timedelta(seconds=20))
    assert store.new_record("k", [finished(T0, "Succeeded")], []) == BackoffRecord()


def test_finished_time_falls_back_to_ready_condition_then_deletion_then_creation():
    ready_false = {"metadata": {}, "status": {"conditions": [
        {"type": "Ready", "status": "False", "lastTransitionTime": stamp(T0)}]}}
    assert finished_time(ready_false) == T0
    deleted = {"metadata": {"deletionTimestamp": stamp(T0), "deletionGracePeriodSeconds": 30}, "status": {}}
    assert finished_time(deleted) == T0 - timedelta(seconds=30)
    assert finished_time({"metadata": {"creationTimestamp": stamp(T0)}, "status": {}}) == T0


def test_status_shape_and_uncounted_bookkeeping():
    status = {"active": 0, "succeeded": 2, "uncountedTerminatedPods": {"succeeded": ["a", "b"], "failed": ["c"]}}
    assert clean_uncounted(status, {"b"})
    assert status["succeeded"] == 3 and status["failed"] == 1
    assert status["uncountedTerminatedPods"] == {"succeeded": ["b"], "failed": []}
    assert serialised_status(status) == {"succeeded": 3, "failed": 1, "ready": 0, "terminating": 0,
                                         "uncountedTerminatedPods": {"succeeded": ["b"]}}
    assert not clean_uncounted(status, {"b"})
