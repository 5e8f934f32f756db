"""rbac.authorization.k8s.io/v1: Role, ClusterRole and their bindings.
"""

MESSAGES = {
    "Role": "1:metadata:ObjectMeta 2:rules:PolicyRule*",
    "RoleBinding": "1:metadata:ObjectMeta 2:subjects:Subject* 3:roleRef:RoleRef!",
    "ClusterRole": "1:metadata:ObjectMeta 2:rules:PolicyRule* 3:aggregationRule:AggregationRule?",
    "ClusterRoleBinding": "1:metadata:ObjectMeta 2:subjects:Subject* 3:roleRef:RoleRef!",
    "PolicyRule": "1:verbs:s* 2:apiGroups:s* 3:resources:s* 4:resourceNames:s* 5:nonResourceURLs:s*",
    "Subject": "1:kind:s! 2:apiGroup:s 3:name:s! 4:namespace:s",
    "RoleRef": "1:apiGroup:s! 2:kind:s! 3:name:s!",
    "AggregationRule": "1:clusterRoleSelectors:LabelSelector*",
}

KINDS = {
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "ClusterRoleBinding",
}
