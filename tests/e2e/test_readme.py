"""The README's "A short tour", run exactly as written, so the README cannot drift from the truth.

The ```sh blocks under "## A short tour" run in one bash (``-euo pipefail``), one after the other
as a user pasting them into one terminal would, from the repository's root. Around them:

- a registry on loopback serves ``busybox:1.36`` and ``busybox:1.37`` (Debian's busybox-static,
  two images that differ in their config), and ``kyb up --registry-config`` points docker.io at it;
- ``kyb up`` runs with its real node and HOME set to a temp dir, so the ``kybernetes`` context it
  merges into ``~/.kube/config`` is the one the README's kubectl finds (the real ~/.kube/config
  is never touched);
- the README reaches the app through ``kubectl port-forward`` on 127.0.0.1:8080 only.

Real node: run under the shared lock (flock /tmp/kyb-e2e.lock, see the session rules).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.ports import port_is_free

from .real_node_support import real_cluster, requirements_missing

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TOUR = "## A short tour"
FORWARD_PORT = 8080  # the README's port-forward

pytestmark = pytest.mark.skipif(bool(requirements_missing()), reason=requirements_missing() or "ok")


def tour_blocks(text: str) -> list[str]:
    """The ```sh blocks of the tour section (up to the next "## " heading)."""
    start = text.index(TOUR) + len(TOUR)
    following = re.search(r"^## ", text[start:], re.M)
    section = text[start:start + following.start()] if following else text[start:]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.M | re.S)


def test_the_tour_has_the_blocks_this_test_checks():
    blocks = tour_blocks(README.read_text())
    assert len(blocks) == 7
    whole = "\n".join(blocks)
    for needle in ("kubectl create deployment web", "kubectl expose", "kubectl port-forward", "kubectl scale",
                   "kubectl logs", "kubectl exec", "kubectl set image", "kubectl rollout undo",
                   "CustomResourceDefinition", "kubectl get greetings"):
        assert needle in whole


def run_tour(blocks: list[str], home: Path, timeout: float = 300.0) -> list[str]:
    """Run the blocks in one bash, as written; each block's output (stdout and stderr)."""
    marker = "@@@ block {} @@@"
    script = "".join(f"echo '{marker.format(i)}'\n{block}" for i, block in enumerate(blocks))
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "HTTPS_PROXY", "https_proxy",
                                                             "HTTP_PROXY", "http_proxy")}
    env.update(HOME=str(home), NO_PROXY="127.0.0.1,localhost")
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"the tour did not finish in {timeout:g}s:\n{out[-4000:]}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a port-forward left by a failed block
    parts = re.split(r"^@@@ block (\d+) @@@\n", out, flags=re.M)
    outputs = [""] * len(blocks)
    for index, text in zip(parts[1::2], parts[2::2], strict=True):
        outputs[int(index)] = text
    ran = len(parts[1::2])
    assert proc.returncode == 0, (f"README block {ran - 1} failed (exit {proc.returncode}):\n"
                                  f"{blocks[ran - 1]}\n--- its output:\n{outputs[ran - 1][-4000:]}")
    return outputs


def test_the_readme_tour_runs_as_written(tmp_path):
    blocks = tour_blocks(README.read_text())
    assert port_is_free(FORWARD_PORT), f"127.0.0.1:{FORWARD_PORT} is taken: the README's port-forward needs it"
    home = tmp_path / "home"
    home.mkdir()
    with real_cluster(tmp_path, tags=("1.36", "1.37"), home=home) as rc:
        nodes, deploy, expose, scale, rollout, crd, clean = run_tour(blocks, home)
        assert re.search(r"\sReady\s", nodes), nodes
        assert 'deployment "web" successfully rolled out' in deploy, deploy
        pods = re.findall(r"^(web-\S+)\s+1/1\s+Running", deploy, re.M)
        assert len(pods) == 2, deploy
        # the page a pod wrote, served through the Service's port-forward
        assert re.search(r"^Hello from web-[a-z0-9]+-[a-z0-9]+$", expose, re.M), expose
        assert len(re.findall(r"^web-\S+\s+1/1\s+Running", scale, re.M)) == 3, scale
        greetings = re.findall(r"^Hello from (web-\S+)$", scale, re.M)
        assert len(greetings) >= 2, scale  # kubectl logs, then kubectl exec cat
        assert 'deployment "web" successfully rolled out' in rollout, rollout
        assert "rolled back" in rollout, rollout
        assert rollout.rstrip().endswith("busybox:1.36"), rollout
        assert re.search(r"^hello\s+Hello, Kybernetes\s", crd, re.M), crd
        assert 'deployment.apps "web" deleted' in clean, clean
        # kyb up merged its context into the temp HOME's kubeconfig, and only there
        kubeconfig = yaml.safe_load((home / ".kube" / "config").read_text())
        assert kubeconfig["current-context"] == "kybernetes"
        assert rc.kubectl("get", "crd", "greetings.demo.kybernetes.io", check=False).returncode != 0
