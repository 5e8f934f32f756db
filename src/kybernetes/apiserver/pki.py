"""The cluster's PKI: one CA, the apiserver's serving certificate, the admin's client certificate.

    pki/ca.crt  ca.key            the cluster CA (EC P-256, 10 years); signs everything below
    pki/apiserver.crt .key        serving certificate; SANs = loopback, the host, kubernetes.default...
    pki/admin.crt  admin.key      CN=kubernetes-admin, O=system:masters (the admin kubeconfig's user)
    pki/sa.key  sa.pub            signs / verifies service-account tokens (EC P-256, as kubeadm's pair)

``ensure_cluster_pki`` creates what is missing on first start and reuses it afterwards, so a
restart keeps every kubeconfig valid. A leaf is issued again when it is missing, not signed by the
CA on disk, close to expiry, or (the serving certificate) lacks a SAN the host now needs. Keys are
created with mode 0600 from the first byte (util.files.write_atomic).

Identity is carried the Kubernetes way: a client certificate's CN is the user name and each O is a
group (apiserver/authn.py reads them back).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kybernetes.util.files import PUBLIC, ensure_private_dir, write_atomic

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)  # a leaf this close to expiry is issued again at start
CLOCK_SKEW = dt.timedelta(minutes=5)  # not-before is back-dated so a slightly slow peer accepts it

ADMIN_USER = "kubernetes-admin"
MASTERS_GROUP = "system:masters"

# The names in-cluster clients use for the apiserver (the "kubernetes" Service in "default").
CLUSTER_SERVICE_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


class PkiError(Exception):
    """The PKI directory holds something we cannot use (e.g. a CA certificate without its key)."""


@dataclass(frozen=True)
class CertificateAuthority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issued(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` carries a valid signature of this CA."""
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True


@dataclass(frozen=True)
class IssuedCert:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _key_pem(self.key)


