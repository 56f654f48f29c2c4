#!/usr/bin/env bash
# The Debian packages the packaging tests use, installed when missing: buildah and
# debootstrap build the controller image (tools/image.sh), runc runs it (crun, which
# buildah pulls in, refuses hybrid cgroups), zsh and fish check the completion scripts.
# `make test` runs this: as root (CI, a fresh machine) it installs what is missing; as
# another user it only says what is missing, and those tests skip (they fail under
# CI=true).
set -euo pipefail
PACKAGES=(buildah debootstrap runc zsh fish)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "[system-packages] present: ${PACKAGES[*]}"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "[system-packages] missing ${missing[*]}: their tests skip (as root, make system-packages installs them)" >&2
  exit 0
fi
echo "[system-packages] installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
