"""TokenRequest (serviceaccounts/{name}/token), TokenReview, and service-account bearer tokens,
over the in-process test server (plain HTTP; requests without credentials are admin)."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest

from kybernetes.apiserver.serviceaccount_tokens import TOKEN_AUTHORITY_KEY
from kybernetes.util.clock import FakeClock

NS = "/api/v1/namespaces/default"
SAS = f"{NS}/serviceaccounts"
PODS = f"{NS}/pods"
REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ISSUER = "https://kubernetes.default.svc.cluster.local"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def make_sa(api, name: str = "robot") -> dict:
    status, body = await api.post(SAS, json={"metadata": {"name": name}})
    assert status == 201, body
    return body


async def request_token(api, sa: str = "robot", spec: dict | None = None, ns: str = "default"):
    return await api.post(f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
                          json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                "spec": spec or {}})


async def review(api, token: str, audiences: list[str] | None = None) -> dict:
    spec: dict = {"token": token}
    if audiences is not None:
        spec["audiences"] = audiences
    status, body = await api.post(REVIEWS, json={"apiVersion": "authentication.k8s.io/v1",
                                                 "kind": "TokenReview", "spec": spec})
    assert status == 201, body
    assert body["kind"] == "TokenReview"
    return body["status"]


@pytest.fixture
def clock(api):
    fake = FakeClock(start=datetime.now(UTC))
    api.app[TOKEN_AUTHORITY_KEY].clock = fake
    return fake


async def test_token_request_issues_a_signed_jwt_with_kubernetes_claims(api):
    sa = await make_sa(api)
    status, body = await request_token(api)
    assert status == 201, body
    assert body["kind"] == "TokenRequest" and body["apiVersion"] == "authentication.k8s.io/v1"
    assert body["metadata"]["name"] == "robot" and body["metadata"]["namespace"] == "default"
    assert body["spec"]["audiences"] == [ISSUER] and body["spec"]["expirationSeconds"] == 3600
    token = body["status"]["token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == api.app[TOKEN_AUTHORITY_KEY].key.kid
    claims = claims_of(token)
    assert claims["iss"] == ISSUER
    assert claims["sub"] == "system:serviceaccount:default:robot"
    assert claims["aud"] == [ISSUER]
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert len(claims["jti"]) == 36
    assert claims["kubernetes.io"] == {"namespace": "default",
                                       "serviceaccount": {"name": "robot", "uid": sa["metadata"]["uid"]}}
    expires = datetime.strptime(body["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert int(expires.replace(tzinfo=UTC).timestamp()) == claims["exp"]
    # The signature is the apiserver's key's.
    public = api.app[TOKEN_AUTHORITY_KEY].key.public_key
    assert jwt.decode(token, public, algorithms=["ES256"], audience=ISSUER)["sub"] == claims["sub"]


async def test_token_request_audiences_and_expiration(api):
    await make_sa(api)
    status, body = await request_token(api, spec={"audiences": ["vault", "api"], "expirationSeconds": 600})
    assert status == 201, body
    claims = claims_of(body["status"]["token"])
    assert claims["aud"] == ["vault", "api"] and claims["exp"] - claims["iat"] == 600


@pytest.mark.parametrize("spec,code,reason,text", [
    ({"expirationSeconds": 599}, 422, "Invalid", "may not specify a duration less than 10 minutes"),
    ({"expirationSeconds": 2**32 + 1}, 422, "Invalid", "larger than 2^32 seconds"),
    ({"expirationSeconds": "soon"}, 400, "BadRequest", "expirationSeconds"),
    ({"audiences": "api"}, 400, "BadRequest", "audiences"),
    ({"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}, 400, "BadRequest",
     "cannot bind token to object of type /v1, Kind=ConfigMap"),
    ({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "nope"}}, 404, "NotFound", "nope"),
])
async def test_token_request_refuses_bad_specs(api, spec, code, reason, text):
    await make_sa(api)
    status, body = await request_token(api, spec=spec)
    assert status == code, body
    assert body["reason"] == reason and text in body["message"]


async def test_token_request_for_missing_service_account_is_404(api):
    status, body = await request_token(api, sa="ghost")
    assert status == 404 and body["message"] == 'serviceaccounts "ghost" not found'


async def test_token_request_body_must_be_a_token_request(api):
    await make_sa(api)
    status, body = await api.post(f"{SAS}/robot/token", json={"kind": "Pod", "spec": {}})
    assert status == 400 and "TokenRequest" in body["message"]
    status, body = await api.post(f"{SAS}/robot/token", data=b"{nope", headers={"Content-Type": "application/json"})
    assert status == 400 and body["reason"] == "BadRequest"
    status, _ = await api.get(f"{SAS}/robot/token")
    assert status == 405


async def _bound_pod(api, sa: str = "robot", node: str = "") -> dict:
    spec: dict = {"serviceAccountName": sa, "containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    status, body = await api.post(PODS, json={"metadata": {"name": "web"}, "spec": spec})
    assert status == 201, body
    return body


async def test_token_bound_to_a_pod_names_the_pod_and_its_node(api):
    await make_sa(api)
    _, node = await api.post("/api/v1/nodes", json={"metadata": {"name": "n1"}})
    pod = await _bound_pod(api, node="n1")
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": pod["metadata"]["uid"]}
    status, body = await request_token(api, spec={"boundObjectRef": ref})
    assert status == 201, body
    assert body["spec"]["boundObjectRef"] == ref
    private = claims_of(body["status"]["token"])["kubernetes.io"]
    assert private["pod"] == {"name": "web", "uid": pod["metadata"]["uid"]}
    assert private["node"] == {"name": "n1", "uid": node["metadata"]["uid"]}

    result = await review(api, body["status"]["token"])
    assert result["authenticated"] is True
    extra = result["user"]["extra"]
    assert extra["authentication.kubernetes.io/pod-name"] == ["web"]
    assert extra["authentication.kubernetes.io/pod-uid"] == [pod["metadata"]["uid"]]
    assert extra["authentication.kubernetes.io/node-name"] == ["n1"]

    # The token dies with its pod.
    status, _ = await api.delete(f"{PODS}/web", json={"gracePeriodSeconds": 0})
    assert status == 200
    result = await review(api, body["status"]["token"])
    assert not result.get("authenticated")
    assert "pod default/web has been deleted" in result["error"]


async def test_token_bound_to_a_pod_of_another_service_account_or_uid(api):
    await make_sa(api)
    await make_sa(api, "other")
    pod = await _bound_pod(api, sa="other")
    status, body = await request_token(api, spec={"boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                                                                      "name": "web"}})
    assert status == 400
    assert body["message"] == ('cannot bind token for serviceaccount "robot" to pod running with '
                               'serviceaccount "other"')
    status, body = await request_token(api, sa="other", spec={"boundObjectRef": {
        "kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "not-" + pod["metadata"]["uid"]}})
    assert status == 409 and body["reason"] == "Conflict"
    assert "does not match the UID in record" in body["message"]


async def test_token_review_authenticates_the_service_account(api):
    sa = await make_sa(api)
    _, body = await request_token(api)
    token = body["status"]["token"]
    result = await review(api, token)
    assert result["authenticated"] is True
    assert result["audiences"] == [ISSUER]
    user = result["user"]
    assert user["username"] == "system:serviceaccount:default:robot"
    assert user["uid"] == sa["metadata"]["uid"]
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default",
                              "system:authenticated"]
    assert user["extra"]["authentication.kubernetes.io/credential-id"] == [f"JTI={claims_of(token)['jti']}"]


async def test_token_review_checks_audiences(api):
    await make_sa(api)
    _, body = await request_token(api, spec={"audiences": ["vault"]})
    token = body["status"]["token"]
    # Not for the apiserver ...
    result = await review(api, token)
    assert not result.get("authenticated") and "invalid for the target audiences" in result["error"]
    # ... but for whoever presents it as "vault".
    result = await review(api, token, audiences=["vault", "other"])
    assert result["authenticated"] is True and result["audiences"] == ["vault"]


async def test_token_review_of_garbage_and_bad_requests(api):
    result = await review(api, "not-a-token")
    assert not result.get("authenticated") and result["user"] == {}
    status, body = await api.post(REVIEWS, json={"spec": {}})
    assert status == 400 and "token is required" in body["message"]
    status, _ = await api.get(REVIEWS)
    assert status == 405


async def test_token_stops_working_when_the_service_account_goes_or_is_recreated(api):
    await make_sa(api)
    _, body = await request_token(api)
    token = body["status"]["token"]
    assert (await review(api, token))["authenticated"] is True
    assert (await api.delete(f"{SAS}/robot"))[0] == 200
    assert "service account default/robot has been deleted" in (await review(api, token))["error"]
    await make_sa(api)  # same name, new uid
    assert "service account UID" in (await review(api, token))["error"]


async def test_token_expires(api, clock):
    await make_sa(api)
    _, body = await request_token(api, spec={"expirationSeconds": 600})
    token = body["status"]["token"]
    await clock.advance(600 + 30)  # within the one-minute leeway
    assert (await review(api, token))["authenticated"] is True
    await clock.advance(60)
    result = await review(api, token)
    assert not result.get("authenticated") and result["error"] == "service account token has expired"


async def test_a_token_signed_by_another_key_is_refused(api):
    from kybernetes.apiserver.sa_signing import SigningKey, TokenSigner

    sa = await make_sa(api)
    _, body = await request_token(api)
    forged = TokenSigner(SigningKey.generate()).sign(claims_of(body["status"]["token"]))
    result = await review(api, forged)
    assert not result.get("authenticated") and result["error"] == "invalid signature"
    assert sa["metadata"]["uid"]


async def test_bearer_service_account_token_is_the_request_user(api):
    await make_sa(api)
    _, body = await request_token(api)
    headers = {"Authorization": f"Bearer {body['status']['token']}"}
    # No RBAC yet: the service account is authenticated, and then not allowed to list pods.
    status, body = await api.get(PODS, headers=headers)
    assert status == 403
    assert 'User "system:serviceaccount:default:robot" cannot list resource "pods"' in body["message"]


async def test_token_review_of_static_tokens_is_audience_agnostic():
    from kybernetes.apiserver.authn import AuthenticatorChain, TokenFileAuthenticator, UserInfo
    from kybernetes.apiserver.sa_token_review import review_token

    chain = AuthenticatorChain([TokenFileAuthenticator({"s3cret": UserInfo("jane", "42", ("devs",))})])
    status = await review_token(chain, "s3cret", [], (ISSUER,))
    assert status == {"authenticated": True, "audiences": [ISSUER], "user": {
        "username": "jane", "uid": "42", "groups": ["devs", "system:authenticated"]}}
    status = await review_token(chain, "s3cret", ["vault"], (ISSUER,))
    assert not status.get("authenticated") and "audiences" in status["error"]
    assert await review_token(chain, "other", [], (ISSUER,)) == {"user": {}}
