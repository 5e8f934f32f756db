"""Custom resource tables from additionalPrinterColumns, following apiextensions-apiserver's
tableconvertor (pkg/registry/customresource/tableconvertor)."""

import datetime as dt

import pytest

from kybernetes.api.tables import custom_resource_cells, custom_resource_columns
from kybernetes.api.tables.custom import evaluate, go_text
from kybernetes.api.tables.quantity_text import canonical_quantity

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)

PRINTER_COLUMNS = [
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas", "description": "Wanted replicas"},
    {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "priority": 1},
    {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
    {"name": "Labels", "type": "string", "jsonPath": ".spec.selector"},
    {"name": "First", "type": "string", "jsonPath": ".spec.hosts[0]"},
    {"name": "Started", "type": "date", "jsonPath": ".status.startedAt", "format": "date-time"},
    {"name": "Missing", "type": "string", "jsonPath": ".status.nothing"},
]

WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w1", "creationTimestamp": "2024-05-01T11:00:00Z"},
    "spec": {"replicas": 3, "ratio": 1, "paused": False, "selector": {"b": 2, "a": "x"}, "hosts": ["h1", "h2"]},
    "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}],
               "startedAt": "2024-05-01T11:30:00Z"},
}


def test_columns_follow_the_crd():
    columns = custom_resource_columns(PRINTER_COLUMNS)
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in columns] == [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Replicas", "integer", "", 0),
        ("Ratio", "number", "", 1),
        ("Paused", "boolean", "", 0),
        ("Labels", "string", "", 0),
        ("First", "string", "", 0),
        ("Started", "date", "date-time", 0),
        ("Missing", "string", "", 0),
    ]
    assert columns[2]["description"] == "Wanted replicas"
    assert ".status.conditions" in columns[1]["description"]


def test_cells_follow_the_column_types():
    assert custom_resource_cells(PRINTER_COLUMNS, WIDGET, NOW) == [
        "w1", "True", 3, 1.0, False, "map[a:x b:2]", "h1", "30m", None,
    ]


def test_typed_cells_reject_values_of_the_wrong_type():
    columns = [{"name": "N", "type": "integer", "jsonPath": ".spec.hosts"},
               {"name": "D", "type": "date", "jsonPath": ".spec.replicas"},
               {"name": "Bad", "type": "date", "jsonPath": ".spec.when"}]
    obj = {"metadata": {"name": "w"}, "spec": {"hosts": ["a"], "replicas": 2, "when": "not a date"}}
    assert custom_resource_cells(columns, obj, NOW) == ["w", None, None, "<invalid>"]


def test_no_printer_columns_means_name_and_age():
    columns = custom_resource_columns(None)
    assert [(c["name"], c["type"]) for c in columns] == [("Name", "string"), ("Age", "date")]
    assert custom_resource_cells([], WIDGET, NOW) == ["w1", "60m"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.hosts[*]", ["h1", "h2"]),
        (".spec.hosts[-1]", ["h2"]),
        ("{.spec['replicas']}", [3]),
        ("$.metadata.name", ["w1"]),
        ('.status.conditions[?(@.status!="True")].type', ["Synced"]),
        (".status.conditions[?(@.type)].type", ["Synced", "Ready"]),
        (".spec.hosts[7]", []),
        ("..name", []),  # recursive descent is not supported: no value rather than an error
        (".spec[", []),
    ],
)
def test_jsonpath_subset(path, expected):
    assert evaluate(path, WIDGET) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "<nil>"), (True, "true"), (3, "3"), (2.5, "2.5"), (3.0, "3"), (1e6, "1e+06"), (123456.0, "123456"),
     (0.00001, "1e-05"), ([1, "a", {"k": None}], "[1 a map[k:<nil>]]")],
)
def test_go_text_prints_like_fmt(value, expected):
    assert go_text(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1Gi", "1Gi"), ("1.5Gi", "1536Mi"), ("1024Mi", "1Gi"), ("2000m", "2"), ("1000", "1k"), ("1500", "1500"),
     ("0.5", "500m"), ("0", "0"), ("100Mi", "100Mi"), ("512", "512"), ("1e3", "1e3"), ("-1500m", "-1500m"),
     (5, "5"), ("lots", "lots"), (None, "<nil>")],
)
def test_quantities_print_canonically(text, expected):
    assert canonical_quantity(text) == expected
