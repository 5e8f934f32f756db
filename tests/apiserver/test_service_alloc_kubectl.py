"""The pinned kubectl against allocated Services: `get svc` shows CLUSTER-IP and PORT(S) as
"80:31234/TCP", `create service` (protobuf) and `expose`-style manifests get addresses, and a
taken node port is refused with the real wording."""

from __future__ import annotations

import re

from kybernetes.apiserver.service_alloc_setup import serving_on
from tests.apiserver.test_openapi_kubectl import Kubectl
from tests.apiserver.test_service_alloc import serve
from tests.support.local_kubectl import require_kubectl

NODEPORT = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 31234}]
"""
TAKEN = NODEPORT.replace("name: web", "name: web2")


async def test_kubectl_get_svc_shows_cluster_ip_and_node_ports(tmp_path):
    require_kubectl()
    async with serve() as api:
        await serving_on(api.app, 6443)
        kubectl = Kubectl(tmp_path, api.url)
        (tmp_path / "svc.yaml").write_text(NODEPORT)
        code, out = await kubectl("apply", "-f", str(tmp_path / "svc.yaml"))
        assert code == 0, out
        code, out = await kubectl("create", "service", "clusterip", "api", "--tcp=8080:8080")
        assert code == 0, out
        code, out = await kubectl("get", "svc")
        assert code == 0, out
        lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
        assert out.split()[:6] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        assert lines["kubernetes"][1:5] == ["ClusterIP", "10.43.0.1", "<none>", "443/TCP"]
        assert lines["web"][1] == "NodePort" and lines["web"][4] == "80:31234/TCP"
        assert re.fullmatch(r"10\.43\.\d+\.\d+", lines["web"][2])
        assert re.fullmatch(r"10\.43\.\d+\.\d+", lines["api"][2]) and lines["api"][4] == "8080/TCP"
        (tmp_path / "taken.yaml").write_text(TAKEN)
        code, out = await kubectl("apply", "-f", str(tmp_path / "taken.yaml"))
        assert code != 0
        assert 'The Service "web2" is invalid: spec.ports[0].nodePort: Invalid value: 31234: ' \
               'provided port is already allocated' in out
        code, out = await kubectl("get", "ipaddresses")
        assert code == 0 and "10.43.0.1" in out, out
