"""fieldValidation=Strict|Warn|Ignore on create and update, as kubectl's apply relies on."""

from __future__ import annotations

import pytest

CM = "/api/v1/namespaces/default/configmaps"

BOGUS = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv"},"data":{"a":"b"},"bogus":1}'
TWICE = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv","name":"fv"},"data":{"a":"b"}}'
NESTED = (b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"fvp"},"spec":{"containers":'
          b'[{"name":"c","image":"i","imagePullPolice":"Always"}]}}')


async def raw_post(api, path, body, query=""):
    async with api.session.post(api.url + path + query, data=body,
                                headers={"Content-Type": "application/json"}) as resp:
        return resp.status, await resp.json(), resp.headers.getall("Warning", [])


@pytest.mark.parametrize("body, message", [
    (BOGUS, 'strict decoding error: unknown field "bogus"'),
    (TWICE, 'strict decoding error: duplicate field "metadata.name"'),
])
async def test_strict_refuses_unknown_and_duplicate_fields(api, body, message):
    status, out, _ = await raw_post(api, CM, body, "?fieldValidation=Strict")
    assert status == 400, out
    assert out["reason"] == "BadRequest"
    assert out["message"] == message
    status, _ = await api.get(CM + "/fv")
    assert status == 404  # nothing was stored


async def test_strict_finds_nested_unknown_fields(api):
    status, out, _ = await raw_post(api, "/api/v1/namespaces/default/pods", NESTED, "?fieldValidation=Strict")
    assert status == 400
    assert 'unknown field "spec.containers[0].imagePullPolice"' in out["message"]


async def test_warn_is_the_default_and_stores_the_known_fields(api):
    status, out, warnings = await raw_post(api, CM, BOGUS)
    assert status == 201, out
    assert warnings == ['299 - "unknown field \\"bogus\\""']
    assert "bogus" not in out  # accepted, with the unknown field dropped as typed decoding does


async def test_ignore_checks_nothing(api):
    status, out, warnings = await raw_post(api, CM, BOGUS, "?fieldValidation=Ignore")
    assert status == 201 and warnings == []
    assert out["data"] == {"a": "b"} and "bogus" not in out


async def test_unsupported_directive_is_a_bad_request(api):
    status, out, _ = await raw_post(api, CM, BOGUS, "?fieldValidation=Loose")
    assert status == 400 and "fieldValidation parameter unsupported" in out["message"]


async def test_strict_applies_to_updates(api):
    status, _, _ = await raw_post(api, CM, BOGUS, "?fieldValidation=Ignore")
    assert status == 201
    async with api.session.put(api.url + CM + "/fv?fieldValidation=Strict", data=BOGUS,
                               headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
        assert 'unknown field "bogus"' in (await resp.json())["message"]


@pytest.mark.parametrize("raw,expected", [
    (b'{"a":1,"b":{"c":"x:\\"y","d":[{"e":"\\\\"}]}}', []),
    (b'{ "a" : "k\xc3\xa9:" ,\n "b" : [ "q\\"", {"c" : 1} ] }', []),
    (b'{"a":1,"a":2}', ["a"]),
    (b'{"a":{"b":"x\\"","b":1}}', ["a.b"]),
    (b'{"l":[{"k":"\xc3\xa9"},{"k":1,"k":2}]}', ["l[1].k"]),
    (b'{"s":"\\"a\\":1,\\"a\\":2"}', []),  # keys inside a string are not keys
    (b'[1,2]', []),
])
def test_duplicate_fields_are_found_exactly(raw, expected):
    from kybernetes.apiserver.field_validation import duplicate_fields

    assert duplicate_fields(raw) == expected
