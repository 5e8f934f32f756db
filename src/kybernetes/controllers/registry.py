"""The controllers the controller-manager runs, by name (as `--controllers` names them)."""

from __future__ import annotations

from kybernetes.controllers.base import Controller
from kybernetes.controllers.cronjob_controller import CronJobController
from kybernetes.controllers.daemonset import DaemonSetController
from kybernetes.controllers.deployment import DeploymentController
from kybernetes.controllers.disruption import DisruptionController
from kybernetes.controllers.endpoints import EndpointsController
from kybernetes.controllers.endpointslice import EndpointSliceController
from kybernetes.controllers.garbagecollector import GarbageCollector
from kybernetes.controllers.job_controller import JobController
from kybernetes.controllers.namespace import NamespaceController
from kybernetes.controllers.nodeipam import NodeIpamController
from kybernetes.controllers.nodelifecycle import NodeLifecycleController
from kybernetes.controllers.nodelifecycle_tainteviction import TaintEvictionController
from kybernetes.controllers.podgc import PodGarbageCollector
from kybernetes.controllers.replicaset import ReplicaSetController
from kybernetes.controllers.replicationcontroller import ReplicationControllerController
from kybernetes.controllers.rootcacert import RootCACertPublisher
from kybernetes.controllers.serviceaccount import ServiceAccountsController
from kybernetes.controllers.servicelb import ServiceLoadBalancerController
from kybernetes.controllers.statefulset import StatefulSetController
from kybernetes.controllers.ttl_after_finished import TTLAfterFinishedController

CONTROLLERS: dict[str, type[Controller]] = {
    "cronjob": CronJobController,
    "daemonset": DaemonSetController,
    "deployment": DeploymentController,
    "disruption": DisruptionController,
    "endpoint": EndpointsController,
    "endpointslice": EndpointSliceController,
    "garbagecollector": GarbageCollector,
    "job": JobController,
    "namespace": NamespaceController,
    "nodeipam": NodeIpamController,
    "nodelifecycle": NodeLifecycleController,
    "podgc": PodGarbageCollector,
    "replicaset": ReplicaSetController,
    "replicationcontroller": ReplicationControllerController,
    "root-ca-cert-publisher": RootCACertPublisher,
    "serviceaccount": ServiceAccountsController,
    "service-lb": ServiceLoadBalancerController,
    "statefulset": StatefulSetController,
    "taint-eviction-controller": TaintEvictionController,
    "ttl-after-finished": TTLAfterFinishedController,
}
