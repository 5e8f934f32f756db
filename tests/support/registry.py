"""A real OCI/Docker registry (Debian's ``docker-registry``, CNCF distribution 2.8) on loopback.

    with LocalRegistry() as registry:                 # anonymous pull and push
        registry.url                                  # "http://127.0.0.1:PORT"
        registry.host                                 # "127.0.0.1:PORT" (the image reference prefix)
    with LocalRegistry(auth="basic", username="u", password="p") as registry: ...
    with LocalRegistry(auth="token", username="u", password="p") as registry:
        registry.token_requests                       # every query the token server answered
    # the registry (and token server) stopped, every temp dir removed, also when the body raised

``auth="token"`` is Docker Hub's scheme: the registry answers 401 with ``WWW-Authenticate: Bearer
realm=...,service=...,scope=...``; a small token server started here (loopback, a thread) checks
the basic credentials and hands out ES256 JWTs that the registry verifies against a throw-away
certificate (``x5c`` header), exactly as it verifies Docker Hub's. ``auth="basic"`` uses an
htpasswd file (bcrypt, through the C library's crypt).

Push images into it with tests/support/oci.py (``push_image``, ``push_index``).
"""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings

from tests.support.ports import free_port

REGISTRY_BINARY = os.environ.get("KYB_REGISTRY_BINARY", shutil.which("docker-registry") or "/usr/bin/docker-registry")
SERVICE = "kyb-test-registry"
ISSUER = "kyb-test-token-issuer"


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))


class _TokenServer:
    """Hands out registry JWTs to clients with the right basic credentials."""

    def __init__(self, workdir: str, username: str, password: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.username, self.password = username, password
        self.requests: list[dict[str, list[str]]] = []
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kyb test token signer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_path = os.path.join(workdir, "token-signer.crt")
        with open(self.cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.port = free_port()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                server._answer(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        import jwt

        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        self.requests.append(query)
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if handler.headers.get("Authorization", "") != f"Basic {expected}":
            handler.send_response(401)
            handler.send_header("Content-Type", "application/json")
            handler.end_headers()
            handler.wfile.write(b'{"details":"incorrect username or password"}')
            return
        access = []
        for scope in query.get("scope", []):
            for item in scope.split(" "):
                kind, _, rest = item.partition(":")
                name, _, actions = rest.rpartition(":")
                access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": self.username, "aud": query.get("service", [SERVICE])[0],
                  "exp": now + 600, "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        token = jwt.encode(claims, self.key, algorithm="ES256", headers={"x5c": [self.x5c]})
        body = json.dumps({"token": token, "access_token": token, "expires_in": 600}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class LocalRegistry:
    """``docker-registry serve`` on 127.0.0.1 with a temp storage dir (a context manager)."""

    def __init__(self, auth: str = "", username: str = "user", password: str = "secret") -> None:
        if auth not in ("", "basic", "token"):
            raise ValueError(f"auth must be '', 'basic' or 'token', not {auth!r}")
        self.auth, self.username, self.password = auth, username, password
        self.port = 0
        self.workdir = ""
        self.process: subprocess.Popen | None = None
        self._token_server: _TokenServer | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def token_requests(self) -> list[dict[str, list[str]]]:
        return self._token_server.requests if self._token_server else []

    def __enter__(self) -> LocalRegistry:
        self.workdir = tempfile.mkdtemp(prefix="kyb-registry-")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _config(self) -> str:
        lines = ["version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true",
                 "storage:", "  filesystem:", f"    rootdirectory: {self.workdir}/storage",
                 "  delete:", "    enabled: true",
                 "http:", f"  addr: 127.0.0.1:{self.port}", f"  secret: {uuid.uuid4().hex}"]
        if self.auth == "basic":
            htpasswd = os.path.join(self.workdir, "htpasswd")
            with open(htpasswd, "w") as f:
                f.write(f"{self.username}:{_bcrypt(self.password)}\n")
            lines += ["auth:", "  htpasswd:", "    realm: kyb-test", f"    path: {htpasswd}"]
        elif self.auth == "token":
            self._token_server = _TokenServer(self.workdir, self.username, self.password)
            lines += ["auth:", "  token:", f"    realm: {self._token_server.realm}", f"    service: {SERVICE}",
                      f"    issuer: {ISSUER}", f"    rootcertbundle: {self._token_server.cert_path}"]
        return "\n".join(lines) + "\n"

    def _start(self) -> None:
        for _attempt in range(3):
            self.port = free_port()
            config_path = os.path.join(self.workdir, "config.yml")
            with open(config_path, "w") as f:
                f.write(self._config())
            log = open(os.path.join(self.workdir, "registry.log"), "wb")
            self.process = subprocess.Popen([REGISTRY_BINARY, "serve", config_path], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            if self._wait_ready():
                return
            self._stop_process()
            if self._token_server:
                self._token_server.stop()
                self._token_server = None
        raise RuntimeError(f"docker-registry did not start: {self.log()[-2000:]}")

    def _wait_ready(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=1):
                    return True
            except urllib.error.HTTPError as e:
                if e.code == 401:  # up, and asking for credentials
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def log(self) -> str:
        try:
            with open(os.path.join(self.workdir, "registry.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _stop_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def stop(self) -> None:
        self._stop_process()
        if self._token_server:
            self._token_server.stop()
            self._token_server = None
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = ""