@dataclass(frozen=True)
class ClusterPki:
    """Paths of the files ``ensure_cluster_pki`` manages, plus the loaded CA."""

    directory: Path
    ca: CertificateAuthority

    @property
    def ca_cert_file(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key_file(self) -> Path:
        return self.directory / "ca.key"

    @property
    def serving_cert_file(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key_file(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def admin_cert_file(self) -> Path:
        return self.directory / "admin.crt"

    @property
    def admin_key_file(self) -> Path:
        return self.directory / "admin.key"

    @property
    def service_account_key_file(self) -> Path:
        return self.directory / "sa.key"

    @property
    def service_account_public_key_file(self) -> Path:
        return self.directory / "sa.pub"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _serial() -> int:
    return x509.random_serial_number()


def new_certificate_authority(common_name: str = "kybernetes-ca") -> CertificateAuthority:
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(cert, key)


def _leaf(ca: CertificateAuthority, subject: x509.Name, usage: x509.ObjectIdentifier,
          sans: list[x509.GeneralName] | None = None) -> IssuedCert:
    key = _new_key()
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + LEAF_VALIDITY, ca.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return IssuedCert(builder.sign(ca.key, hashes.SHA256()), key)


def issue_client_cert(ca: CertificateAuthority, cn: str, groups: list[str] | tuple[str, ...] = ()) -> IssuedCert:
    """A client certificate for user ``cn`` in ``groups`` (one O attribute per group)."""
    if not cn:
        raise PkiError("a client certificate needs a common name (the user name)")
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return _leaf(ca, x509.Name(attrs), ExtendedKeyUsageOID.CLIENT_AUTH)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host.lower())


def serving_sans(hosts: list[str]) -> list[str]:
    """The SANs the serving certificate needs: loopback, the given hosts, the in-cluster names."""
    out: list[str] = []
    for h in ["127.0.0.1", "::1", "localhost", *hosts, *CLUSTER_SERVICE_NAMES]:
        h = h.strip().strip("[]")
        if h and h not in ("0.0.0.0", "::") and h not in out:
            out.append(h)
    return out


def issue_serving_cert(ca: CertificateAuthority, hosts: list[str]) -> IssuedCert:
    sans = serving_sans(hosts)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    return _leaf(ca, subject, ExtendedKeyUsageOID.SERVER_AUTH, [_general_name(h) for h in sans])


def _sans_of(cert: x509.Certificate) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in ext.get_values_for_type(x509.IPAddress)} | {
        v.lower() for v in ext.get_values_for_type(x509.DNSName)
    }


def _normalise(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()


def _load_pair(cert_file: Path, key_file: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The certificate and key at these paths, or None when either is missing or unreadable."""
    if not cert_file.exists() or not key_file.exists():
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except ValueError:
        return None
    if cert.public_key() != key.public_key():
        return None
    return cert, key  # type: ignore[return-value]


def _load_or_create_ca(pki_dir: Path) -> CertificateAuthority:
    cert_file, key_file = pki_dir / "ca.crt", pki_dir / "ca.key"
    if not cert_file.exists() and not key_file.exists():
        ca = new_certificate_authority()
        write_atomic(key_file, _key_pem(ca.key))
        write_atomic(cert_file, ca.cert_pem, PUBLIC)
        return ca
    pair = _load_pair(cert_file, key_file)
    if pair is None:
        # Never silently replace a CA: every certificate and kubeconfig issued so far trusts it.
        raise PkiError(f"{pki_dir}: ca.crt and ca.key must both exist, be readable PEM and match; "
                       "remove both to start a new cluster CA")
    return CertificateAuthority(*pair)


def _leaf_usable(ca: CertificateAuthority, pair, needed_sans: set[str] | None = None) -> bool:
    if pair is None:
        return False
    cert = pair[0]
    if not ca.issued(cert) or cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    return needed_sans is None or needed_sans <= _sans_of(cert)


def ensure_cluster_pki(pki_dir: Path, hosts: list[str]) -> ClusterPki:
    """Create or reuse the cluster PKI in ``pki_dir`` (mode 0700) for an apiserver reachable as
    ``hosts`` (addresses and names besides loopback and the in-cluster service names)."""
    pki_dir = ensure_private_dir(Path(pki_dir))
    ca = _load_or_create_ca(pki_dir)
    pki = ClusterPki(pki_dir, ca)

    needed = {_normalise(h) for h in serving_sans(hosts)}
    if not _leaf_usable(ca, _load_pair(pki.serving_cert_file, pki.serving_key_file), needed):
        _write_leaf(pki.serving_cert_file, pki.serving_key_file, issue_serving_cert(ca, hosts))

    admin = _load_pair(pki.admin_cert_file, pki.admin_key_file)
    if not _leaf_usable(ca, admin):
        _write_leaf(pki.admin_cert_file, pki.admin_key_file,
                    issue_client_cert(ca, ADMIN_USER, [MASTERS_GROUP]))
    ensure_service_account_key(pki.service_account_key_file, pki.service_account_public_key_file)
    return pki


def ensure_service_account_key(key_file: Path, pub_file: Path) -> None:
    """The service-account signing key: made once, kept forever (replacing it would invalidate
    every token in every pod). sa.pub is rewritten from sa.key when missing or stale."""
    if key_file.exists():
        try:
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        except ValueError:
            raise PkiError(f"{key_file}: not a readable PEM private key; remove it (and sa.pub) to make "
                           "a new one, which invalidates every service-account token") from None
    else:
        key = _new_key()
        write_atomic(key_file, _key_pem(key))  # type: ignore[arg-type]
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    if not pub_file.exists() or pub_file.read_bytes() != public:
        write_atomic(pub_file, public)  # 0600, as kubeadm writes it


def _write_leaf(cert_file: Path, key_file: Path, issued: IssuedCert) -> None:
    write_atomic(key_file, issued.key_pem)
    write_atomic(cert_file, issued.cert_pem, PUBLIC)


def serving_ssl_context(cert_file: Path, key_file: Path, client_ca_file: Path | None = None) -> ssl.SSLContext:
    """The apiserver's TLS context: serves ``cert_file`` and, with a client CA, asks for (but does
    not require) a client certificate, which the handshake verifies against that CA. A request
    without one may still authenticate with a bearer token."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    ctx.set_alpn_protocols(["http/1.1"])
    if client_ca_file is not None:
        ctx.load_verify_locations(cafile=str(client_ca_file))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx
