"""Authentication over a real TLS server on 127.0.0.1: client certificates (CN/O), static
bearer tokens, 401 without (valid) credentials, and the health paths that stay open."""

from __future__ import annotations

import ssl

import aiohttp
import pytest
from aiohttp import web

from kybernetes.apiserver import authn
from kybernetes.apiserver.authn import (
    AnonymousAdmin,
    AuthenticatorChain,
    TokenFileAuthenticator,
    TokenFileError,
    UserInfo,
    authentication_middleware,
    build_authenticator,
    parse_token_file,
)
from kybernetes.apiserver.pki import (
    ensure_cluster_pki,
    issue_client_cert,
    new_certificate_authority,
    serving_ssl_context,
)

TOKENS = 'admin-token,alice,uid-1,"system:masters,devs"\nplain-token,bob,uid-2\n'


# -- token file format ------------------------------------------------------------------------

def test_token_file_columns_map_to_user_uid_and_groups():
    tokens = parse_token_file(TOKENS + "\n  \nextra,carol,uid-3,ops,ignored-column\n")
    assert tokens["admin-token"] == UserInfo("alice", "uid-1", ("system:masters", "devs"))
    assert tokens["plain-token"] == UserInfo("bob", "uid-2", ())
    assert tokens["extra"].groups == ("ops",)


@pytest.mark.parametrize("text,message", [
    ("tok,user\n", "at least 3 columns"),
    ("tok,,uid\n", "user name is empty"),
    ('tok,user,uid,"unterminated\n', "token"),
])
def test_bad_token_files_are_typed_errors(text, message):
    with pytest.raises(TokenFileError, match=message):
        parse_token_file(text)


def test_empty_tokens_are_skipped_and_a_missing_file_is_a_typed_error(tmp_path):
    assert parse_token_file(",user,uid\n") == {}
    with pytest.raises(TokenFileError, match="cannot read token file"):
        TokenFileAuthenticator.from_file(tmp_path / "absent.csv")


# -- over TLS ---------------------------------------------------------------------------------

async def _whoami(request: web.Request) -> web.Response:
    user = authn.request_user(request)
    return web.json_response(None if user is None else {"name": user.name, "uid": user.uid,
                                                        "groups": list(user.groups)})


@pytest.fixture
async def server(tmp_path):
    cluster = ensure_cluster_pki(tmp_path / "pki", [])
    token_file = tmp_path / "tokens.csv"
    token_file.write_text(TOKENS)
    app = web.Application(middlewares=[authentication_middleware(
        build_authenticator(client_ca_file=cluster.ca_cert_file, token_auth_file=token_file))])
    app.router.add_get("/healthz", _whoami)
    app.router.add_get("/readyz/ping", _whoami)
    app.router.add_get("/api/v1/pods", _whoami)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=serving_ssl_context(
        cluster.serving_cert_file, cluster.serving_key_file, cluster.ca_cert_file))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield _Server(f"https://127.0.0.1:{port}", cluster, tmp_path)
    finally:
        await runner.cleanup()


class _Server:
    def __init__(self, url, cluster, tmp):
        self.url, self.cluster, self.tmp = url, cluster, tmp

    def tls(self, issued=None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.cluster.ca_cert_file))
        if issued is not None:
            cert, key = self.tmp / "client.crt", self.tmp / "client.key"
            cert.write_bytes(issued.cert_pem)
            key.write_bytes(issued.key_pem)
            ctx.load_cert_chain(str(cert), str(key))
        return ctx

    async def get(self, path, *, tls=None, headers=None):
        async with aiohttp.ClientSession() as s:
            async with s.get(self.url + path, ssl=tls or self.tls(), headers=headers) as resp:
                return resp.status, await resp.json(content_type=None)


async def test_client_certificate_cn_is_the_user_and_o_the_groups(server):
    issued = issue_client_cert(server.cluster.ca, "jane", ["devs", "ops"])
    status, body = await server.get("/api/v1/pods", tls=server.tls(issued))
    assert status == 200
    assert body == {"name": "jane", "uid": "", "groups": ["devs", "ops", "system:authenticated"]}


async def test_the_admin_certificate_is_a_system_master(server):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from kybernetes.apiserver.pki import IssuedCert

    admin = IssuedCert(x509.load_pem_x509_certificate(server.cluster.admin_cert_file.read_bytes()),
                       serialization.load_pem_private_key(server.cluster.admin_key_file.read_bytes(), None))
    status, body = await server.get("/api/v1/pods", tls=server.tls(admin))
    assert (status, body["name"]) == (200, "kubernetes-admin")
    assert "system:masters" in body["groups"]


async def test_bearer_token_from_the_token_file(server):
    status, body = await server.get("/api/v1/pods", headers={"Authorization": "Bearer admin-token"})
    assert status == 200
    assert body == {"name": "alice", "uid": "uid-1",
                    "groups": ["system:masters", "devs", "system:authenticated"]}


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic YWxpY2U6cHc="},
])
async def test_missing_or_invalid_credentials_get_a_401_status(server, headers):
    status, body = await server.get("/api/v1/pods", headers=headers)
    assert status == 401
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


async def test_health_paths_stay_open_without_credentials(server):
    assert await server.get("/healthz") == (200, None)
    assert await server.get("/readyz/ping") == (200, None)
    # ...and still see who is asking when there are credentials
    status, body = await server.get("/healthz", headers={"Authorization": "Bearer plain-token"})
    assert body["name"] == "bob"


async def test_a_certificate_from_another_ca_fails_the_handshake(server):
    stranger = issue_client_cert(new_certificate_authority("other"), "mallory", ["system:masters"])
    with pytest.raises(aiohttp.ClientError):
        await server.get("/api/v1/pods", tls=server.tls(stranger))


async def test_server_certificate_is_valid_for_127_0_0_1(server):
    # default verification (hostname check on) succeeds: the serving cert has the loopback IP SAN
    status, _ = await server.get("/healthz", tls=server.tls())
    assert status == 200


# -- chain ------------------------------------------------------------------------------------

class _Fixed:
    def __init__(self, user):
        self.user, self.calls = user, 0

    def authenticate(self, request):
        self.calls += 1
        return self.user


def test_chain_takes_the_first_identity_and_adds_authenticated_once():
    first, second = _Fixed(None), _Fixed(UserInfo("x", groups=("system:authenticated",)))
    third = _Fixed(UserInfo("y"))
    user = AuthenticatorChain([first, second, third]).authenticate(object())
    assert user == UserInfo("x", groups=("system:authenticated",))
    assert (first.calls, second.calls, third.calls) == (1, 1, 0)
    assert AuthenticatorChain([first]).authenticate(object()) is None


def test_anonymous_admin_and_flag_wiring(tmp_path):
    admin = build_authenticator(anonymous_admin=True)
    assert isinstance(admin, AnonymousAdmin)
    assert "system:masters" in admin.authenticate(object()).groups
    empty = build_authenticator()
    assert empty.authenticate(object()) is None


def test_user_from_subject_needs_a_common_name():
    assert authn.user_from_subject(((("organizationName", "g"),),)) is None
    assert authn.user_from_subject(((("commonName", "u"),), (("organizationName", "g"),))) == UserInfo("u", groups=("g",))
