"""Images on a node: the OCI image store, registry pulls and each container's root filesystem.

    reference.py    names as Docker and containerd normalise them (nginx -> docker.io/library/nginx:latest)
    manifest.py     manifests, indexes, platform choice, the image config the runtime reads
    store.py        content-addressed store under the data dir: blobs, unpacked layers, image records
    unpack.py       safe layer unpacking, OCI whiteouts -> overlayfs whiteouts
    pull.py         registry v2 pulls: mirrors, basic and bearer-token auth, digests checked
    registries.py   registries.yaml (k3s format): mirrors and per-registry auth and TLS
    credentials.py  imagePullSecrets -> AuthConfig, WWW-Authenticate challenges
    archive.py      importing OCI layouts and ``docker save`` archives
    rootfs.py       prepare_rootfs / release_rootfs: overlayfs over the shared layers
    gc.py           image garbage collection above a disk threshold, LRU first
    policy.py       imagePullPolicy helpers
    service.py      OciImageService, the CRI ImageService of real nodes

    registry ──pull.py──> ingest/ ──unpack.py──> layers/<diffID>/fs ─┐
    archive  ──archive.py─────────────────────────────────────────────┤  images/<id>.json
                                          containers/<id>/rootfs <──┘  (overlay: layers + upper)
"""
