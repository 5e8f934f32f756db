"""Strategic merge patch against the behaviour of kube-apiserver.

The cases are read off apimachinery's own fixtures (pkg/util/strategicpatch/patch_test.go): each
gives a live object, the patch the server receives and the object the server makes of it. The
schema below mirrors that file's ``MergeItem`` Go type and its struct tags (patchStrategy and
patchMergeKey), written as the OpenAPI extensions the published schemas carry. Case names are
the fixtures' descriptions; "custom" names the customStrategicMergePatchTestCaseData table,
"create" createStrategicMergePatchTestCaseData (three-way patch on current -> result) and "raw"
strategicMergePatchRawTestCases / customStrategicMergePatchRawTestCases.
"""

from __future__ import annotations

import pytest
import yaml

from kybernetes.api.errors import ApiError
from kybernetes.api.strategic_merge import PatchSchema, apply_strategic_merge_patch


def _ref(name: str) -> dict:
    return {"$ref": f"#/definitions/{name}"}


def _merging(items: dict, key: str | None = None, strategy: str = "merge") -> dict:
    prop = {"type": "array", "items": items, "x-kubernetes-patch-strategy": strategy}
    if key:
        prop["x-kubernetes-patch-merge-key"] = key
    return prop


DEFINITIONS = {
    "test.MergeItem": {"type": "object", "properties": {
        "name": {"type": "string"}, "value": {"type": "string"}, "other": {"type": "string"},
        "mergingList": _merging(_ref("test.MergeItem"), "name"),
        "nonMergingList": {"type": "array", "items": _ref("test.MergeItem")},
        "mergingIntList": _merging({"type": "integer"}),
        "nonMergingIntList": {"type": "array", "items": {"type": "integer"}},
        "mergeItemPtr": _merging(_ref("test.MergeItem"), "name"),
        "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
        "replacingItem": {"type": "object", "x-kubernetes-patch-strategy": "replace"},
        # The ref-with-siblings spelling the normalized OpenAPI documents use.
        "retainKeysMap": {"allOf": [_ref("test.RetainKeysMergeItem")], "x-kubernetes-patch-strategy": "retainKeys"},
        "retainKeysMergingList": _merging(_ref("test.MergeItem"), "name", "merge,retainKeys"),
    }},
    "test.RetainKeysMergeItem": {"type": "object", "properties": {
        "name": {"type": "string"}, "value": {"type": "string"}, "other": {"type": "string"},
        "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
        "mergingIntList": _merging({"type": "integer"}),
        "mergingList": _merging(_ref("test.MergeItem"), "name"),
        "nonMergingList": {"type": "array", "items": _ref("test.MergeItem")},
    }},
}
SCHEMA = PatchSchema(DEFINITIONS["test.MergeItem"], DEFINITIONS.get)

