#!/usr/bin/env bash
# Build the controller image (Containerfile) with buildah, from nothing a registry serves:
#
#   1. the base: a Debian bookworm root filesystem made by debootstrap from Debian's
#      packages (minbase + python3, documentation and apt's lists removed), cached as a
#      tarball under ${MLKUBE_CACHE:-$HOME/.cache/mlkube}/image/ by a key of this recipe,
#      and committed as localhost/mlkube-base:bookworm;
#   2. the wheels: mlkube's from this checkout and its dependencies' for the base's
#      Python, into out/image/ (the build context);
#   3. buildah build of the Containerfile, tagged localhost/mlkube:<version>.
#
#   tools/image.sh            # prints the image reference on stdout, progress on stderr
#
# Environment:
#   MLKUBE_CACHE            cache root (default $HOME/.cache/mlkube)
#   MLKUBE_DEBIAN_MIRROR    Debian mirror for debootstrap (default: the one apt uses here)
#   MLKUBE_IMAGE            image name (default localhost/mlkube)
#   PYTHON                  the Python whose pip builds the wheels (default .venv/bin/python)
# Needs root, buildah and debootstrap (Debian: apt-get install buildah debootstrap).
# RUN steps use buildah's chroot isolation: it needs no OCI runtime and no cgroup setup,
# which on this kind of machine crun refuses (cgroups in hybrid mode).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MLKUBE_CACHE:-$HOME/.cache/mlkube}
IMAGE=${MLKUBE_IMAGE:-localhost/mlkube}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
SUITE=bookworm
PACKAGES=python3
# What the base is made of; changing any of it makes a new cache key.
RECIPE="debootstrap --variant=minbase --include=$PACKAGES $SUITE; trim=doc,man,locale,apt-lists,apt-cache; v1"
KEY=$(printf '%s' "$RECIPE" | sha256sum | cut -c1-12)
BASE_TAR=$CACHE/image/base-$SUITE-$KEY.tar
BASE=localhost/mlkube-base:$SUITE-$KEY
CONTEXT=$ROOT/out/image

die() { echo "image.sh: error: $*" >&2; exit 1; }
say() { echo "[image.sh] $*" >&2; }

for tool in buildah debootstrap sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install buildah debootstrap)"
done
[[ $(id -u) == 0 ]] || die "run as root: debootstrap and rootful buildah need it"
[[ -x $PYTHON ]] || die "$PYTHON not found: run 'make setup' or set PYTHON"

