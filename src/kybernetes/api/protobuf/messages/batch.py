"""batch/v1: Job and CronJob (plus the scheduling/v1alpha3 pod-group policy a Job may carry).
"""

MESSAGES = {
    "Job": "1:metadata:ObjectMeta 2:spec:JobSpec 3:status:JobStatus",
    "CronJob": "1:metadata:ObjectMeta 2:spec:CronJobSpec 3:status:CronJobStatus",
    "JobSpec": (
        "1:parallelism:i32? 2:completions:i32? 3:activeDeadlineSeconds:i64? "
        "11:podFailurePolicy:PodFailurePolicy? 16:successPolicy:SuccessPolicy? 7:backoffLimit:i32? "
        "12:backoffLimitPerIndex:i32? 13:maxFailedIndexes:i32? 4:selector:LabelSelector? "
        "5:manualSelector:bool? 6:template:PodTemplateSpec! 8:ttlSecondsAfterFinished:i32? "
        "9:completionMode:s? 10:suspend:bool? 14:podReplacementPolicy:s? 15:managedBy:s? "
        "17:scheduling:JobSchedulingConfiguration?"
    ),
    "JobStatus": (
        "1:conditions:JobCondition* 2:startTime:Time? 3:completionTime:Time? 4:active:i32 5:succeeded:i32 "
        "6:failed:i32 11:terminating:i32? 7:completedIndexes:s 10:failedIndexes:s? "
        "8:uncountedTerminatedPods:UncountedTerminatedPods? 9:ready:i32?"
    ),
    "CronJobSpec": (
        "1:schedule:s! 8:timeZone:s? 2:startingDeadlineSeconds:i64? 3:concurrencyPolicy:s 4:suspend:bool? "
        "5:jobTemplate:JobTemplateSpec! 6:successfulJobsHistoryLimit:i32? 7:failedJobsHistoryLimit:i32?"
    ),
    "CronJobStatus": "1:active:ObjectReference* 4:lastScheduleTime:Time? 5:lastSuccessfulTime:Time?",
    "PodFailurePolicy": "1:rules:PodFailurePolicyRule*",
    "SuccessPolicy": "1:rules:SuccessPolicyRule*",
    "JobSchedulingConfiguration": (
        "1:schedulingPolicy:WorkloadPodGroupSchedulingPolicy? "
        "2:schedulingConstraints:WorkloadPodGroupSchedulingConstraints? "
        "3:disruptionMode:WorkloadPodGroupDisruptionMode? 4:resourceClaims:WorkloadPodGroupResourceClaim*"
    ),
    "JobCondition": (
        "1:type:s! 2:status:s! 3:lastProbeTime:Time 4:lastTransitionTime:Time 5:reason:s 6:message:s"
    ),
    "UncountedTerminatedPods": "1:succeeded:s* 2:failed:s*",
    "JobTemplateSpec": "1:metadata:ObjectMeta 2:spec:JobSpec",
    "PodFailurePolicyRule": (
        "1:action:s! 2:onExitCodes:PodFailurePolicyOnExitCodesRequirement? "
        "3:onPodConditions:PodFailurePolicyOnPodConditionsPattern*"
    ),
    "SuccessPolicyRule": "1:succeededIndexes:s? 2:succeededCount:i32?",
    "WorkloadPodGroupSchedulingPolicy": (
        "1:basic:WorkloadPodGroupBasicSchedulingPolicy? 2:gang:WorkloadPodGroupGangSchedulingPolicy?"
    ),
    "WorkloadPodGroupSchedulingConstraints": "1:topology:TopologyConstraint*",
    "WorkloadPodGroupDisruptionMode": (
        "1:single:WorkloadPodGroupSingleDisruptionMode? 2:all:WorkloadPodGroupAllDisruptionMode?"
    ),
    "WorkloadPodGroupResourceClaim": "1:name:s! 2:resourceClaimName:s? 3:resourceClaimTemplateName:s?",
    "PodFailurePolicyOnExitCodesRequirement": "1:containerName:s? 2:operator:s! 3:values:i32*",
    "PodFailurePolicyOnPodConditionsPattern": "1:type:s! 2:status:s!",
    "WorkloadPodGroupBasicSchedulingPolicy": "",
    "WorkloadPodGroupGangSchedulingPolicy": "1:minCount:i32?",
    "TopologyConstraint": "1:key:s!",
    "WorkloadPodGroupSingleDisruptionMode": "",
    "WorkloadPodGroupAllDisruptionMode": "",
}

KINDS = {
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
}
