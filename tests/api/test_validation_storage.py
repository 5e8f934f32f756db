"""Storage validation and defaults: StorageClass, CSIDriver, VolumeAttachment, PV and PVC."""

import copy

import pytest

from tests.api.api_validation_helpers import errors_of

ST = "storage.k8s.io"


def storage_class(**fields):
    return {"metadata": {"name": "fast"}, "provisioner": "example.com/csi", **fields}


@pytest.mark.parametrize("obj,expected", [
    (storage_class(), []),
    (storage_class(provisioner=""), [("provisioner", "FieldValueRequired", "Required value")]),
    (storage_class(reclaimPolicy="Recycle"),
     [("reclaimPolicy", "FieldValueNotSupported", 'Unsupported value: "Recycle": supported values: "Delete", "Retain"')]),
    (storage_class(volumeBindingMode="Later"),
     [("volumeBindingMode", "FieldValueNotSupported",
       'Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"')]),
    (storage_class(parameters={"": "x"}), [("parameters", "FieldValueInvalid", 'Invalid value: "": field can not be '
                                                                              'empty.')]),
])
def test_storage_class(obj, expected):
    assert errors_of(ST, "storageclasses", obj) == expected


def test_storage_class_defaults_and_immutability():
    old = storage_class(parameters={"type": "ssd"})
    errors_of(ST, "storageclasses", old)
    assert (old["reclaimPolicy"], old["volumeBindingMode"]) == ("Delete", "Immediate")
    new = copy.deepcopy(old)
    new.update(parameters={"type": "hdd"}, reclaimPolicy="Retain", volumeBindingMode="WaitForFirstConsumer")
    assert errors_of(ST, "storageclasses", new, old=old) == [
        ("parameters", "FieldValueForbidden", "Forbidden: updates to parameters are forbidden."),
        ("reclaimPolicy", "FieldValueForbidden", "Forbidden: updates to reclaimPolicy are forbidden."),
        ("volumeBindingMode", "FieldValueInvalid", 'Invalid value: "WaitForFirstConsumer": field is immutable')]


def test_csi_driver():
    obj = {"metadata": {"name": "csi.example.com"}, "spec": {}}
    assert errors_of(ST, "csidrivers", obj) == []
    assert obj["spec"]["attachRequired"] is True and obj["spec"]["volumeLifecycleModes"] == ["Persistent"]
    bad = {"metadata": {"name": "csi.example.com"}, "spec": {"fsGroupPolicy": "Maybe",
                                                             "volumeLifecycleModes": ["Forever"]}}
    assert errors_of(ST, "csidrivers", bad) == [
        ("spec.fsGroupPolicy", "FieldValueNotSupported",
         'Unsupported value: "Maybe": supported values: "File", "None", "ReadWriteOnceWithFSType"'),
        ("spec.volumeLifecycleModes", "FieldValueNotSupported",
         'Unsupported value: "Forever": supported values: "Ephemeral", "Persistent"')]
    changed = copy.deepcopy(obj)
    changed["spec"]["attachRequired"] = False
    assert errors_of(ST, "csidrivers", changed, old=obj) == [
        ("spec.attachRequired", "FieldValueInvalid", "Invalid value: false: field is immutable")]


def attachment(**spec):
    body = {"attacher": "csi.example.com", "nodeName": "node-1", "source": {"persistentVolumeName": "pv-1"}}
    body.update(spec)
    return {"metadata": {"name": "va"}, "spec": body}


def test_volume_attachment():
    assert errors_of(ST, "volumeattachments", attachment()) == []
    assert errors_of(ST, "volumeattachments", attachment(attacher="", nodeName="", source={})) == [
        ("spec.attacher", "FieldValueRequired", "Required value"),
        ("spec.source", "FieldValueRequired",
         "Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"),
        ("spec.nodeName", "FieldValueRequired", "Required value")]
    old = attachment()
    new = attachment(nodeName="node-2")
    assert [e[:2] for e in errors_of(ST, "volumeattachments", new, old=old)] == [("spec", "FieldValueInvalid")]


def pv(**spec):
    body = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}}
    body.update(spec)
    return {"metadata": {"name": "pv-1"}, "spec": {k: v for k, v in body.items() if v is not None}}


