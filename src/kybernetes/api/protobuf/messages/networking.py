"""networking.k8s.io/v1: Ingress, IngressClass, NetworkPolicy.
"""

MESSAGES = {
    "Ingress": "1:metadata:ObjectMeta 2:spec:IngressSpec 3:status:IngressStatus",
    "IngressClass": "1:metadata:ObjectMeta 2:spec:IngressClassSpec",
    "NetworkPolicy": "1:metadata:ObjectMeta 2:spec:NetworkPolicySpec",
    "IngressSpec": (
        "4:ingressClassName:s? 1:defaultBackend:IngressBackend? 2:tls:IngressTLS* 3:rules:IngressRule*"
    ),
    "IngressStatus": "1:loadBalancer:IngressLoadBalancerStatus",
    "IngressClassSpec": "1:controller:s 2:parameters:IngressClassParametersReference?",
    "NetworkPolicySpec": (
        "1:podSelector:LabelSelector! 2:ingress:NetworkPolicyIngressRule* 3:egress:NetworkPolicyEgressRule* "
        "4:policyTypes:s*"
    ),
    "IngressBackend": "4:service:IngressServiceBackend? 3:resource:TypedLocalObjectReference?",
    "IngressTLS": "1:hosts:s* 2:secretName:s",
    "IngressRule": "1:host:s 2:-:IngressRuleValue^",
    "IngressLoadBalancerStatus": "1:ingress:IngressLoadBalancerIngress*",
    "IngressClassParametersReference": "1:apiGroup:s? 2:kind:s! 3:name:s! 4:scope:s? 5:namespace:s?",
    "NetworkPolicyIngressRule": "1:ports:NetworkPolicyPort* 2:from:NetworkPolicyPeer*",
    "NetworkPolicyEgressRule": "1:ports:NetworkPolicyPort* 2:to:NetworkPolicyPeer*",
    "IngressServiceBackend": "1:name:s! 2:port:ServiceBackendPort",
    "IngressRuleValue": "1:http:HTTPIngressRuleValue?",
    "IngressLoadBalancerIngress": "1:ip:s 2:hostname:s 4:ports:IngressPortStatus*",
    "NetworkPolicyPort": "1:protocol:s? 2:port:IntOrString? 3:endPort:i32?",
    "NetworkPolicyPeer": "1:podSelector:LabelSelector? 2:namespaceSelector:LabelSelector? 3:ipBlock:IPBlock?",
    "ServiceBackendPort": "1:name:s 2:number:i32",
    "HTTPIngressRuleValue": "1:paths:HTTPIngressPath*",
    "IngressPortStatus": "1:port:i32! 2:protocol:s! 3:error:s?",
    "IPBlock": "1:cidr:s! 2:except:s*",
    "HTTPIngressPath": "1:path:s 3:pathType:s? 2:backend:IngressBackend!",
}

KINDS = {
    ("networking.k8s.io/v1", "Ingress"): "Ingress",
    ("networking.k8s.io/v1", "IngressClass"): "IngressClass",
    ("networking.k8s.io/v1", "NetworkPolicy"): "NetworkPolicy",
}
