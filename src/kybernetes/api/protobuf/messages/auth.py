"""authentication.k8s.io/v1 and authorization.k8s.io/v1: the review kinds `kubectl create token`,
`kubectl auth can-i` and `kubectl auth whoami` post.
"""

MESSAGES = {
    "TokenRequest": "1:metadata:ObjectMeta 2:spec:TokenRequestSpec! 3:status:TokenRequestStatus",
    "TokenReview": "1:metadata:ObjectMeta 2:spec:TokenReviewSpec! 3:status:TokenReviewStatus",
    "SelfSubjectReview": "1:metadata:ObjectMeta 2:status:SelfSubjectReviewStatus",
    "SelfSubjectAccessReview": (
        "1:metadata:ObjectMeta 2:spec:SelfSubjectAccessReviewSpec! 3:status:SubjectAccessReviewStatus"
    ),
    "SelfSubjectRulesReview": (
        "1:metadata:ObjectMeta 2:spec:SelfSubjectRulesReviewSpec! 3:status:SubjectRulesReviewStatus"
    ),
    "SubjectAccessReview": (
        "1:metadata:ObjectMeta 2:spec:SubjectAccessReviewSpec! 3:status:SubjectAccessReviewStatus"
    ),
    "LocalSubjectAccessReview": (
        "1:metadata:ObjectMeta 2:spec:SubjectAccessReviewSpec! 3:status:SubjectAccessReviewStatus"
    ),
    "TokenRequestSpec": (
        "1:audiences:s* 4:expirationSeconds:i64? 3:boundObjectRef:BoundObjectReference? 5:attestations:{[s]}"
    ),
    "TokenRequestStatus": "1:token:s! 2:expirationTimestamp:Time!",
    "TokenReviewSpec": "1:token:s 2:audiences:s*",
    "TokenReviewStatus": "1:authenticated:bool 2:user:UserInfo 4:audiences:s* 3:error:s",
    "SelfSubjectReviewStatus": "1:userInfo:UserInfo",
    "SelfSubjectAccessReviewSpec": (
        "1:resourceAttributes:ResourceAttributes? 2:nonResourceAttributes:NonResourceAttributes?"
    ),
    "SubjectAccessReviewStatus": "1:allowed:bool! 4:denied:bool 2:reason:s 3:evaluationError:s",
    "SelfSubjectRulesReviewSpec": "1:namespace:s",
    "SubjectRulesReviewStatus": (
        "1:resourceRules:ResourceRule* 2:nonResourceRules:NonResourceRule* 3:incomplete:bool! "
        "4:evaluationError:s"
    ),
    "SubjectAccessReviewSpec": (
        "1:resourceAttributes:ResourceAttributes? 2:nonResourceAttributes:NonResourceAttributes? 3:user:s "
        "4:groups:s* 5:extra:{[s]} 6:uid:s"
    ),
    "BoundObjectReference": "1:kind:s 2:apiVersion:s 3:name:s 4:uid:s",
    "UserInfo": "1:username:s 2:uid:s 3:groups:s* 4:extra:{[s]}",
    "ResourceAttributes": (
        "1:namespace:s 2:verb:s 3:group:s 4:version:s 5:resource:s 6:subresource:s 7:name:s "
        "8:fieldSelector:FieldSelectorAttributes? 9:labelSelector:LabelSelectorAttributes?"
    ),
    "NonResourceAttributes": "1:path:s 2:verb:s",
    "ResourceRule": "1:verbs:s* 2:apiGroups:s* 3:resources:s* 4:resourceNames:s*",
    "NonResourceRule": "1:verbs:s* 2:nonResourceURLs:s*",
    "FieldSelectorAttributes": "1:rawSelector:s 2:requirements:FieldSelectorRequirement*",
    "LabelSelectorAttributes": "1:rawSelector:s 2:requirements:LabelSelectorRequirement*",
}

KINDS = {
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    ("authentication.k8s.io/v1", "TokenReview"): "TokenReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "LocalSubjectAccessReview",
}
