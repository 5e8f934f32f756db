"""Garbage in must give causes (or defaults), never a traceback, for every built-in kind."""

import itertools

import pytest

from kybernetes.api.builtin_kinds import BUILTIN_RESOURCES
from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation import validate_create, validate_update

GARBAGE = [None, 5, "x", [], [1], {"a": None}, {"name": 3}, True, -1, 1.5]
FIELDS = ["metadata", "spec", "data", "status", "type", "subsets", "ports", "webhooks", "subjects"]
SPEC_FIELDS = ["containers", "template", "selector", "ports", "replicas", "strategy", "updateStrategy",
               "jobTemplate", "schedule", "names", "taints", "finalizers", "volumes", "rollingUpdate"]


def objects():
    yield {}
    for field, value in itertools.product(FIELDS, GARBAGE):
        yield {field: value}
    for field, value in itertools.product(SPEC_FIELDS, GARBAGE):
        yield {"metadata": {"name": "a", "namespace": "d"}, "spec": {field: value}}
    yield {"metadata": {"name": 5, "namespace": ["x"], "labels": {"a": 1}, "annotations": {"k": None},
                        "generateName": 7, "finalizers": "x", "ownerReferences": [None]}}
    yield {"metadata": {"name": "a"}, "spec": {"containers": [None, 1, {"name": 1, "image": 2, "ports": [None],
                                                                      "resources": {"limits": {"cpu": None}}}]}}


@pytest.mark.parametrize("info", BUILTIN_RESOURCES, ids=lambda i: f"{i.group}/{i.version}/{i.resource}")
def test_no_crash(info):
    for obj in objects():
        apply_defaults(info, obj)
        for cause in validate_create(info, obj):
            assert cause.reason.startswith("FieldValue")
        validate_update(info, obj, {"metadata": {"name": "a"}})
