"""The service-account token volume: a projected volume (token from the TokenRequest API bound
to the pod, ca.crt from kube-root-ca.crt, the namespace) on a tmpfs at the path in-cluster
clients read, refreshed at 80% of the token's life; and the opt-outs."""

from __future__ import annotations

import jwt

from kybernetes.client.resource import CONFIGMAPS, PODS, SERVICEACCOUNTS
from kybernetes.kubelet.volumes import fs
from kybernetes.kubelet.volumes.service_account import MOUNT_PATH, VOLUME_PREFIX
from kybernetes.util.clock import FakeClock
from tests.kubelet.test_volumes_support import cluster, make_pod, manager, requires_root

pytestmark = requires_root

CA = "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"


async def created(client, pod: dict) -> dict:
    """The pod as the apiserver stored it (tokens can only be bound to a pod that exists)."""
    pod["metadata"].pop("uid")
    return await client.create(PODS, pod)


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_pods_get_a_projected_token_naming_them_and_it_is_refreshed():
    clock = FakeClock()
    async with cluster() as (client, ns), manager(client, clock=clock) as vm:
        await client.create(CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": CA}}, ns)
        pod = make_pod(ns, [])
        pod["spec"].pop("automountServiceAccountToken")
        pod = await created(client, pod)
        mounted = await vm.mount_pod_volumes(pod)
        (name, path), = mounted.paths.items()
        assert name.startswith(VOLUME_PREFIX) and fs.filesystem_type(path) == "tmpfs"
        assert mounted.extra_mounts == ({"name": name, "mountPath": MOUNT_PATH, "readOnly": True},)
        assert (path / "ca.crt").read_text() == CA and (path / "namespace").read_text() == ns
        token = (path / "token").read_text()
        got = claims(token)
        k8s = got["kubernetes.io"]
        assert k8s["namespace"] == ns and k8s["serviceaccount"]["name"] == "default"
        assert k8s["pod"] == {"name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}
        assert got["exp"] - got["iat"] >= 3607
        # Same name on every sync; no new token before 80% of its life.
        assert (await vm.mount_pod_volumes(pod)).paths == mounted.paths
        await clock.advance(0.7 * 3607)
        assert await vm.resync(pod) == [] and vm.tokens.requests == 1
        await clock.advance(0.11 * 3607)
        assert await vm.resync(pod) == [name] and vm.tokens.requests == 2
        assert claims((path / "token").read_text())["jti"] != got["jti"]
        await vm.unmount_pod_volumes(pod["metadata"]["uid"])
        assert not fs.mounts_under(vm.root_dir)


async def test_explicit_projected_token_with_audience_and_expiry():
    async with cluster() as (client, ns), manager(client) as vm:
        pod = make_pod(ns, [{"name": "vault", "projected": {"sources": [
            {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 7200, "path": "vault-token"}},
            {"downwardAPI": {"items": [{"path": "pod", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}}])
        pod = await created(client, pod)
        path = (await vm.mount_pod_volumes(pod)).paths["vault"]
        got = claims((path / "vault-token").read_text())
        assert got["aud"] in ("vault", ["vault"]) and got["exp"] - got["iat"] == 7200
        assert (path / "pod").read_text() == pod["metadata"]["name"]


async def test_automount_opt_outs():
    async with cluster() as (client, ns), manager(client) as vm:
        pod = make_pod(ns, [])  # automountServiceAccountToken: false on the pod
        assert (await vm.mount_pod_volumes(pod)).paths == {}
        await client.create(SERVICEACCOUNTS, {"metadata": {"name": "quiet"}, "automountServiceAccountToken": False}, ns)
        pod = make_pod(ns, [], serviceAccountName="quiet")
        pod["spec"].pop("automountServiceAccountToken")
        assert (await vm.mount_pod_volumes(pod)).paths == {}
        # A pod that already carries the admission plugin's volume gets no second one.
        pod = make_pod(ns, [{"name": "kube-api-access-abcde", "emptyDir": {}}])
        pod["spec"].pop("automountServiceAccountToken")
        mounted = await vm.mount_pod_volumes(pod)
        assert list(mounted.paths) == ["kube-api-access-abcde"] and mounted.extra_mounts == ()
