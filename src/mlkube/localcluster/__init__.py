"""A local cluster: the real Kubernetes control plane (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) built from the Go module proxy, KWOK standing
in for kubelets, and the real ML controllers (Kueue, the Training Operator) running
out of cluster. Everything binds to 127.0.0.1 and is stopped by pid."""
