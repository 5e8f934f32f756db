"""ControllerRevision helpers: the patch kubectl reads, hashing and naming, ordering, and the
collision handling of RevisionHistory.create against a real apiserver."""

from __future__ import annotations

from kybernetes.api.strategic_merge import apply_strategic_merge_patch
from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.resource import CONTROLLERREVISIONS
from kybernetes.controllers import controllerrevision as cr
from kybernetes.testing.apiserver import TestApiServer

OWNER = {"apiVersion": "apps/v1", "kind": "StatefulSet",
         "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
         "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}},
                                              "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}}
REF = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u1", "controller": True,
       "blockOwnerDeletion": True}


def test_fnv_variants_match_the_reference_vectors():
    assert cr.fnv32(b"") == cr.fnv32a(b"") == 0x811C9DC5
    assert cr.fnv32(b"a") == 0x050C5D7E
    assert cr.fnv32a(b"a") == 0xE40C292C
    assert cr.safe_encode("01") == "45"  # digits land on the generated-name alphabet


def test_template_patch_round_trips_through_a_strategic_merge():
    data = cr.template_patch(OWNER)
    assert data["spec"]["template"]["$patch"] == "replace"
    changed = {**OWNER, "spec": {**OWNER["spec"], "template": {"metadata": {"labels": {"app": "web", "v": "2"}},
                                                                "spec": {"containers": [{"name": "d",
                                                                                         "image": "x"}]}}}}
    # What `kubectl rollout undo` does with the data: a strategic merge patch of the owner.
    restored = apply_strategic_merge_patch(changed, data, None)
    assert restored["spec"]["template"] == OWNER["spec"]["template"]
    assert cr.apply_revision(changed, {"data": data})["spec"]["template"] == OWNER["spec"]["template"]
    assert restored["spec"]["replicas"] == 2


def test_new_revision_names_by_hash_and_collision_count_changes_it():
    data = cr.template_patch(OWNER)
    first = cr.new_revision(OWNER, REF, {"app": "web"}, data, 1, 0)
    again = cr.new_revision(OWNER, REF, {"app": "web"}, data, 5, 0)
    bumped = cr.new_revision(OWNER, REF, {"app": "web"}, data, 1, 1)
    hash_ = first["metadata"]["labels"][cr.HISTORY_HASH_LABEL]
    assert first["metadata"]["name"] == f"web-{hash_}" and first["metadata"]["labels"]["app"] == "web"
    assert again["metadata"]["name"] == first["metadata"]["name"]  # the number is not hashed
    assert bumped["metadata"]["name"] != first["metadata"]["name"]
    assert first["metadata"]["ownerReferences"] == [REF] and first["revision"] == 1
    assert cr.equal_revision(first, again) and not cr.equal_revision(first, {"data": {}})
    assert cr.revision_name("x" * 300, "abc") == "x" * 223 + "-abc"


def test_sort_and_next_revision():
    revs = [{"metadata": {"name": n}, "revision": r} for n, r in (("c", 3), ("a", 1), ("b", 2))]
    ordered = cr.sort_revisions(revs)
    assert [r["metadata"]["name"] for r in ordered] == ["a", "b", "c"]
    assert cr.next_revision(ordered) == 4 and cr.next_revision([]) == 1 and cr.max_revision(revs) == 3


async def test_create_resolves_a_name_collision_by_bumping_the_count():
    async with TestApiServer() as srv:
        client = srv.client()
        data = cr.template_patch(OWNER)
        revision = cr.new_revision(OWNER, REF, {"app": "web"}, data, 1, 0)
        # Someone else's revision already has our name, with different data.
        squatter = {**revision, "data": {"spec": {"template": {"metadata": {}, "spec": {"containers": []}}}}}
        await client.create(CONTROLLERREVISIONS, squatter, "default")
        informers = SharedInformerFactory(client)
        history = cr.RevisionHistory(client, informers.informer_for(CONTROLLERREVISIONS))
        created, count = await history.create(OWNER, revision, 0)
        assert count == 1 and created["metadata"]["name"] != revision["metadata"]["name"]
        assert created["data"] == data
        # Creating the same data again finds it instead of colliding further.
        again, count2 = await history.create(OWNER, revision, 1)
        assert count2 == 1 and again["metadata"]["uid"] == created["metadata"]["uid"]
        renumbered = await history.update_number(created, 7)
        assert renumbered["revision"] == 7
        await history.delete(renumbered)
        await history.delete(renumbered)  # already gone: not an error
        assert len((await client.list(CONTROLLERREVISIONS, "default"))["items"]) == 1
