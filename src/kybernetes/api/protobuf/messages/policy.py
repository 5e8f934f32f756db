"""policy/v1: PodDisruptionBudget and Eviction (the body `kubectl drain` posts to pods/eviction).
"""

MESSAGES = {
    "PodDisruptionBudget": (
        "1:metadata:ObjectMeta 2:spec:PodDisruptionBudgetSpec 3:status:PodDisruptionBudgetStatus"
    ),
    "Eviction": "1:metadata:ObjectMeta 2:deleteOptions:DeleteOptions?",
    "PodDisruptionBudgetSpec": (
        "1:minAvailable:IntOrString? 2:selector:LabelSelector? 3:maxUnavailable:IntOrString? "
        "4:unhealthyPodEvictionPolicy:s?"
    ),
    "PodDisruptionBudgetStatus": (
        "1:observedGeneration:i64 2:disruptedPods:{Time} 3:disruptionsAllowed:i32! 4:currentHealthy:i32! "
        "5:desiredHealthy:i32! 6:expectedPods:i32! 7:conditions:Condition*"
    ),
}

KINDS = {
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
    ("policy/v1", "Eviction"): "Eviction",
}
