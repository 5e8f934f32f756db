"""CustomResourceDefinitions driven by real kubectl and the official Python client's dynamic
client against `kyb up`: apply a CRD, wait until established, then use the new kind like any
other (printer columns, server-side validation, explain, scale, get all, watch-free CRUD), and
delete the CRD with its objects."""

from __future__ import annotations

import json
import time

import pytest
import yaml

GROUP = "e2e.kybernetes.io"
NS = "e2e-crd"
CRD_NAME = f"gizmos.{GROUP}"

CRD = f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {CRD_NAME}
spec:
  group: {GROUP}
  scope: Namespaced
  names:
    plural: gizmos
    singular: gizmo
    kind: Gizmo
    shortNames: [gz]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {{}}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Color
      type: string
      jsonPath: .spec.color
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: A Gizmo is a thing for tests.
        properties:
          spec:
            type: object
            description: What the gizmo should be.
            required: [color]
            properties:
              color:
                type: string
                description: The colour of the gizmo.
                enum: [red, green, blue]
              replicas:
                type: integer
                minimum: 0
                default: 1
          status:
            type: object
            properties:
              replicas:
                type: integer
"""


def gizmo(name: str, color: str = "red", replicas: object = 2) -> str:
    return yaml.safe_dump({"apiVersion": f"{GROUP}/v1", "kind": "Gizmo",
                           "metadata": {"name": name, "namespace": NS},
                           "spec": {"color": color, "replicas": replicas}})


@pytest.fixture(scope="module")
def crd(kyb_cluster):
    kyb_cluster.kubectl("create", "namespace", NS, check=False)
    kyb_cluster.kubectl("apply", "-f", "-", input=CRD)
    kyb_cluster.kubectl("wait", "--for", "condition=Established", f"crd/{CRD_NAME}", "--timeout=30s")
    yield CRD_NAME
    kyb_cluster.kubectl("delete", "crd", CRD_NAME, "--ignore-not-found", "--timeout=60s", check=False)
    kyb_cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)
    # The session's kubectl cache still lists the deleted kind (as a real cluster's would, for
    # hours); `api-resources` refreshes it so later tests' `get all` does not ask for it.
    kyb_cluster.kubectl("api-resources", check=False)


def test_apply_and_get_prints_printer_columns(kyb_cluster, crd):
    out = kyb_cluster.kubectl("apply", "-f", "-", input=gizmo("g1", "blue", 2)).stdout
    assert f"gizmo.{GROUP}/g1 created" in out
    lines = kyb_cluster.kubectl("get", "gizmos", "-n", NS).stdout.splitlines()
    assert lines[0].split() == ["NAME", "COLOR", "REPLICAS", "AGE"]
    assert lines[1].split()[:3] == ["g1", "blue", "2"]
    short = kyb_cluster.kubectl("get", "gz", "g1", "-n", NS, "-o", "json").stdout
    obj = json.loads(short)
    assert obj["kind"] == "Gizmo" and obj["spec"]["replicas"] == 2
    # Applying again with a change goes through a merge patch.
    out = kyb_cluster.kubectl("apply", "-f", "-", input=gizmo("g1", "green", 2)).stdout
    assert "configured" in out
    assert json.loads(kyb_cluster.kubectl("get", "gizmo", "g1", "-n", NS, "-o", "json").stdout)["spec"]["color"] \
        == "green"


def test_invalid_object_is_rejected_with_field_path(kyb_cluster, crd):
    result = kyb_cluster.kubectl("apply", "-f", "-", input=gizmo("bad", "red", "many"), check=False)
    assert result.returncode != 0
    assert 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"' \
        in result.stderr
    result = kyb_cluster.kubectl("apply", "-f", "-", input=gizmo("bad", "purple", 1), check=False)
    assert result.returncode != 0
    assert 'spec.color: Unsupported value: "purple": supported values: "red", "green", "blue"' in result.stderr


def test_explain_reads_the_published_schema(kyb_cluster, crd):
    out = kyb_cluster.kubectl("explain", "gizmo.spec").stdout
    assert "What the gizmo should be." in out
    assert "color" in out and "The colour of the gizmo." in out


def test_scale_changes_spec_replicas(kyb_cluster, crd):
    kyb_cluster.kubectl("apply", "-f", "-", input=gizmo("scaled", "red", 1))
    out = kyb_cluster.kubectl("scale", "gizmo/scaled", "-n", NS, "--replicas=4").stdout
    assert "scaled" in out
    obj = json.loads(kyb_cluster.kubectl("get", "gizmo", "scaled", "-n", NS, "-o", "json").stdout)
    assert obj["spec"]["replicas"] == 4


def test_get_all_includes_the_category(kyb_cluster, crd):
    kyb_cluster.kubectl("apply", "-f", "-", input=gizmo("listed", "red", 1))
    out = kyb_cluster.kubectl("get", "all", "-n", NS).stdout
    assert f"gizmo.{GROUP}/listed" in out


def test_dynamic_client_drives_a_custom_resource(kyb_cluster, crd):
    from kubernetes import config as k8s_config
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError, UnprocessibleEntityError

    api = k8s_config.new_client_from_config(config_file=str(kyb_cluster.kubeconfig))
    try:
        dyn = DynamicClient(api)
        gizmos = dyn.resources.get(api_version=f"{GROUP}/v1", kind="Gizmo")
        body = {"apiVersion": f"{GROUP}/v1", "kind": "Gizmo", "metadata": {"name": "dyn"},
                "spec": {"color": "red"}}
        created = gizmos.create(body=body, namespace=NS)
        assert created.spec.replicas == 1  # the schema default
        gizmos.patch(name="dyn", namespace=NS, body={"spec": {"color": "blue"}},
                     content_type="application/merge-patch+json")
        assert gizmos.get(name="dyn", namespace=NS).spec.color == "blue"
        status = gizmos.status.patch(name="dyn", namespace=NS, body={"status": {"replicas": 1}},
                                     content_type="application/merge-patch+json")
        assert status.status.replicas == 1
        names = [item.metadata.name for item in gizmos.get(namespace=NS).items]
        assert "dyn" in names
        with pytest.raises(UnprocessibleEntityError):
            gizmos.create(body={**body, "metadata": {"name": "dyn2"}, "spec": {}}, namespace=NS)
        gizmos.delete(name="dyn", namespace=NS)
        with pytest.raises(NotFoundError):
            gizmos.get(name="dyn", namespace=NS)
    finally:
        api.close()


def test_deleting_the_crd_removes_objects_and_kind(kyb_cluster):
    name = f"sprockets.{GROUP}"
    crd = CRD.replace("gizmos", "sprockets").replace("gizmo", "sprocket").replace("Gizmo", "Sprocket") \
        .replace("[gz]", "[spk]").replace("[all]", "[]")
    kyb_cluster.kubectl("create", "namespace", NS, check=False)
    kyb_cluster.kubectl("apply", "-f", "-", input=crd)
    kyb_cluster.kubectl("wait", "--for", "condition=Established", f"crd/{name}", "--timeout=30s")
    obj = gizmo("s1").replace("Gizmo", "Sprocket")
    kyb_cluster.kubectl("apply", "-f", "-", input=obj)
    kyb_cluster.kubectl("delete", "crd", name, "--timeout=30s")
    deadline = time.monotonic() + 10
    while True:
        result = kyb_cluster.kubectl("get", "sprockets", "-n", NS, check=False)
        if result.returncode != 0:
            break
        assert time.monotonic() < deadline, result.stdout
        time.sleep(0.2)
    # kubectl's cached discovery may still name the kind; either way the server no longer serves it.
    assert "the server doesn't have a resource type" in result.stderr or \
        "the server could not find the requested resource" in result.stderr
    kyb_cluster.kubectl("api-resources", check=False)  # refresh the shared discovery cache
