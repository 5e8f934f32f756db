"""Server-side apply semantics, case by case, with where each expected result comes from.

Sources cited per case:
  [SSA]   kubernetes.io "Server-Side Apply" (docs/reference/using-api/server-side-apply)
  [SMD-x] sigs.k8s.io/structured-merge-diff, file x (merge/update.go, typed/merge.go,
          typed/tofieldset.go, fieldpath/serialize.go, fieldpath/element.go)
  [MF-x]  k8s.io/apimachinery pkg/util/managedfields/internal, file x
"""

from __future__ import annotations

import copy

import pytest

from kybernetes.api import managed_fields as mf
from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.api.errors import ApiError
from kybernetes.api.fieldpath import FieldPathError, FieldSet, key_element, path_text
from kybernetes.api.managed_fields_walk import merge, to_field_set
from kybernetes.apiserver.apply_schema import track_options

REGISTRY = builtin_registry()
DEPLOYMENTS = REGISTRY.by_kind("apps", "v1", "Deployment")
OPTS = track_options(DEPLOYMENTS)
NGINX = key_element({"name": "nginx"})


def deployment(replicas=2, image="nginx:1.25", labels=None, containers=None, **spec_extra):
    labels = labels or {"app": "web"}
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": containers or [{"name": "nginx", "image": image}]}}}
    spec.update(spec_extra)
    if replicas is None:
        del spec["replicas"]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": labels}, "spec": spec}


