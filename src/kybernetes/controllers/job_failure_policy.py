"""spec.podFailurePolicy: what a failed pod means for its Job.

Rules are tried in order; the first that matches the failed pod decides:

    onExitCodes {containerName?, operator In|NotIn, values}   a terminated container's non-zero code
    onPodConditions [{type, status}]                          e.g. DisruptionTarget=True (evicted)

    FailJob    fail the whole Job now (reason PodFailurePolicy, the message names pod and rule)
    FailIndex  fail just this index (Indexed Jobs with backoffLimitPerIndex)
    Ignore     do not count the failure towards backoffLimit; the pod is simply replaced
    Count      count it, as if no rule matched
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

FAIL_JOB = "FailJob"
FAIL_INDEX = "FailIndex"
IGNORE = "Ignore"
COUNT = "Count"


@dataclass(frozen=True)
class PolicyMatch:
    action: str | None  # None: no rule matched
    counts: bool  # whether the failure counts towards the backoff limits
    fail_job_message: str | None = None


NO_MATCH = PolicyMatch(None, True)


def match_pod_failure_policy(policy: Obj | None, pod: Obj) -> PolicyMatch:
    if not isinstance(policy, dict):
        return NO_MATCH
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    for index, rule in enumerate(policy.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        action = rule.get("action")
        on_codes = rule.get("onExitCodes")
        if isinstance(on_codes, dict):
            container = _matching_container(status, on_codes)
            if container is None:
                continue
            message = (f"Container {container.get('name')} for pod {meta.get('namespace')}/{meta.get('name')} "
                       f"failed with exit code {_exit_code(container)} matching {action} rule at index {index}")
        elif isinstance(rule.get("onPodConditions"), list):
            condition = _matching_condition(status, rule["onPodConditions"])
            if condition is None:
                continue
            message = (f"Pod {meta.get('namespace')}/{meta.get('name')} has condition {condition.get('type')} "
                       f"matching {action} rule at index {index}")
        else:
            continue
        if action == IGNORE:
            return PolicyMatch(IGNORE, False)
        if action == FAIL_INDEX:
            return PolicyMatch(FAIL_INDEX, True)
        if action == COUNT:
            return PolicyMatch(COUNT, True)
        if action == FAIL_JOB:
            return PolicyMatch(FAIL_JOB, True, message)
        # An action this version does not know: the rule is skipped, as Kubernetes does.
    return NO_MATCH


def _exit_code(container: Obj) -> int:
    return int((((container.get("state") or {}).get("terminated")) or {}).get("exitCode") or 0)


def _matching_container(status: Obj, requirement: Obj) -> Obj | None:
    for key in ("containerStatuses", "initContainerStatuses"):
        for container in status.get(key) or []:
            if not isinstance(container, dict):
                continue
            terminated = (container.get("state") or {}).get("terminated")
            if not isinstance(terminated, dict):
                continue  # still running or terminating: no exit code to match yet
            name = requirement.get("containerName")
            if name and name != container.get("name"):
                continue
            code = _exit_code(container)
            if code != 0 and _operator_matches(code, requirement):
                return container
    return None


def _operator_matches(code: int, requirement: Obj) -> bool:
    values = requirement.get("values") or []
    operator = requirement.get("operator")
    if operator == "In":
        return code in values
    if operator == "NotIn":
        return code not in values
    return False


def _matching_condition(status: Obj, patterns: list[Any]) -> Obj | None:
    for condition in status.get("conditions") or []:
        if not isinstance(condition, dict):
            continue
        for pattern in patterns:
            if (isinstance(pattern, dict) and condition.get("type") == pattern.get("type")
                    and condition.get("status") == pattern.get("status", "True")):
                return condition
    return None
