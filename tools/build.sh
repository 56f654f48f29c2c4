#!/usr/bin/env bash
# Build the testbed binaries (Kubernetes control plane, etcd, KWOK, Kueue,
# Training Operator) from the Go module proxy into a per-version cache outside
# the repository.
#
#   tools/build.sh [k8s] [etcd] [kwok] [kueue] [jobset] [trainer] [training-operator]
#                  [kubelet-writer] [helm] [kubectl]
#   (default: all)
#
# Each component has its own Go module under tools/<component>/ whose go.mod pins
# the version; binaries land in
#   ${MLKUBE_CACHE:-$HOME/.cache/mlkube}/bin/<component>-<version>/
# A component whose binaries are all present is skipped. Builds go to a temporary
# directory next to the final one and are renamed into place, so an interrupted
# build never leaves a half-filled cache directory.
#
# Environment:
#   MLKUBE_CACHE       cache root (default $HOME/.cache/mlkube)
#   MLKUBE_BUILD_NICE  nice level for go build (default 19)
#   MLKUBE_BUILD_P     go build -p (default: number of CPUs)
# Prints one line per component on stdout; go's own output goes to
# $CACHE/log/<component>-<version>.log and its tail is shown on failure.
set -euo pipefail

ALL_COMPONENTS=(k8s etcd kwok kueue jobset trainer training-operator kubelet-writer helm kubectl)
TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${MLKUBE_CACHE:-$HOME/.cache/mlkube}
NICE=${MLKUBE_BUILD_NICE:-19}
P=${MLKUBE_BUILD_P:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}

export CGO_ENABLED=0
# Never let go fetch another toolchain: the go directive of every module here
# must be satisfied by the installed Go (>= 1.26).
export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"

die() { echo "build.sh: error: $*" >&2; exit 1; }

# component -> main module (its version, read from tools/<component>/go.mod,
# names the cache directory)
main_module() {
  case $1 in
    k8s) echo k8s.io/kubernetes ;;
    etcd) echo go.etcd.io/etcd/server/v3 ;;
    kwok) echo sigs.k8s.io/kwok ;;
    kueue) echo sigs.k8s.io/kueue ;;
    jobset) echo sigs.k8s.io/jobset ;;
    trainer) echo github.com/kubeflow/trainer/v2 ;;
    training-operator) echo github.com/kubeflow/training-operator ;;
    kubelet-writer) echo k8s.io/kubernetes ;;   # the kubelet's downwardAPI writer, for tests
    helm) echo helm.sh/helm/v4 ;;               # the chart's tests (not part of a cluster)
    kubectl) echo k8s.io/kubernetes ;;          # the plugin's tests; its own module, so the
                                                # k8s component's binaries are not rebuilt
    *) return 1 ;;
  esac
}

# component -> "binary=package" pairs
targets() {
  case $1 in
    k8s) echo kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
              kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
              kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler ;;
    etcd) echo etcd=go.etcd.io/etcd/server/v3 ;;
    kwok) echo kwok=sigs.k8s.io/kwok/cmd/kwok kwokctl=sigs.k8s.io/kwok/cmd/kwokctl ;;
    kueue) echo kueue=sigs.k8s.io/kueue/cmd/kueue ;;
    jobset) echo jobset=sigs.k8s.io/jobset ;;
    trainer) echo trainer=github.com/kubeflow/trainer/v2/cmd/trainer-controller-manager ;;
    training-operator) echo training-operator=github.com/kubeflow/training-operator/cmd/training-operator.v1 ;;
    kubelet-writer) echo atomic-writer=mlkube.invalid/tools/kubelet-writer ;;
    helm) echo helm=helm.sh/helm/v4/cmd/helm ;;
    kubectl) echo kubectl=k8s.io/kubernetes/cmd/kubectl ;;
  esac
}

