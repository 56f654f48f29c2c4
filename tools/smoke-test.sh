#!/usr/bin/env bash
# Smoke test of the binaries built by tools/build.sh: start etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok on 127.0.0.1 (non-default
# ports), create a fake node, and wait for it to become Ready. Everything is
# stopped by pid on exit. Needs openssl, curl, python3.
#
#   tools/smoke-test.sh            # full run
#   SMOKE_MIN=1 tools/smoke-test.sh  # etcd + kube-apiserver only
#   SMOKE_KEEP=1 ...                # keep the work directory (certs, logs)
set -euo pipefail

TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${MLKUBE_CACHE:-$HOME/.cache/mlkube}
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly"

ETCD_CLIENT=${SMOKE_ETCD_CLIENT_PORT:-23791}
ETCD_PEER=${SMOKE_ETCD_PEER_PORT:-23801}
API_PORT=${SMOKE_API_PORT:-16443}
KCM_PORT=${SMOKE_KCM_PORT:-20257}
SCHED_PORT=${SMOKE_SCHED_PORT:-20259}
KWOK_PORT=${SMOKE_KWOK_PORT:-20247}

die() { echo "smoke-test: FAIL: $*" >&2; exit 1; }
say() { echo "smoke-test: $*"; }
modver() { (cd "$TOOLS_DIR/$1" && go list -m -f "{{.$3}}" "$2"); }

K8S_BIN=$CACHE/bin/k8s-$(modver k8s k8s.io/kubernetes Version)
ETCD_BIN=$CACHE/bin/etcd-$(modver etcd go.etcd.io/etcd/server/v3 Version)
KWOK_BIN=$CACHE/bin/kwok-$(modver kwok sigs.k8s.io/kwok Version)
for b in "$K8S_BIN/kube-apiserver" "$ETCD_BIN/etcd"; do
  [[ -x $b ]] || die "$b missing: run tools/build.sh first"
done

