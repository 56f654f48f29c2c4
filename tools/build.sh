#!/usr/bin/env bash
# Build the testbed binaries (Kubernetes control plane, etcd, KWOK, Kueue,
# Training Operator) from the Go module proxy into a per-version cache outside
# the repository.
#
#   tools/build.sh [k8s] [etcd] [kwok] [kueue] [jobset] [trainer] [training-operator]
#                  [kubelet-writer] [helm] [kubectl] [kserve] [prometheus]
#                  [prometheus-adapter] [metrics-server]
#   (default: all but metrics-server, which only bench/serving_scaleup.py asks for)
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
#
# Progress, on stderr: which component and binary (n of N), and the time left as
# estimated from the times the last build of each binary took (recorded in
# $CACHE/log/build-times.tsv; on a machine that never built one, the cold build measured
# in docs/testbed.md, tools/build-times.tsv; a binary in neither counts as the median of
# the others). On a terminal, one line is redrawn every second with the time spent on the
# binary being built; piped, only a line per binary is printed.
set -euo pipefail

ALL_COMPONENTS=(k8s etcd kwok kueue jobset trainer training-operator kubelet-writer helm kubectl
                kserve prometheus prometheus-adapter)
# Built only when named: not in what `make test` / `make demo` build (the 45-minute rule).
EXTRA_COMPONENTS=(metrics-server)
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

TIMES=$CACHE/log/build-times.tsv   # component<TAB>binary<TAB>seconds<TAB>version, appended
SEED=$TOOLS_DIR/build-times.tsv    # the same, as measured cold (docs/testbed.md)
exec 3>&2                          # the terminal, also where go's output goes to a log
LIVE=0; [[ -t 2 ]] && LIVE=1
case ${MLKUBE_PROGRESS:-} in 0) LIVE=0 ;; 1) LIVE=1 ;; esac

# seconds the last build of component/binary took, or "" if never recorded
last_time() {
  local f t
  for f in "$TIMES" "$SEED"; do
    [[ -f $f ]] || continue
    t=$(awk -F'\t' -v c="$1" -v b="$2" '$1==c && $2==b {t=$3} END {if (t!="") print t}' "$f")
    [[ -n $t ]] && { echo "$t"; return 0; }
  done
  return 0
}

# an estimate for a binary: its last time, else the median of every recorded binary's
# last time, else 0 (nothing to go by: no time left is shown)
estimate() {
  local t
  t=$(last_time "$1" "$2")
  if [[ -z $t && -f $TIMES ]]; then
    t=$(awk -F'\t' '{last[$1"/"$2]=$3} END {for (k in last) print last[k]}' "$TIMES" \
        | sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}')
  fi
  echo "${t:-0}"
}

clock() {  # 42s, 3m05s, 1h02m
  local s=$1
  if (( s < 60 )); then echo "${s}s"
  elif (( s < 3600 )); then printf '%dm%02ds\n' $((s / 60)) $((s % 60))
  else printf '%dh%02dm\n' $((s / 3600)) $((s % 3600 / 60)); fi
}

# what is left to build, and the estimate of it: filled in before the first build
TODO_BINARIES=0; DONE_BINARIES=0; LEFT_SECONDS=0; ESTIMATED=0

# "about 12m30s left" from the estimate, less what this binary has taken so far
left_text() {
  local left=$(( LEFT_SECONDS - $1 ))
  (( left < 0 )) && left=0
  if (( ESTIMATED > 0 )); then echo "about $(clock "$left") left"; else echo "no earlier build to estimate from"; fi
}

# Run "$@" (a go build) while redrawing one line on a terminal every second.
with_progress() {
  local label=$1 expected=$2; shift 2
  local t0 pid elapsed
  t0=$(date +%s)
  "$@" & pid=$!
  if [[ $LIVE == 1 ]]; then
    while kill -0 "$pid" 2>/dev/null; do
      elapsed=$(( $(date +%s) - t0 ))
      if (( expected > 0 )); then
        printf '\r\033[K[build.sh] %s: %s of ~%s, %s' "$label" "$(clock "$elapsed")" \
          "$(clock "$expected")" "$(left_text "$elapsed")" >&3
      else
        printf '\r\033[K[build.sh] %s: %s' "$label" "$(clock "$elapsed")" >&3
      fi
      sleep 1
    done
    printf '\r\033[K' >&3
  fi
  wait "$pid"
}

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
    kserve) echo github.com/kserve/kserve ;;    # `cluster up --serving`; go.mod repeats
                                                # KServe's replace directives
    prometheus) echo github.com/prometheus/prometheus ;;           # the GPU metrics pipeline
    prometheus-adapter) echo sigs.k8s.io/prometheus-adapter ;;     # (cluster up --gpu-metrics)
    metrics-server) echo sigs.k8s.io/metrics-server ;;  # cluster up --cpu-metrics (the CPU HPA)
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
    kserve) echo kserve-manager=github.com/kserve/kserve/cmd/manager ;;
    prometheus) echo prometheus=github.com/prometheus/prometheus/cmd/prometheus ;;
    prometheus-adapter) echo prometheus-adapter=sigs.k8s.io/prometheus-adapter/cmd/adapter ;;
    metrics-server) echo metrics-server=sigs.k8s.io/metrics-server/cmd/metrics-server ;;
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
    training-operator|jobset|trainer|kserve) ld="" ;;
    # as helm's Makefile does for a tagged release
    helm) ld=" -X helm.sh/helm/v4/internal/version.version=$ver -X helm.sh/helm/v4/internal/version.gitTreeState=clean" ;;
    # as promu does (.promu.yml); the module v0.316.0 is release 3.16.0
    prometheus) p=github.com/prometheus/common/version
       ld=" -X $p.Version=$(prom_release "$ver") -X $p.Branch=HEAD -X $p.BuildUser=mlkube -X $p.BuildDate=$date" ;;
    prometheus-adapter) ld="" ;;
    # as metrics-server's Makefile does (VERSION_LDFLAGS)
    metrics-server) ld=" -X k8s.io/client-go/pkg/version.gitVersion=$ver -X k8s.io/client-go/pkg/version.buildDate=$date" ;;
  esac
  echo "$ld"
}