def created_by(manager: str, obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    mf.track_update(None, obj, manager, OPTS)
    return obj


def entries(obj: dict) -> dict[tuple[str, str], FieldSet]:
    return {(e["manager"], e["operation"]): FieldSet.from_fields_v1(e["fieldsV1"])
            for e in obj["metadata"].get("managedFields") or []}


def owners(obj: dict, *path: str) -> set[str]:
    return {m for (m, _), fields in entries(obj).items() if fields.has(path)}


REPLICAS = ("f:spec", "f:replicas")
IMAGE = ("f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:image")


# -- the field set format ----------------------------------------------------------------------


def test_fields_v1_orders_elements_and_marks_members_with_dot():
    # [SMD-fieldpath/serialize.go] fields, then keys, then values, then indexes; "." for a node
    # that is a member and has children.
    fields = FieldSet.of(("f:b",), ("f:a", "k:{\"name\":\"x\"}"), ("f:a", "k:{\"name\":\"x\"}", "f:image"),
                         ("f:a", "v:\"z\""), ("f:a", "i:0"))
    doc = fields.to_fields_v1()
    assert list(doc) == ["f:a", "f:b"]
    assert list(doc["f:a"]) == ["k:{\"name\":\"x\"}", "v:\"z\"", "i:0"]
    assert doc["f:a"]["k:{\"name\":\"x\"}"] == {".": {}, "f:image": {}}
    assert FieldSet.from_fields_v1(doc) == fields


def test_path_text_is_how_conflicts_name_fields():
    # [SMD-fieldpath/element.go] .field, [key=value,...] with sorted keys, [=value], [index]
    port = key_element({"protocol": "TCP", "containerPort": 80})
    assert path_text(("f:spec", "f:ports", port, "f:name")) == '.spec.ports[containerPort=80,protocol="TCP"].name'
    assert path_text(("f:metadata", "f:finalizers", 'v:"a/b"')) == '.metadata.finalizers[="a/b"]'
    assert path_text(("f:x", "i:3")) == ".x[3]"


@pytest.mark.parametrize("doc", [[], {"x:bad": {}}, {"k:[1]": {}}, {"f:a": []}, {"i:x": {}}])
def test_bad_fields_v1_is_a_typed_error(doc):
    with pytest.raises(FieldPathError):
        FieldSet.from_fields_v1(doc)


def test_field_set_of_a_configuration():
    # [SMD-typed/tofieldset.go] scalars and list items are members, map keys are members, named
    # struct fields with content are not; a port without protocol is keyed with TCP, its default.
    config = deployment(containers=[{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
                                     "args": ["a", "b"]}])
    fields = to_field_set(config, OPTS.schema)
    container = ("f:spec", "f:template", "f:spec", "f:containers", NGINX)
    port = key_element({"containerPort": 80, "protocol": "TCP"})
    assert fields.has(container)
    assert fields.has((*container, "f:ports", port, "f:containerPort"))
    assert fields.has((*container, "f:args"))          # atomic list: one leaf
    assert not fields.has((*container, "f:args", 'v:"a"'))
    assert fields.has(("f:metadata", "f:labels", "f:app"))
    assert not fields.has(("f:spec",)) and not fields.has(("f:metadata", "f:labels"))


def test_merge_keeps_live_only_items_and_config_order():
    # [SMD-typed/merge.go visitListItems] items merge by key; live-only items stay where they were.
    schema = OPTS.schema
    live = deployment(containers=[{"name": "a", "image": "1"}, {"name": "side", "image": "s"},
                                  {"name": "b", "image": "2"}])
    config = deployment(containers=[{"name": "b", "image": "3"}, {"name": "a", "image": "1"},
                                    {"name": "c", "image": "4"}])
    merged = merge(live, config, schema)
    names = [(c["name"], c["image"]) for c in merged["spec"]["template"]["spec"]["containers"]]
    assert names == [("side", "s"), ("b", "3"), ("a", "1"), ("c", "4")]


# -- create and update record Update entries ------------------------------------------------------


def test_create_records_an_update_entry_for_the_manager():
    # [MF-managedfieldsupdater.go, buildmanagerinfo.go, stripmeta.go]
    obj = created_by("kubectl-create", deployment())
    [entry] = obj["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl-create" and entry["operation"] == "Update"
    assert entry["apiVersion"] == "apps/v1" and entry["fieldsType"] == "FieldsV1" and entry["time"]
    doc = entry["fieldsV1"]
    assert "f:name" not in doc["f:metadata"]                        # server-owned metadata is nobody's
    assert doc["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}  # a map added as a whole
    assert "." not in doc["f:spec"]                                  # a value struct never is
    assert "f:status" not in doc                                     # reset field of the main resource


def test_update_takes_changed_fields_from_everyone_and_drops_removed_ones():
    # [SMD-merge/update.go Update] updates always win; the updater owns what it changed.
    obj = created_by("creator", deployment())
    new = copy.deepcopy(obj)
    new["spec"]["replicas"] = 5
    del new["metadata"]["labels"]
    mf.track_update(obj, new, "kubectl-scale", OPTS)
    assert owners(new, *REPLICAS) == {"kubectl-scale"}
    assert not owners(new, "f:metadata", "f:labels", "f:app")
    assert owners(new, *IMAGE) == {"creator"}


def test_empty_managed_fields_reset_tracking_until_the_next_apply():
    # [MF-fieldmanager.go isResetManagedFields, skipnonapplied.go]
    obj = created_by("creator", deployment())
    new = copy.deepcopy(obj)
    new["metadata"]["managedFields"] = []
    mf.track_update(obj, new, "someone", OPTS)
    assert "managedFields" not in new["metadata"]
    later = copy.deepcopy(new)
    later["spec"]["replicas"] = 7
    mf.track_update(new, later, "someone", OPTS)
    assert "managedFields" not in later["metadata"]
    # The first apply attributes everything there is to "before-first-apply".
    config = copy.deepcopy(later)
    config["metadata"].pop("managedFields", None)
    config["metadata"]["labels"]["new"] = "yes"
    applied, _ = mf.apply(later, config, "applier", False, OPTS)
    assert owners(applied, *REPLICAS) == {"before-first-apply", "applier"}
    assert owners(applied, "f:metadata", "f:labels", "f:new") == {"applier"}


def test_more_than_ten_updaters_fold_into_ancient_changes():
    # [MF-capmanagers.go] at most 10 Update entries; the oldest merge into "ancient-changes".
    obj = created_by("m00", deployment())
    for i in range(1, 12):
        new = copy.deepcopy(obj)
        new["metadata"]["labels"][f"l{i}"] = "x"
        opts = copy.copy(OPTS)
        opts.now = f"2030-01-01T00:00:{i:02d}Z"
        mf.track_update(obj, new, f"m{i:02d}", opts)
        obj = new
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10 and "ancient-changes" in managers and "m00" not in managers


# -- apply ---------------------------------------------------------------------------------------


def test_apply_conflicts_with_an_updater_that_changed_the_field():
    # [SSA] "Conflicts"; message and causes: [MF-conflict.go NewConflictError]
    obj = created_by("kubectl-client-side-apply", deployment())
    with pytest.raises(ApiError) as caught:
        mf.apply(obj, deployment(replicas=3), "kubectl", False, OPTS)
    err = caught.value
    assert err.code == 409 and err.reason == "Conflict"
    assert err.message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                           'using apps/v1: .spec.replicas')
    assert [c.to_dict() for c in err.causes] == [{
        "reason": "FieldManagerConflict", "field": ".spec.replicas",
        "message": 'conflict with "kubectl-client-side-apply" using apps/v1'}]


def test_several_conflicts_are_listed_per_manager():
    # [MF-conflict.go getConflictMessage]
    obj = created_by("other", deployment())
    with pytest.raises(ApiError) as caught:
        mf.apply(obj, deployment(replicas=3, image="nginx:2"), "me", False, OPTS)
    assert caught.value.message == (
        'Apply failed with 2 conflicts: conflicts with "other" using apps/v1:\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="nginx"].image')
    assert len(caught.value.causes) == 2


def test_applying_the_same_value_shares_ownership():
    # [SSA] "If the same value is applied by several managers, they share ownership."
    obj = created_by("creator", deployment())
    out, changed = mf.apply(obj, deployment(), "applier", False, OPTS)
    assert not changed
    assert owners(out, *REPLICAS) == {"creator", "applier"}
    applier = next(e for e in out["metadata"]["managedFields"] if e["manager"] == "applier")
    assert applier["operation"] == "Apply" and "time" not in applier   # nothing changed: no time


def test_force_takes_ownership():
    # [SSA] force "changes the value of the field, and removes the field from all other managers"
    obj = created_by("creator", deployment())
    out, changed = mf.apply(obj, deployment(replicas=4), "applier", True, OPTS)
    assert changed and out["spec"]["replicas"] == 4
    assert owners(out, *REPLICAS) == {"applier"}
    assert owners(out, *IMAGE) == {"creator", "applier"}


def test_an_applier_changes_its_own_fields_freely():
    # [SMD-merge/update.go update] the applying manager is skipped when looking for conflicts.
    first, _ = mf.apply({}, deployment(), "applier", False, OPTS)
    out, changed = mf.apply(first, deployment(replicas=9, image="nginx:2"), "applier", False, OPTS)
    assert changed and out["spec"]["replicas"] == 9
    assert list(entries(out)) == [("applier", "Apply")]


def test_fields_an_applier_stops_applying_are_removed():
    # [SMD-merge/update.go prune] applied last time, not now, nobody else owns it: removed.
    config = deployment(containers=[{"name": "nginx", "image": "n", "env": [{"name": "A", "value": "1"}]},
                                    {"name": "side", "image": "s"}],
                        labels={"app": "web", "tier": "front"}, minReadySeconds=5)
    first, _ = mf.apply({}, config, "applier", False, OPTS)
    smaller = deployment(containers=[{"name": "nginx", "image": "n"}])
    out, _ = mf.apply(first, smaller, "applier", False, OPTS)
    assert out["metadata"]["labels"] == {"app": "web"}
    assert "minReadySeconds" not in out["spec"]
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert "env" not in out["spec"]["template"]["spec"]["containers"][0]


def test_fields_another_manager_owns_survive_when_an_applier_drops_them():
    # [SMD-merge/update.go addBackOwnedItems] owned by another applier or updater: kept.
    both = deployment(labels={"app": "web", "tier": "front"})
    first, _ = mf.apply({}, both, "a", False, OPTS)
    shared, _ = mf.apply(first, both, "b", False, OPTS)
    out, _ = mf.apply(shared, deployment(), "a", False, OPTS)
    assert out["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert owners(out, "f:metadata", "f:labels", "f:tier") == {"b"}


def test_set_lists_are_owned_item_by_item():
    # [SMD-typed/tofieldset.go] list-type set: every value is its own field.
    one = deployment()
    one["metadata"]["finalizers"] = ["example.com/a"]
    two = deployment()
    two["metadata"]["finalizers"] = ["example.com/b"]
    first, _ = mf.apply({}, one, "a", False, OPTS)
    out, _ = mf.apply(first, two, "b", False, OPTS)
    assert out["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]
    assert owners(out, "f:metadata", "f:finalizers", 'v:"example.com/a"') == {"a"}


def test_atomic_lists_are_replaced_whole_and_conflict_whole():
    # x-kubernetes-list-type: atomic (container args): one value, one owner.
    cfg = deployment(containers=[{"name": "nginx", "image": "n", "args": ["a", "b"]}])
    first, _ = mf.apply({}, cfg, "a", False, OPTS)
    other = deployment(containers=[{"name": "nginx", "image": "n", "args": ["c"]}])
    with pytest.raises(ApiError) as caught:
        mf.apply(first, other, "b", False, OPTS)
    assert caught.value.causes[0].field == '.spec.template.spec.containers[name="nginx"].args'
    assert caught.value.message.startswith('Apply failed with 1 conflict: conflict with "a":')  # appliers: no version
    out, _ = mf.apply(first, other, "b", True, OPTS)
    assert out["spec"]["template"]["spec"]["containers"][0]["args"] == ["c"]


def test_subresource_managers_are_named_with_their_subresource():
    # [MF-conflict.go printManager] "name" with subresource "scale" using apps/v1
    obj = created_by("creator", deployment())
    new = copy.deepcopy(obj)
    new["spec"]["replicas"] = 6
    mf.track_update(obj, new, "kubectl", track_options(DEPLOYMENTS, "scale"))
    with pytest.raises(ApiError) as caught:
        mf.apply(new, deployment(replicas=2), "kubectl", False, OPTS)
    assert caught.value.causes[0].message == 'conflict with "kubectl" with subresource "scale" using apps/v1'


def test_kubectl_moving_from_client_side_apply_takes_over_unchanged_fields():
    # [MF-lastappliedmanager.go] conflicts on fields still holding the last-applied value are
    # forced for manager "kubectl"; [MF-lastappliedupdater.go] the annotation follows the apply.
    config = deployment()
    live = copy.deepcopy(config)
    live["metadata"]["annotations"] = {mf.LAST_APPLIED: '{"apiVersion":"apps/v1","kind":"Deployment",'
                                       '"metadata":{"name":"web","namespace":"default","labels":{"app":"web"}},'
                                       '"spec":{"replicas":2}}\n'}
    live = created_by("kubectl-client-side-apply", live)
    with pytest.raises(ApiError) as caught:  # the image was never in last-applied: a real conflict
        mf.apply(live, deployment(replicas=5, image="nginx:2"), "kubectl", False, OPTS)
    assert [c.field for c in caught.value.causes] == ['.spec.template.spec.containers[name="nginx"].image']
    out, _ = mf.apply(live, deployment(replicas=5), "kubectl", False, OPTS)
    assert out["spec"]["replicas"] == 5 and owners(out, *REPLICAS) == {"kubectl"}
    annotation = out["metadata"]["annotations"][mf.LAST_APPLIED]
    assert annotation.endswith("\n") and '"replicas":5' in annotation and "last-applied" not in annotation


def test_bad_configurations_are_typed_errors():
    dup = deployment(containers=[{"name": "x", "image": "1"}, {"name": "x", "image": "2"}])
    with pytest.raises(ApiError) as caught:
        mf.apply({}, dup, "a", False, OPTS)
    assert caught.value.code == 500 and "duplicate entries" in caught.value.message
    keyless = deployment(containers=[{"image": "1"}])
    with pytest.raises(ApiError) as caught:
        mf.apply({}, keyless, "a", False, OPTS)
    assert "omits all key fields" in caught.value.message


def test_manager_from_user_agent():
    # apiserver endpoints/handlers/rest.go prefixFromUserAgent
    assert mf.manager_from_user_agent("kubectl/v1.32.0 (linux/amd64) kubernetes/abc") == "kubectl"
    assert mf.manager_from_user_agent("") == ""
    assert len(mf.manager_from_user_agent("x" * 300)) == 128
