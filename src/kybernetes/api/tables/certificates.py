"""certificates.k8s.io: certificatesigningrequests and clustertrustbundles, following
printCertificateSigningRequest and printClusterTrustBundle in kubernetes
pkg/printers/internalversion/printers.go.

CONDITION is Denied, else Approved, else Pending; then ",Failed" if a Failed condition exists
and ",Issued" once status.certificate is set.
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    TableSpec,
    age,
    age_column,
    as_dict,
    as_list,
    as_str,
    column,
    dig,
    meta_name,
    name_column,
    opt_int,
)
from kybernetes.api.tables.duration import human_duration


def csr_condition(csr: dict) -> str:
    types = {as_dict(c).get("type") for c in as_list(dig(csr, "status", "conditions"))}
    text = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        text += ",Failed"
    if as_str(dig(csr, "status", "certificate")):
        text += ",Issued"
    return text


def csr_cells(csr: dict, now: dt.datetime) -> list:
    spec = as_dict(csr.get("spec"))
    seconds = opt_int(spec.get("expirationSeconds"))
    return [
        meta_name(csr),
        age(csr, now),
        as_str(spec.get("signerName")) or "<none>",
        as_str(spec.get("username")),
        "<none>" if seconds is None else human_duration(seconds),
        csr_condition(csr),
    ]


def trustbundle_cells(bundle: dict, now: dt.datetime) -> list:
    return [meta_name(bundle), as_str(dig(bundle, "spec", "signerName")) or "<none>"]


TABLES = {
    ("certificates.k8s.io", "certificatesigningrequests"): TableSpec(
        (
            name_column(),
            age_column(),
            column("SignerName", "The signer asked to sign the certificate."),
            column("Requestor", "The user who created the request."),
            column("RequestedDuration", "Validity period asked for."),
            column("Condition", "Approval and issuance state of the request."),
        ),
        csr_cells,
    ),
    ("certificates.k8s.io", "clustertrustbundles"): TableSpec(
        (name_column(), column("SignerName", "The signer the bundle belongs to.")), trustbundle_cells
    ),
}
