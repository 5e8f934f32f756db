"""projected volumes: several sources in one directory, on a tmpfs.

    serviceAccountToken   a TokenRequest token for the pod (audience, expirationSeconds), bound
                          to the pod and refreshed by the token manager at 80% of its life
    configMap | secret    keys as files (items, optional), as their own volume types
    downwardAPI           the pod's fields, as the downwardAPI volume type

This is how every pod gets /var/run/secrets/kubernetes.io/serviceaccount (token, ca.crt from the
kube-root-ca.crt ConfigMap, namespace). clusterTrustBundle sources are not supported.
"""

from __future__ import annotations

from pathlib import Path

from kybernetes.kubelet.volumes import config_map, downward_api, secret
from kybernetes.kubelet.volumes.atomic_writer import FileProjection
from kybernetes.kubelet.volumes.context import Obj, VolumeContext, file_mode
from kybernetes.kubelet.volumes.errors import SourceError, VolumeSetupError
from kybernetes.kubelet.volumes.projection import DEFAULT_MODE, Payload, write_volume

PLUGIN = "projected"
DEFAULT_TOKEN_EXPIRATION = 3600


async def _token(ctx: VolumeContext, volume: str, source: Obj, mode: int) -> Payload:
    audience = str(source.get("audience") or "")
    expiration = source.get("expirationSeconds")
    expiration = int(expiration) if isinstance(expiration, int) and not isinstance(expiration, bool) \
        else DEFAULT_TOKEN_EXPIRATION
    try:
        token = await ctx.tokens.token(ctx.pod, audiences=(audience,) if audience else (),
                                       expiration_seconds=expiration)
    except SourceError as e:
        raise VolumeSetupError(volume, str(e)) from None
    return {str(source.get("path") or "token"): FileProjection(token.token.encode(), mode)}


async def payload(ctx: VolumeContext, volume: str, source: Obj) -> Payload:
    default_mode = file_mode(source.get("defaultMode"), DEFAULT_MODE)
    files: Payload = {}
    for entry in source.get("sources") or []:
        if entry.get("serviceAccountToken") is not None:
            files.update(await _token(ctx, volume, entry["serviceAccountToken"], default_mode))
        elif entry.get("configMap") is not None:
            files.update(await config_map.payload(ctx, volume, entry["configMap"], default_mode))
        elif entry.get("secret") is not None:
            sub = entry["secret"]
            files.update(await secret.payload(ctx, volume, str(sub.get("name") or ""), sub, default_mode))
        elif entry.get("downwardAPI") is not None:
            files.update(downward_api.payload(ctx, volume, entry["downwardAPI"].get("items") or [], default_mode))
        elif entry.get("clusterTrustBundle") is not None:
            raise VolumeSetupError(volume, "clusterTrustBundle projections are not supported on this node")
    return files


async def set_up(ctx: VolumeContext, volume: Obj) -> Path:
    name = volume.get("name", "")
    files = await payload(ctx, name, volume.get("projected") or {})
    return write_volume(ctx, PLUGIN, name, files, memory=True)