@pytest.mark.parametrize("obj,expected", [
    (pv(), []),
    (pv(capacity=None, accessModes=None),
     [("spec.accessModes", "FieldValueRequired", "Required value"),
      ("spec.capacity", "FieldValueRequired", "Required value")]),
    (pv(capacity={"storage": "0"}),
     [("spec.capacity[storage]", "FieldValueInvalid", 'Invalid value: "0": must be greater than zero')]),
    (pv(accessModes=["ReadWriteSometimes"]),
     [("spec.accessModes", "FieldValueNotSupported", 'Unsupported value: "ReadWriteSometimes": supported values: '
       '"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"')]),
    (pv(hostPath=None), [("spec", "FieldValueRequired", "Required value: must specify a volume type")]),
    (pv(nfs={"server": "nfs.local", "path": "/x"}),
     [("spec.nfs", "FieldValueForbidden", "Forbidden: may not specify more than 1 volume type")]),
    (pv(hostPath=None, local={"path": "/mnt"}),
     [("spec.nodeAffinity", "FieldValueRequired", "Required value: Local volume requires node affinity")]),
    (pv(persistentVolumeReclaimPolicy="Keep"),
     [("spec.persistentVolumeReclaimPolicy", "FieldValueNotSupported",
       'Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"')]),
])
def test_persistent_volume(obj, expected):
    assert errors_of("", "persistentvolumes", obj) == expected


def test_persistent_volume_defaults_and_source_immutable():
    old = pv()
    errors_of("", "persistentvolumes", old)
    assert (old["spec"]["persistentVolumeReclaimPolicy"], old["spec"]["volumeMode"]) == ("Retain", "Filesystem")
    new = copy.deepcopy(old)
    new["spec"]["hostPath"]["path"] = "/elsewhere"
    assert errors_of("", "persistentvolumes", new, old=old) == [
        ("spec.persistentvolumesource", "FieldValueForbidden", "Forbidden: spec.persistentvolumesource is forbidden.")]


def pvc(size="1Gi", **spec):
    body = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, **spec}
    return {"metadata": {"name": "data", "namespace": "default"}, "spec": body}


@pytest.mark.parametrize("obj,expected", [
    (pvc(), []),
    (pvc(accessModes=[]), [("spec.accessModes", "FieldValueRequired", "Required value: at least 1 access mode is "
                                                                      "required")]),
    (pvc(resources={}), [("spec.resources[storage]", "FieldValueRequired", "Required value")]),
    (pvc(size="-1Gi"), [("spec.resources[storage]", "FieldValueInvalid", 'Invalid value: "-1Gi": must be greater '
                                                                          "than zero")]),
    (pvc(volumeMode="Raw"), [("spec.volumeMode", "FieldValueNotSupported",
                              'Unsupported value: "Raw": supported values: "Block", "Filesystem"')]),
])
def test_persistent_volume_claim(obj, expected):
    assert errors_of("", "persistentvolumeclaims", obj) == expected


def test_claim_spec_immutable_except_growth_when_bound():
    old = pvc()
    errors_of("", "persistentvolumeclaims", old)
    assert old["spec"]["volumeMode"] == "Filesystem"
    bind = copy.deepcopy(old)
    bind["spec"]["volumeName"] = "pv-1"
    assert errors_of("", "persistentvolumeclaims", bind, old=old) == []
    grow_pending = pvc("2Gi")
    assert [e[:2] for e in errors_of("", "persistentvolumeclaims", grow_pending, old=old)] == [
        ("spec", "FieldValueForbidden")]
    bound = copy.deepcopy(bind)
    bound["status"] = {"phase": "Bound", "capacity": {"storage": "1Gi"}}
    grown = copy.deepcopy(bound)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert errors_of("", "persistentvolumeclaims", grown, old=bound) == []
    shrunk = copy.deepcopy(bound)
    shrunk["spec"]["resources"]["requests"]["storage"] = "500Mi"
    assert errors_of("", "persistentvolumeclaims", shrunk, old=bound) == [
        ("spec.resources.requests.storage", "FieldValueForbidden",
         "Forbidden: field can not be less than status.capacity")]
    other_mode = copy.deepcopy(bound)
    other_mode["spec"]["accessModes"] = ["ReadWriteMany"]
    errs = errors_of("", "persistentvolumeclaims", other_mode, old=bound)
    assert errs == [("spec", "FieldValueForbidden", "Forbidden: spec is immutable after creation except "
                                                    "resources.requests and volumeAttributesClassName for bound claims")]


def test_claim_metadata_only_update_is_allowed():
    old = pvc()
    errors_of("", "persistentvolumeclaims", old)
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"app": "web"}
    assert errors_of("", "persistentvolumeclaims", new, old=old) == []
