"""scheduling.k8s.io/v1: PriorityClass.
"""

MESSAGES = {
    "PriorityClass": (
        "1:metadata:ObjectMeta 2:value:i32! 3:globalDefault:bool 4:description:s 5:preemptionPolicy:s?"
    ),
}

KINDS = {
    ("scheduling.k8s.io/v1", "PriorityClass"): "PriorityClass",
}