build_tags() {
  case $1 in
    # as upstream's hack/lib/golang.sh (minus selinux, kubelet-only); helm too, so that it
    # reuses the control plane's compiled client-go, apimachinery, gRPC... (tags key the cache)
    k8s|kubelet-writer|kubectl|helm) echo notest,grpcnotrace ;;
    # upstream's build-time service-discovery selection (plugins/plugin_*.go): without any
    # enable_<name>_sd tag only the file and http SDs are built in (static_configs are always
    # there); this drops the cloud SDKs, about half of the code
    prometheus) echo remove_all_sd ;;
    *) echo "" ;;
  esac
}

# Prometheus publishes release X.Y.Z as Go module v0.X0Y.Z (3.16.0 -> v0.316.0)
prom_release() {
  local v=${1#v0.}
  echo "$(( ${v%%.*} / 100 )).$(( ${v%%.*} % 100 )).${v#*.}"
}

build_one() {
  local comp=$1 mod dir ver date out tmp log ld tags start pair bin pkg t0 missing=0
  mod=$(main_module "$comp") || die "unknown component '$comp' (known: ${ALL_COMPONENTS[*]} ${EXTRA_COMPONENTS[*]})"
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
  local expected took
  for pair in $(targets "$comp"); do
    bin=${pair%%=*}; pkg=${pair#*=}; t0=$(date +%s)
    expected=$(estimate "$comp" "$bin")
    DONE_BINARIES=$(( DONE_BINARIES + 1 ))
    if ! with_progress "($DONE_BINARIES/$TODO_BINARIES) $comp $bin" "$expected" \
         bash -c 'cd "$1" && shift && exec nice -n "$@"' _ "$dir" "$NICE" go build -p "$P" \
            -trimpath ${tags:+-tags "$tags"} -ldflags "$ld" -o "$tmp/$bin" "$pkg" >>"$log" 2>&1; then
      rm -rf "$tmp"
      tail -n 30 "$log" >&2
      die "$comp $ver: go build $pkg failed after $(( $(date +%s) - start ))s (full log: $log)"
    fi
    took=$(( $(date +%s) - t0 ))
    printf '%s\t%s\t%s\t%s\n' "$comp" "$bin" "$took" "$ver" >> "$TIMES"
    LEFT_SECONDS=$(( LEFT_SECONDS - expected )); (( LEFT_SECONDS < 0 )) && LEFT_SECONDS=0
    echo "[build.sh]   ($DONE_BINARIES/$TODO_BINARIES) $bin: ${took}s, $(left_text 0)" >&2
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
  main_module "$c" >/dev/null || die "unknown component '$c' (known: ${ALL_COMPONENTS[*]} ${EXTRA_COMPONENTS[*]})"
done
# What the cache lacks, and how long it took last time: the estimate of the time left.
for c in "${comps[@]}"; do
  dir=$TOOLS_DIR/$c
  ver=$(cd "$dir" && go list -m -f '{{.Version}}' "$(main_module "$c")" 2>/dev/null) || continue
  for pair in $(targets "$c"); do
    if [[ ! -x $CACHE/bin/$c-$ver/${pair%%=*} ]]; then
      # a component is built whole: count every binary of one that lacks any
      for p in $(targets "$c"); do
        TODO_BINARIES=$(( TODO_BINARIES + 1 ))
        LEFT_SECONDS=$(( LEFT_SECONDS + $(estimate "$c" "${p%%=*}") ))
      done
      break
    fi
  done
done
ESTIMATED=$LEFT_SECONDS
if (( TODO_BINARIES > 0 )); then
  if (( LEFT_SECONDS > 0 )); then
    echo "[build.sh] $TODO_BINARIES binaries to build, about $(clock "$LEFT_SECONDS") as the last recorded build took" >&2
  else
    echo "[build.sh] $TODO_BINARIES binaries to build (no earlier build to estimate the time from: tens of minutes)" >&2
  fi
fi
for c in "${comps[@]}"; do
  build_one "$c"
done