# The Debian mirror apt already uses here: the first URI serving $SUITE itself.
mirror() {
  if [[ -n ${MLKUBE_DEBIAN_MIRROR:-} ]]; then echo "$MLKUBE_DEBIAN_MIRROR"; return; fi
  local found
  found=$(awk -v s="$SUITE" '
      /^URIs:/ {uri=$2} /^Suites:/ {for (i=2; i<=NF; i++) if ($i==s) {print uri; exit}}
    ' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n $found ]] || found=$(awk -v s="$SUITE" '$1=="deb" && $3==s {print $2; exit}' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  [[ -n $found ]] || die "no Debian mirror for $SUITE in apt's sources: set MLKUBE_DEBIAN_MIRROR"
  echo "$found"
}

base_tarball() {
  [[ -f $BASE_TAR ]] && { say "base root filesystem cached: $BASE_TAR"; return; }
  local tmp t0
  mkdir -p "$CACHE/image"
  tmp=$(mktemp -d "$CACHE/image/.rootfs.XXXXXX")
  t0=$(date +%s)
  say "debootstrap $SUITE (minbase + $PACKAGES) from $(mirror), log $CACHE/image/debootstrap.log"
  if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp/rootfs" "$(mirror)" \
      >"$CACHE/image/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/image/debootstrap.log" >&2
    rm -rf "$tmp"
    die "debootstrap failed (full log: $CACHE/image/debootstrap.log)"
  fi
  # slim: what a container never reads
  rm -rf "$tmp"/rootfs/usr/share/{doc,man,info,locale,lintian} "$tmp"/rootfs/var/lib/apt/lists/* \
         "$tmp"/rootfs/var/cache/apt/* "$tmp"/rootfs/var/log/* "$tmp"/rootfs/tmp/*
  tar --numeric-owner -C "$tmp/rootfs" -cf "$tmp/base.tar" .
  mv "$tmp/base.tar" "$BASE_TAR"
  rm -rf "$tmp"
  say "base root filesystem made in $(( $(date +%s) - t0 ))s: $BASE_TAR"
}

base_image() {
  if buildah inspect --type image "$BASE" >/dev/null 2>&1; then
    say "base image present: $BASE"
  else
    local ctr
    ctr=$(buildah from scratch)
    buildah add --quiet "$ctr" "$BASE_TAR" / >/dev/null
    buildah config --cmd '["/bin/bash"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --label org.opencontainers.image.description="Debian $SUITE minbase + $PACKAGES (debootstrap)" "$ctr"
    buildah commit --quiet --rm "$ctr" "$BASE" >/dev/null
    say "base image committed: $BASE"
  fi
  buildah tag "$BASE" "localhost/mlkube-base:$SUITE"
}

wheels() {
  local ver
  # the base's Python, from the root filesystem itself (python3 -> python3.11)
  ver=$(tar -tf "$BASE_TAR" | sed -n 's|^\./usr/bin/python\(3\.[0-9]*\)$|\1|p' | head -n1)
  [[ -n $ver ]] || die "no python3.X in $BASE_TAR"
  rm -rf "$CONTEXT" && mkdir -p "$CONTEXT/wheels" "$CONTEXT/pip"
  cp "$ROOT/Containerfile" "$CONTEXT/Containerfile"
  # mlkube's wheel from a copy of the checkout's files (tracked and new, not ignored):
  # setuptools builds in the tree and would pack whatever a stale build/ still holds
  local src=$CONTEXT/src
  mkdir -p "$src"
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
      | while IFS= read -r -d '' f; do [[ -f $f ]] && cp --parents -- "$f" "$src/"; done)
  else
    cp -a "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/src" "$src/"
  fi
  "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$CONTEXT/wheels" "$src" >&2
  rm -rf "$src"
  # dependencies as binary wheels for the base's Python (not this machine's)
  "$PYTHON" -m pip download --quiet --only-binary=:all: --python-version "$ver" \
    --dest "$CONTEXT/wheels" "$CONTEXT"/wheels/mlkube-*.whl >&2
  "$PYTHON" -m pip download --quiet --only-binary=:all: --python-version "$ver" \
    --no-deps --dest "$CONTEXT/pip" pip >&2
  mv "$CONTEXT"/pip/pip-*.whl "$CONTEXT/pip/pip.whl"
  say "wheels for Python $ver: $(ls "$CONTEXT/wheels" | wc -l) in $CONTEXT/wheels"
}

version=$("$PYTHON" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$ROOT/pyproject.toml")
revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
start=$(date +%s)
base_tarball
base_image
wheels
say "building $IMAGE:$version from $BASE"
previous=$(buildah images --quiet --no-trunc "$IMAGE:$version" 2>/dev/null || true)
buildah build --quiet --isolation chroot --layers=false \
  --build-arg BASE="$BASE" --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  --tag "$IMAGE:$version" --file "$CONTEXT/Containerfile" "$CONTEXT" >&2
current=$(buildah images --quiet --no-trunc "$IMAGE:$version")
# the image this one replaces is untagged now: remove it rather than let them pile up
[[ -z $previous || $previous == "$current" ]] || buildah rmi "$previous" >/dev/null 2>&1 || true
say "built $IMAGE:$version in $(( $(date +%s) - start ))s"
echo "$IMAGE:$version"
