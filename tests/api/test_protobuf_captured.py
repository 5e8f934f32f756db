"""Bodies captured from real kubectl 1.37 (`kubectl create ...` against a recording loopback server).

Each expected object is what the same kubectl printed for the same command with
``--dry-run=client -o json``: Go's own JSON for the object it encoded, so the decoder is checked
against Go's encoders rather than against its own tables. Two deliberate differences, both Go
writing ``null``: a nil list without omitempty (ClusterRole ``rules`` under an aggregation rule)
and a zero Time without omitempty are omitted rather than sent as null. The commands with no
client dry-run (token, auth) carry expectations read off the same Go types by hand.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from kybernetes.api.protobuf import decode_object


class Captured(NamedTuple):
    command: str
    path: str
    body_hex: str
    expected: dict[str, Any]


CAPTURED = [
    Captured(
        "create configmap cm1 --from-literal=a=b --from-literal=empty=",
        "/api/v1/namespaces/default/configmaps",
        (
            "6b3873000a0f0a0276311209436f6e6669674d617012280a130a03636d3112001a0022002a0032003800420012060a01"
            "6112016212090a05656d70747912001a002200"
        ),
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": "cm1"},
            "data": {"a": "b", "empty": ""},
        },
    ),
    Captured(
        "create secret generic s1 --from-literal=user=admin --from-literal=pw=s3cr3t --type=Opaque",
        "/api/v1/namespaces/default/secrets",
        (
            "6b3873000a0c0a027631120653656372657412390a120a02733112001a0022002a00320038004200120c0a0270771206"
            "733363723374120d0a0475736572120561646d696e1a064f70617175651a002200"
        ),
        {
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "s1"},
            "data": {"pw": "czNjcjN0", "user": "YWRtaW4="},
            "type": "Opaque",
        },
    ),
    Captured(
        "create secret docker-registry reg1 --docker-server=r.example --docker-username=u --docker-password=p",
        "/api/v1/namespaces/default/secrets",
        (
            "6b3873000a0c0a02763112065365637265741292010a140a047265673112001a0022002a00320038004200125a0a112e"
            "646f636b6572636f6e6669676a736f6e12457b226175746873223a7b22722e6578616d706c65223a7b22757365726e61"
            "6d65223a2275222c2270617373776f7264223a2270222c2261757468223a2264547077227d7d7d1a1e6b756265726e65"
            "7465732e696f2f646f636b6572636f6e6669676a736f6e1a002200"
        ),
        {
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "reg1"},
            "data": {
                ".dockerconfigjson": "eyJhdXRocyI6eyJyLmV4YW1wbGUiOnsidXNlcm5hbWUiOiJ1IiwicGFzc3dvcmQiOiJwIiwiYXV0aCI6ImRUcHcifX19"
            },
            "type": "kubernetes.io/dockerconfigjson",
        },
    ),
    Captured(
        "create namespace ns1",
        "/api/v1/namespaces",
        (
            "6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a0032003800420012001a02"
            "0a001a002200"
        ),
        {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "ns1"}, "spec": {}, "status": {}},
    ),
    Captured(
        "create serviceaccount sa1",
        "/api/v1/namespaces/default/serviceaccounts",
        (
            "6b3873000a140a027631120e536572766963654163636f756e7412150a130a0373613112001a0022002a003200380042"
            "001a002200"
        ),
        {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "sa1"}},
    ),
    Captured(
        "create service clusterip svc1 --tcp=80:8080 --tcp=443:https",
        "/api/v1/namespaces/default/services",
        (
            "6b3873000a0d0a0276311207536572766963651290010a210a047376633112001a0022002a003200380042005a0b0a03"
            "61707012047376633112670a1b0a0738302d38303830120354435018502207080010903f1a0028000a220a093434332d"
            "6874747073120354435018bb03220b080110001a0568747470732800120b0a036170701204737663311a002209436c75"
            "7374657249503a00420052005a00600068001a020a001a002200"
        ),
        {
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "svc1", "labels": {"app": "svc1"}},
            "spec": {
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https"},
                ],
                "selector": {"app": "svc1"},
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        },
    ),
    Captured(
        "create service nodeport np1 --tcp=80:8080 --node-port=30080",
        "/api/v1/namespaces/default/services",
        (
            "6b3873000a0d0a027631120753657276696365126a0a1f0a036e703112001a0022002a003200380042005a0a0a036170"
            "7012036e703112430a1d0a0738302d38303830120354435018502207080010903f1a002880eb01120a0a036170701203"
            "6e70311a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200"
        ),
        {
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "np1", "labels": {"app": "np1"}},
            "spec": {
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}
                ],
                "selector": {"app": "np1"},
                "type": "NodePort",
            },
            "status": {"loadBalancer": {}},
        },
    ),
    Captured(
        "create service externalname ext1 --external-name=db.example.com",
        "/api/v1/namespaces/default/services",
        (
            "6b3873000a0d0a02763112075365727669636512600a210a046578743112001a0022002a003200380042005a0b0a0361"
            "70701204657874311237120b0a036170701204657874311a00220c45787465726e616c4e616d653a004200520e64622e"
            "6578616d706c652e636f6d5a00600068001a020a001a002200"
        ),
        {
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "ext1", "labels": {"app": "ext1"}},
            "spec": {"selector": {"app": "ext1"}, "type": "ExternalName", "externalName": "db.example.com"},
            "status": {"loadBalancer": {}},
        },
    ),
    Captured(
        "create service clusterip headless1 --clusterip=None",
        "/api/v1/namespaces/default/services",
        (
            "6b3873000a0d0a02763112075365727669636512620a2b0a09686561646c6573733112001a0022002a00320038004200"
            "5a100a036170701209686561646c65737331122f12100a036170701209686561646c657373311a044e6f6e652209436c"
            "757374657249503a00420052005a00600068001a020a001a002200"
        ),
        {
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "headless1", "labels": {"app": "headless1"}},
            "spec": {"selector": {"app": "headless1"}, "clusterIP": "None", "type": "ClusterIP"},
            "status": {"loadBalancer": {}},
        },
    ),
    Captured(
        "create service loadbalancer lb1 --tcp=5678:8080",
        "/api/v1/namespaces/default/services",
        (
            "6b3873000a0d0a027631120753657276696365126f0a1f0a036c623112001a0022002a003200380042005a0a0a036170"
            "7012036c623112480a1e0a09353637382d38303830120354435018ae2c2207080010903f1a002800120a0a0361707012"
            "036c62311a00220c4c6f616442616c616e6365723a00420052005a00600068001a020a001a002200"
        ),
        {
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "lb1", "labels": {"app": "lb1"}},
            "spec": {
                "ports": [{"name": "5678-8080", "protocol": "TCP", "port": 5678, "targetPort": 8080}],
                "selector": {"app": "lb1"},
                "type": "LoadBalancer",
            },
            "status": {"loadBalancer": {}},
        },
    ),
    Captured(
        "create deployment web --image=nginx:1.27 --replicas=3 --port=80",
        "/apis/apps/v1/namespaces/default/deployments",
        (
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412bd010a1f0a0377656212001a0022002a00320038"
            "0042005a0a0a036170701203776562128b010803120c0a0a0a0361707012037765621a710a1c0a0012001a0022002a00"
            "3200380042005a0a0a036170701203776562125112330a056e67696e78120a6e67696e783a312e32372a00320a0a0010"
            "00185022002a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a"
            "0100c2010022020a00280038001a0c0800100018002000280038001a002200"
        ),
        {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "nginx",
                                "image": "nginx:1.27",
                                "ports": [{"containerPort": 80}],
                                "resources": {},
                            }
                        ]
                    },
                },
                "strategy": {},
            },
            "status": {},
        },
    ),
    Captured(
        "create deployment zero --image=busybox --replicas=0 -- sleep 3600",
        "/apis/apps/v1/namespaces/default/deployments",
        (
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c1010a210a047a65726f12001a0022002a003200"
            "380042005a0b0a0361707012047a65726f128d010800120d0a0b0a0361707012047a65726f1a720a1d0a0012001a0022"
            "002a003200380042005a0b0a0361707012047a65726f125112330a0762757379626f78120762757379626f781a05736c"
            "6565701a04333630302a0042006a007200800100880100900100a201001a00320042004a005200580060006800820100"
            "8a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200"
        ),
        {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "zero", "labels": {"app": "zero"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "zero"}},
                "template": {
                    "metadata": {"labels": {"app": "zero"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "busybox",
                                "image": "busybox",
                                "command": ["sleep", "3600"],
                                "resources": {},
                            }
                        ]
                    },
                },
                "strategy": {},
            },
            "status": {},
        },
    ),
    Captured(
        "create deployment multi --image=nginx --image=redis",
        "/apis/apps/v1/namespaces/default/deployments",
        (
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412d9010a230a056d756c746912001a0022002a0032"
            "00380042005a0c0a0361707012056d756c746912a3010801120e0a0c0a0361707012056d756c74691a86010a1e0a0012"
            "001a0022002a003200380042005a0c0a0361707012056d756c7469126412220a056e67696e7812056e67696e782a0042"
            "006a007200800100880100900100a2010012220a057265646973120572656469732a0042006a00720080010088010090"
            "0100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018"
            "002000280038001a002200"
        ),
        {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "multi", "labels": {"app": "multi"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "multi"}},
                "template": {
                    "metadata": {"labels": {"app": "multi"}},
                    "spec": {
                        "containers": [
                            {"name": "nginx", "image": "nginx", "resources": {}},
                            {"name": "redis", "image": "redis", "resources": {}},
                        ]
                    },
                },
                "strategy": {},
            },
            "status": {},
        },
    ),
    Captured(
        "create job j1 --image=busybox -- echo hi",
        "/apis/batch/v1/namespaces/default/jobs",
        (
            "6b3873000a0f0a0862617463682f763112034a6f621284010a120a026a3112001a0022002a0032003800420012643262"
            "0a100a0012001a0022002a00320038004200124e122b0a026a31120762757379626f781a046563686f1a0268692a0042"
            "006a007200800100880100900100a201001a054e65766572320042004a0052005800600068008201008a01009a0100c2"
            "01001a082000280030003a001a002200"
        ),
        {
            "kind": "Job",
            "apiVersion": "batch/v1",
            "metadata": {"name": "j1"},
            "spec": {
                "template": {
                    "metadata": {},
                    "spec": {
                        "containers": [
                            {"name": "j1", "image": "busybox", "command": ["echo", "hi"], "resources": {}}
                        ],
                        "restartPolicy": "Never",
                    },
                }
            },
            "status": {},
        },
    ),
    Captured(
        'create cronjob cj1 --image=busybox "--schedule=*/5 * * * *" --restart=OnFailure -- date',
        "/apis/batch/v1/namespaces/default/cronjobs",
        (
            "6b3873000a130a0862617463682f7631120743726f6e4a6f6212a7010a130a03636a3112001a0022002a003200380042"
            "00128d010a0b2a2f35202a202a202a202a1a002a7c0a130a03636a3112001a0022002a00320038004200126532630a10"
            "0a0012001a0022002a00320038004200124f12280a03636a31120762757379626f781a04646174652a0042006a007200"
            "800100880100900100a201001a094f6e4661696c757265320042004a0052005800600068008201008a01009a0100c201"
            "001a001a002200"
        ),
        {
            "kind": "CronJob",
            "apiVersion": "batch/v1",
            "metadata": {"name": "cj1"},
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {
                    "metadata": {"name": "cj1"},
                    "spec": {
                        "template": {
                            "metadata": {},
                            "spec": {
                                "containers": [
                                    {"name": "cj1", "image": "busybox", "command": ["date"], "resources": {}}
                                ],
                                "restartPolicy": "OnFailure",
                            },
                        }
                    },
                },
            },
            "status": {},
        },
    ),
    Captured(
        "create role r1 --verb=get,list --resource=pods,deployments.apps --resource-name=a",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
        (
            "6b3873000a240a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311204526f6c65124f0a120a02"
            "723112001a0022002a0032003800420012160a036765740a046c69737412001a04706f647322016112210a036765740a"
            "046c6973741204617070731a0b6465706c6f796d656e74732201611a002200"
        ),
        {
            "kind": "Role",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "r1"},
            "rules": [
                {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]},
                {
                    "verbs": ["get", "list"],
                    "apiGroups": ["apps"],
                    "resources": ["deployments"],
                    "resourceNames": ["a"],
                },
            ],
        },
    ),
    Captured(
        "create rolebinding rb1 --role=r1 --user=alice --serviceaccount=default:sa1 --group=devs",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        (
            "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c6542696e64696e"
            "6712b6010a130a0372623112001a0022002a00320038004200122a0a04557365721219726261632e617574686f72697a"
            "6174696f6e2e6b38732e696f1a05616c6963652200122a0a0547726f75701219726261632e617574686f72697a617469"
            "6f6e2e6b38732e696f1a0464657673220012200a0e536572766963654163636f756e7412001a03736131220764656661"
            "756c741a250a19726261632e617574686f72697a6174696f6e2e6b38732e696f1204526f6c651a0272311a002200"
        ),
        {
            "kind": "RoleBinding",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "rb1"},
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
                {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
                {"kind": "ServiceAccount", "name": "sa1", "namespace": "default"},
            ],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r1"},
        },
    ),
    Captured(
        "create clusterrole cr1 --verb=get --non-resource-url=/healthz",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        (
            "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c7573746572526f6c"
            "6512260a130a0363723112001a0022002a00320038004200120f0a036765742a082f6865616c74687a1a002200"
        ),
        {
            "kind": "ClusterRole",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "cr1"},
            "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
        },
    ),
    Captured(
        "create clusterrole agg1 --aggregation-rule=rbac.example.com/aggregate=true",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        (
            "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c7573746572526f6c"
            "65123e0a140a046167673112001a0022002a003200380042001a260a240a220a1a726261632e6578616d706c652e636f"
            "6d2f6167677265676174651204747275651a002200"
        ),
        {
            "kind": "ClusterRole",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "agg1"},
            "aggregationRule": {
                "clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate": "true"}}]
            },
        },
    ),
    Captured(
        "create clusterrolebinding crb1 --clusterrole=cr1 --user=bob",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        (
            "6b3873000a320a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311212436c7573746572526f6c"
            "6542696e64696e67126f0a140a046372623112001a0022002a0032003800420012280a04557365721219726261632e61"
            "7574686f72697a6174696f6e2e6b38732e696f1a03626f6222001a2d0a19726261632e617574686f72697a6174696f6e"
            "2e6b38732e696f120b436c7573746572526f6c651a036372311a002200"
        ),
        {
            "kind": "ClusterRoleBinding",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "crb1"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr1"},
        },
    ),
    Captured(
        "create quota q1 --hard=cpu=1,memory=1Gi,pods=10 --scopes=BestEffort",
        "/api/v1/namespaces/default/resourcequotas",
        (
            "6b3873000a130a027631120d5265736f7572636551756f7461124f0a120a02713112001a0022002a0032003800420012"
            "370a0a0a0363707512030a01310a0f0a066d656d6f727912050a033147690a0c0a04706f647312040a023130120a4265"
            "73744566666f72741a001a002200"
        ),
        {
            "kind": "ResourceQuota",
            "apiVersion": "v1",
            "metadata": {"name": "q1"},
            "spec": {"hard": {"cpu": "1", "memory": "1Gi", "pods": "10"}, "scopes": ["BestEffort"]},
            "status": {},
        },
    ),
    Captured(
        "create priorityclass high --value=1000 --description=important --preemption-policy=Never",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        (
            "6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c617373122d0a140a"
            "046869676812001a0022002a0032003800420010e80718002209696d706f7274616e742a054e657665721a002200"
        ),
        {
            "kind": "PriorityClass",
            "apiVersion": "scheduling.k8s.io/v1",
            "metadata": {"name": "high"},
            "value": 1000,
            "description": "important",
            "preemptionPolicy": "Never",
        },
    ),
    Captured(
        "create priorityclass def --value=-5 --global-default=true",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        (
            "6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c617373123a0a130a"
            "0364656612001a0022002a0032003800420010fbffffffffffffffff01180122002a14507265656d70744c6f77657250"
            "72696f726974791a002200"
        ),
        {
            "kind": "PriorityClass",
            "apiVersion": "scheduling.k8s.io/v1",
            "metadata": {"name": "def"},
            "value": -5,
            "globalDefault": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
    ),
    Captured(
        "create poddisruptionbudget pdb1 --selector=app=web --min-available=50%",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
        (
            "6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e427564676574123d0a140a0470646231"
            "12001a0022002a0032003800420012190a09080110001a03353025120c0a0a0a0361707012037765621a0a0800180020"
            "00280030001a002200"
        ),
        {
            "kind": "PodDisruptionBudget",
            "apiVersion": "policy/v1",
            "metadata": {"name": "pdb1"},
            "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
        },
    ),
    Captured(
        "create poddisruptionbudget pdb2 --selector=app=web --max-unavailable=1",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
        (
            "6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e427564676574123a0a140a0470646232"
            "12001a0022002a003200380042001216120c0a0a0a0361707012037765621a06080010011a001a0a0800180020002800"
            "30001a002200"
        ),
        {
            "kind": "PodDisruptionBudget",
            "apiVersion": "policy/v1",
            "metadata": {"name": "pdb2"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": 1},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
        },
    ),
    Captured(
        "create ingress ing1 --class=nginx --rule=foo.com/bar=svc1:8080 --rule=tls.com/*=svc2:http,tls=my-cert --default-backend=defsvc:80",
        "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
        (
            "6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e677265737312a9010a140a04696e6731"
            "12001a0022002a00320038004200128c010a10220e0a0664656673766312040a00105012120a07746c732e636f6d1207"
            "6d792d636572741a2d0a07666f6f2e636f6d12220a200a1e0a042f626172120f220d0a047376633112050a0010903f1a"
            "0545786163741a2e0a07746c732e636f6d12230a210a1f0a012f121222100a047376633212080a046874747010001a06"
            "50726566697822056e67696e781a020a001a002200"
        ),
        {
            "kind": "Ingress",
            "apiVersion": "networking.k8s.io/v1",
            "metadata": {"name": "ing1"},
            "spec": {
                "ingressClassName": "nginx",
                "defaultBackend": {"service": {"name": "defsvc", "port": {"number": 80}}},
                "tls": [{"hosts": ["tls.com"], "secretName": "my-cert"}],
                "rules": [
                    {
                        "host": "foo.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/bar",
                                    "pathType": "Exact",
                                    "backend": {"service": {"name": "svc1", "port": {"number": 8080}}},
                                }
                            ]
                        },
                    },
                    {
                        "host": "tls.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "svc2", "port": {"name": "http"}}},
                                }
                            ]
                        },
                    },
                ],
            },
            "status": {"loadBalancer": {}},
        },
    ),
    Captured(
        "create token sa1 --duration=1h --audience=api --bound-object-kind=Pod --bound-object-name=p1 --bound-object-uid=123",
        "/api/v1/namespaces/default/serviceaccounts/sa1/token",
        (
            "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e526571756573741236"
            "0a100a0012001a0022002a00320038004200121c0a036170691a120a03506f64120276311a027031220331323320901c"
            "1a040a0012001a002200"
        ),
        {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {},
            "spec": {
                "audiences": ["api"],
                "expirationSeconds": 3600,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p1", "uid": "123"},
            },
            "status": {"token": ""},
        },
    ),
    Captured(
        "auth can-i create pods --subresource=log -n kube-system",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        (
            "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a65637441636365"
            "737352657669657712460a100a0012001a0022002a0032003800420012280a260a0b6b7562652d73797374656d120663"
            "72656174651a0022002a04706f647332036c6f673a001a08080012001a0020001a002200"
        ),
        {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": {
                "resourceAttributes": {
                    "namespace": "kube-system",
                    "verb": "create",
                    "resource": "pods",
                    "subresource": "log",
                }
            },
            "status": {"allowed": False},
        },
    ),
    Captured(
        "auth can-i --list",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        (
            "6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c665375626a65637452756c65"
            "7352657669657712230a100a0012001a0022002a0032003800420012090a0764656661756c741a04180022001a002200"
        ),
        {
            "kind": "SelfSubjectRulesReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": {"namespace": "default"},
            "status": {"incomplete": False},
        },
    ),
    Captured(
        "auth whoami",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        (
            "6b3873000a2d0a1861757468656e7469636174696f6e2e6b38732e696f2f7631121153656c665375626a656374526576"
            "696577121a0a100a0012001a0022002a0032003800420012060a040a0012001a002200"
        ),
        {
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {},
            "status": {"userInfo": {}},
        },
    ),
]


@pytest.mark.parametrize("case", CAPTURED, ids=[c.command.split(" --")[0].split(" -- ")[0] for c in CAPTURED])
def test_captured_kubectl_body_decodes_to_the_json_kubectl_would_send(case: Captured) -> None:
    body = bytes.fromhex(case.body_hex)
    assert body.startswith(b"k8s\x00")
    assert decode_object(body) == case.expected


def test_replicas_zero_survives_as_a_pointer_field() -> None:
    (zero,) = [c for c in CAPTURED if c.command.startswith("create deployment zero")]
    assert decode_object(bytes.fromhex(zero.body_hex))["spec"]["replicas"] == 0


def test_negative_priority_value_decodes_as_a_negative_int() -> None:
    (case,) = [c for c in CAPTURED if c.command.startswith("create priorityclass def")]
    decoded = decode_object(bytes.fromhex(case.body_hex))
    assert decoded["value"] == -5
    assert decoded["globalDefault"] is True


def test_secret_data_is_base64() -> None:
    (case,) = [c for c in CAPTURED if c.command.startswith("create secret generic")]
    assert decode_object(bytes.fromhex(case.body_hex))["data"] == {"pw": "czNjcjN0", "user": "YWRtaW4="}
