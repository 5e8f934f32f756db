"""The indexed cache: keys, the default indices, index upkeep on update and delete."""

from __future__ import annotations

import pytest

from kybernetes.client.indexer import BY_NAMESPACE, BY_NODE_NAME, BY_OWNER_UID, Indexer, object_key, split_key


def pod(name: str, ns: str = "default", node: str | None = None, owners: tuple[str, ...] = ()) -> dict:
    return {"metadata": {"name": name, "namespace": ns,
                         "ownerReferences": [{"uid": u, "kind": "ReplicaSet", "name": u} for u in owners]},
            "spec": {"nodeName": node} if node else {}}


def test_keys():
    assert object_key(pod("a", "ns")) == "ns/a"
    assert object_key({"metadata": {"name": "n1"}}) == "n1"
    assert split_key("ns/a") == ("ns", "a") and split_key("n1") == ("", "n1")
    with pytest.raises(ValueError):
        split_key("a/b/c")


def test_default_indices_follow_updates_and_deletes():
    cache = Indexer()
    cache.upsert(pod("a", node="n1", owners=("rs1",)))
    cache.upsert(pod("b", node="n1", owners=("rs1", "rs2")))
    cache.upsert(pod("c", "other", node="n2"))
    assert [p["metadata"]["name"] for p in cache.by_index(BY_NODE_NAME, "n1")] == ["a", "b"]
    assert cache.index_keys(BY_OWNER_UID, "rs2") == ["default/b"]
    assert cache.index_keys(BY_NAMESPACE, "other") == ["other/c"]
    old = cache.upsert(pod("a", node="n2", owners=("rs1",)))
    assert old is not None and old["spec"]["nodeName"] == "n1"
    assert cache.index_keys(BY_NODE_NAME, "n1") == ["default/b"]
    assert cache.index_keys(BY_NODE_NAME, "n2") == ["default/a", "other/c"]
    cache.delete("default/b")
    assert cache.index_values(BY_NODE_NAME) == ["n2"]
    assert cache.index_keys(BY_OWNER_UID, "rs2") == []
    assert len(cache) == 2 and "default/a" in cache and cache.get_by_name("other", "c") is not None


def test_replace_and_custom_indexers():
    cache = Indexer({"by-app": lambda o: [o["metadata"].get("labels", {}).get("app", "")]})
    cache.upsert({"metadata": {"name": "x", "labels": {"app": "web"}}})
    cache.replace([{"metadata": {"name": "y", "labels": {"app": "db"}}}])
    assert cache.keys() == ["y"] and cache.index_keys("by-app", "web") == []
    cache.add_indexer("by-len", lambda o: [str(len(o["metadata"]["name"]))])
    assert cache.index_keys("by-len", "1") == ["y"]
    with pytest.raises(KeyError):
        cache.by_index(BY_NODE_NAME, "n1")
    with pytest.raises(ValueError):
        cache.add_indexer("by-len", lambda o: [])