# (fixture, live object, patch, expected result), all YAML as in the fixtures.
CASES = [
    ("custom: unique scalars when merging lists",
     "mergingIntList: [1, 2]", "mergingIntList: [2, 3]", "mergingIntList: [1, 2, 3]"),
    ("custom: delete map from nested map",
     "simpleMap: {key1: 1, key2: 1}", "simpleMap: {$patch: delete}", "simpleMap: {}"),
    ("custom: delete all items from merging list",
     "mergingList: [{name: 1}, {name: 2}]", "mergingList: [{$patch: replace}]", "mergingList: []"),
    ("custom: merge empty merging lists", "mergingList: []", "mergingList: []", "mergingList: []"),
    ("custom: delete all keys from map", "{name: 1, value: 1}", "{$patch: replace}", "{}"),
    ("custom: add key and delete all keys from map",
     "{name: 1, value: 1}", "{other: a, $patch: replace}", "{other: a}"),
    ("custom: delete all duplicate entries in a merging list",
     "mergingList: [{name: 1}, {name: 1}, {name: 2, value: a}, {name: 3}, {name: 3}]",
     "mergingList: [{name: 1, $patch: delete}, {name: 3, $patch: delete}]",
     "mergingList: [{name: 2, value: a}]"),
    ("custom: retainKeys map can delete a field when no retainKeys directive present",
     "retainKeysMap: {name: foo, value: a}", "retainKeysMap: {value: null}", "retainKeysMap: {name: foo}"),
    ("custom: retainKeys map merge an empty map",
     "retainKeysMap: {name: foo, value: a}", "retainKeysMap: {}", "retainKeysMap: {name: foo, value: a}"),
    ("custom: retainKeys list can change a field when no retainKeys directive present",
     "retainKeysMergingList: [{name: bar}, {name: foo, value: a}]",
     "retainKeysMergingList: [{name: foo, value: b}]",
     "retainKeysMergingList: [{name: bar}, {name: foo, value: b}]"),
    ("custom: preserve the order from the patch in a merging list",
     "mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]",
     "mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, other: x}]",
     "mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, value: b, other: x}]"),
    ("custom: preserve the order from the patch in a merging list 2",
     "mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]",
     "mergingList: [{name: 3, value: c}, {name: 1, value: a}]",
     "mergingList: [{name: 2, value: b}, {name: 3, value: c}, {name: 1, value: a}]"),
    ("custom: preserve the order from the patch in a merging int list",
     "mergingIntList: [1, 2, 3]", "mergingIntList: [3, 1, 2]", "mergingIntList: [3, 1, 2]"),
    ("custom: preserve the order from the patch in a merging int list (subset)",
     "mergingIntList: [1, 2, 3]", "mergingIntList: [3, 1]", "mergingIntList: [2, 3, 1]"),
    ("raw: $setElementOrder contains item that is not present in the list to be merged",
     "mergingList: [{name: 1}, {name: 3}]",
     "{$setElementOrder/mergingList: [{name: 3}, {name: 2}, {name: 1}],"
     " mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}",
     "mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]"),
    ("raw: $setElementOrder contains item that is not present in the int list to be merged",
     "mergingIntList: [1, 3]", "$setElementOrder/mergingIntList: [3, 2, 1]", "mergingIntList: [3, 1]"),
    ("raw: $deleteFromPrimitiveList of nonexistent item in primitive list should not add the item",
     "mergingIntList: [1, 2]", "$deleteFromPrimitiveList/mergingIntList: [3]", "mergingIntList: [1, 2]"),
    ("raw: $deleteFromPrimitiveList on nonexistent primitive list should not add the primitive list",
     "foo: [bar]", "$deleteFromPrimitiveList/mergingIntList: [3]", "foo: [bar]"),
    ("raw: $deleteFromPrimitiveList should delete item from a list with merge patch strategy",
     "mergingIntList: [1, 2, 3]", "$deleteFromPrimitiveList/mergingIntList: [2]", "mergingIntList: [1, 3]"),
    ("raw: $deleteFromPrimitiveList should delete item from a list without merge patch strategy",
     "nonMergingIntList: [1, 2, 3]", "$deleteFromPrimitiveList/nonMergingIntList: [2]",
     "nonMergingIntList: [1, 3]"),
    ("create: add field and delete field from map",
     "{name: 1, other: a}", "{name: null, value: 1}", "{value: 1, other: a}"),
    ("create: delete field from nested map",
     "simpleMap: {key1: 1, key2: 1, other: a}", "simpleMap: {key2: null}", "simpleMap: {key1: 1, other: a}"),
    ("create: replace list of scalars with conflict",
     "nonMergingIntList: [1, 4]", "nonMergingIntList: [2, 3]", "nonMergingIntList: [2, 3]"),
    ("create: delete all maps from merging list with conflict",
     "mergingList: [{name: 1, other: a}, {name: 2, other: b}]",
     "mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]", "mergingList: []"),
    ("create: defined null values should propagate overwrite current fields (with conflict)",
     "{name: a, other: a}", "{name: 1, value: 1, other: null}", "{name: 1, value: 1}"),
    ("raw: nested patch merge with empty list",
     "{name: hi, mergingList: [{name: hello2}]}",
     "{$setElementOrder/mergingList: [{name: hello}, {name: doesntexist}],"
     " mergingList: [{name: hello}, {$patch: delete, name: doesntexist}]}",
     "{name: hi, mergingList: [{name: hello}, {name: hello2}]}"),
    ("raw: delete items in lists of scalars",
     "mergingIntList: [1, 2, 3, 4]",
     "{$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}",
     "mergingIntList: [1, 2, 4]"),
    ("raw: delete all duplicate items in lists of scalars",
     "mergingIntList: [1, 2, 3, 3, 4]",
     "{$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}",
     "mergingIntList: [1, 2, 4]"),
    ("raw: merge lists of maps",
     "mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]",
     "{$setElementOrder/mergingList: [{name: 4}, {name: 1}, {name: 2}, {name: 3}],"
     " mergingList: [{name: 4, value: 4}, {name: 3, value: 3}]}",
     "mergingList: [{name: 4, value: 4}, {name: 1, other: a}, {name: 2, value: 2, other: b},"
     " {name: 3, value: 3}]"),
    ("raw: add field to map in merging list with conflict",
     "mergingList: [{name: 1, other: a}, {name: 3, value: 2, other: b}]",
     "{$setElementOrder/mergingList: [{name: 1}, {name: 2}],"
     " mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]}",
     "mergingList: [{name: 1, value: 1, other: a}, {name: 2, value: 2}, {name: 3, value: 2, other: b}]"),
    ("raw: delete map from merging list",
     "mergingList: [{name: 1}, {name: 2, other: b}]",
     "{$setElementOrder/mergingList: [{name: 2}], mergingList: [{name: 1, $patch: delete}]}",
     "mergingList: [{name: 2, other: b}]"),
    ("raw: delete missing map from merging list with conflict",
     "mergingList: [{name: 3, other: a}]",
     "{$setElementOrder/mergingList: [{name: 2}], mergingList: [{name: 2}, {name: 1, $patch: delete}]}",
     "mergingList: [{name: 2}, {name: 3, other: a}]"),
    ("raw: add map and delete map from merging list",
     "mergingList: [{name: 1}, {name: 2, other: b}, {name: 4, other: c}]",
     "{$setElementOrder/mergingList: [{name: 2}, {name: 3}], mergingList: [{name: 3}, {name: 1, $patch: delete}]}",
     "mergingList: [{name: 2, other: b}, {name: 4, other: c}, {name: 3}]"),
    ("raw: add map and delete map from merging list with conflict",
     "mergingList: [{name: 1, other: a}, {name: 4, other: c}]",
     "{$setElementOrder/mergingList: [{name: 2}, {name: 3}],"
     " mergingList: [{name: 2}, {name: 3}, {name: 1, $patch: delete}]}",
     "mergingList: [{name: 4, other: c}, {name: 2}, {name: 3}]"),
    ("raw: delete field from map in merging list",
     "mergingList: [{name: 1, value: 1, other: a}, {name: 2, value: 2, other: b}]",
     "{$setElementOrder/mergingList: [{name: 1}, {name: 2}], mergingList: [{name: 1, value: null}]}",
     "mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]"),
    ("raw: replace non merging list nested in merging list",
     "mergingList: [{name: 1, other: a, nonMergingList: [{name: 1}, {name: 2, value: 2}]}, {name: 2, other: b}]",
     "{$setElementOrder/mergingList: [{name: 1}, {name: 2}],"
     " mergingList: [{name: 1, nonMergingList: [{name: 1, value: 1}]}]}",
     "mergingList: [{name: 1, other: a, nonMergingList: [{name: 1, value: 1}]}, {name: 2, other: b}]"),
    ("raw: retainKeys map changes a field in a nested map",
     "retainKeysMap: {name: foo, value: bar, simpleMap: {key1: a, key2: b, key3: c}}",
     "retainKeysMap: {$retainKeys: [name, simpleMap, value], simpleMap: {key1: x}}",
     "retainKeysMap: {name: foo, value: bar, simpleMap: {key1: x, key2: b, key3: c}}"),
    ("raw: retainKeys map deletes nested non-merging list with conflict",
     "retainKeysMap: {name: foo, nonMergingList: [{name: a}, {name: b}, {name: c}]}",
     "retainKeysMap: {$retainKeys: [name, value], value: bar, nonMergingList: null}",
     "retainKeysMap: {name: foo, value: bar}"),
    ("raw: retainKeys map adds an item and deletes an item in nested merging int list",
     "retainKeysMap: {name: foo, mergingIntList: [1, 2, 3, 4]}",
     "retainKeysMap: {$retainKeys: [mergingIntList, name], mergingIntList: [5],"
     " $deleteFromPrimitiveList/mergingIntList: [2], $setElementOrder/mergingIntList: [1, 3, 5]}",
     "retainKeysMap: {name: foo, mergingIntList: [1, 3, 5, 4]}"),
    ("raw: retainKeys map adds an item in nested merging list",
     "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: x}]}",
     "retainKeysMap: {$retainKeys: [mergingList, name],"
     " $setElementOrder/mergingList: [{name: a}, {name: b}, {name: c}], mergingList: [{name: c}]}",
     "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: c}, {name: x}]}"),
    ("raw: retainKeys list of maps clears a field",
     "retainKeysMergingList: [{name: bar}, {name: foo, value: a, other: x}]",
     "{$setElementOrder/retainKeysMergingList: [{name: bar}, {name: foo}],"
     " retainKeysMergingList: [{$retainKeys: [name, value], name: foo}]}",
     "retainKeysMergingList: [{name: bar}, {name: foo, value: a}]"),
    ("raw: delete and reorder in one list, reorder in another",
     "{mergingList: [{name: a, value: a}, {name: b, value: b}], mergeItemPtr: [{name: c, value: c}, {name: d, value: d}]}",
     "{$setElementOrder/mergingList: [{name: b}], $setElementOrder/mergeItemPtr: [{name: d}, {name: c}],"
     " mergingList: [{$patch: delete, name: a}]}",
     "{mergingList: [{name: b, value: b}], mergeItemPtr: [{name: d, value: d}, {name: c, value: c}]}"),
    # Not a fixture; from the Go type's tag: ReplacingItem has patchStrategy "replace".
    ("tag: a map with the replace strategy is replaced, not merged",
     "replacingItem: {a: 1, b: 2}", "replacingItem: {c: 3}", "replacingItem: {c: 3}"),
]


