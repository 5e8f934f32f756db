"""The dynamic admission plugins: MutatingAdmissionWebhook and ValidatingAdmissionWebhook.

    admit (mutating phase, after the built-in mutating plugins):
        webhooks in order ─► AdmissionReview ─► allowed? patch (JSONPatch) applied in order
        a later webhook changed the object?  re-invoke, once, the earlier ones that said
        reinvocationPolicy: IfNeeded
    validate (validating phase, after schema validation):
        every matching validating webhook at once (asyncio.gather); any denial fails the request

A denial is the webhook's own status (code 403 unless it gave one of at least 400), its message
prefixed as upstream prefixes it: ``admission webhook "x.example.com" denied the request: ...``.
A webhook that cannot be called (down, timeout, TLS, bad answer) fails the request with 500
``failed calling webhook "x": ...`` when its failurePolicy is Fail, and is skipped when Ignore.
Warnings in answers become Warning headers. A dry-run request reaching a webhook that declares
side effects (sideEffects other than None/NoneOnDryRun) is refused with 400, as upstream does.
The configurations themselves are checked here too (webhook_validation.py: 422 Invalid).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Any

import orjson

from kybernetes.api import errors
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.admission import Attributes
from kybernetes.apiserver.patching import json_patch
from kybernetes.apiserver.webhook_client import (
    WebhookCaller,
    WebhookCallError,
    build_review,
    review_version,
)
from kybernetes.apiserver.webhook_config import (
    EXEMPT_RESOURCES,
    GROUP,
    MUTATING_RESOURCE,
    VALIDATING_RESOURCE,
    Webhook,
    match_rules,
    selectors_match,
)
from kybernetes.apiserver.webhook_source import WebhookSource
from kybernetes.apiserver.webhook_validation import validate_configuration

log = logging.getLogger(__name__)

_NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")


def denial(hook: Webhook, response: dict[str, Any]) -> errors.ApiError:
    status = response.get("status") if isinstance(response.get("status"), dict) else {}
    code = status.get("code")
    if not isinstance(code, int) or code < 400:
        code = 403
    denied_by = f'admission webhook "{hook.name}" denied the request'
    if status.get("message"):
        message = f"{denied_by}: {status['message']}"
    elif status.get("reason"):
        message = f"{denied_by}: {status['reason']}"
    else:
        message = f"{denied_by} without explanation"
    err = errors.ApiError(code, str(status.get("reason") or ""), message)
    details = status.get("details") if isinstance(status.get("details"), dict) else {}
    err.name = str(details.get("name") or "")
    err.group = str(details.get("group") or "")
    err.kind = str(details.get("kind") or "")
    for cause in details.get("causes") or []:
        if isinstance(cause, dict):
            err.causes.append(errors.Cause(str(cause.get("reason") or ""), str(cause.get("message") or ""),
                                           str(cause.get("field") or "")))
    return err


class _WebhookPlugin:
    mutating = False

    def __init__(self, objects: Any, source: WebhookSource, caller: WebhookCaller):
        self._objects = objects
        self._source = source
        self._caller = caller

    async def _namespace_labels(self, attrs: Attributes) -> dict[str, str] | None:
        if not attrs.info.namespaced or not attrs.namespace:
            return None
        ns_info = self._objects.registry.get("", "v1", "namespaces")
        ns = await self._objects.get_or_none(ns_info, None, attrs.namespace) if ns_info else None
        labels = ((ns or {}).get("metadata") or {}).get("labels")
        return labels if isinstance(labels, dict) else {}

    async def matching(self, attrs: Attributes) -> list[tuple[Webhook, ResourceInfo]]:
        info = attrs.info
        if info.group == GROUP and info.resource in EXEMPT_RESOURCES:
            if info.resource in (MUTATING_RESOURCE, VALIDATING_RESOURCE) and not attrs.dry_run:
                self._source.note_change()
            return []
        hooks = await self._source.webhooks(self.mutating)
        if not hooks:
            return []
        found: list[tuple[Webhook, ResourceInfo]] = []
        namespace = attrs.name if info.group == "" and info.resource == "namespaces" else attrs.namespace
        unset = object()
        ns_labels: Any = unset
        for hook in hooks:
            matched = match_rules(hook, self._objects.registry, info, attrs.operation, attrs.subresource,
                                  namespace)
            if matched is None:
                continue
            if ns_labels is unset:
                ns_labels = await self._namespace_labels(attrs)
            try:
                if not selectors_match(hook, info, ns_labels, attrs.obj, attrs.old_obj):
                    continue
            except errors.ApiError as e:
                self.failed(hook, WebhookCallError(hook.name, f"invalid selector: {e.message}"))
                continue
            found.append((hook, matched))
        return found

    @staticmethod
    def failed(hook: Webhook, error: WebhookCallError) -> None:
        if hook.ignores_failures:
            log.warning("%s (failurePolicy Ignore: admitted without it)", error)
            return
        raise errors.internal(str(error))

    async def ask(self, attrs: Attributes, hook: Webhook, matched: ResourceInfo) -> dict[str, Any] | None:
        """The webhook's checked response, or None when it failed and may be ignored.
        Raises the denial when it refuses."""
        if attrs.dry_run and hook.side_effects not in _NO_SIDE_EFFECTS:
            raise errors.bad_request(f'admission webhook "{hook.name}" does not support dry run')
        version = review_version(hook)
        if version is None:
            self.failed(hook, WebhookCallError(
                hook.name, "webhook does not accept known AdmissionReview versions (v1, v1beta1)"))
            return None
        review = build_review(attrs, hook, matched, version)
        try:
            response = await self._caller.call(hook, review)
        except WebhookCallError as e:
            self.failed(hook, e)
            return None
        for warning in response.get("warnings") or []:
            if isinstance(warning, str):
                attrs.warn(warning)
        if not response["allowed"]:
            raise denial(hook, response)
        return response


class MutatingWebhooks(_WebhookPlugin):
    name = "MutatingAdmissionWebhook"
    mutating = True

    async def admit(self, attrs: Attributes) -> None:
        matched = await self.matching(attrs)
        if not matched:
            return
        invoked_if_needed: list[int] = []
        reinvoke: set[int] = set()
        for index, (hook, info) in enumerate(matched):
            if await self._invoke(attrs, hook, info):
                reinvoke.update(invoked_if_needed)
            if hook.reinvocation_policy == "IfNeeded":
                invoked_if_needed.append(index)
        for index, (hook, info) in enumerate(matched):
            if index in reinvoke:
                await self._invoke(attrs, hook, info)

    async def _invoke(self, attrs: Attributes, hook: Webhook, info: ResourceInfo) -> bool:
        """Call one mutating webhook and apply its patch; True when the object changed."""
        response = await self.ask(attrs, hook, info)
        if response is None or not response.get("patch") or not isinstance(attrs.obj, dict):
            return False
        if response.get("patchType") != "JSONPatch":
            raise errors.internal(f'admission webhook "{hook.name}" returned a patch of unsupported '
                                  f'type {response.get("patchType")!r}: only "JSONPatch" is supported')
        try:
            operations = orjson.loads(base64.b64decode(str(response["patch"]), validate=True))
            patched = json_patch(orjson.loads(orjson.dumps(attrs.obj)), operations)
        except (binascii.Error, orjson.JSONDecodeError, errors.ApiError) as e:
            detail = e.message if isinstance(e, errors.ApiError) else str(e)
            raise errors.internal(f'admission webhook "{hook.name}" returned a patch that cannot be '
                                  f"applied: {detail}") from None
        if not isinstance(patched, dict):
            raise errors.internal(f'admission webhook "{hook.name}" patched the object into a non-object')
        if patched == attrs.obj:
            return False
        attrs.obj = patched
        attrs.mutated = True
        return True


class ValidatingWebhooks(_WebhookPlugin):
    name = "ValidatingAdmissionWebhook"

    async def validate(self, attrs: Attributes) -> None:
        info = attrs.info
        if (info.group == GROUP and info.resource in (MUTATING_RESOURCE, VALIDATING_RESOURCE)
                and not attrs.subresource and isinstance(attrs.obj, dict)):
            validate_configuration(attrs.obj, info.resource == MUTATING_RESOURCE)
        matched = await self.matching(attrs)
        if not matched:
            return
        if len(matched) == 1:
            await self.ask(attrs, *matched[0])
            return
        results = await asyncio.gather(*(self.ask(attrs, hook, info) for hook, info in matched),
                                       return_exceptions=True)
        for result in results:  # the first refusal in webhook order is the one reported
            if isinstance(result, BaseException):
                raise result
