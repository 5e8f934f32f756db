"""core/v1 volume sources (VolumeSource and everything under it, projected volumes included).
"""

MESSAGES = {
    "VolumeSource": (
        "1:hostPath:HostPathVolumeSource? 2:emptyDir:EmptyDirVolumeSource? "
        "3:gcePersistentDisk:GCEPersistentDiskVolumeSource? "
        "4:awsElasticBlockStore:AWSElasticBlockStoreVolumeSource? 5:gitRepo:GitRepoVolumeSource? "
        "6:secret:SecretVolumeSource? 7:nfs:NFSVolumeSource? 8:iscsi:ISCSIVolumeSource? "
        "9:glusterfs:GlusterfsVolumeSource? 10:persistentVolumeClaim:PersistentVolumeClaimVolumeSource? "
        "11:rbd:RBDVolumeSource? 12:flexVolume:FlexVolumeSource? 13:cinder:CinderVolumeSource? "
        "14:cephfs:CephFSVolumeSource? 15:flocker:FlockerVolumeSource? "
        "16:downwardAPI:DownwardAPIVolumeSource? 17:fc:FCVolumeSource? 18:azureFile:AzureFileVolumeSource? "
        "19:configMap:ConfigMapVolumeSource? 20:vsphereVolume:VsphereVirtualDiskVolumeSource? "
        "21:quobyte:QuobyteVolumeSource? 22:azureDisk:AzureDiskVolumeSource? "
        "23:photonPersistentDisk:PhotonPersistentDiskVolumeSource? 26:projected:ProjectedVolumeSource? "
        "24:portworxVolume:PortworxVolumeSource? 25:scaleIO:ScaleIOVolumeSource? "
        "27:storageos:StorageOSVolumeSource? 28:csi:CSIVolumeSource? 29:ephemeral:EphemeralVolumeSource? "
        "30:image:ImageVolumeSource?"
    ),
    "HostPathVolumeSource": "1:path:s! 2:type:s?",
    "EmptyDirVolumeSource": "1:medium:s 2:sizeLimit:Quantity? 3:mode:i32?",
    "GCEPersistentDiskVolumeSource": "1:pdName:s! 2:fsType:s 3:partition:i32 4:readOnly:bool",
    "AWSElasticBlockStoreVolumeSource": "1:volumeID:s! 2:fsType:s 3:partition:i32 4:readOnly:bool",
    "GitRepoVolumeSource": "1:repository:s! 2:revision:s 3:directory:s",
    "SecretVolumeSource": (
        "1:secretName:s 2:items:KeyToPath* 3:defaultMode:i32? 4:optional:bool? 5:defaultUser:i64?"
    ),
    "NFSVolumeSource": "1:server:s! 2:path:s! 3:readOnly:bool",
    "ISCSIVolumeSource": (
        "1:targetPortal:s! 2:iqn:s! 3:lun:i32! 4:iscsiInterface:s 5:fsType:s 6:readOnly:bool 7:portals:s* "
        "8:chapAuthDiscovery:bool 11:chapAuthSession:bool 10:secretRef:LocalObjectReference? "
        "12:initiatorName:s?"
    ),
    "GlusterfsVolumeSource": "1:endpoints:s! 2:path:s! 3:readOnly:bool",
    "PersistentVolumeClaimVolumeSource": "1:claimName:s! 2:readOnly:bool",
    "RBDVolumeSource": (
        "1:monitors:s* 2:image:s! 3:fsType:s 4:pool:s 5:user:s 6:keyring:s 7:secretRef:LocalObjectReference? "
        "8:readOnly:bool"
    ),
    "FlexVolumeSource": (
        "1:driver:s! 2:fsType:s 3:secretRef:LocalObjectReference? 4:readOnly:bool 5:options:{s}"
    ),
    "CinderVolumeSource": "1:volumeID:s! 2:fsType:s 3:readOnly:bool 4:secretRef:LocalObjectReference?",
    "CephFSVolumeSource": (
        "1:monitors:s* 2:path:s 3:user:s 4:secretFile:s 5:secretRef:LocalObjectReference? 6:readOnly:bool"
    ),
    "FlockerVolumeSource": "1:datasetName:s 2:datasetUUID:s",
    "DownwardAPIVolumeSource": "1:items:DownwardAPIVolumeFile* 2:defaultMode:i32? 3:defaultUser:i64?",
    "FCVolumeSource": "1:targetWWNs:s* 2:lun:i32? 3:fsType:s 4:readOnly:bool 5:wwids:s*",
    "AzureFileVolumeSource": "1:secretName:s! 2:shareName:s! 3:readOnly:bool",
    "ConfigMapVolumeSource": (
        "1:-:LocalObjectReference^ 2:items:KeyToPath* 3:defaultMode:i32? 4:optional:bool? 5:defaultUser:i64?"
    ),
    "VsphereVirtualDiskVolumeSource": "1:volumePath:s! 2:fsType:s 3:storagePolicyName:s 4:storagePolicyID:s",
    "QuobyteVolumeSource": "1:registry:s! 2:volume:s! 3:readOnly:bool 4:user:s 5:group:s 6:tenant:s",
    "AzureDiskVolumeSource": (
        "1:diskName:s! 2:diskURI:s! 3:cachingMode:s? 4:fsType:s? 5:readOnly:bool? 6:kind:s?"
    ),
    "PhotonPersistentDiskVolumeSource": "1:pdID:s! 2:fsType:s",
    "ProjectedVolumeSource": "1:sources:VolumeProjection* 2:defaultMode:i32? 3:defaultUser:i64?",
    "PortworxVolumeSource": "1:volumeID:s! 2:fsType:s 3:readOnly:bool",
    "ScaleIOVolumeSource": (
        "1:gateway:s! 2:system:s! 3:secretRef:LocalObjectReference? 4:sslEnabled:bool 5:protectionDomain:s "
        "6:storagePool:s 7:storageMode:s 8:volumeName:s 9:fsType:s 10:readOnly:bool"
    ),
    "StorageOSVolumeSource": (
        "1:volumeName:s 2:volumeNamespace:s 3:fsType:s 4:readOnly:bool 5:secretRef:LocalObjectReference?"
    ),
    "CSIVolumeSource": (
        "1:driver:s! 2:readOnly:bool? 3:fsType:s? 4:volumeAttributes:{s} "
        "5:nodePublishSecretRef:LocalObjectReference?"
    ),
    "EphemeralVolumeSource": "1:volumeClaimTemplate:PersistentVolumeClaimTemplate?",
    "ImageVolumeSource": "1:reference:s 2:pullPolicy:s",
    "KeyToPath": "1:key:s! 2:path:s! 3:mode:i32? 4:user:i64?",
    "LocalObjectReference": "1:name:s",
    "DownwardAPIVolumeFile": (
        "1:path:s! 2:fieldRef:ObjectFieldSelector? 3:resourceFieldRef:ResourceFieldSelector? 4:mode:i32? "
        "5:user:i64?"
    ),
    "VolumeProjection": (
        "1:secret:SecretProjection? 2:downwardAPI:DownwardAPIProjection? 3:configMap:ConfigMapProjection? "
        "4:serviceAccountToken:ServiceAccountTokenProjection? "
        "5:clusterTrustBundle:ClusterTrustBundleProjection? 6:podCertificate:PodCertificateProjection?"
    ),
    "PersistentVolumeClaimTemplate": "1:metadata:ObjectMeta 2:spec:PersistentVolumeClaimSpec!",
    "ObjectFieldSelector": "1:apiVersion:s 2:fieldPath:s!",
    "ResourceFieldSelector": "1:containerName:s 2:resource:s! 3:divisor:Quantity",
    "SecretProjection": "1:-:LocalObjectReference^ 2:items:KeyToPath* 4:optional:bool?",
    "DownwardAPIProjection": "1:items:DownwardAPIVolumeFile*",
    "ConfigMapProjection": "1:-:LocalObjectReference^ 2:items:KeyToPath* 4:optional:bool?",
    "ServiceAccountTokenProjection": "1:audience:s 2:expirationSeconds:i64? 3:path:s! 4:user:i64?",
    "ClusterTrustBundleProjection": (
        "1:name:s? 2:signerName:s? 3:labelSelector:LabelSelector? 5:optional:bool? 4:path:s! 6:user:i64?"
    ),
    "PodCertificateProjection": (
        "1:signerName:s 2:keyType:s 3:maxExpirationSeconds:i32? 4:credentialBundlePath:s 5:keyPath:s "
        "6:certificateChainPath:s 7:userAnnotations:{s} 8:user:i64?"
    ),
    "PersistentVolumeClaimSpec": (
        "1:accessModes:s* 4:selector:LabelSelector? 2:resources:VolumeResourceRequirements 3:volumeName:s "
        "5:storageClassName:s? 6:volumeMode:s? 7:dataSource:TypedLocalObjectReference? "
        "8:dataSourceRef:TypedObjectReference? 9:volumeAttributesClassName:s?"
    ),
    "VolumeResourceRequirements": "1:limits:{Quantity} 2:requests:{Quantity}",
    "TypedLocalObjectReference": "1:apiGroup:s? 2:kind:s! 3:name:s!",
    "TypedObjectReference": "1:apiGroup:s? 2:kind:s! 3:name:s! 4:namespace:s?",
}