# component, version, module time -> extra -ldflags
stamp_ldflags() {
  local comp=$1 ver=$2 date=$3 ld="" p
  case $comp in
    k8s|kubectl)
      # Without this, --version prints v0.0.0-master and kwokctl/Kueue cannot
      # parse the server version. Same variables as hack/lib/version.sh.
      local minor=${ver#v1.}; minor=${minor%%.*}
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld+=" -X $p.gitVersion=$ver -X $p.gitMajor=1 -X $p.gitMinor=$minor"
        ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
      done ;;
    etcd) ld="" ;;   # version is a constant in go.etcd.io/etcd/api/v3/version
    kwok) ld=" -X sigs.k8s.io/kwok/pkg/consts.Version=$ver" ;;
    kueue) ld=" -X sigs.k8s.io/kueue/pkg/version.GitVersion=$ver -X sigs.k8s.io/kueue/pkg/version.BuildDate=$date" ;;
    training-operator|jobset|trainer) ld="" ;;
    # as helm's Makefile does for a tagged release
    helm) ld=" -X helm.sh/helm/v4/internal/version.version=$ver -X helm.sh/helm/v4/internal/version.gitTreeState=clean" ;;
  esac
  echo "$ld"
}

build_tags() {
  case $1 in
    # as upstream's hack/lib/golang.sh (minus selinux, kubelet-only); helm too, so that it
    # reuses the control plane's compiled client-go, apimachinery, gRPC... (tags key the cache)
    k8s|kubelet-writer|kubectl|helm) echo notest,grpcnotrace ;;
    *) echo "" ;;
  esac
}

build_one() {
  local comp=$1 mod dir ver date out tmp log ld tags start pair bin pkg t0 missing=0
  mod=$(main_module "$comp") || die "unknown component '$comp' (known: ${ALL_COMPONENTS[*]})"
  dir=$TOOLS_DIR/$comp
  [[ -f $dir/go.mod ]] || die "$dir/go.mod is missing"
  # version and commit time of the main module as pinned by go.mod
  read -r ver date < <(cd "$dir" && go list -m -f '{{.Version}} {{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$mod") \
    || die "$comp: cannot resolve $mod in $dir/go.mod"
  [[ -n $ver ]] || die "$comp: no version for $mod"
  date=${date:-1970-01-01T00:00:00Z}
  out=$CACHE/bin/$comp-$ver
  for pair in $(targets "$comp"); do
    [[ -x $out/${pair%%=*} ]] || missing=1
  done
  if [[ $missing == 0 ]]; then
    echo "[build.sh] $comp $ver: cached in $out"
    return 0
  fi
  mkdir -p "$CACHE/bin" "$CACHE/log"
  log=$CACHE/log/$comp-$ver.log
  tmp=$(mktemp -d "$CACHE/bin/.$comp-$ver.tmp.XXXXXX")
  ld="-s -w$(stamp_ldflags "$comp" "$ver" "$date")"
  tags=$(build_tags "$comp")
  start=$(date +%s)
  echo "[build.sh] $comp $ver: building ($(targets "$comp" | tr ' ' '\n' | sed 's/=.*//' | paste -sd, -)), log $log" >&2
  : > "$log"
  for pair in $(targets "$comp"); do
    bin=${pair%%=*}; pkg=${pair#*=}; t0=$(date +%s)
    if ! (cd "$dir" && nice -n "$NICE" go build -p "$P" -trimpath ${tags:+-tags "$tags"} \
            -ldflags "$ld" -o "$tmp/$bin" "$pkg") >>"$log" 2>&1; then
      rm -rf "$tmp"
      tail -n 30 "$log" >&2
      die "$comp $ver: go build $pkg failed after $(( $(date +%s) - start ))s (full log: $log)"
    fi
    echo "[build.sh]   $bin: $(( $(date +%s) - t0 ))s" >&2
  done
  chmod 755 "$tmp"   # mktemp -d creates it 0700
  if ! mv -T "$tmp" "$out" 2>/dev/null; then
    # another build.sh finished first: keep its result
    rm -rf "$tmp"
    [[ -d $out ]] || die "$comp $ver: cannot move $tmp to $out"
  fi
  echo "[build.sh] $comp $ver: built in $(( $(date +%s) - start ))s -> $out"
}

command -v go >/dev/null || die "go is not installed (Go >= 1.26 is required)"
comps=("$@")
[[ ${#comps[@]} -gt 0 ]] || comps=("${ALL_COMPONENTS[@]}")
for c in "${comps[@]}"; do
  main_module "$c" >/dev/null || die "unknown component '$c' (known: ${ALL_COMPONENTS[*]})"
done
for c in "${comps[@]}"; do
  build_one "$c"
done
