"""kybernetes.client: the one way every component talks to an apiserver (modelled on client-go).

    ApiClient (rest.py)            REST verbs on any Resource, token-bucket rate limit, retries,
       │                           errors as ApiError, watch streams (watch.py)
       ├── Informer (informer.py)  Reflector (list + watch, re-list on 410) ─► Indexer cache
       │     └── handlers ─► WorkQueue (workqueue.py): keys, dedup, one worker per key, backoff
       ├── LeaderElector (leader_election.py): one active copy per component, on a Lease
       └── EventRecorder (events.py): core/v1 Events, repeats aggregated

Every sleep and timeout goes through kybernetes.util.clock, so tests run it on a FakeClock.
This package imports only kybernetes.api and kybernetes.util.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kybernetes.util.lazy_exports import lazy_exports

# Names are loaded on first use (PEP 562), so a process that needs only kubeconfig handling
# (the `kyb up` supervisor) doesn't import aiohttp with the REST client.
_WHERE = {
    "ApiConnectionError": "errors", "ExpiredError": "errors", "EventRecorder": "events",
    "Indexer": "indexer", "object_key": "indexer", "split_key": "indexer",
    "Informer": "informer", "SharedInformerFactory": "informer", "LeaderElector": "leader_election",
    "TokenBucket": "ratelimit", "Resource": "resource", "ApiClient": "rest",
    "WatchEvent": "watch", "WatchStream": "watch", "ShutDown": "workqueue", "WorkQueue": "workqueue",
}

if TYPE_CHECKING:
    from kybernetes.client.errors import ApiConnectionError, ExpiredError
    from kybernetes.client.events import EventRecorder
    from kybernetes.client.indexer import Indexer, object_key, split_key
    from kybernetes.client.informer import Informer, SharedInformerFactory
    from kybernetes.client.leader_election import LeaderElector
    from kybernetes.client.ratelimit import TokenBucket
    from kybernetes.client.resource import Resource
    from kybernetes.client.rest import ApiClient
    from kybernetes.client.watch import WatchEvent, WatchStream
    from kybernetes.client.workqueue import ShutDown, WorkQueue


__getattr__ = lazy_exports(__name__, _WHERE, globals())

__all__ = [
    "ApiClient",
    "ApiConnectionError",
    "EventRecorder",
    "ExpiredError",
    "Indexer",
    "Informer",
    "LeaderElector",
    "Resource",
    "SharedInformerFactory",
    "ShutDown",
    "TokenBucket",
    "WatchEvent",
    "WatchStream",
    "WorkQueue",
    "object_key",
    "split_key",
]
