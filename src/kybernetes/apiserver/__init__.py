"""The apiserver: HTTPS, Kubernetes REST, discovery, watch; the only importer of the store."""
