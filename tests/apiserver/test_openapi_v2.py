"""/openapi/v2: the minimal Swagger 2.0 document kubectl needs for create-only kinds.

kubectl validates a kind client-side from /openapi/v2 (protobuf) when the kind's OpenAPI v3
document has no PATCH operation to delegate validation to the server; without a v2 document
`kubectl create -f` of a SubjectAccessReview failed with "failed to download openapi".
"""

from __future__ import annotations

import json

from kybernetes.api.protobuf.wire import iter_fields
from kybernetes.apiserver.openapi import V2_DOCUMENT_PROTOBUF, V2_PROTOBUF

from .test_impersonation_kubectl import cluster, kubectl  # noqa: F401 (the fixture)


def test_protobuf_document_decodes_as_a_swagger_2_document():
    fields = {number: value for number, _, value in iter_fields(V2_DOCUMENT_PROTOBUF)}
    assert fields[1] == b"2.0"
    info = {number: value for number, _, value in iter_fields(fields[2])}
    assert info[1] == b"Kubernetes" and info[2].startswith(b"v1.")
    assert V2_PROTOBUF.startswith("application/com.github.proto-openapi.spec.v2")


async def test_kubectl_creates_a_review_from_a_file_with_default_validation(cluster):  # noqa: F811
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}}}
    (cluster / "review.json").write_text(json.dumps(review))
    code, out = await kubectl(cluster, "create", "-f", str(cluster / "review.json"), "-o", "json")
    assert code == 0, out
    assert json.loads(out)["status"]["allowed"] is True
    code, out = await kubectl(cluster, "get", "--raw", "/openapi/v2")
    assert code == 0, out
    assert json.loads(out)["swagger"] == "2.0"
