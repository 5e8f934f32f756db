"""ResourceQuota, LimitRange and CertificateSigningRequest validation."""

import base64

import pytest

from tests.api.api_validation_helpers import errors_of


def quota(hard=None, **spec):
    return {"metadata": {"name": "q", "namespace": "default"}, "spec": {"hard": hard or {"pods": "10"}, **spec}}


@pytest.mark.parametrize("obj,expected", [
    (quota({"pods": "10", "requests.cpu": "2", "count/deployments.apps": "5"}), []),
    (quota({"pods": "1.5"}), [("spec.hard[pods]", "FieldValueInvalid", 'Invalid value: "1500m": must be an integer')]),
    (quota({"cpu": "-1"}), [("spec.hard[cpu]", "FieldValueInvalid", 'Invalid value: "-1": must be greater than or '
                                                                    "equal to 0")]),
    (quota({"widgets": "1"}), [("spec.hard[widgets]", "FieldValueInvalid",
                                'Invalid value: "widgets": must be a standard resource for quota')]),
    (quota(scopes=["BestEffort", "NotBestEffort"]),
     [("spec.scopes", "FieldValueInvalid",
       'Invalid value: []string{"BestEffort", "NotBestEffort"}: conflicting scopes')]),
    (quota({"cpu": "1"}, scopes=["BestEffort"]),
     [("spec.scopes", "FieldValueInvalid", 'Invalid value: []string{"BestEffort"}: unsupported scope applied to '
                                           "resource")]),
    (quota(scopes=["Sometimes"]),
     [("spec.scopes", "FieldValueInvalid", 'Invalid value: []string{"Sometimes"}: unsupported scope')]),
])
def test_resource_quota(obj, expected):
    assert errors_of("", "resourcequotas", obj) == expected


def limit_range(*limits):
    return {"metadata": {"name": "l", "namespace": "default"}, "spec": {"limits": list(limits)}}


def test_limit_range_defaults_from_max():
    obj = limit_range({"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}})
    assert errors_of("", "limitranges", obj) == []
    item = obj["spec"]["limits"][0]
    assert item["default"] == {"cpu": "2"}
    assert item["defaultRequest"] == {"cpu": "2", "memory": "64Mi"}
    pod = limit_range({"type": "Pod", "max": {"cpu": "2"}})
    errors_of("", "limitranges", pod)
    assert "default" not in pod["spec"]["limits"][0]


@pytest.mark.parametrize("obj,expected", [
    (limit_range({"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}, "default": {"cpu": "1"},
                  "defaultRequest": {"cpu": "1"}}),
     [("spec.limits[0].min[cpu]", "FieldValueInvalid", 'Invalid value: "2": min value 2 is greater than max value 1'),
      ("spec.limits[0].defaultRequest[cpu]", "FieldValueInvalid",
       'Invalid value: "1": min value 2 is greater than default request value 1'),
      ("spec.limits[0].default[cpu]", "FieldValueInvalid",
       'Invalid value: "2": min value 2 is greater than default value 1')]),
    (limit_range({"type": "Pod", "default": {"cpu": "1"}}),
     [("spec.limits[0].default", "FieldValueForbidden", "Forbidden: may not be specified when `type` is 'Pod'")]),
    (limit_range({"type": "Node"}), [("spec.limits[0].type", "FieldValueInvalid",
                                      'Invalid value: "Node": must be a standard limit type or fully qualified')]),
    (limit_range({"type": "PersistentVolumeClaim"}),
     [("spec.limits[0].limits", "FieldValueRequired",
       "Required value: either minimum or maximum storage value is required, but neither was provided")]),
    (limit_range({"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}),
     [("spec.limits[0].maxLimitRequestRatio[cpu]", "FieldValueInvalid", 'Invalid value: "500m": ratio 500m is less '
                                                                         "than 1")]),
    (limit_range({"type": "Pod"}, {"type": "Pod"}),
     [("spec.limits[1].type", "FieldValueDuplicate", 'Duplicate value: "Pod"')]),
])
def test_limit_range(obj, expected):
    assert errors_of("", "limitranges", obj) == expected


def _csr_pem():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def csr(**spec):
    body = {"request": _csr_pem(), "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]}
    body.update(spec)
    return {"metadata": {"name": "alice"}, "spec": body}


def test_certificate_signing_request():
    group = "certificates.k8s.io"
    assert errors_of(group, "certificatesigningrequests", csr()) == []
    errs = errors_of(group, "certificatesigningrequests", csr(usages=[], signerName="", expirationSeconds=60))
    assert errs == [("spec.usages", "FieldValueRequired", "Required value"),
                    ("spec.signerName", "FieldValueRequired", "Required value"),
                    ("spec.expirationSeconds", "FieldValueInvalid",
                     "Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)")]
    errs = errors_of(group, "certificatesigningrequests", csr(usages=["client auth", "flying", "client auth"],
                                                              signerName="kubernetes.io/legacy-unknown"))
    assert [e[:2] for e in errs] == [("spec.usages[1]", "FieldValueNotSupported"),
                                     ("spec.usages[2]", "FieldValueDuplicate"),
                                     ("spec.signerName", "FieldValueInvalid")]
    bad = errors_of(group, "certificatesigningrequests", csr(request=base64.b64encode(b"hello").decode()))
    assert bad == [("spec.request", "FieldValueInvalid",
                    "Invalid value: []byte{0x68, 0x65, 0x6c, 0x6c, 0x6f}: PEM block type must be CERTIFICATE REQUEST")]
    no_slash = errors_of(group, "certificatesigningrequests", csr(signerName="signer"))
    assert no_slash == [("spec.signerName", "FieldValueInvalid", 'Invalid value: "signer": must be a fully qualified '
                                                                 "domain and path of the form 'example.com/signer-name'")]
