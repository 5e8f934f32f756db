"""Dynamic admission webhooks against a real HTTPS webhook server on 127.0.0.1.

The webhook server is aiohttp with a serving certificate from a throwaway CA (apiserver/pki.py);
configurations carry that CA as caBundle and point at it by clientConfig.url. Each test installs
the answers it wants per path and reads back the AdmissionReviews the server received.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from kybernetes.apiserver.pki import issue_serving_cert, new_certificate_authority

PODS = "/api/v1/namespaces/default/pods"
MUTATING = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
VALIDATING = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"

Answer = Callable[[dict[str, Any]], Awaitable[dict[str, Any]] | dict[str, Any]]


class WebhookServer:
    """An HTTPS server whose paths answer AdmissionReviews with test-provided functions."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.reviews: dict[str, list[dict[str, Any]]] = {}
        self.url = ""
        self.ca_bundle = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        review = orjson.loads(await request.read())
        self.reviews.setdefault(request.path, []).append(review)
        answer = self.answers[request.path](review)
        if asyncio.iscoroutine(answer):
            answer = await answer
        response = {"uid": review["request"]["uid"], "allowed": True, **answer}
        return web.json_response({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                  "response": response})

    async def start(self) -> None:
        ca = new_certificate_authority("webhook-test-ca")
        leaf = issue_serving_cert(ca, ["127.0.0.1"])
        self.ca_bundle = base64.b64encode(ca.cert_pem).decode()
        with tempfile.TemporaryDirectory(prefix="kyb-webhook-") as tmp:
            cert, key = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
            cert.write_bytes(leaf.cert_pem)
            key.write_bytes(leaf.key_pem)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(cert), str(key))
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        self.url = f"https://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def hooks():
    server = WebhookServer()
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


def webhook(name: str, url: str, ca_bundle: str, *, resources=("pods",), operations=("CREATE",),
            **extra) -> dict[str, Any]:
    hook = {"name": name, "clientConfig": {"url": url, "caBundle": ca_bundle},
            "rules": [{"operations": list(operations), "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": list(resources)}],
            "sideEffects": "None", "admissionReviewVersions": ["v1"]}
    hook.update(extra)
    return hook


async def install(api, path: str, name: str, *webhooks: dict[str, Any]) -> None:
    kind = "MutatingWebhookConfiguration" if "mutating" in path else "ValidatingWebhookConfiguration"
    status, body = await api.post(path, json={"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
                                              "metadata": {"name": name}, "webhooks": list(webhooks)})
    assert status == 201, body


