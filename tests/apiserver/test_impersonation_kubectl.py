"""The pinned kubectl's ``--as`` / ``--as-group`` / ``--as-uid`` and ``auth can-i --list`` /
``auth whoami`` against the server.

The server runs in this test's event loop on 127.0.0.1 (free port, plain HTTP, every request an
admin in system:masters, who may impersonate anyone); kubectl runs as a subprocess with its own
kubeconfig and cache in a temporary folder. One server serves the whole module's story.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.local_kubectl import anonymous_admin_apiserver, run_kubectl

RBAC_OBJECTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-reads-pods, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: devs-edit, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: devs}
"""


@pytest.fixture
async def cluster():
    async with anonymous_admin_apiserver("kyb-as-") as folder:
        yield folder


async def kubectl(folder: Path, *args: str) -> tuple[int, str]:
    return await run_kubectl(folder, *args)


def table_rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.strip()]


async def test_kubectl_as_jane_is_forbidden_until_rbac_allows_it(cluster):
    code, out = await kubectl(cluster, "--as=jane", "get", "pods", "-n", "team")
    assert code == 1
    assert ('Error from server (Forbidden): pods is forbidden: User "jane" cannot list resource "pods" '
            'in API group "" in the namespace "team"') in out
    (cluster / "rbac.yaml").write_text(RBAC_OBJECTS)
    code, out = await kubectl(cluster, "apply", "-f", str(cluster / "rbac.yaml"))
    assert code == 0, out
    code, out = await kubectl(cluster, "--as=jane", "get", "pods", "-n", "team")
    assert code == 0 and "No resources found in team namespace." in out, out
    code, out = await kubectl(cluster, "--as=jane", "get", "pods", "-n", "default")
    assert code == 1 and "Forbidden" in out
    code, out = await kubectl(cluster, "--as=jane", "create", "configmap", "c", "-n", "team")
    assert code == 1 and 'User "jane" cannot create resource "configmaps"' in out
    # with the group devs, the edit role's binding applies too
    code, out = await kubectl(cluster, "--as=jane", "--as-group=devs", "create", "configmap", "c", "-n", "team")
    assert code == 0 and "configmap/c created" in out, out
    code, out = await kubectl(cluster, "auth", "can-i", "delete", "configmaps", "-n", "team", "--as=jane",
                              "--as-group=devs")
    assert (code, out.strip()) == (0, "yes")
    code, out = await kubectl(cluster, "auth", "can-i", "delete", "configmaps", "-n", "team", "--as=jane")
    assert (code, out.strip()) == (1, "no")

    # auth can-i --list: kubectl's table of Resources / Non-Resource URLs / Resource Names / Verbs
    code, out = await kubectl(cluster, "auth", "can-i", "--list", "--as=jane", "-n", "team")
    assert code == 0, out
    rows = table_rows(out)
    assert rows[0] == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert ["pods", "[]", "[]", "[get", "list", "watch]"] in rows
    assert ["selfsubjectrulesreviews.authorization.k8s.io", "[]", "[]", "[create]"] in rows
    assert ["[/api/*]", "[]", "[get]"] in rows
    assert not any(row[0] in ("configmaps", "*.*") for row in rows)
    code, out = await kubectl(cluster, "auth", "can-i", "--list", "--as=jane", "-n", "default")
    assert code == 0 and not any(row[0] == "pods" for row in table_rows(out))
    code, out = await kubectl(cluster, "auth", "can-i", "--list", "--as=jane", "--as-group=devs", "-n", "team")
    [configmaps] = [row for row in table_rows(out) if row[0] == "configmaps"]
    assert configmaps[1:3] == ["[]", "[]"] and {"create", "delete", "get"} <= {v.strip("[]") for v in configmaps[3:]}

    # the admin itself: "*" on everything, listed once
    code, out = await kubectl(cluster, "auth", "can-i", "--list")
    rows = table_rows(out)
    assert code == 0 and rows[1] == ["*.*", "[]", "[]", "[*]"] and rows.count(["[*]", "[]", "[*]"]) == 1


async def test_kubectl_auth_whoami_as_someone_else(cluster):
    code, out = await kubectl(cluster, "auth", "whoami", "--as=jane", "--as-group=devs")
    assert code == 0, out
    assert table_rows(out) == [["ATTRIBUTE", "VALUE"], ["Username", "jane"],
                               ["Groups", "[devs", "system:authenticated]"]]
    code, out = await kubectl(cluster, "auth", "whoami", "--as=system:serviceaccount:team:bot", "--as-uid=u-7")
    assert code == 0, out
    assert table_rows(out) == [["ATTRIBUTE", "VALUE"], ["Username", "system:serviceaccount:team:bot"],
                               ["UID", "u-7"],
                               ["Groups", "[system:serviceaccounts", "system:serviceaccounts:team",
                                "system:authenticated]"]]
    code, out = await kubectl(cluster, "auth", "whoami")
    assert code == 0 and ["Username", "system:admin"] in table_rows(out)


JANE_EXEC = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: shell-user, namespace: default}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [""]
  resources: [pods/exec]
  verbs: [create, get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-shell, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: shell-user}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}
"""


@pytest.mark.timeout(120)
async def test_the_admin_certificate_impersonates_over_tls_through_exec(tmp_path):
    """`kyb up`'s shape: HTTPS, the admin kubeconfig's client certificate (system:masters), and a
    node: --as=jane runs as jane through the WebSocket upgrade of exec too."""
    from tests.apiserver.streaming_cluster import streaming_cluster

    async with streaming_cluster() as c:
        await c.create_pod("shell", [{"name": "c"}])
        code, _, err = await c.kubectl("--as=jane", "exec", "shell", "--", "echo", "hi")
        assert code == 1 and 'User "jane" cannot get resource "pods" in API group ""' in err, err
        (tmp_path / "rbac.yaml").write_text(JANE_EXEC.replace("resources: [pods/exec]", "resources: [pods/attach]"))
        code, out, err = await c.kubectl("apply", "-f", str(tmp_path / "rbac.yaml"))
        assert code == 0, err
        code, out, err = await c.kubectl("--as=jane", "get", "pods")
        assert code == 0 and "shell" in out, err
        code, out, err = await c.kubectl("--as=jane", "exec", "shell", "--", "echo", "hi")
        assert code == 1 and 'User "jane" cannot create resource "pods/exec"' in err, err
        (tmp_path / "rbac.yaml").write_text(JANE_EXEC)
        code, out, err = await c.kubectl("apply", "-f", str(tmp_path / "rbac.yaml"))
        assert code == 0, err
        code, out, err = await c.kubectl("--as=jane", "exec", "shell", "--", "echo", "hi")
        assert (code, out) == (0, "hi\n"), err
        code, out, err = await c.kubectl("--as=jane", "logs", "shell")
        assert code == 1 and 'cannot get resource "pods/log"' in err, err
        code, out, err = await c.kubectl("auth", "whoami", "--as=jane")
        assert code == 0 and ["Username", "jane"] in table_rows(out), err
