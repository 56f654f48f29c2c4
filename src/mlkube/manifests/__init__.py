"""Reading Kubernetes manifests: YAML streams with line numbers, and the pod templates
inside any workload kind."""
