"""Service-account tokens for pods, from the TokenRequest API, kept fresh.

As Kubernetes' kubelet token manager: a token is asked for per (service account, audiences,
expirationSeconds, pod) and bound to the pod (boundObjectRef), so it dies with the pod. It is
reused until 80% of its lifetime has passed (or 24 hours, whichever comes first), then a new one
is requested; projected volumes rewrite their token file on the next resync. Tokens of pods
that went away are forgotten with ``forget_pod``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client import ApiClient
from kybernetes.client.resource import SERVICEACCOUNTS
from kybernetes.kubelet.volumes.errors import SourceError
from kybernetes.util.clock import REAL_CLOCK, Clock

Obj = dict[str, Any]
REFRESH_FRACTION = 0.8
MAX_REUSE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Token:
    token: str
    issued_at: float  # clock.now() when it was received
    lifetime: float  # seconds from issue to expiry

    def due(self, now: float) -> bool:
        return now - self.issued_at >= min(self.lifetime * REFRESH_FRACTION, MAX_REUSE_SECONDS)

    def refresh_in(self, now: float) -> float:
        return max(0.0, self.issued_at + min(self.lifetime * REFRESH_FRACTION, MAX_REUSE_SECONDS) - now)


class TokenManager:
    def __init__(self, client: ApiClient, *, clock: Clock | None = None):
        self.client = client
        self.clock = clock or REAL_CLOCK
        self._tokens: dict[tuple, Token] = {}
        self.requests = 0

    async def token(self, pod: Obj, *, audiences: tuple[str, ...], expiration_seconds: int) -> Token:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        namespace, uid = meta.get("namespace") or "default", meta.get("uid") or ""
        account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        key = (namespace, account, audiences, expiration_seconds, uid)
        cached = self._tokens.get(key)
        if cached is not None and not cached.due(self.clock.now()):
            return cached
        body: Obj = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                     "spec": {"audiences": list(audiences), "expirationSeconds": expiration_seconds,
                              "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name", ""),
                                                 "uid": uid}}}
        self.requests += 1
        try:
            answer = await self.client.create(SERVICEACCOUNTS, body, namespace, name=account, subresource="token")
        except ApiError as e:
            raise SourceError(f'failed to fetch token: serviceaccounts "{account}" token: {e}',
                              not_found=e.code == 404) from None
        except OSError as e:
            raise SourceError(f"failed to fetch token: {e}") from None
        status = answer.get("status") or {}
        # The server may grant a longer life than asked; its spec says what it granted. The age
        # is counted on our clock from now, so a skewed node clock does not matter.
        granted = (answer.get("spec") or {}).get("expirationSeconds")
        lifetime = float(granted if isinstance(granted, int) and granted > 0 else expiration_seconds)
        token = Token(str(status.get("token") or ""), self.clock.now(), lifetime)
        self._tokens[key] = token
        return token

    def next_refresh_in(self) -> float | None:
        """Seconds until the first cached token is due (None: none cached)."""
        now = self.clock.now()
        return min((t.refresh_in(now) for t in self._tokens.values()), default=None)

    def forget_pod(self, uid: str) -> None:
        for key in [k for k in self._tokens if k[-1] == uid]:
            del self._tokens[key]
