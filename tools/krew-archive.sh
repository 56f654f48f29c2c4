#!/usr/bin/env bash
# The archive deploy/krew/mlkube.yaml points at: the launcher, byte for byte the same
# on every machine (sorted, mtime 0, root-owned, gzip without a timestamp), so its
# sha256 in the manifest can be checked against the checkout.
#
#   tools/krew-archive.sh [OUT_DIR]     # prints the archive's path and sha256
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/out/krew}
mkdir -p "$OUT"
archive=$OUT/kubectl-mlkube.tar.gz
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=go-w \
    -C "$ROOT/deploy/krew" -cf - kubectl-mlkube | gzip -n -9 > "$archive"
echo "$archive $(sha256sum "$archive" | cut -d' ' -f1)"