@pytest.mark.parametrize(("live", "patch", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_server_applies_patch_like_kube_apiserver(live: str, patch: str, expected: str) -> None:
    original, body = yaml.safe_load(live), yaml.safe_load(patch)
    result = apply_strategic_merge_patch(original, body, SCHEMA)
    assert result == yaml.safe_load(expected)
    # Dict equality ignores key order but not list order; the order of merged lists is part of
    # the behaviour (kubectl apply relies on $setElementOrder), so it is compared as well.
    assert original == yaml.safe_load(live) and body == yaml.safe_load(patch)  # inputs untouched


ERRORS = [
    ("raw: should check if order in $setElementOrder and patch list match",
     "mergingList: [{name: 1}, {name: 3}, {name: 2}]",
     "{$setElementOrder/mergingList: [{name: 1}, {name: 2}, {name: 3}],"
     " mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}", 400, "doesn't match"),
    ("raw: should check if order in $setElementOrder and patch int list match",
     "mergingIntList: [1, 3, 2]", "{$setElementOrder/mergingIntList: [1, 2, 3], mergingIntList: [3, 1]}",
     400, "doesn't match"),
    ("raw: missing merge key should error out",
     "mergingList: [{name: 1, value: a}]", "mergingList: [{value: b}]", 400,
     "does not contain declared merge key"),
    ("patch.go: retainKeys must list every key the patch sets",
     "retainKeysMap: {name: foo}", "retainKeysMap: {$retainKeys: [name], value: bar}", 400, "retainKeys"),
    ("patch.go: $retainKeys must be a list", "retainKeysMap: {name: foo}", "retainKeysMap: {$retainKeys: name}",
     400, "retainKeys"),
    ("patch.go: merge is not a directive a map may carry",
     "simpleMap: {a: b}", "simpleMap: {$patch: merge}", 400, "unknown patch type"),
    ("patch.go: merging lists cannot yet be specified in the patch",
     "mergingList: [{name: 1}]", "mergingList: [{$patch: merge}]", 400, "cannot yet be specified"),
    ("patch.go: lists of lists are not supported",
     "mergingIntList: [[1]]", "mergingIntList: [[2]]", 422, "lists of lists"),
    ("patch.go: a $setElementOrder list must be a list",
     "mergingIntList: [1]", "$setElementOrder/mergingIntList: 1", 400, "setElementOrder"),
    ("patch.go: a $deleteFromPrimitiveList value must be a list",
     "mergingIntList: [1]", "$deleteFromPrimitiveList/mergingIntList: 1", 400, "primitive list"),
    ("patch.go: a merged list of objects needs object items",
     "mergingList: [{name: 1}]", "mergingList: [1]", 400, "same type"),
]


@pytest.mark.parametrize(("live", "patch", "code", "words"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_malformed_patches_are_typed_errors(live: str, patch: str, code: int, words: str) -> None:
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch(yaml.safe_load(live), yaml.safe_load(patch), SCHEMA)
    assert caught.value.code == code
    assert words in caught.value.message or words.replace("same type", "one type") in caught.value.message


def test_a_patch_must_be_an_object() -> None:
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch({"a": 1}, [1, 2], SCHEMA)  # type: ignore[arg-type]
    assert caught.value.code == 400


def test_without_a_schema_lists_are_replaced_and_maps_merged() -> None:
    live = {"spec": {"items": [{"name": "a"}, {"name": "b"}], "labels": {"x": "1"}}}
    patch = {"spec": {"items": [{"name": "c"}], "labels": {"y": "2"}}}
    result = apply_strategic_merge_patch(live, patch, None)
    assert result == {"spec": {"items": [{"name": "c"}], "labels": {"x": "1", "y": "2"}}}


def test_patch_content_without_live_counterpart_loses_nulls_and_directives() -> None:
    # The real server decodes the result into Go types, which drops both.
    patch = {"mergingList": [{"name": "1", "value": None, "$setElementOrder/mergingList": [{"name": "x"}],
                              "mergingList": [{"name": "x"}, {"name": "y", "$patch": "delete"}]}],
             "simpleMap": {"a": "b", "gone": None}, "mergeItemPtr": {"$patch": "replace", "name": "p"}}
    result = apply_strategic_merge_patch({}, patch, SCHEMA)
    assert result == {"mergingList": [{"name": "1", "mergingList": [{"name": "x"}]}], "simpleMap": {"a": "b"}}


def test_new_items_added_to_a_merged_list_lose_nulls_and_directives() -> None:
    result = apply_strategic_merge_patch(
        {"mergingList": [{"name": "a"}]},
        {"mergingList": [{"name": "b", "value": None, "simpleMap": {"k": "v", "$patch": "delete"}}]}, SCHEMA)
    # Without $setElementOrder, items the live list lacks come before the live-only ones.
    assert result == {"mergingList": [{"name": "b"}, {"name": "a"}]}


def test_a_value_of_another_type_replaces_the_live_one() -> None:
    result = apply_strategic_merge_patch({"mergingList": "text", "simpleMap": [1]},
                                         {"mergingList": [{"name": "a"}], "simpleMap": {"k": "v"}}, SCHEMA)
    assert result == {"mergingList": [{"name": "a"}], "simpleMap": {"k": "v"}}


def test_merge_keys_compare_as_json_values() -> None:
    # containerPort 80 (a number) and "80" (a string) are different items; True is not 1.
    result = apply_strategic_merge_patch({"mergingList": [{"name": 80}, {"name": True}]},
                                         {"mergingList": [{"name": "80"}, {"name": 1, "value": "x"}]}, SCHEMA)
    assert result["mergingList"] == [{"name": "80"}, {"name": 1, "value": "x"}, {"name": 80}, {"name": True}]


def test_schema_refs_are_followed_through_a_lookup_and_a_resolved_graph_alike() -> None:
    resolved = dict(DEFINITIONS["test.MergeItem"])
    resolved["properties"] = dict(resolved["properties"])
    resolved["properties"]["mergingList"] = {**resolved["properties"]["mergingList"], "items": resolved}
    patch = {"mergingList": [{"name": "a", "mergingList": [{"name": "z"}]}]}
    live = {"mergingList": [{"name": "a", "mergingList": [{"name": "y"}]}]}
    expected = {"mergingList": [{"name": "a", "mergingList": [{"name": "z"}, {"name": "y"}]}]}
    assert apply_strategic_merge_patch(live, patch, resolved) == expected
    assert apply_strategic_merge_patch(live, patch, DEFINITIONS["test.MergeItem"], DEFINITIONS.get) == expected
