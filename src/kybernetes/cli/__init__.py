"""The ``kyb`` command: one module per subcommand, registered in main.py.

    kyb version      our version and the Kubernetes version we serve
    kyb apiserver    one apiserver process (every ApiServerConfig field is a flag)
    kyb server       the control plane: PKI, admin kubeconfig, supervised component processes
    kyb up           everything on this machine (today: the control plane), in the foreground
    kyb kubeconfig   print the admin kubeconfig, or merge it into ~/.kube/config
"""
