"""Every printer must survive minimal and malformed objects: a stored object with a list where a
map belongs must not break `kubectl get` for the whole list."""

import datetime as dt

import pytest

from kybernetes.api import tables
from kybernetes.api.tables import table_cells, table_columns

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)

ODD_OBJECTS = [
    {},
    {"metadata": None, "spec": None, "status": None},
    {"metadata": [], "spec": "x", "status": 7},
    {
        "metadata": {"name": 5, "creationTimestamp": "yesterday", "labels": ["a"], "annotations": "x",
                     "ownerReferences": [None, {"controller": True}], "deletionTimestamp": 3},
        "spec": {"containers": "x", "initContainers": [None, 1], "ports": [1, None, {"port": "80"}], "selector": [],
                 "template": 5, "metrics": [{"type": "Resource"}, {"type": "External", "external": {}}, None],
                 "rules": [None, 3], "tls": {}, "capacity": [], "accessModes": "RWO", "claimRef": "x",
                 "replicas": "3", "completions": "2", "podSelector": "x", "parameters": [],
                 "jobTemplate": [], "readinessGates": [None], "paramRef": {"selector": {"matchExpressions": [1]}}},
        "status": {"conditions": [None, 5, {"type": None}], "containerStatuses": [None, {"state": []}],
                   "initContainerStatuses": [{"state": {"terminated": []}}], "loadBalancer": {"ingress": [None]},
                   "hard": {"cpu": "lots"}, "used": None, "podIPs": [None], "addresses": [5]},
        "subsets": [None, {"addresses": [None], "ports": [None]}],
        "endpoints": [None, {"addresses": [None]}],
        "webhooks": "x",
        "data": [],
    },
]


@pytest.mark.parametrize("key", sorted(tables._REGISTRY), ids=lambda k: f"{k[0] or 'core'}/{k[1]}")
def test_odd_objects_give_full_rows(key):
    width = len(table_columns(*key))
    for obj in ODD_OBJECTS:
        assert len(table_cells(*key, obj, NOW)) == width


def test_non_dict_objects_fall_back_to_empty():
    assert table_cells("", "configmaps", None, NOW) == ["", 0, "<unknown>"]
    assert table_cells("x.io", "things", "nonsense", NOW) == ["", "0001-01-01T00:00:00Z"]


def test_resource_names_are_matched_case_insensitively():
    assert table_columns("apps", "Deployments") == table_columns("apps", "deployments")
