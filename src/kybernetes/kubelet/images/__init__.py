"""Images on a node: names as Docker and containerd normalise them (reference.py); the OCI
image store and registry pulls of real nodes come with issue 5."""
