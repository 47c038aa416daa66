// Placeholder: the Docker/Podman, Kubernetes and static workload sources land here.
