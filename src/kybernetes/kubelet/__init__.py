"""The node agent: runs the pods bound to its node through a CRI-shaped runtime (real runc, or
the fake runtime of simulated nodes).

    NodeGroup (node_group.py)   one pod watch, one node watch, one pod-key work queue, one status
      │                         manager, one event writer, one timer heap, for 1 or 1000 nodes
      └─ Kubelet (kubelet.py)   per node: sync(key, pod) -> run / terminate / remove
           ├─ NodeAgent (node.py, node_status.py)   register the Node, renew its Lease, report status
           └─ PodWorker (pod_worker.py)             sandbox, init containers, containers, restarts
                ├─ status.py                        pod status as Kubernetes computes it (pure)
                ├─ probes.py, restart_backoff.py    startup/readiness; CrashLoopBackOff timing
                └─ runtime/protocol.py              CRI's RuntimeService + ImageService
                     └─ runtime/fake.py             in memory, on the clock (simulated nodes)
    StatusManager (status_manager.py)  coalesced, rate-limited pods/status writes
    simulated.py                       N kubelets over fake runtimes: ``kyb simulate-nodes``

Imports only kybernetes.client, kybernetes.api and kybernetes.util.
"""
