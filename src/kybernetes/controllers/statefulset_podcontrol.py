"""The writes a StatefulSet makes for one pod: create, delete, fix identity, and its claims.

Each write is reported as an event on the set, worded as Kubernetes words them
("create Pod web-0 in StatefulSet web successful", "create Claim data-web-0 Pod web-0 in
StatefulSet web success"). Claims are created before their pod, so the pod never starts without
its storage; a claim that is being deleted blocks the pod until it is gone.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy
from kybernetes.client.resource import PERSISTENTVOLUMECLAIMS, PODS
from kybernetes.controllers import statefulset_pods as sp

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def _name(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name", "")


class StatefulPodControl:
    def __init__(self, client: Any, events: Any, claims: Any):
        self.client = client
        self.events = events
        self.claims = claims  # the PersistentVolumeClaim informer

    # -- events ----------------------------------------------------------------------------------

    async def _pod_event(self, verb: str, sts: Obj, pod: Obj, error: Exception | None) -> None:
        if error is None:
            await self.events.normal(sts, f"Successful{verb.title()}",
                                     f"{verb} Pod {_name(pod)} in StatefulSet {_name(sts)} successful")
        else:
            await self.events.warning(sts, f"Failed{verb.title()}",
                                      f"{verb} Pod {_name(pod)} in StatefulSet {_name(sts)} failed error: "
                                      f"{_text(error)}")

    async def _claim_event(self, verb: str, sts: Obj, pod: Obj, claim: Obj, error: Exception | None) -> None:
        if error is None:
            await self.events.normal(sts, f"Successful{verb.title()}",
                                     f"{verb} Claim {_name(claim)} Pod {_name(pod)} in StatefulSet {_name(sts)} "
                                     "success")
        else:
            await self.events.warning(sts, f"Failed{verb.title()}",
                                      f"{verb} Claim {_name(claim)} for Pod {_name(pod)} in StatefulSet "
                                      f"{_name(sts)} failed error: {_text(error)}")

    # -- pods ------------------------------------------------------------------------------------

    async def create_pod(self, sts: Obj, pod: Obj) -> None:
        try:
            await self.create_missing_claims(sts, pod)
        except Exception as e:
            await self._pod_event("create", sts, pod, e)
            raise
        namespace = (sts.get("metadata") or {}).get("namespace")
        try:
            created = await self.client.create(PODS, pod, namespace)
        except ApiError as e:
            if e.code == 409:
                return  # our cache is behind: the pod exists; its watch event brings us back
            if e.code == 403 and "being terminated" in (e.message or ""):
                return
            await self._pod_event("create", sts, pod, e)
            raise
        await self.update_claims_for_policy(sts, created)
        await self._pod_event("create", sts, pod, None)

    async def delete_pod(self, sts: Obj, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        try:
            await self.client.delete(PODS, meta["name"], meta.get("namespace"))
        except ApiError as e:
            if e.code == 404:
                return
            await self._pod_event("delete", sts, pod, e)
            raise
        await self._pod_event("delete", sts, pod, None)

    async def update_pod(self, sts: Obj, pod: Obj) -> None:
        """Restore the pod's identity labels and storage, and its claims' owners (UpdateStatefulPod)."""
        pod = deep_copy(pod)
        consistent = True
        if not sp.identity_matches(sts, pod):
            sp.update_identity(sts, pod)
            consistent = False
        if not sp.storage_matches(sts, pod):
            sp.update_storage(sts, pod)
            consistent = False
            try:
                await self.create_missing_claims(sts, pod)
            except Exception as e:
                await self._pod_event("update", sts, pod, e)
                raise
        if not self.claims_match_policy(sts, pod):
            await self.update_claims_for_policy(sts, pod)
        if consistent:
            return
        try:
            await self.client.update(PODS, pod)
        except ApiError as e:
            if e.code == 404:
                return
            await self._pod_event("update", sts, pod, e)
            raise
        await self._pod_event("update", sts, pod, None)

    # -- claims ----------------------------------------------------------------------------------

    def _cached_claim(self, claim: Obj) -> Obj | None:
        meta = claim.get("metadata") or {}
        return self.claims.get_by_name(meta.get("namespace"), meta.get("name", ""))

    async def create_missing_claims(self, sts: Obj, pod: Obj) -> None:
        errors: list[Exception] = []
        for claim in sp.claims_for(sts, sp.ordinal_of(pod)).values():
            existing = self._cached_claim(claim)
            if existing is not None:
                if (existing.get("metadata") or {}).get("deletionTimestamp"):
                    errors.append(RuntimeError(f"pvc {_name(claim)} is being deleted"))
                continue
            refs = sp.claim_owner_refs(claim, sts, pod)  # born with the owners the policy wants
            if refs:
                claim["metadata"]["ownerReferences"] = refs
            try:
                await self.client.create(PERSISTENTVOLUMECLAIMS, claim, (claim.get("metadata") or {}).get("namespace"))
            except ApiError as e:
                if e.code == 409:
                    continue  # created already; the cache has not seen it yet
                errors.append(RuntimeError(f"failed to create PVC {_name(claim)}: {e.message}"))
                await self._claim_event("create", sts, pod, claim, e)
                continue
            await self._claim_event("create", sts, pod, claim, None)
        if errors:
            raise errors[0]

    def claim_is_stale(self, sts: Obj, pod: Obj) -> bool:
        """A claim still owned by an earlier pod of this ordinal: wait for the garbage collector."""
        if sp.retention_policy(sts)[1] == sp.RETAIN:
            return False
        for claim in sp.claims_for(sts, sp.ordinal_of(pod)).values():
            existing = self._cached_claim(claim)
            if existing is None:
                continue
            for ref in (existing.get("metadata") or {}).get("ownerReferences") or []:
                if ref.get("kind") == "Pod" and ref.get("name") == _name(pod) and \
                        ref.get("uid") != (pod.get("metadata") or {}).get("uid"):
                    return True
        return False

    def claims_match_policy(self, sts: Obj, pod: Obj) -> bool:
        for claim in sp.claims_for(sts, sp.ordinal_of(pod)).values():
            existing = self._cached_claim(claim)
            if existing is not None and not sp.claim_owner_up_to_date(existing, sts, pod):
                return False
        return True

    async def update_claims_for_policy(self, sts: Obj, pod: Obj) -> None:
        for claim in sp.claims_for(sts, sp.ordinal_of(pod)).values():
            existing = self._cached_claim(claim)
            if existing is None or sp.claim_owner_up_to_date(existing, sts, pod):
                continue
            updated = deep_copy(existing)
            updated["metadata"]["ownerReferences"] = sp.claim_owner_refs(existing, sts, pod)
            try:
                await self.client.update(PERSISTENTVOLUMECLAIMS, updated)
            except ApiError as e:
                if e.code == 404:
                    continue
                await self._claim_event("update", sts, pod, claim, e)
                raise


def _text(error: Exception) -> str:
    return error.message if isinstance(error, ApiError) else str(error)