W=$(mktemp -d /tmp/mlkube-smoke.XXXXXX)
PIDS=()
stop_pid() {  # SIGTERM, wait up to 20s, then SIGKILL (by pid only)
  local p=$1 i
  kill "$p" 2>/dev/null || return 0
  for ((i = 0; i < 40; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$p" 2>/dev/null; then say "pid $p ignored SIGTERM for 20s, sending SIGKILL"; kill -9 "$p" 2>/dev/null || true; fi
  wait "$p" 2>/dev/null || true
}
cleanup() {
  # reverse start order: kube-apiserver must go before etcd, or its graceful
  # shutdown can hang for minutes retrying the vanished etcd
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [[ -n ${SMOKE_KEEP:-} ]]; then say "work dir kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
start() {  # name, command...
  local name=$1; shift
  "$@" > "$W/$name.log" 2>&1 &
  PIDS+=($!)
  say "started $name pid $!"
}
wait_for() {  # description, seconds, command...
  local what=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what not ready after ${secs}s (logs in $W; rerun with SMOKE_KEEP=1)"
}

# --- certificates (one CA; server cert; admin client cert; service-account keys)
cd "$W"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
  -subj "/CN=mlkube-testbed-ca" 2>/dev/null
cat > server.ext <<EOF
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.0.0.1
extendedKeyUsage=serverAuth
EOF
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=kube-apiserver" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
  -extfile server.ext -out server.crt 2>/dev/null
echo "extendedKeyUsage=clientAuth" > client.ext
openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=admin" 2>/dev/null
openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
  -extfile client.ext -out admin.crt 2>/dev/null
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
cat > kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: $W/ca.crt}
users:
- name: admin
  user: {client-certificate: $W/admin.crt, client-key: $W/admin.key}
contexts:
- name: testbed
  context: {cluster: testbed, user: admin}
current-context: testbed
EOF
API=https://127.0.0.1:$API_PORT
kcurl() { curl -sS --fail --cacert "$W/ca.crt" --cert "$W/admin.crt" --key "$W/admin.key" "$@"; }

# --- etcd
T0=$(date +%s)
start etcd "$ETCD_BIN/etcd" --name=default --data-dir="$W/etcd" --unsafe-no-fsync \
  --listen-client-urls=http://127.0.0.1:$ETCD_CLIENT --advertise-client-urls=http://127.0.0.1:$ETCD_CLIENT \
  --listen-peer-urls=http://127.0.0.1:$ETCD_PEER --initial-advertise-peer-urls=http://127.0.0.1:$ETCD_PEER \
  --initial-cluster=default=http://127.0.0.1:$ETCD_PEER --listen-metrics-urls=http://127.0.0.1:$((ETCD_CLIENT + 2))
wait_for etcd 30 curl -sf http://127.0.0.1:$ETCD_CLIENT/health
say "etcd healthy after $(( $(date +%s) - T0 ))s: $(curl -s http://127.0.0.1:$ETCD_CLIENT/version)"

# --- kube-apiserver
T0=$(date +%s)
start kube-apiserver "$K8S_BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:$ETCD_CLIENT \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port=$API_PORT \
  --endpoint-reconciler-type=none \
  --tls-cert-file="$W/server.crt" --tls-private-key-file="$W/server.key" --client-ca-file="$W/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$W/sa.pub" --service-account-signing-key-file="$W/sa.key" \
  --service-cluster-ip-range=10.0.0.0/24 --authorization-mode=Node,RBAC
wait_for kube-apiserver 90 kcurl "$API/readyz"
say "kube-apiserver ready after $(( $(date +%s) - T0 ))s"
say "/version: $(kcurl "$API/version" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["gitVersion"], d["goVersion"], d["platform"])')"
say "/readyz: $(kcurl "$API/readyz")"
[[ -n ${SMOKE_MIN:-} ]] && { say "PASS (etcd + kube-apiserver)"; exit 0; }

# --- scheduler, controller-manager, kwok
start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig="$W/kubeconfig" \
  --authentication-kubeconfig="$W/kubeconfig" --authorization-kubeconfig="$W/kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=$SCHED_PORT --leader-elect=false
start kube-controller-manager "$K8S_BIN/kube-controller-manager" --kubeconfig="$W/kubeconfig" \
  --authentication-kubeconfig="$W/kubeconfig" --authorization-kubeconfig="$W/kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=$KCM_PORT --leader-elect=false \
  --root-ca-file="$W/ca.crt" --service-account-private-key-file="$W/sa.key" \
  --use-service-account-credentials=true
# The kwok binary has no built-in stages (kwokctl adds them): ship node-initialize,
# node-heartbeat and the pod "fast" stages from the module's own kustomize/ tree.
KWOK_SRC=$(modver kwok sigs.k8s.io/kwok Dir)
for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
         pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  cat "$KWOK_SRC/kustomize/stage/$f"; echo "---"
done > "$W/kwok-stages.yaml"
start kwok "$KWOK_BIN/kwok" --kubeconfig="$W/kubeconfig" --config="$W/kwok-stages.yaml" \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --server-address=127.0.0.1:$KWOK_PORT --node-ip=127.0.0.1
wait_for kube-scheduler 60 curl -skf https://127.0.0.1:$SCHED_PORT/healthz
wait_for kube-controller-manager 60 curl -skf https://127.0.0.1:$KCM_PORT/healthz
say "kube-scheduler and kube-controller-manager healthy"

kcurl -X POST -H 'Content-Type: application/json' "$API/api/v1/nodes" -d '{
  "apiVersion": "v1", "kind": "Node",
  "metadata": {"name": "fake-gpu-0", "annotations": {"kwok.x-k8s.io/node": "fake"},
               "labels": {"type": "kwok", "nvidia.com/gpu.product": "FAKE-GPU"}},
  "spec": {"taints": [{"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}]},
  "status": {"capacity": {"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": "8"},
             "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": "8"}}}' >/dev/null
node_ready() {
  kcurl "$API/api/v1/nodes/fake-gpu-0" | python3 -c 'import json,sys
n=json.load(sys.stdin); c={x["type"]: x["status"] for x in n["status"].get("conditions", [])}
sys.exit(0 if c.get("Ready") == "True" else 1)'
}
T0=$(date +%s)
wait_for "node fake-gpu-0 Ready" 60 node_ready
say "node fake-gpu-0 Ready after $(( $(date +%s) - T0 ))s; allocatable: $(kcurl "$API/api/v1/nodes/fake-gpu-0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["allocatable"])')"

# a pod that tolerates the fake node: scheduled by kube-scheduler, made Running by kwok.
# Pod creation is refused (403) until the controller-manager has made the namespace's
# "default" ServiceAccount, so wait for it first.
wait_for "serviceaccount default/default" 60 kcurl "$API/api/v1/namespaces/default/serviceaccounts/default"
kcurl -X POST -H 'Content-Type: application/json' "$API/api/v1/namespaces/default/pods" -d '{
  "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "smoke"},
  "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
           "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]}}' >/dev/null
pod_running() {
  kcurl "$API/api/v1/namespaces/default/pods/smoke" | python3 -c 'import json,sys
p=json.load(sys.stdin); sys.exit(0 if p["status"].get("phase") == "Running" else 1)'
}
T0=$(date +%s)
wait_for "pod smoke Running" 60 pod_running
say "pod smoke Running on $(kcurl "$API/api/v1/namespaces/default/pods/smoke" | python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"]["nodeName"])') after $(( $(date +%s) - T0 ))s"
say "PASS"
