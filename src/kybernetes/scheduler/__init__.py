"""The scheduler: assigns a node to every pod without one, as kube-scheduler does.

    apiserver ══ watch ══► informers (nodes, pods, priorityclasses, namespaces, PDBs)
                              │                    │
                              ▼                    ▼
                     cache (cache.py)        queue (queue.py)
                     NodeInfo per node:      activeQ ─ backoffQ ─ unschedulable
                     bound + assumed pods    (moved back by cluster events: events.py)
                              │                    │ pop
                              └───────┬────────────┘
                                      ▼
              scheduling cycle (scheduling_cycle.py, algorithm.py; synchronous)
                 profile (profile.py) for the pod's schedulerName runs the plugins:
                 pre-filter ► filter (sampled nodes) ► post-filter (preemption)
                 ► pre-score ► score ► normalize ► pick ► assume ► reserve ► permit
                                      │
                                      ▼
              binding cycle (a task per pod): pre-bind ► bind (POST pods/binding) ► post-bind
              failure: PodScheduled=False + FailedScheduling event, back to the queue

    framework.py   status codes, CycleState, the plugin hooks, fit error messages
    podinfo.py / nodeinfo.py / resources.py   what plugins read, computed once
    matching.py    tolerations and node selectors, shared by plugins
    plugins/       one module per plugin (NAME + hooks); plugins/__init__.py: the default profile
    priority.py    spec.priority or the PriorityClass value
    scheduler.py   wiring, the loop, the plugins' handle; runner.py: leader election

Imports only kybernetes.client, kybernetes.api and kybernetes.util.
"""
