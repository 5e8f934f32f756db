"""coordination.k8s.io/v1: Lease.
"""

MESSAGES = {
    "Lease": "1:metadata:ObjectMeta 2:spec:LeaseSpec",
    "LeaseSpec": (
        "1:holderIdentity:s? 2:leaseDurationSeconds:i32? 3:acquireTime:MicroTime? 4:renewTime:MicroTime? "
        "5:leaseTransitions:i32? 6:strategy:s? 7:preferredHolder:s?"
    ),
}

KINDS = {
    ("coordination.k8s.io/v1", "Lease"): "Lease",
}