def pod(name: str, image: str = "busybox:1.36", labels: dict | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": image}]}}


def add_label(key: str, value: str) -> dict[str, Any]:
    patch = [{"op": "add", "path": f"/metadata/labels/{key.replace('/', '~1')}", "value": value}]
    return {"patchType": "JSONPatch", "patch": base64.b64encode(orjson.dumps(patch)).decode()}


def refuse_image(bad: str) -> Answer:
    def answer(review: dict[str, Any]) -> dict[str, Any]:
        images = [c["image"] for c in review["request"]["object"]["spec"]["containers"]]
        if bad in images:
            return {"allowed": False, "status": {"message": f"image {bad} is forbidden"}}
        return {}
    return answer


async def test_mutating_webhook_labels_pods_and_sees_the_whole_request(api, hooks):
    hooks.answers["/mutate"] = lambda review: add_label("injected", "yes")
    await install(api, MUTATING, "labeler", webhook("label.example.com", hooks.url + "/mutate", hooks.ca_bundle))

    status, created = await api.post(PODS, json=pod("p1", labels={"app": "web"}))
    assert status == 201, created
    assert created["metadata"]["labels"] == {"app": "web", "injected": "yes"}
    status, stored = await api.get(f"{PODS}/p1")
    assert stored["metadata"]["labels"]["injected"] == "yes"

    [review] = hooks.reviews["/mutate"]
    assert review["apiVersion"] == "admission.k8s.io/v1" and review["kind"] == "AdmissionReview"
    req = review["request"]
    assert req["uid"]
    assert req["kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert req["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert req["requestKind"] == req["kind"] and req["requestResource"] == req["resource"]
    assert (req["name"], req["namespace"], req["operation"]) == ("p1", "default", "CREATE")
    assert req["userInfo"] == {"username": "system:admin", "groups": ["system:masters", "system:authenticated"]}
    assert req["object"]["metadata"]["labels"] == {"app": "web"}
    assert req["oldObject"] is None and req["dryRun"] is False
    assert req["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
    assert "subResource" not in req

    # Only the rules' operations: an update is not sent to a CREATE-only webhook.
    status, _ = await api.patch(f"{PODS}/p1", json={"metadata": {"annotations": {"a": "b"}}})
    assert status == 200
    assert len(hooks.reviews["/mutate"]) == 1


async def test_validating_webhook_refuses_forbidden_image_with_its_message(api, hooks):
    hooks.answers["/validate"] = refuse_image("evil:latest")
    await install(api, VALIDATING, "images", webhook("images.example.com", hooks.url + "/validate",
                                                     hooks.ca_bundle))
    status, body = await api.post(PODS, json=pod("bad", image="evil:latest"))
    assert status == 403, body
    assert body["message"] == 'admission webhook "images.example.com" denied the request: image evil:latest is forbidden'
    assert (await api.get(f"{PODS}/bad"))[0] == 404

    status, body = await api.post(PODS, json=pod("good"))
    assert status == 201, body


async def test_denial_keeps_the_webhooks_own_code_and_reason(api, hooks):
    hooks.answers["/v"] = lambda review: {"allowed": False, "status": {"code": 422, "reason": "Invalid",
                                                                        "message": "no"}}
    hooks.answers["/quiet"] = lambda review: {"allowed": False}
    await install(api, VALIDATING, "coded", webhook("coded.example.com", hooks.url + "/v", hooks.ca_bundle,
                                                    resources=("configmaps",)))
    status, body = await api.post("/api/v1/namespaces/default/configmaps",
                                  json={"metadata": {"name": "cm"}, "data": {}})
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"] == 'admission webhook "coded.example.com" denied the request: no'

    await install(api, VALIDATING, "quiet", webhook("quiet.example.com", hooks.url + "/quiet", hooks.ca_bundle))
    status, body = await api.post(PODS, json=pod("q"))
    assert status == 403
    assert body["message"] == 'admission webhook "quiet.example.com" denied the request without explanation'


async def test_validating_webhooks_see_the_mutated_object(api, hooks):
    hooks.answers["/mutate"] = lambda review: add_label("team", "blue")
    hooks.answers["/validate"] = lambda review: (
        {} if review["request"]["object"]["metadata"]["labels"].get("team") == "blue"
        else {"allowed": False, "status": {"message": "no team"}})
    await install(api, MUTATING, "m", webhook("m.example.com", hooks.url + "/mutate", hooks.ca_bundle))
    await install(api, VALIDATING, "v", webhook("v.example.com", hooks.url + "/validate", hooks.ca_bundle))
    status, body = await api.post(PODS, json=pod("p"))
    assert status == 201, body


async def test_failure_policy_with_the_webhook_down(api, hooks):
    url = hooks.url + "/gone"
    await hooks.stop()
    await install(api, VALIDATING, "ignored", webhook("ignore.example.com", url, hooks.ca_bundle,
                                                      failurePolicy="Ignore"))
    status, body = await api.post(PODS, json=pod("still-created"))
    assert status == 201, body

    await install(api, VALIDATING, "failing", webhook("fail.example.com", url, hooks.ca_bundle,
                                                      failurePolicy="Fail"))
    status, body = await api.post(PODS, json=pod("refused"))
    assert status == 500, body
    assert body["reason"] == "InternalError"
    assert body["message"].startswith('Internal error occurred: failed calling webhook "fail.example.com": '
                                      f'failed to call webhook: Post "{url}?timeout=10s": ')
    assert "connection refused" in body["message"] or "connect" in body["message"]
    # Webhook configurations themselves are never sent to webhooks: the broken one can go.
    status, _ = await api.delete(f"{VALIDATING}/failing")
    assert status == 200
    status, body = await api.post(PODS, json=pod("after-removal"))
    assert status == 201, body


async def test_untrusted_certificate_is_a_call_failure(api, hooks):
    hooks.answers["/v"] = lambda review: {}
    other_ca = base64.b64encode(new_certificate_authority("someone-else").cert_pem).decode()
    await install(api, VALIDATING, "tls", webhook("tls.example.com", hooks.url + "/v", other_ca))
    status, body = await api.post(PODS, json=pod("p"))
    assert status == 500
    assert 'failed calling webhook "tls.example.com"' in body["message"]
    assert "/v" not in hooks.reviews


async def test_timeout(api, hooks):
    async def slow(review: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(3)
        return {}

    hooks.answers["/slow"] = slow
    await install(api, VALIDATING, "slow", webhook("slow.example.com", hooks.url + "/slow", hooks.ca_bundle,
                                                   timeoutSeconds=1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, body = await api.post(PODS, json=pod("p"))
    assert loop.time() - started < 2.5
    assert status == 500, body
    assert body["message"].endswith("?timeout=1s\": context deadline exceeded")


async def test_namespace_and_object_selectors(api, hooks):
    hooks.answers["/v"] = lambda review: {"allowed": False, "status": {"message": "selected"}}
    status, _ = await api.post("/api/v1/namespaces", json={"metadata": {"name": "guarded",
                                                                        "labels": {"guard": "on"}}})
    assert status == 201
    await install(api, VALIDATING, "ns", webhook("ns.example.com", hooks.url + "/v", hooks.ca_bundle,
                                                 namespaceSelector={"matchLabels": {"guard": "on"}}))
    assert (await api.post(PODS, json=pod("free")))[0] == 201
    status, body = await api.post("/api/v1/namespaces/guarded/pods", json=pod("caught"))
    assert status == 403 and "selected" in body["message"]
    await api.delete(f"{VALIDATING}/ns")

    assert (await api.post(PODS, json=pod("legacy", labels={"tier": "db"})))[0] == 201
    await install(api, VALIDATING, "obj", webhook(
        "obj.example.com", hooks.url + "/v", hooks.ca_bundle, operations=("CREATE", "UPDATE"),
        objectSelector={"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}))
    assert (await api.post(PODS, json=pod("web", labels={"tier": "web"})))[0] == 201
    status, body = await api.post(PODS, json=pod("db", labels={"tier": "db"}))
    assert status == 403
    # The old object counts too: relabelling a selected pod away from the selector is still seen.
    status, body = await api.patch(f"{PODS}/legacy", json={"metadata": {"labels": {"tier": "web"}}})
    assert status == 403, body
    assert (await api.patch(f"{PODS}/web", json={"metadata": {"labels": {"x": "y"}}}))[0] == 200


async def test_update_and_delete_carry_old_object_and_options(api, hooks):
    hooks.answers["/v"] = lambda review: {}
    await install(api, VALIDATING, "all", webhook("all.example.com", hooks.url + "/v", hooks.ca_bundle,
                                                  operations=("*",), resources=("configmaps",)))
    cms = "/api/v1/namespaces/default/configmaps"
    await api.post(cms, json={"metadata": {"name": "cm"}, "data": {"k": "1"}})
    await api.patch(f"{cms}/cm", json={"data": {"k": "2"}})
    await api.delete(f"{cms}/cm")
    create, update, delete = [r["request"] for r in hooks.reviews["/v"]]
    assert create["operation"] == "CREATE"
    assert update["operation"] == "UPDATE" and update["options"]["kind"] == "UpdateOptions"
    assert update["oldObject"]["data"] == {"k": "1"} and update["object"]["data"] == {"k": "2"}
    assert delete["operation"] == "DELETE" and delete["object"] is None
    assert delete["oldObject"]["data"] == {"k": "2"} and delete["options"]["kind"] == "DeleteOptions"


async def test_status_subresource_rules(api, hooks):
    hooks.answers["/v"] = lambda review: {"allowed": False, "status": {"message": "status is frozen"}}
    await install(api, VALIDATING, "st", webhook("st.example.com", hooks.url + "/v", hooks.ca_bundle,
                                                 operations=("UPDATE",), resources=("pods/status",)))
    await api.post(PODS, json=pod("p"))
    status, _ = await api.patch(f"{PODS}/p", json={"metadata": {"labels": {"x": "y"}}})
    assert status == 200  # the main resource is not pods/status
    status, body = await api.patch(f"{PODS}/p/status", json={"status": {"phase": "Running"}})
    assert status == 403 and "status is frozen" in body["message"]
    [review] = hooks.reviews["/v"]
    assert review["request"]["subResource"] == "status"


async def test_reinvocation_if_needed(api, hooks):
    def first(review: dict[str, Any]) -> dict[str, Any]:
        labels = review["request"]["object"]["metadata"].get("labels") or {}
        return add_label("saw-second", "yes" if "second" in labels else "no")

    hooks.answers["/first"] = first
    hooks.answers["/second"] = lambda review: add_label("second", "done")
    await install(api, MUTATING, "a-first", webhook("first.example.com", hooks.url + "/first", hooks.ca_bundle,
                                                    reinvocationPolicy="IfNeeded"))
    await install(api, MUTATING, "b-second", webhook("second.example.com", hooks.url + "/second",
                                                     hooks.ca_bundle))
    status, created = await api.post(PODS, json=pod("p"))
    assert status == 201, created
    assert created["metadata"]["labels"] == {"saw-second": "yes", "second": "done"}
    assert len(hooks.reviews["/first"]) == 2 and len(hooks.reviews["/second"]) == 1

    # Never: called once, keeps what it saw first.
    status, _ = await api.patch(f"{MUTATING}/a-first", content_type="application/json-patch+json",
                                json=[{"op": "replace", "path": "/webhooks/0/reinvocationPolicy",
                                       "value": "Never"}])
    assert status == 200
    hooks.reviews.clear()
    status, created = await api.post(PODS, json=pod("q"))
    assert created["metadata"]["labels"] == {"saw-second": "no", "second": "done"}
    assert len(hooks.reviews["/first"]) == 1


async def test_warnings_become_warning_headers(api, hooks):
    hooks.answers["/v"] = lambda review: {"warnings": ["image tag latest is discouraged"]}
    await install(api, VALIDATING, "warn", webhook("warn.example.com", hooks.url + "/v", hooks.ca_bundle))
    async with api.session.post(api.url + PODS, data=orjson.dumps(pod("p")),
                                headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 201
        assert resp.headers.getall("Warning") == ['299 - "image tag latest is discouraged"']


async def test_dry_run_and_side_effects(api, hooks):
    hooks.answers["/v"] = lambda review: {}
    await install(api, VALIDATING, "dry", webhook("dry.example.com", hooks.url + "/v", hooks.ca_bundle,
                                                  sideEffects="NoneOnDryRun"))
    status, body = await api.post(PODS, json=pod("p"), params={"dryRun": "All"})
    assert status == 201, body
    assert hooks.reviews["/v"][-1]["request"]["dryRun"] is True
    assert hooks.reviews["/v"][-1]["request"]["options"]["dryRun"] == ["All"]
    assert (await api.get(f"{PODS}/p"))[0] == 404

    effects = webhook("effects.example.com", hooks.url + "/v", hooks.ca_bundle, sideEffects="Some")
    status, body = await api.post(VALIDATING, json={"metadata": {"name": "effects"}, "webhooks": [effects]})
    assert status == 422
    assert body["message"] == ('ValidatingWebhookConfiguration.admissionregistration.k8s.io "effects" is invalid: '
                               'webhooks[0].sideEffects: Unsupported value: "Some": supported values: '
                               '"None", "NoneOnDryRun"')
    # One stored before that rule (written under the API): dry runs cannot use it.
    await write_behind_the_servers_back(api, "effects", effects)
    status, body = 0, {}
    for _ in range(100):
        status, body = await api.post(PODS, json=pod("p"), params={"dryRun": "All"})
        if status != 201:
            break
        await asyncio.sleep(0.02)
    assert status == 400
    assert body["message"] == 'admission webhook "effects.example.com" does not support dry run'


async def write_behind_the_servers_back(api, name: str, *webhooks: dict[str, Any]) -> None:
    """As another apiserver sharing the store would: straight into the store, no admission."""
    from kybernetes.apiserver import codec, keys

    info = api.objects.registry.get("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
    config = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
              "metadata": {"name": name, "uid": name}, "webhooks": list(webhooks)}
    await api.store.create(keys.object_key(info, None, name), codec.encode(config))


async def test_configuration_changes_apply_to_the_next_request(api, hooks):
    hooks.answers["/v"] = lambda review: {"allowed": False, "status": {"message": "closed"}}
    for attempt in range(3):
        await install(api, VALIDATING, "gate", webhook("gate.example.com", hooks.url + "/v", hooks.ca_bundle))
        assert (await api.post(PODS, json=pod(f"p{attempt}")))[0] == 403
        assert (await api.delete(f"{VALIDATING}/gate"))[0] == 200
        assert (await api.post(PODS, json=pod(f"p{attempt}")))[0] == 201


async def test_configuration_written_behind_the_servers_back_arrives_by_watch(api, hooks):
    """Another apiserver on the same store: the watch brings the configuration in."""
    hooks.answers["/v"] = lambda review: {"allowed": False, "status": {"message": "from elsewhere"}}
    await write_behind_the_servers_back(api, "elsewhere", webhook("elsewhere.example.com", hooks.url + "/v",
                                                                  hooks.ca_bundle))
    status = 0
    for _ in range(100):
        status, _ = await api.post(PODS, json=pod("p"))
        if status == 403:
            break
        await api.delete(f"{PODS}/p")
        await asyncio.sleep(0.02)
    assert status == 403


async def test_bad_patch_fails_the_request(api, hooks):
    hooks.answers["/m"] = lambda review: {"patchType": "JSONPatch",
                                          "patch": base64.b64encode(b'[{"op": "remove", "path": "/nope"}]').decode()}
    await install(api, MUTATING, "bad", webhook("bad.example.com", hooks.url + "/m", hooks.ca_bundle,
                                                failurePolicy="Ignore"))
    status, body = await api.post(PODS, json=pod("p"))
    assert status == 500
    assert 'admission webhook "bad.example.com"' in body["message"]


async def test_wrong_uid_in_answer_is_a_call_failure(api, hooks):
    hooks.answers["/v"] = lambda review: {"uid": "not-the-one"}
    await install(api, VALIDATING, "uid", webhook("uid.example.com", hooks.url + "/v", hooks.ca_bundle))
    status, body = await api.post(PODS, json=pod("p"))
    assert status == 500
    assert 'expected response.uid=' in body["message"]


async def test_service_reference_without_endpoints_follows_failure_policy(api, hooks):
    service_hook = webhook("svc.example.com", "", hooks.ca_bundle, failurePolicy="Fail")
    service_hook["clientConfig"] = {"service": {"namespace": "default", "name": "hook", "path": "/v"},
                                    "caBundle": hooks.ca_bundle}
    await install(api, VALIDATING, "svc", service_hook)
    status, body = await api.post(PODS, json=pod("p"))
    assert status == 500
    assert 'service "hook" not found' in body["message"]
    with contextlib.suppress(Exception):
        await api.delete(f"{VALIDATING}/svc")
