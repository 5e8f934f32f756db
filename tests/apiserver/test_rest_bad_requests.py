"""Bad requests: each gets the right code and reason, and the store is left unchanged."""

from __future__ import annotations

import orjson
import pytest

CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"

GOOD_CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}}


def _json(obj) -> bytes:
    return orjson.dumps(obj)


BAD_REQUESTS = [
    # (id, method, path, body bytes, content type, code, reason, message fragment)
    ("malformed-json", "POST", CMS, b'{"metadata": {"name": "x"', "application/json", 400, "BadRequest",
     "not valid JSON"),
    ("malformed-yaml", "POST", CMS, b"metadata:\n  name: [x\n", "application/yaml", 400, "BadRequest",
     "not valid YAML"),
    ("body-not-object", "POST", CMS, b"[1, 2]", "application/json", 400, "BadRequest", "must be an object"),
    ("empty-body", "POST", CMS, b"", "application/json", 400, "BadRequest", "empty"),
    ("oversize", "POST", CMS, b'{"data": {"a": "' + b"x" * (3 * 1024 * 1024) + b'"}}', "application/json",
     413, "RequestEntityTooLarge", "limit is 3145728"),
    ("unsupported-content-type", "POST", CMS, _json(GOOD_CM), "text/plain", 415, "UnsupportedMediaType",
     "text/plain"),
    ("wrong-api-version", "POST", CMS, _json({**GOOD_CM, "apiVersion": "apps/v1"}), "application/json", 400,
     "BadRequest",
     "the API version in the data (apps/v1) does not match the expected API version (v1)"),
    ("wrong-kind", "POST", CMS, _json({**GOOD_CM, "kind": "Secret"}), "application/json", 400, "BadRequest",
     "the kind in the data (Secret) does not match the expected kind (ConfigMap)"),
    ("wrong-namespace", "POST", CMS,
     _json({**GOOD_CM, "metadata": {"name": "cm", "namespace": "kube-system"}}), "application/json", 400,
     "BadRequest", "the namespace of the provided object does not match the namespace sent on the request"),
    ("invalid-name", "POST", CMS, _json({**GOOD_CM, "metadata": {"name": "Bad_Name"}}), "application/json",
     422, "Invalid", 'ConfigMap "Bad_Name" is invalid: metadata.name'),
    ("missing-name", "POST", CMS, _json({"data": {}}), "application/json", 422, "Invalid", "metadata.name"),
    ("pod-without-image", "POST", PODS,
     _json({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}), "application/json", 422,
     "Invalid", "spec.containers[0].image: Required value"),
    ("resource-version-on-create", "POST", CMS,
     _json({**GOOD_CM, "metadata": {"name": "cm", "resourceVersion": "5"}}), "application/json", 400,
     "BadRequest", "resourceVersion should not be set"),
    ("unknown-resource", "GET", "/api/v1/namespaces/default/widgets", b"", "", 404, "NotFound",
     "the server could not find the requested resource"),
    ("unknown-group", "GET", "/apis/nope.example.com/v1/things", b"", "", 404, "NotFound",
     "the server could not find the requested resource"),
    ("unknown-version", "GET", "/api/v2/pods", b"", "", 404, "NotFound",
     "the server could not find the requested resource"),
    ("unknown-subresource", "GET", "/api/v1/namespaces/default/configmaps/cm/status", b"", "", 404,
     "NotFound", "the server could not find the requested resource"),
    ("cluster-scoped-under-namespace", "GET", "/api/v1/namespaces/default/nodes", b"", "", 404, "NotFound",
     "the server could not find the requested resource"),
    ("bad-label-selector", "GET", CMS + "?labelSelector=a%20in%20(", b"", "", 400, "BadRequest", ""),
    ("bad-field-selector", "GET", CMS + "?fieldSelector=spec.nope%3Dx", b"", "", 400, "BadRequest",
     "spec.nope"),
    ("bad-limit", "GET", CMS + "?limit=abc", b"", "", 400, "BadRequest", "limit"),
    ("bad-continue", "GET", CMS + "?limit=1&continue=garbage", b"", "", 400, "BadRequest", "continue"),
    ("rv-too-large", "GET", CMS + "?resourceVersion=999999&resourceVersionMatch=NotOlderThan", b"", "", 504,
     "Timeout", "Too large resource version"),
    ("rvmatch-without-rv", "GET", CMS + "?resourceVersionMatch=Exact", b"", "", 400, "BadRequest",
     "resourceVersionMatch is forbidden unless resourceVersion is provided"),
    ("bad-accept", "GET", CMS, b"", "", 406, "NotAcceptable", "text/html"),
    ("method-not-allowed", "PUT", "/api/v1/namespaces/default/pods", _json(GOOD_CM), "application/json", 405,
     "MethodNotAllowed", ""),
    ("deletecollection-namespaces", "DELETE", "/api/v1/namespaces", b"", "", 405, "MethodNotAllowed", ""),
    ("bad-dry-run", "POST", CMS + "?dryRun=Some", _json(GOOD_CM), "application/json", 400, "BadRequest",
     "dry run"),
    ("bad-propagation-policy", "DELETE", CMS + "/cm", _json({"propagationPolicy": "Sideways"}),
     "application/json", 400, "BadRequest", "propagationPolicy"),
]


async def _store_snapshot(api):
    result = await api.store.list("/registry/")
    return [(kv.key, kv.value, kv.mod_revision) for kv in result.items]


@pytest.mark.parametrize(
    "method,path,body,ctype,code,reason,fragment",
    [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS],
)
async def test_bad_request(api, method, path, body, ctype, code, reason, fragment):
    headers = {"Content-Type": ctype} if ctype else {}
    if reason == "NotAcceptable":
        headers["Accept"] = "text/html"
    before = await _store_snapshot(api)
    status, got = await api.request(method, path, data=body or None, headers=headers)
    assert status == code, got
    assert isinstance(got, dict) and got["kind"] == "Status", got
    assert got["reason"] == reason
    assert got["code"] == code
    assert fragment in got["message"]
    assert await _store_snapshot(api) == before


async def test_stale_resource_version_update_leaves_store_unchanged(api):
    status, created = await api.post(CMS, json=GOOD_CM)
    assert status == 201
    fresh = {**created, "data": {"a": "new"}}
    assert (await api.put(f"{CMS}/cm", json=fresh))[0] == 200
    before = await _store_snapshot(api)
    stale = {**created, "data": {"a": "stale"}}
    status, body = await api.put(f"{CMS}/cm", json=stale)
    assert status == 409 and body["reason"] == "Conflict"
    assert await _store_snapshot(api) == before


async def test_name_mismatch_on_update(api):
    await api.post(CMS, json=GOOD_CM)
    status, body = await api.put(f"{CMS}/cm", json={**GOOD_CM, "metadata": {"name": "other"}})
    assert status == 400
    assert body["message"] == "the name of the object (other) does not match the name on the URL (cm)"


async def test_non_api_path_is_404_status(api):
    status, body = await api.get("/nothing/here")
    assert status == 404
    assert body["kind"] == "Status"
