"""core/v1 kinds other than the pod family: ConfigMap, Secret, Namespace, Service, ServiceAccount,
ResourceQuota, LimitRange, Endpoints, PersistentVolumeClaim, Event, ReplicationController.
"""

MESSAGES = {
    "ConfigMap": "1:metadata:ObjectMeta 4:immutable:bool? 2:data:{s} 3:binaryData:{b}",
    "Secret": "1:metadata:ObjectMeta 5:immutable:bool? 2:data:{b} 4:stringData:{s} 3:type:s",
    "Namespace": "1:metadata:ObjectMeta 2:spec:NamespaceSpec 3:status:NamespaceStatus",
    "Service": "1:metadata:ObjectMeta 2:spec:ServiceSpec 3:status:ServiceStatus",
    "ServiceAccount": (
        "1:metadata:ObjectMeta 2:secrets:ObjectReference* 3:imagePullSecrets:LocalObjectReference* "
        "4:automountServiceAccountToken:bool?"
    ),
    "ResourceQuota": "1:metadata:ObjectMeta 2:spec:ResourceQuotaSpec 3:status:ResourceQuotaStatus",
    "ReplicationController": (
        "1:metadata:ObjectMeta 2:spec:ReplicationControllerSpec 3:status:ReplicationControllerStatus"
    ),
    "LimitRange": "1:metadata:ObjectMeta 2:spec:LimitRangeSpec",
    "Endpoints": "1:metadata:ObjectMeta 2:subsets:EndpointSubset*",
    "PersistentVolumeClaim": (
        "1:metadata:ObjectMeta 2:spec:PersistentVolumeClaimSpec 3:status:PersistentVolumeClaimStatus"
    ),
    "Event": (
        "1:metadata:ObjectMeta! 2:involvedObject:ObjectReference! 3:reason:s 4:message:s 5:source:EventSource "
        "6:firstTimestamp:Time 7:lastTimestamp:Time 8:count:i32 9:type:s 10:eventTime:MicroTime "
        "11:series:EventSeries? 12:action:s 13:related:ObjectReference? 14:reportingComponent:s! "
        "15:reportingInstance:s!"
    ),
    "NamespaceSpec": "1:finalizers:s*",
    "NamespaceStatus": "1:phase:s 2:conditions:NamespaceCondition*",
    "ServiceSpec": (
        "1:ports:ServicePort* 2:selector:{s} 3:clusterIP:s 18:clusterIPs:s* 4:type:s 5:externalIPs:s* "
        "7:sessionAffinity:s 8:loadBalancerIP:s 9:loadBalancerSourceRanges:s* 10:externalName:s "
        "11:externalTrafficPolicy:s 12:healthCheckNodePort:i32 13:publishNotReadyAddresses:bool "
        "14:sessionAffinityConfig:SessionAffinityConfig? 19:ipFamilies:s* 17:ipFamilyPolicy:s? "
        "20:allocateLoadBalancerNodePorts:bool? 21:loadBalancerClass:s? 22:internalTrafficPolicy:s? "
        "23:trafficDistribution:s?"
    ),
    "ServiceStatus": "1:loadBalancer:LoadBalancerStatus 2:conditions:Condition*",
    "ResourceQuotaSpec": "1:hard:{Quantity} 2:scopes:s* 3:scopeSelector:ScopeSelector?",
    "ResourceQuotaStatus": "1:hard:{Quantity} 2:used:{Quantity}",
    "ReplicationControllerSpec": (
        "1:replicas:i32? 4:minReadySeconds:i32 2:selector:{s} 3:template:PodTemplateSpec?"
    ),
    "ReplicationControllerStatus": (
        "1:replicas:i32! 2:fullyLabeledReplicas:i32 4:readyReplicas:i32 5:availableReplicas:i32 "
        "3:observedGeneration:i64 6:conditions:ReplicationControllerCondition*"
    ),
    "LimitRangeSpec": "1:limits:LimitRangeItem*",
    "EndpointSubset": (
        "1:addresses:EndpointAddress* 2:notReadyAddresses:EndpointAddress* 3:ports:EndpointPort*"
    ),
    "PersistentVolumeClaimStatus": (
        "1:phase:s 2:accessModes:s* 3:capacity:{Quantity} 4:conditions:PersistentVolumeClaimCondition* "
        "5:allocatedResources:{Quantity} 7:allocatedResourceStatuses:{s} "
        "8:currentVolumeAttributesClassName:s? 9:modifyVolumeStatus:ModifyVolumeStatus? "
        "10:healthStatus:VolumeHealthStatus?"
    ),
    "EventSource": "1:component:s 2:host:s",
    "EventSeries": "1:count:i32 2:lastObservedTime:MicroTime",
    "NamespaceCondition": "1:type:s! 2:status:s! 4:lastTransitionTime:Time 5:reason:s 6:message:s",
    "ServicePort": (
        "1:name:s 2:protocol:s 6:appProtocol:s? 3:port:i32! 4:targetPort:IntOrString 5:nodePort:i32"
    ),
    "SessionAffinityConfig": "1:clientIP:ClientIPConfig?",
    "LoadBalancerStatus": "1:ingress:LoadBalancerIngress*",
    "ScopeSelector": "1:matchExpressions:ScopedResourceSelectorRequirement*",
    "ReplicationControllerCondition": (
        "1:type:s! 2:status:s! 3:lastTransitionTime:Time 4:reason:s 5:message:s"
    ),
    "LimitRangeItem": (
        "1:type:s! 2:max:{Quantity} 3:min:{Quantity} 4:default:{Quantity} 5:defaultRequest:{Quantity} "
        "6:maxLimitRequestRatio:{Quantity}"
    ),
    "EndpointAddress": "1:ip:s! 3:hostname:s 4:nodeName:s? 2:targetRef:ObjectReference?",
    "EndpointPort": "1:name:s 2:port:i32! 3:protocol:s 4:appProtocol:s?",
    "PersistentVolumeClaimCondition": (
        "1:type:s! 2:status:s! 3:lastProbeTime:Time 4:lastTransitionTime:Time 5:reason:s 6:message:s"
    ),
    "ModifyVolumeStatus": "1:targetVolumeAttributesClassName:s 2:status:s!",
    "VolumeHealthStatus": "1:healthConditions:VolumeHealthCondition* 2:lastTransitionTime:Time",
    "ClientIPConfig": "1:timeoutSeconds:i32?",
    "LoadBalancerIngress": "1:ip:s 2:hostname:s 3:ipMode:s? 4:ports:PortStatus*",
    "ScopedResourceSelectorRequirement": "1:scopeName:s! 2:operator:s! 3:values:s*",
    "PortStatus": "1:port:i32! 2:protocol:s! 3:error:s?",
}

KINDS = {
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "Namespace"): "Namespace",
    ("v1", "Service"): "Service",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "ResourceQuota"): "ResourceQuota",
    ("v1", "ReplicationController"): "ReplicationController",
    ("v1", "LimitRange"): "LimitRange",
    ("v1", "Endpoints"): "Endpoints",
    ("v1", "PersistentVolumeClaim"): "PersistentVolumeClaim",
    ("v1", "Event"): "Event",
}
